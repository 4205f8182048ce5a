package rest

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
	"github.com/akidb/akidb/serve/ratelimit"
	"github.com/akidb/akidb/serve/tlsconf"
)

// credentialOf reads the request's credential: Authorization: Bearer, or
// X-API-Key.
func credentialOf(c *gin.Context) (string, *api.Error) {
	return access.Credential(c.GetHeader(access.AuthorizationHeader), c.GetHeader(access.APIKeyHeader))
}

// admit runs the guard for a route's action: authenticate (401/429),
// authorize (403), attach the caller, run the handler, audit the outcome.
func (s *server) admit(action auth.Action) gin.HandlerFunc {
	return func(c *gin.Context) {
		cred, aerr := credentialOf(c)
		if aerr != nil {
			refuseUnreadBody(c)
			writeError(c, aerr)
			c.Abort()
			return
		}
		ctx, call, err := s.guard.Begin(c.Request.Context(), access.Request{
			Action: action, Credential: cred, RemoteAddr: c.Request.RemoteAddr,
			RequestID: requestIDOf(c), Target: targetOf(c), OnRateLimit: rateLimitHeaders(c),
		})
		if err != nil {
			refuseUnreadBody(c)
			writeError(c, err)
			c.Abort()
			return
		}
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		call.End(ctx, outcome(c))
	}
}

// rateLimitHeaders sends a rate limit decision's headers
// (X-RateLimit-Limit, -Remaining, -Reset; Retry-After when refused).
func rateLimitHeaders(c *gin.Context) func(ratelimit.Decision) {
	return func(d ratelimit.Decision) {
		h := c.Writer.Header()
		for k, v := range d.Headers() {
			// Set as spelled (X-RateLimit-Limit, not Go's canonical
			// X-Ratelimit-Limit): header names are case-insensitive, but
			// people read them in curl output and docs.
			h[k] = []string{v}
		}
	}
}

// requestTimeoutKey holds the request timeout in the Gin context, for
// the message of a request it stopped.
const requestTimeoutKey = "akidb.request_timeout"

// enter admits the request under the in-flight bound, its tenant's share
// and the server's, or answers at once (429 for the tenant's share, 503
// for the server's, with Retry-After: 1). It runs after authentication
// and after the body is read, so a request holds its slot only while it
// is served: an admitted request runs under the server's request timeout
// and frees its slot when it is done.
func (s *server) enter(c *gin.Context) {
	release, e := s.shedder.Admit(tenantOf(c))
	if e != nil {
		if _, read := c.Get(bodyKey); !read {
			refuseUnreadBody(c) // a body sent to a route that reads none
		}
		writeError(c, e)
		c.Abort()
		return
	}
	defer release()
	c.Set(requestTimeoutKey, s.timeout)
	ctx, cancel := ratelimit.WithRequestTimeout(c.Request.Context(), s.timeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// tenantOf is the tenant a request acts for, for the in-flight shares:
// the authenticated caller's ("" before authentication, as for the token
// route, which authenticates in its handler).
func tenantOf(c *gin.Context) string {
	if caller, ok := api.CallerFrom(c.Request.Context()); ok {
		return caller.TenantID
	}
	return ""
}

// targetOf names what a route acts on, for the audit trail: the
// collection, else the key or tenant id.
func targetOf(c *gin.Context) string {
	for _, p := range []string{"name", "id"} {
		if v := c.Param(p); v != "" {
			if u, err := url.PathUnescape(v); err == nil {
				return u
			}
			return v
		}
	}
	return ""
}

// outcome is the error a handler answered with (writeError records it),
// or nil for a success.
func outcome(c *gin.Context) error {
	if c.Writer.Status() < http.StatusBadRequest {
		return nil
	}
	if last := c.Errors.Last(); last != nil {
		return last.Err
	}
	return errors.New(http.StatusText(c.Writer.Status()))
}

// unmapped refuses a route that has no action and is not public: a
// programming error that TestEveryRouteHasAnAction catches; it must never
// become an open door.
func unmapped(c *gin.Context) {
	writeError(c, api.Errorf(api.CodePermissionDenied, "this route has no authorization rule"))
	c.Abort()
}

// hsts tells browsers to keep to HTTPS on responses served over TLS.
func hsts(c *gin.Context) {
	if c.Request.TLS != nil {
		c.Header("Strict-Transport-Security", tlsconf.HSTSHeader)
	}
	c.Next()
}

// noGuard answers the routes that exist only with a security layer.
func noGuard(c *gin.Context) {
	writeError(c, api.Errorf(api.CodeUnavailable, "this server runs without its security layer; keys, tenants, tokens, quotas, the runtime configuration and the audit trail are not served"))
}
