package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/akidb/akidb/serve/api"
)

// FuzzAuthenticate feeds arbitrary credentials to the whole path (key
// parser, JWT parser, lookup). Whatever the input, the answer is a caller
// of one of the real keys or an unauthenticated *api.Error, never a panic.
func FuzzAuthenticate(f *testing.F) {
	e := newEnv(f, func(c *Config) { c.Throttle.MaxFailures = 1 << 30 })
	info, key := mustCreate(f, e, "default", RoleWriter, []string{"docs"}, 0)
	tok, err := e.a.IssueToken(info, e.clock.Now())
	if err != nil {
		f.Fatal(err)
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": info.ID, "iss": "akidb",
		"exp": e.clock.Now().Add(time.Hour).Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	parts := strings.Split(tok.Token, ".")

	for _, seed := range []string{
		key.Reveal(),
		tok.Token,
		none,
		"",
		"ak_",
		"ak_aaaaaaaaaaaaaaaa_",
		key.Reveal()[:KeyLen-1] + "=",
		strings.ToUpper(key.Reveal()),
		parts[0] + "." + parts[1] + ".",
		parts[0] + ".." + parts[2],
		"eyJhbGciOiJIUzI1NiJ9.e30.",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
		"....",
		"Bearer " + tok.Token,
		strings.Repeat("a", MaxCredentialLen+1),
		"\x00\xff\xfe",
	} {
		f.Add(seed)
	}
	valid := map[string]bool{key.Reveal(): true, tok.Token: true}
	f.Fuzz(func(t *testing.T, cred string) {
		c, err := e.a.Authenticate(context.Background(), cred, "192.0.2.1:1")
		if err == nil {
			if c.KeyID != info.ID || c.TenantID != "default" || c.Role != "writer" {
				t.Fatalf("credential %q authenticated as %+v", cred, c)
			}
			if !valid[strings.TrimSpace(cred)] {
				t.Fatalf("credential %q, not one of the issued ones, was accepted", cred)
			}
			return
		}
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != api.CodeUnauthenticated {
			t.Fatalf("credential %q: %v", cred, err)
		}
	})
}
