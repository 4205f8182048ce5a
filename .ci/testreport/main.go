// Command testreport reads `go test -json` output on stdin, prints the output
// of failing tests and a summary line, and exits non-zero when any test
// failed or was skipped, a package failed to build, or no test ran at all.
// The suite must run every test: a skip is a failure here.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
)

// maxUnfinishedLines bounds what is shown of a test that never finished.
const maxUnfinishedLines = 200

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	label := "go test"
	if len(os.Args) > 1 {
		label = os.Args[1]
	}
	outputs := map[string][]string{}
	var passed, failed, skipped int
	var failures, skips, pkgFailures []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if err := json.Unmarshal(line, &ev); err != nil {
			// Build errors and other non-JSON lines go straight through.
			fmt.Println(string(line))
			continue
		}
		key := ev.Package + " " + ev.Test
		switch ev.Action {
		case "output":
			outputs[key] = append(outputs[key], ev.Output)
		case "pass":
			if ev.Test != "" {
				passed++
			} else {
				fmt.Printf("ok   %s %.1fs\n", ev.Package, ev.Elapsed)
			}
			delete(outputs, key)
		case "skip":
			if ev.Test != "" {
				skipped++
				skips = append(skips, key)
				fmt.Print(strings.Join(outputs[key], ""))
			} else if len(outputs[key]) > 0 && !strings.Contains(strings.Join(outputs[key], ""), "no test files") {
				fmt.Print(strings.Join(outputs[key], ""))
			}
			delete(outputs, key)
		case "fail":
			fmt.Print(strings.Join(outputs[key], ""))
			if ev.Test != "" {
				failed++
				failures = append(failures, key)
			} else {
				pkgFailures = append(pkgFailures, ev.Package)
			}
			delete(outputs, key)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "testreport: read: %v\n", err)
		os.Exit(2)
	}
	sort.Strings(failures)
	for _, f := range failures {
		fmt.Printf("FAIL %s\n", f)
	}
	for _, s := range skips {
		fmt.Printf("SKIPPED (not allowed) %s\n", s)
	}
	// A package that failed with no test failing (a timeout's panic, a
	// crash) left its running tests' output unprinted: show the tail of
	// each, which holds the panic and the goroutines.
	var unfinished []string
	for key := range outputs {
		pkg, test, _ := strings.Cut(key, " ")
		if test != "" && slices.Contains(pkgFailures, pkg) {
			unfinished = append(unfinished, key)
		}
	}
	sort.Strings(unfinished)
	for _, key := range unfinished {
		out := strings.Split(strings.Join(outputs[key], ""), "\n")
		if len(out) > maxUnfinishedLines {
			out = append([]string{fmt.Sprintf("... (%d lines before)", len(out)-maxUnfinishedLines)}, out[len(out)-maxUnfinishedLines:]...)
		}
		fmt.Printf("--- UNFINISHED %s\n%s\n", key, strings.Join(out, "\n"))
	}
	for _, p := range pkgFailures {
		fmt.Printf("FAIL package %s\n", p)
	}
	fmt.Printf("%s: %d passed, %d failed, %d skipped\n", label, passed, failed, skipped)
	if failed > 0 || skipped > 0 || len(pkgFailures) > 0 || passed == 0 {
		os.Exit(1)
	}
}
