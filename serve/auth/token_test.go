package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/akidb/akidb/serve/api"
)

func TestTokenRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil)
	info, key := mustCreate(t, e, "default", RoleReader, []string{"docs"}, 0)
	tok, c, err := e.a.ExchangeKey(ctx, key.Reveal(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || !tok.ExpiresAt.Equal(t0.Add(DefaultTokenTTL)) || c.KeyID != info.ID {
		t.Fatalf("token %+v caller %+v", tok, c)
	}
	got, err := e.a.Authenticate(ctx, tok.Token, addr)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, info.Caller()) {
		t.Fatalf("token caller %+v, key caller %+v", got, info.Caller())
	}
	// The claims are the documented ones.
	parts := strings.Split(tok.Token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"sub": info.ID, "tenant": "default", "role": "reader", "collections": []any{"docs"},
		"iss": "akidb", "iat": float64(t0.Unix()), "exp": float64(t0.Add(24 * time.Hour).Unix())}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("claims %v, want %v", m, want)
	}

	// A token does not buy another token.
	_, _, err = e.a.ExchangeKey(ctx, tok.Token, addr)
	wantCode(t, err, api.CodeUnauthenticated)

	// A token never outlives its key.
	short, shortKey := mustCreate(t, e, "default", RoleReader, nil, time.Hour+500*time.Millisecond)
	tok2, _, err := e.a.ExchangeKey(ctx, shortKey.Reveal(), addr)
	if err != nil || !tok2.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("token of a key expiring at %v: %+v, %v", short.ExpiresAt, tok2, err)
	}
	// Its slog form hides it.
	var sb strings.Builder
	sb.WriteString(tok2.LogValue().String())
	if strings.Contains(sb.String(), tok2.Token) {
		t.Fatal("Token.LogValue shows the token")
	}
}

func TestTokenTTLConfigurable(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TokenTTL = 15 * time.Minute; c.Issuer = "edge-1" })
	info, _ := mustCreate(t, e, "default", RoleReader, nil, 0)
	tok, err := e.a.IssueToken(info, e.clock.Now())
	if err != nil || !tok.ExpiresAt.Equal(t0.Add(15*time.Minute)) {
		t.Fatalf("%+v, %v", tok, err)
	}
	e.clock.Advance(15*time.Minute - time.Second)
	if _, err := e.a.Authenticate(context.Background(), tok.Token, addr); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	_, err = e.a.Authenticate(context.Background(), tok.Token, addr)
	wantCode(t, err, api.CodeUnauthenticated)
}

