package auth

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/akidb/akidb/engine/meta"
	"github.com/akidb/akidb/serve/api"
)

// Token is an issued JWT, as POST /api/v1/auth/token returns it.
type Token struct {
	Token     string    `json:"token"`
	TokenType string    `json:"token_type"` // always "Bearer"
	ExpiresAt time.Time `json:"expires_at"`
}

// LogValue keeps slog from printing the token, which is a credential.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("token_type", t.TokenType), slog.Time("expires_at", t.ExpiresAt))
}

// claims is a token's payload. sub is the key id: every use of the token
// checks that key, so revoking the key revokes its tokens.
type claims struct {
	Tenant      string   `json:"tenant"`
	Role        string   `json:"role"`
	Collections []string `json:"collections,omitempty"`
	jwt.RegisteredClaims
}

// IssueToken signs a token for key k, valid from now for the configured
// TTL but never past the key's expiry. k must be live at now. Most callers
// want ExchangeKey, which authenticates the key first.
func (a *Authenticator) IssueToken(k KeyInfo, now time.Time) (Token, error) {
	if !k.Live(now) || !meta.ValidAPIKeyID(k.ID) {
		return Token{}, errUnauthenticated()
	}
	// NumericDate has whole seconds: round exp down so the reported
	// expiry is the real one.
	exp := now.Add(a.cfg.TokenTTL)
	if !k.ExpiresAt.IsZero() && k.ExpiresAt.Before(exp) {
		exp = k.ExpiresAt
	}
	exp = exp.Truncate(time.Second)
	c := claims{
		Tenant:      k.TenantID,
		Role:        string(k.Role),
		Collections: k.Collections,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    a.cfg.Issuer,
			Subject:   k.ID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(a.secret)
	if err != nil {
		return Token{}, fmt.Errorf("sign token for key %s: %w", k.ID, err)
	}
	return Token{Token: s, TokenType: "Bearer", ExpiresAt: exp.UTC()}, nil
}

// ExchangeKey authenticates credential, which must be an API key (a token
// does not buy a fresh token: a stolen token must run out), checks that
// the key may do token.issue, and issues a token for it. Errors are those
// of Authenticate, and permission_denied. It returns the caller too, for
// the audit trail.
func (a *Authenticator) ExchangeKey(ctx context.Context, credential, remoteAddr string) (Token, api.Caller, error) {
	row, err := a.authenticate(ctx, credential, remoteAddr, false)
	if err != nil {
		return Token{}, api.Caller{}, err
	}
	caller := callerOf(row)
	if err := Authorize(caller, ActionTokenIssue); err != nil {
		return Token{}, caller, err
	}
	t, err := a.IssueToken(infoOf(row), a.now())
	if err != nil {
		return Token{}, caller, err
	}
	return t, caller, nil
}

// parser checks signature (HS256 only: "none" and RS256/ES256, with
// which an attacker would try the public key as an HMAC secret, are
// refused before the key function runs), issuer, a required exp, iat not
// in the future, against the Authenticator's clock.
func (a *Authenticator) parser() *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(a.cfg.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(a.now),
		jwt.WithStrictDecoding(),
	)
}

// parseToken verifies the token's signature and claims (not its key).
func (a *Authenticator) parseToken(s string) (*claims, error) {
	var c claims
	_, err := a.parser().ParseWithClaims(s, &c, func(t *jwt.Token) (any, error) {
		// WithValidMethods already refused other algorithms; check again
		// here, where the secret is handed out.
		if m, ok := t.Method.(*jwt.SigningMethodHMAC); !ok || m != jwt.SigningMethodHS256 {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return a.secret, nil
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// verifyToken checks a JWT and the key it was issued for.
func (a *Authenticator) verifyToken(ctx context.Context, s string, now time.Time) (meta.APIKey, string, error) {
	c, err := a.parseToken(s)
	if err != nil {
		return meta.APIKey{}, "invalid token: " + err.Error(), nil
	}
	if !meta.ValidAPIKeyID(c.Subject) {
		return meta.APIKey{}, "token subject is not a key id", nil
	}
	row, found, err := a.lookup(ctx, c.Subject, now)
	if err != nil {
		return meta.APIKey{}, "", err
	}
	if !found {
		return meta.APIKey{}, "token of a deleted key " + c.Subject, nil
	}
	if reason := notLive(row, now); reason != "" {
		return meta.APIKey{}, "token of a dead key: " + reason, nil
	}
	// Keys do not change tenant, role or collections, so a token that
	// disagrees with its key was not made by IssueToken.
	if c.Tenant != row.TenantID || c.Role != row.Role || !slices.Equal(c.Collections, row.Collections) {
		return meta.APIKey{}, "token claims do not match key " + row.ID, nil
	}
	return row, "", nil
}
