// Package access is the security layer both transports share: the per-
// request guard (authenticate -> authorize the route's action -> attach
// the caller -> audit) and the administration service (tenants, API keys,
// the audit trail, tokens). It knows no transport: REST (serve/rest) and
// gRPC (serve/grpc) hand it the credential, the peer address and the
// action their route or method maps to, and map its *api.Error values
// through the one status table of serve/api. The mechanisms (keys,
// tokens, roles, throttle, audit storage) are serve/auth's; this package
// decides when each one runs.
//
// It is a package of its own, not files of serve/api, because serve/auth
// imports serve/api (for api.Caller and api.Error): serve/api cannot call
// serve/auth back.
//
// # Order of a request
//
// The transports shed first (serve/ratelimit.Shedder: 503 past the
// in-flight bound), then:
//
//	Begin(ctx, Request{Action, Credential, RemoteAddr, RequestID, Target, OnRateLimit})
//	  database not open yet                      -> unavailable (503)
//	  authn.Authenticate(credential, remote)     -> unauthenticated (401) / rate_limited (429, throttle)
//	  limiter.Allow(tenant, key, quotas.RatesFor) -> rate_limited (429; OnRateLimit gets the headers)
//	  auth.Authorize(caller, action)             -> permission_denied (403)
//	  ctx = api.WithCaller(ctx, caller) + the *Call
//	service / admin method                       -> tenant scoping: another tenant's
//	                                                collection, key or events are not_found (404)
//	call.End(err)                                 -> audit row when the action is audited
//
// Collections are scoped by serve/api (a name resolves inside the
// caller's tenant only, so another tenant's collection does not exist for
// it). Keys and audit events are scoped here with auth.AuthorizeTenant,
// which answers not_found too. Tenants are operator business
// (tenant.manage is a global action).
//
// With Options.Disabled (`akidb serve --auth=false`) Begin skips
// authentication and every request acts as the operator: an unrestricted
// admin of the default tenant (and is rate limited as that tenant). That
// is for trusted local development only.
//
// # Limits
//
// Deps.Limits (LimitDeps: serve/limits quotas and runtime settings, a
// serve/ratelimit limiter) adds the rate limit step above and the
// operations of limits.go: tenant quotas with usage (quota.read,
// tenant-scoped; quota.write, operator), API key rates (same actions) and
// the runtime configuration (config.read, config.write, operator). Offline
// administration attaches quotas and settings without a limiter or usage.
//
// # What is audited
//
// Written to the audit trail (SQLite, with bounded retention, and slog at
// info level) by auth.Auditor:
//
//   - every refused credential (unauthenticated) and every refused action
//     (permission_denied), on any route, with the route's action;
//   - every outcome of the audited actions: collection.create,
//     collection.delete, index.create, index.delete, key.*, tenant.manage,
//     audit.read, token.issue and
//     the global write actions (quota.write, config.write, storage.admin).
//
// Not written, to keep a flood from turning into database writes: requests
// without any credential (logged at debug), requests refused by the
// failure throttle or a rate limit bucket (rate_limited; the throttle logs
// a warning when it starts refusing an address, the limits' metrics count
// the buckets' refusals), and successful data-plane requests (the access
// log and the metrics count those).
package access
