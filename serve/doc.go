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
// Subpackages: api (the transport-neutral service), access (the guard and
// the administration service), rest (Gin), grpc, metrics (Prometheus),
// auth, tlsconf.
package serve
