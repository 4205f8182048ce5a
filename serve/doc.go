// Package serve runs `akidb serve`: it binds the REST and gRPC listeners,
// recovers the engine in the background (probes answer meanwhile, /readyz
// says 503 until it is done), serves both transports over one
// serve/api.Service, and shuts down gracefully: stop accepting, drain
// requests in flight (bounded), checkpoint, close.
//
// Subpackages: api (the transport-neutral service), rest (Gin), grpc,
// metrics (Prometheus), auth, tlsconf.
package serve
