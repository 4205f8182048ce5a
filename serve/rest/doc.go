// Package rest serves AkiDB's REST API (the v1 contract in
// docs/openapi.yaml and docs/api.md) with Gin, over serve/api.Service.
//
// Handlers are thin: decode the request (decode.go: exactly one strict JSON
// object, bounded by Limits.MaxBodyBytes), call the service, encode the
// answer; every error leaves through writeError (respond.go), which maps the
// api.Code to its HTTP status through the one table in serve/api and writes
// the envelope {"error":{"code","message","details"}}.
//
// Middleware, outermost first: request id (X-Request-ID, echoed when sane,
// generated otherwise), HSTS (on responses served over TLS), access log
// (slog: debug per request, warn for 5xx), metrics (route template
// labels), panic recovery (answers with the internal envelope), and, on
// every route that is not public, load shedding (Options.Shedder: 503
// with Retry-After past the in-flight bound; the request timeout, whose
// expiry writeError answers 503 too) and then the security layer:
// Options.Guard (serve/access: authenticate, rate limit the tenant and
// key, sending X-RateLimit-* on every limited answer, authorize the
// route's action, audit) or, for tests, the simpler Options.Authenticate
// hook.
//
// Authorization: actions.go maps every route, by method and template, to
// one auth.Action, and lists the public ones (probes, /metrics); a test
// walks the registered routes and fails on one in neither list, and a
// route in neither is refused at run time rather than served openly.
// POST /api/v1/auth/token authenticates the key it exchanges itself; the
// /admin routes (admin.go, limits.go for quotas, key rates and the runtime
// configuration) call the guard's administration service.
// Probes, /metrics and unmatched routes never authenticate.
//
// Routing decisions:
//   - Paths are matched escaped and path parameters are unescaped with
//     url.PathUnescape, so a record id may contain "/" (sent as %2F) or "+"
//     (sent as is); Gin's own unescaping would turn "+" into a space.
//   - Trailing-slash redirects are off: /api/v1/collections/ is a 404, not a
//     redirect, because API clients should not silently follow 301/307s.
//   - Request bodies must be sent as Content-Type application/json. Besides
//     stating the format, it makes a browser send a CORS preflight, so a web
//     page cannot forge writes against a server on localhost that runs
//     without authentication.
//   - A wrong method on a known path is 405 with an Allow header and the
//     code "method_not_allowed" (in the shared status table; gRPC never
//     produces it).
//
// The OpenAPI document is embedded from openapi.yaml in this directory, a
// copy of docs/openapi.yaml (go:embed cannot reach ../../docs); a test
// fails when the two differ, and another when the document's routes and
// the registered routes differ.
package rest
