package serve

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// TestBootstrapKey: the first start of an empty data directory prints an
// admin key once and writes it 0600 in a 0700 directory; the key works;
// the second start prints nothing and keeps the file.
func TestBootstrapKey(t *testing.T) {
	cfg := testConfig(t)
	s := startServer(t, cfg)
	key := bootstrapKey(t, cfg.DataDir)
	if !strings.HasPrefix(key, auth.KeyPrefix) || len(key) != auth.KeyLen {
		t.Fatalf("bootstrap key %q", key)
	}
	// The notices are not a terminal here: they name the file, not the key.
	keyFile := filepath.Join(cfg.DataDir, auth.SecretsDir, auth.BootstrapKeyFile)
	if n := strings.Count(s.notices.String(), key); n != 0 || !strings.Contains(s.notices.String(), keyFile) {
		t.Fatalf("the key appears %d times in the notices (want 0 and the file's path):\n%s", n, s.notices.String())
	}
	if strings.Contains(s.logs.String(), key) {
		t.Fatal("the bootstrap key is in the log")
	}
	dir := filepath.Join(cfg.DataDir, auth.SecretsDir)
	for path, want := range map[string]fs.FileMode{dir: 0o700, filepath.Join(dir, auth.BootstrapKeyFile): 0o600} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Fatalf("%s: mode %v (%v), want %v", path, fi.Mode().Perm(), err, want)
		}
	}
	client := &http.Client{Timeout: waitTimeout}
	if r := do(t, client, "GET", s.restURL("/api/v1/collections"), "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("without a key: %d %s", r.status, r.body)
	}
	if r := do(t, client, "GET", s.restURL("/admin/tenants"), key, nil); r.status != http.StatusOK {
		t.Fatalf("with the bootstrap key: %d %s", r.status, r.body)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}

	again := startServer(t, cfg)
	if strings.Contains(again.notices.String(), auth.KeyPrefix) {
		t.Fatalf("the second start printed a key:\n%s", again.notices.String())
	}
	if got := bootstrapKey(t, cfg.DataDir); got != key {
		t.Fatal("the second start replaced the bootstrap key file")
	}
	if r := do(t, client, "GET", again.restURL("/admin/tenants"), key, nil); r.status != http.StatusOK {
		t.Fatalf("after a restart: %d %s", r.status, r.body)
	}
}

// TestBootstrapKeyOnTerminal: on a terminal the new key is shown once;
// revoking it through the server deletes its file.
func TestBootstrapKeyOnTerminal(t *testing.T) {
	cfg := testConfig(t)
	cfg.NoticesTerminal = true
	s := startServer(t, cfg)
	key := bootstrapKey(t, cfg.DataDir)
	if n := strings.Count(s.notices.String(), key); n != 1 {
		t.Fatalf("the key appears %d times on the terminal:\n%s", n, s.notices.String())
	}
	id := strings.Split(key, "_")[1]
	client := &http.Client{Timeout: waitTimeout}
	if r := do(t, client, "DELETE", s.restURL("/admin/api-keys/"+id), key, nil); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, auth.SecretsDir, auth.BootstrapKeyFile)); !os.IsNotExist(err) {
		t.Fatalf("the revoked bootstrap key's file is still there: %v", err)
	}
}