// sign makes a token with arbitrary claims and method.
func sign(t *testing.T, method jwt.SigningMethod, claims jwt.Claims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenAttacksRefused(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(c *Config) { c.Throttle.MaxFailures = 1000 })
	info, _ := mustCreate(t, e, "default", RoleReader, nil, 0)
	good := func() jwt.MapClaims {
		now := e.clock.Now()
		return jwt.MapClaims{"sub": info.ID, "tenant": "default", "role": "reader", "iss": "akidb",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	// The baseline passes, so each case below fails for its one reason.
	if _, err := e.a.Authenticate(ctx, sign(t, jwt.SigningMethodHS256, good(), testSecret), addr); err != nil {
		t.Fatalf("baseline token refused: %v", err)
	}

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	with := func(mutate func(jwt.MapClaims)) jwt.MapClaims {
		c := good()
		mutate(c)
		return c
	}
	valid := sign(t, jwt.SigningMethodHS256, good(), testSecret)
	parts := strings.Split(valid, ".")
	adminPayload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"` + info.ID +
		`","tenant":"default","role":"admin","iss":"akidb","iat":` + jsonInt(e.clock.Now().Unix()) + `,"exp":` +
		jsonInt(e.clock.Now().Add(time.Hour).Unix()) + `}`))
	hugeHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":"` + strings.Repeat("k", 8192) + `"}`))

	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, good()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"alg none":                       none,
		"alg none, no signature at all":  strings.Join(strings.Split(none, ".")[:2], ".") + ".",
		"RS256 with some RSA key":        sign(t, jwt.SigningMethodRS256, good(), rsaKey),
		"HS256 with the public key":      sign(t, jwt.SigningMethodHS256, good(), pubPEM),
		"RS256 header, HMAC(public key)": hmacWithHeader(t, `{"alg":"RS256","typ":"JWT"}`, good(), pubPEM),
		"tampered payload":               parts[0] + "." + adminPayload + "." + parts[2],
		"tampered signature":             parts[0] + "." + parts[1] + "." + flipLast(parts[2]),
		"wrong secret":                   sign(t, jwt.SigningMethodHS256, good(), []byte("another secret of 32 bytes......")),
		"wrong issuer":                   sign(t, jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { c["iss"] = "evil" }), testSecret),
		"no issuer":                      sign(t, jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { delete(c, "iss") }), testSecret),
		"expired":                        sign(t, jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { c["exp"] = e.clock.Now().Unix() }), testSecret),
		"missing exp":                    sign(t, jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { delete(c, "exp") }), testSecret),
		"issued in the future":           sign(t, jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { c["iat"] = e.clock.Now().Add(time.Hour).Unix() }), testSecret),
		"role not the key's":             sign(t, jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { c["role"] = "admin" }), testSecret),
		"tenant not the key's":           sign(t, jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { c["tenant"] = "acme" }), testSecret),
		"collections not the key's": sign(t, jwt.SigningMethodHS256,
			with(func(c jwt.MapClaims) { c["collections"] = []string{"x"} }), testSecret),
		"unknown key":  sign(t, jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { c["sub"] = "zzzzzzzzzzzzzzzz" }), testSecret),
		"no subject":   sign(t, jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { delete(c, "sub") }), testSecret),
		"8 KB header":  hugeHeader + "." + parts[1] + "." + parts[2],
		"two parts":    parts[0] + "." + parts[1],
		"padded":       parts[0] + "." + parts[1] + "=." + parts[2],
		"garbage":      "a.b.c",
		"empty fields": "..",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := e.a.Authenticate(ctx, tok, addr)
			wantCode(t, err, api.CodeUnauthenticated)
		})
	}

	// A token of a key that is revoked afterwards.
	tok, err := e.a.IssueToken(info, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Authenticate(ctx, tok.Token, addr); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Revoke(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.a.Authenticate(ctx, tok.Token, addr)
	wantCode(t, err, api.CodeUnauthenticated)
	if _, err := e.a.IssueToken(info, e.clock.Now()); err != nil {
		// info is the snapshot from before the revocation, so IssueToken
		// signs; the token is still refused on use (above).
		t.Fatalf("IssueToken with a live snapshot: %v", err)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func flipLast(s string) string {
	if s[len(s)-1] == 'A' {
		return s[:len(s)-1] + "B"
	}
	return s[:len(s)-1] + "A"
}

// hmacWithHeader signs header.payload with HMAC-SHA256 under key, whatever
// the header says: the classic algorithm-confusion forgery.
func hmacWithHeader(t *testing.T, header string, claims jwt.MapClaims, key []byte) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signing := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := jwt.SigningMethodHS256.Sign(signing, key)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestJWTSecretConfig(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := New(e.store, Config{JWTSecret: []byte("short")}); err == nil {
		t.Fatal("a 5-byte jwt secret was accepted")
	}
	if _, err := New(e.store, Config{}); err == nil {
		t.Fatal("no jwt secret and no data dir was accepted")
	}
	// Tokens signed by one secret fail under another.
	info, _ := mustCreate(t, e, "default", RoleReader, nil, 0)
	tok, err := e.a.IssueToken(info, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(e.store, Config{JWTSecret: []byte("a different secret, long enough."), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Authenticate(context.Background(), tok.Token, addr)
	wantCode(t, err, api.CodeUnauthenticated)
}
