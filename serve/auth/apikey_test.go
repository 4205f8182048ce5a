package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

var keyForm = regexp.MustCompile(`^ak_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$`)

func TestKeyFormat(t *testing.T) {
	r := seededRand(7)
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		id, key, hash, err := generateKey(r)
		if err != nil {
			t.Fatal(err)
		}
		s := key.Reveal()
		if !keyForm.MatchString(s) || len(s) != KeyLen {
			t.Fatalf("key %q does not have the form ak_<16 base32>_<43 base64url>", s)
		}
		if key.ID() != id || seen[id] {
			t.Fatalf("id %q (from key %q), seen before: %v", id, key.ID(), seen[id])
		}
		seen[id] = true
		gotID, secret, ok := parseAPIKey(s)
		if !ok || gotID != id || len(secret) != secretBytes || len(hash) != 32 {
			t.Fatalf("parse %q: %q %d bytes ok=%v", s, gotID, len(secret), ok)
		}
	}
}

func TestParseAPIKeyRefusesMalformed(t *testing.T) {
	_, good, _, _ := generateKey(seededRand(1))
	s := good.Reveal()
	cases := map[string]string{
		"empty":            "",
		"prefix only":      "ak_",
		"wrong prefix":     "AK_" + s[3:],
		"short":            s[:len(s)-1],
		"long":             s + "A",
		"uppercase id":     s[:3] + strings.ToUpper(s[3:19]) + s[19:],
		"no separator":     s[:19] + "." + s[20:],
		"padding":          s[:len(s)-1] + "=",
		"non-canonical":    s[:len(s)-1] + lastCharWithLowBits(s[len(s)-1]),
		"std base64 alpha": s[:20] + "+" + s[21:],
	}
	for name, c := range cases {
		if _, _, ok := parseAPIKey(c); ok {
			t.Errorf("%s: %q parsed", name, c)
		}
	}
}

// lastCharWithLowBits returns a base64url character that differs from c
// only in the bits a 43-character encoding of 32 bytes leaves unused, so
// that a lax decoder would accept it as the same secret.
func lastCharWithLowBits(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i^1])
}

func TestKeyRedaction(t *testing.T) {
	_, key, _, _ := generateKey(seededRand(3))
	secret := key.Reveal()[20:]
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		l := slog.New(h)
		l.Info("key", "k", key)
		l.Info("key", slog.Any("k", key))
		l.Info("struct", "v", struct{ K APIKey }{key})
	}
	j, err := json.Marshal(map[string]any{"k": key})
	if err != nil {
		t.Fatal(err)
	}
	printed := fmt.Sprint(key) + fmt.Sprintf("%s %v %q %#v %+v", key, key, key, key, struct{ K APIKey }{key})
	for name, out := range map[string]string{"slog": logs.String(), "json": string(j), "fmt": printed} {
		if strings.Contains(out, secret) {
			t.Errorf("%s output holds the secret: %s", name, out)
		}
		if !strings.Contains(out, "ak_"+key.ID()+"_[REDACTED]") {
			t.Errorf("%s output does not show the redacted key: %s", name, out)
		}
	}
	if APIKey("garbage").String() != "[REDACTED]" {
		t.Errorf("malformed key printed as %q", APIKey("garbage").String())
	}
}