// TestNoSecretAtRest: after keys are created, used, exchanged for tokens
// and rotated, neither the database files nor the log (at debug level)
// hold a key or its secret; only the bootstrap key file holds the
// bootstrap key.
func TestNoSecretAtRest(t *testing.T) {
	cfg := testConfig(t)
	s := startServer(t, cfg)
	client := &http.Client{Timeout: waitTimeout}
	boot := bootstrapKey(t, cfg.DataDir)

	var keys []string
	for _, role := range []string{"admin", "writer", "reader"} {
		r := do(t, client, "POST", s.restURL("/admin/api-keys"), boot, access.CreateKeyRequest{Role: role, Name: "k-" + role, ExpiresIn: "720h"})
		var k access.CreatedKey
		if r.status != http.StatusCreated || json.Unmarshal(r.body, &k) != nil {
			t.Fatalf("create key: %d %s", r.status, r.body)
		}
		keys = append(keys, k.Key)
		if r := do(t, client, "POST", s.restURL("/api/v1/auth/token"), k.Key, nil); r.status != http.StatusOK {
			t.Fatalf("token: %d %s", r.status, r.body)
		}
		if r := do(t, client, "GET", s.restURL("/api/v1/collections"), k.Key, nil); r.status != http.StatusOK {
			t.Fatalf("use key: %d %s", r.status, r.body)
		}
		r = do(t, client, "POST", s.restURL("/admin/api-keys/"+k.ID+"/rotate"), boot, access.RotateKeyRequest{Overlap: "1h"})
		var rot access.RotatedKey
		if r.status != http.StatusCreated || json.Unmarshal(r.body, &rot) != nil {
			t.Fatalf("rotate: %d %s", r.status, r.body)
		}
		keys = append(keys, rot.New.Key)
	}
	// A wrong secret for a real id reaches the logs' failure path.
	wrong := keys[0][:len(keys[0])-4] + "AAAA"
	if r := do(t, client, "GET", s.restURL("/api/v1/collections"), wrong, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", r.status)
	}
	keys = append(keys, wrong)

	check := func(when string) {
		t.Helper()
		logs := s.logs.String()
		err := filepath.WalkDir(cfg.DataDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, k := range append(keys, boot) {
				if k == boot && filepath.Base(path) == auth.BootstrapKeyFile {
					continue
				}
				for what, needle := range secretForms(t, k) {
					if bytes.Contains(data, needle) {
						t.Errorf("%s: %s holds the %s of key %s", when, path, what, auth.APIKey(k))
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range append(keys, boot) {
			for what, needle := range secretForms(t, k) {
				if strings.Contains(logs, string(needle)) {
					t.Errorf("%s: the log holds the %s of key %s", when, what, auth.APIKey(k))
				}
			}
		}
	}
	for _, f := range []string{"akidb.db", "akidb.db-wal"} {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, f)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	check("while serving")
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	check("after shutdown")
}

// secretForms are the ways a key's secret could leak: the whole key, its
// secret text, and the secret's raw bytes.
func secretForms(t *testing.T, key string) map[string][]byte {
	t.Helper()
	// The secret's alphabet (base64url) has '_' too: cut at the fixed
	// offset, not at the last underscore.
	secret := key[len(auth.KeyPrefix)+16+1:]
	if len(secret) != 43 {
		t.Fatalf("key %s has a %d-character secret", auth.APIKey(key), len(secret))
	}
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil {
		raw = nil
	}
	out := map[string][]byte{"full key": []byte(key), "secret text": []byte(secret)}
	if len(raw) > 0 {
		out["raw secret"] = raw
	}
	return out
}

// jwtSecret is the signing secret the JWT tests give the server, so that
// they can forge well-signed tokens with bad claims.
var jwtSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// TestJWTAttacksRefused: forged and damaged tokens are refused at both
// transports with 401 / UNAUTHENTICATED, and a genuine token works until
// its key is revoked.
func TestJWTAttacksRefused(t *testing.T) {
	cfg := testConfig(t)
	cfg.Auth.JWTSecret = jwtSecret
	cfg.Auth.Throttle.MaxFailures = 1 << 20 // many refusals from one address on purpose
	s := startServer(t, cfg)
	client := &http.Client{Timeout: waitTimeout}
	boot := bootstrapKey(t, cfg.DataDir)
	r := do(t, client, "POST", s.restURL("/admin/api-keys"), boot, access.CreateKeyRequest{Role: "reader", Name: "victim"})
	var victim access.CreatedKey
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &victim) != nil {
		t.Fatalf("create key: %d %s", r.status, r.body)
	}
	r = do(t, client, "POST", s.restURL("/api/v1/auth/token"), victim.Key, nil)
	var tok auth.Token
	if r.status != http.StatusOK || json.Unmarshal(r.body, &tok) != nil {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	col, mgmt := s.grpcClients(t)

	now := time.Now()
	claims := func(mut func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": victim.ID, "tenant": victim.TenantID, "role": "reader", "iss": "akidb",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if mut != nil {
			mut(c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	parts := strings.Split(tok.Token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	tamperedPayload := bytes.Replace(payload, []byte(`"role":"reader"`), []byte(`"role":"admin"`), 1)
	if bytes.Equal(tamperedPayload, payload) {
		t.Fatalf("payload %s has no reader role to tamper with", payload)
	}

	// Control: the genuine token and a correctly forged one work.
	for name, cred := range map[string]string{"issued": tok.Token, "forged with the secret": sign(jwt.SigningMethodHS256, jwtSecret, claims(nil))} {
		if r := do(t, client, "GET", s.restURL("/api/v1/collections"), cred, nil); r.status != http.StatusOK {
			t.Fatalf("%s token over REST: %d %s", name, r.status, r.body)
		}
		if _, err := col.ListCollections(rpcCtx(t, cred), &akidbv1.ListCollectionsRequest{}); err != nil {
			t.Fatalf("%s token over gRPC: %v", name, err)
		}
	}

	attacks := map[string]string{
		"alg none":                 enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(mustJSON(t, claims(nil))) + ".",
		"alg none, signature kept": enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2],
		// HS/RS confusion: an RS256 token, and an HS256 token keyed with
		// the attacker's RSA public key as the HMAC secret.
		"RS256 signed by an attacker":   sign(jwt.SigningMethodRS256, rsaKey, claims(nil)),
		"HS256 keyed with a public key": sign(jwt.SigningMethodHS256, mustPublicPEM(t, &rsaKey.PublicKey), claims(nil)),
		"HS512 with the real secret":    sign(jwt.SigningMethodHS512, jwtSecret, claims(nil)),
		"tampered payload":              parts[0] + "." + enc(tamperedPayload) + "." + parts[2],
		"tampered signature":            parts[0] + "." + parts[1] + "." + enc([]byte("not the signature at all, 32 b!")),
		"wrong issuer":                  sign(jwt.SigningMethodHS256, jwtSecret, claims(func(c jwt.MapClaims) { c["iss"] = "evil" })),
		"no issuer":                     sign(jwt.SigningMethodHS256, jwtSecret, claims(func(c jwt.MapClaims) { delete(c, "iss") })),
		"expired":                       sign(jwt.SigningMethodHS256, jwtSecret, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })),
		"no expiry":                     sign(jwt.SigningMethodHS256, jwtSecret, claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"issued in the future":          sign(jwt.SigningMethodHS256, jwtSecret, claims(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() })),
		"role raised":                   sign(jwt.SigningMethodHS256, jwtSecret, claims(func(c jwt.MapClaims) { c["role"] = "admin" })),
		"other tenant claimed":          sign(jwt.SigningMethodHS256, jwtSecret, claims(func(c jwt.MapClaims) { c["tenant"] = "elsewhere" })),
		"unknown key":                   sign(jwt.SigningMethodHS256, jwtSecret, claims(func(c jwt.MapClaims) { c["sub"] = "aaaaaaaaaaaaaaaa" })),
		"8 KiB header":                  "eyJ" + strings.Repeat("A", 8<<10),
	}
	refused := func(name, cred string) {
		t.Helper()
		r := do(t, client, "GET", s.restURL("/api/v1/collections"), cred, nil)
		var env struct{ Error api.Error }
		_ = json.Unmarshal(r.body, &env)
		if r.status != http.StatusUnauthorized || env.Error.Code != api.CodeUnauthenticated {
			t.Errorf("%s over REST: %d %s, want 401 unauthenticated", name, r.status, r.body)
		}
		if r := do(t, client, "GET", s.restURL("/admin/api-keys"), cred, nil); r.status != http.StatusUnauthorized {
			t.Errorf("%s over REST (admin): %d", name, r.status)
		}
		_, err := col.ListCollections(rpcCtx(t, cred), &akidbv1.ListCollectionsRequest{})
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s over gRPC: %v, want UNAUTHENTICATED", name, err)
		}
		_, err = mgmt.ListAPIKeys(rpcCtx(t, cred), &akidbv1.ListAPIKeysRequest{})
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s over gRPC (admin): %v", name, err)
		}
	}
	for name, cred := range attacks {
		refused(name, cred)
	}

	// A token dies with its key, on the next request.
	if r := do(t, client, "DELETE", s.restURL("/admin/api-keys/"+victim.ID), boot, nil); r.status != http.StatusOK {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	refused("token of a revoked key", tok.Token)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustPublicPEM is the public key in PEM, what an attacker would try as
// the HMAC secret against a server that verified RS256 with it.
func mustPublicPEM(t *testing.T, k *rsa.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// TestFailureThrottle: after the configured failures of one key from one
// address, that key is refused (429 with Retry-After, gRPC
// RESOURCE_EXHAUSTED) for the window, on both transports, while another
// key from the same address keeps working.
func TestFailureThrottle(t *testing.T) {
	cfg := testConfig(t)
	var mu sync.Mutex
	clock := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	cfg.Auth.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return clock
	}
	cfg.Auth.Throttle = auth.ThrottleConfig{MaxFailures: 3, Window: time.Minute}
	s := startServer(t, cfg)
	client := &http.Client{Timeout: waitTimeout}
	boot := bootstrapKey(t, cfg.DataDir)
	bad := "ak_aaaaaaaaaaaaaaaa_" + strings.Repeat("A", 43)
	for i := range 3 {
		if r := do(t, client, "GET", s.restURL("/api/v1/collections"), bad, nil); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i, r.status, r.body)
		}
	}
	r := do(t, client, "GET", s.restURL("/api/v1/collections"), bad, nil)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "60" {
		t.Fatalf("throttled: %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	col, _ := s.grpcClients(t)
	_, err := col.ListCollections(rpcCtx(t, bad), &akidbv1.ListCollectionsRequest{})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("gRPC while throttled: %v", err)
	}
	// The stale key does not lock out the others from this address.
	if r := do(t, client, "GET", s.restURL("/api/v1/collections"), boot, nil); r.status != http.StatusOK {
		t.Fatalf("another key while one is throttled: %d %s", r.status, r.body)
	}
	if _, err := col.ListCollections(rpcCtx(t, boot), &akidbv1.ListCollectionsRequest{}); err != nil {
		t.Fatalf("gRPC, another key while one is throttled: %v", err)
	}
	mu.Lock()
	clock = clock.Add(time.Minute)
	mu.Unlock()
	if r := do(t, client, "GET", s.restURL("/api/v1/collections"), bad, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("after the window: %d %s", r.status, r.body)
	}
}

// TestAuthDisabled: --auth=false serves without credentials, as the
// operator, warns loudly, and makes no bootstrap key.
func TestAuthDisabled(t *testing.T) {
	cfg := testConfig(t)
	cfg.Auth.Disabled = true
	s := startServer(t, cfg)
	if !strings.Contains(s.notices.String(), "AUTHENTICATION IS OFF") || !strings.Contains(s.logs.String(), "AUTHENTICATION IS OFF") {
		t.Fatalf("no warning: notices %q", s.notices.String())
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, auth.SecretsDir, auth.BootstrapKeyFile)); !os.IsNotExist(err) {
		t.Fatalf("bootstrap key with auth off: %v", err)
	}
	client := &http.Client{Timeout: waitTimeout}
	if r := do(t, client, "POST", s.restURL("/api/v1/collections"), "", api.CreateCollectionRequest{Name: "c", Dimension: 2}); r.status != http.StatusCreated {
		t.Fatalf("create without credentials: %d %s", r.status, r.body)
	}
	if r := do(t, client, "POST", s.restURL("/admin/tenants"), "", access.CreateTenantRequest{Name: "dev"}); r.status != http.StatusCreated {
		t.Fatalf("admin without credentials: %d %s", r.status, r.body)
	}
	col, _ := s.grpcClients(t)
	list, err := col.ListCollections(rpcCtx(t, ""), &akidbv1.ListCollectionsRequest{})
	if err != nil || len(list.GetCollections()) != 1 {
		t.Fatalf("gRPC without credentials: %v %v", list, err)
	}
}
