package migrate

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/akidb/akidb/engine"
)

// The rename rule. AkiDB 2 accepts names of 1 to 64 characters from
// A-Z a-z 0-9 _ - (engine.ValidateName: they travel in URL paths and on
// command lines); 1.x accepted anything. A v1 name that v2 accepts is kept
// as it is. Any other is renamed:
//
//  1. every run of characters outside A-Z a-z 0-9 _ - becomes one "_";
//  2. leading and trailing "_" are trimmed;
//  3. an empty result becomes the fallback ("collection", "tenant");
//  4. the result is cut to 64 characters;
//  5. if the name is taken (by a name kept as it is, by an earlier rename,
//     or, for tenants, "default"), "-2", "-3", ... is appended (the base
//     cut so the whole stays within 64).
//
// Names kept as they are claim theirs first; renamed ones follow in the
// order of their v1 names, so the same v1 directory always maps the same
// way (a resumed run relies on that). Tenant names follow the same rule,
// are unique across the data directory and are never "default", which is
// v2's own tenant.

const maxNameLen = 64

var nameRun = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// sanitizeName applies steps 1 to 4.
func sanitizeName(name, fallback string) string {
	s := strings.Trim(nameRun.ReplaceAllString(name, "_"), "_")
	if s == "" {
		s = fallback
	}
	if len(s) > maxNameLen {
		s = s[:maxNameLen]
	}
	return s
}

// renameReason says why v2 does not accept name ("" when it does).
func renameReason(name string) string {
	switch {
	case name == "":
		return "the name is empty"
	case len(name) > maxNameLen && nameRun.FindStringIndex(name) == nil:
		return fmt.Sprintf("the name is %d characters long; v2 allows %d", len(name), maxNameLen)
	case engine.ValidateName(name) != nil:
		bad := map[rune]bool{}
		var list []string
		for _, r := range name {
			if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') && !bad[r] {
				bad[r] = true
				list = append(list, strconv.QuoteRune(r))
			}
		}
		reason := "the name has characters v2 does not accept: " + strings.Join(list, " ")
		if len(name) > maxNameLen {
			reason += fmt.Sprintf(", and is longer than %d", maxNameLen)
		}
		return reason
	}
	return ""
}

// nameRequest is one v1 name to map; key identifies the requester (a v1
// tenant id or collection directory) so the answer can be found again.
type nameRequest struct {
	key, name string
}

// nameResult is the v2 name for a request and, when it differs, why.
type nameResult struct {
	Name   string
	Reason string
}

// assignNames maps v1 names onto unique v2 names by the rename rule.
// reserved names are never handed out.
func assignNames(reqs []nameRequest, fallback string, reserved ...string) map[string]nameResult {
	taken := map[string]bool{}
	for _, r := range reserved {
		taken[r] = true
	}
	out := make(map[string]nameResult, len(reqs))
	var rest []nameRequest
	for _, r := range reqs {
		if renameReason(r.name) == "" && !taken[r.name] {
			taken[r.name] = true
			out[r.key] = nameResult{Name: r.name}
			continue
		}
		rest = append(rest, r)
	}
	sort.SliceStable(rest, func(i, j int) bool {
		if rest[i].name != rest[j].name {
			return rest[i].name < rest[j].name
		}
		return rest[i].key < rest[j].key
	})
	for _, r := range rest {
		reason := renameReason(r.name)
		base := sanitizeName(r.name, fallback)
		name := base
		for n := 2; taken[name]; n++ {
			suffix := "-" + strconv.Itoa(n)
			name = base[:min(len(base), maxNameLen-len(suffix))] + suffix
		}
		if reason == "" {
			reason = fmt.Sprintf("%q is taken", r.name)
			if r.name == engine.DefaultTenant && fallback == "tenant" {
				reason = `"default" is the name of v2's own default tenant`
			}
		} else if name != base {
			reason += fmt.Sprintf("; %q is taken", base)
		}
		taken[name] = true
		out[r.key] = nameResult{Name: name, Reason: reason}
	}
	return out
}
