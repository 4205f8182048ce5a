// Package serve runs `akidb serve`: it binds the REST and gRPC listeners,
// recovers the engine in the background (probes answer meanwhile, /readyz
// says 503 until it is done), serves both transports over one
// serve/api.Service, and shuts down gracefully: stop accepting, drain
// requests in flight (bounded), checkpoint, close.
//
// Security is on by default (docs/security.md): after the engine opens,
// and before the service is ready, Start builds the authenticator and the
// audit trail over its catalog, gives a new data directory its bootstrap
// admin key (printed once on Config.Notices), and attaches them to the
// access guard both transports share. Config.TLS serves both listeners
// from one tlsconf.Reloader, reloaded on file changes and on
// Config.Reload (SIGHUP in the CLI).
//
// Limits (docs/limits.md): Start makes one serve/ratelimit.Shedder (the
// in-flight bound and request timeout of Config.Limiting) shared by both
// transports, and one token bucket Limiter; once the catalog is open it
// loads the runtime settings and quotas (serve/limits), hands the quota
// guard (over the engine's usage) to the service and the rest to the
// access guard, and registers the limits' metrics on the server's
// registry. Run (the CLI) also sets the Go memory limit
// (limits.ApplyMemoryLimit); Start does not, since it is process-wide.
//
// Subpackages: api (the transport-neutral service), access (the guard and
// the administration service), rest (Gin), grpc, metrics (Prometheus),
// auth, tlsconf, ratelimit (buckets, in-flight bound), limits (quotas,
// runtime settings, memory limit).
package serve
