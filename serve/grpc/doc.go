// Package grpc is AkiDB's gRPC transport: the akidb.v1 protocol
// (proto/akidb/v1/akidb.proto, generated Go code in akidbv1/), a thin
// server that converts each message to the transport-neutral request of
// serve/api, calls the service and converts the answer back, plus the
// standard grpc.health.v1 health service and server reflection.
//
// What it owns:
//
//   - The wire form of the API for gRPC clients. Every RPC has a REST twin
//     and runs the same api.Service method, so a request gets the same
//     answer on both transports; errors go through ErrorStatus, which
//     takes the gRPC code from the one table api.StatusOf and attaches a
//     google.rpc.ErrorInfo (reason = the api code, domain "akidb",
//     metadata = the error's details) and, for back-off, a
//     google.rpc.RetryInfo.
//   - Transport limits: message sizes equal Limits.MaxBodyBytes (the REST
//     body limit), keepalive enforcement, concurrent streams per
//     connection, handshake timeout and header size, so a slow or
//     misbehaving client cannot hold the server.
//   - Health: "" and "akidb.v1.CollectionService" report SERVING exactly
//     when the owner says so (SetServing / UpdateHealth from
//     api.Service.Ready); nothing polls.
//   - Authorization: actions.go maps every akidb.v1 RPC, by full method
//     name, to one auth.Action (a test walks Methods() against it); with
//     Options.Guard (serve/access) an interceptor authenticates the
//     "authorization" metadata, authorizes the action and audits, and the
//     ManagementService serves the admin RPCs (admin.go; quotas.go for
//     quotas, key rates and the runtime configuration). Health and
//     reflection are public; any other method, or stream, is refused.
//   - Limits: with Options.Shedder an interceptor before the guard bounds
//     the akidb.v1 RPCs in flight (UNAVAILABLE + RetryInfo past it) and
//     each one's time (Options.RequestTimeout; its expiry is UNAVAILABLE
//     too, the client's own deadline DEADLINE_EXCEEDED). The guard's rate
//     limit decision goes out as response header metadata
//     (x-ratelimit-limit, -remaining, -reset, retry-after).
//
// The filter of Query and Delete travels as a JSON string (filter_json) so
// the filter parser sees the same bytes as over REST. Metadata travels as
// google.protobuf.Struct, whose numbers are doubles, the same as JSON
// numbers after the engine stores them.
//
// Importers alias the package, e.g.
// grpcserver "github.com/akidb/akidb/serve/grpc", since it shares its name
// with google.golang.org/grpc. docs/grpc.md is the user documentation;
// gen.sh regenerates akidbv1.
package grpc
