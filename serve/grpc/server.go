package grpc

import (
	"context"
	"log/slog"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/grpc/akidbv1"
	"github.com/akidb/akidb/serve/ratelimit"
)

// Transport limits that are not part of api.Limits. They keep one client
// from holding resources it does not use.
const (
	// MaxConcurrentStreams bounds the RPCs in flight on one connection;
	// further RPCs wait in the client until one finishes.
	MaxConcurrentStreams = 128
	// ConnectionTimeout bounds the connection handshake (TLS included),
	// so a client that connects and says nothing is dropped.
	ConnectionTimeout = 10 * time.Second
	// KeepaliveMinTime is the shortest ping interval a client may use;
	// a client pinging more often is disconnected (GOAWAY
	// too_many_pings). Clients may ping without active RPCs.
	KeepaliveMinTime = 10 * time.Second
	// KeepaliveTime and KeepaliveTimeout: the server pings a connection
	// quiet for KeepaliveTime and closes it when the ping is not answered
	// within KeepaliveTimeout, so dead peers do not keep streams open.
	KeepaliveTime    = time.Minute
	KeepaliveTimeout = 20 * time.Second
	// MaxConnectionIdle closes connections with no RPC for this long
	// (clients reconnect transparently).
	MaxConnectionIdle = 15 * time.Minute
	// MaxHeaderListSize bounds the request metadata (headers) of one RPC;
	// credentials are a few KiB at most.
	MaxHeaderListSize = 1 << 20
)

// Options configure a Server.
type Options struct {
	// Logger receives internal errors and recovered panics; nil discards.
	Logger *slog.Logger
	// Limits sets the message size limits (MaxBodyBytes received,
	// MaxResponse() sent). The zero value means the service's limits,
	// which is what should normally be used: the request limits
	// themselves are enforced by the service.
	Limits api.Limits
	// UnaryInterceptors run first (outermost), in order, for every unary
	// RPC including health checks: metrics and access logs belong here,
	// so they see every outcome, including failed authentication.
	UnaryInterceptors []grpc.UnaryServerInterceptor
	// ServerOptions are appended after the server's own options, so they
	// may override them (TLS credentials, stream interceptors, ...).
	ServerOptions []grpc.ServerOption
	// Guard, when not nil, admits every akidb.v1 RPC after the
	// interceptors above: it authenticates the call's credential
	// (metadata "authorization: Bearer ..." or "x-api-key"), authorizes
	// the method's action (MethodAction), attaches the caller and audits
	// the outcome, and it serves the ManagementService's admin RPCs.
	// Health and reflection stay public; any other method is refused.
	// Nil means no authentication (tests of the data plane); the admin
	// RPCs then answer UNAVAILABLE. `akidb serve` always sets it.
	Guard *access.Guard
	// Authenticate is a simpler hook for tests and embedders: when not
	// nil (and Guard is), it runs for every akidb.v1 RPC (not health or
	// reflection) after the interceptors above. It returns the caller,
	// which is attached to the context with api.WithCaller, or an error
	// that is sent as the RPC's status through ErrorStatus. It neither
	// authorizes actions nor audits.
	Authenticate func(ctx context.Context) (api.Caller, *api.Error)
	// Shedder, if set, bounds the akidb.v1 RPCs in flight, per server and
	// per tenant, after authentication (gRPC has read the message by
	// then): past the server's bound an RPC fails at once with
	// UNAVAILABLE, past its tenant's share with RESOURCE_EXHAUSTED, both
	// with a RetryInfo of 1 s. Health and reflection are never shed.
	// `akidb serve` shares one with the REST server.
	Shedder *ratelimit.Shedder
	// Budget, if set with Shedder, bounds the bytes of request messages
	// held by admitted RPCs, per server (UNAVAILABLE) and per tenant
	// (RESOURCE_EXHAUSTED), both with a RetryInfo of 1 s: an RPC takes its
	// message's size when it is admitted and holds it until it is done.
	// `akidb serve` shares one with the REST server.
	Budget *ratelimit.Budget
	// BodyTimeout bounds the time a client has to send an akidb.v1 RPC's
	// request message, from its headers (<= 0:
	// ratelimit.DefaultBodyTimeout); a slower one fails with
	// DEADLINE_EXCEEDED (receive.go).
	BodyTimeout time.Duration
	// RequestTimeout bounds each admitted RPC (<= 0:
	// ratelimit.DefaultRequestTimeout; a client's earlier deadline stays);
	// used with Shedder. An RPC the bound stops fails with UNAVAILABLE and
	// a RetryInfo of 1 s; one stopped by the client's deadline with
	// DEADLINE_EXCEEDED.
	RequestTimeout time.Duration
}

// Server is the gRPC server of an api.Service: the akidb.v1 services,
// grpc.health.v1 and reflection, registered on one *grpc.Server.
type Server struct {
	svc         *api.Service
	guard       *access.Guard
	log         *slog.Logger
	shedder     *ratelimit.Shedder
	budget      *ratelimit.Budget
	bodyTimeout time.Duration
	timeout     time.Duration
	maxResponse int64
	codec       *serverCodec
	grpc        *grpc.Server
	health      *health.Server
}

// healthServices are the service names whose health the server reports:
// the whole server ("") and the data plane.
var healthServices = []string{"", akidbv1.CollectionService_ServiceDesc.ServiceName}

// NewServer builds the server. Its health starts from svc.Ready(); call
// UpdateHealth (or SetServing) whenever readiness changes.
func NewServer(svc *api.Service, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	lim := opts.Limits
	if lim == (api.Limits{}) {
		lim = svc.Limits()
	}
	if lim.MaxBodyBytes <= 0 {
		lim.MaxBodyBytes = api.DefaultLimits().MaxBodyBytes
	}
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = ratelimit.DefaultBodyTimeout
	}
	recvMax := int(min(lim.MaxBodyBytes, int64(maxInt32)))
	sendMax := min(lim.MaxResponse(), int64(maxInt32))

	s := &Server{svc: svc, guard: opts.Guard, log: opts.Logger, health: health.NewServer(), shedder: opts.Shedder, budget: opts.Budget, bodyTimeout: opts.BodyTimeout, timeout: opts.RequestTimeout,
		maxResponse: sendMax, codec: newServerCodec()}

	// Order (docs/limits.md): what the codec kept goes to the context
	// (first, so that it is let go whatever happens next); the message is
	// in, so its receive timer stops; then the caller's
	// interceptors (metrics, logs); authenticate and authorize; refuse a
	// request that could not be decoded; take the in-flight slot and the
	// message's bytes of the body budget; serve; bound the response.
	interceptors := []grpc.UnaryServerInterceptor{s.takeDecoded, s.endReceive}
	interceptors = append(interceptors, opts.UnaryInterceptors...)
	interceptors = append(interceptors, s.recoverUnary)
	streamInterceptors := []grpc.StreamServerInterceptor{s.recoverStream}
	switch {
	case opts.Guard != nil:
		interceptors = append(interceptors, s.guardUnary(opts.Guard))
		streamInterceptors = append(streamInterceptors, s.guardStream)
	case opts.Authenticate != nil:
		interceptors = append(interceptors, s.authenticateUnary(opts.Authenticate))
	}
	interceptors = append(interceptors, s.refuseUndecodable)
	if opts.Shedder != nil {
		interceptors = append(interceptors, s.shedUnary)
	}
	interceptors = append(interceptors, s.boundResponse)
	serverOpts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(recvMax),
		grpc.MaxSendMsgSize(int(sendMax)),
		grpc.ForceServerCodecV2(s.codec),
		grpc.InTapHandle(s.receiveDeadline),
		grpc.MaxConcurrentStreams(MaxConcurrentStreams),
		grpc.ConnectionTimeout(ConnectionTimeout),
		grpc.MaxHeaderListSize(MaxHeaderListSize),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: KeepaliveMinTime, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: KeepaliveTime, Timeout: KeepaliveTimeout, MaxConnectionIdle: MaxConnectionIdle}),
		grpc.ChainUnaryInterceptor(interceptors...),
		grpc.ChainStreamInterceptor(streamInterceptors...),
	}
	s.grpc = grpc.NewServer(append(serverOpts, opts.ServerOptions...)...)

	akidbv1.RegisterCollectionServiceServer(s.grpc, &collectionServer{s: s})
	akidbv1.RegisterManagementServiceServer(s.grpc, &managementServer{s: s})
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	s.UpdateHealth()
	return s
}

const maxInt32 = 1<<31 - 1

// GRPCServer returns the underlying server, e.g. to register more
// services before Serve.
func (s *Server) GRPCServer() *grpc.Server { return s.grpc }

// Serve accepts connections on lis until Stop or Shutdown.
func (s *Server) Serve(lis net.Listener) error { return s.grpc.Serve(lis) }

// Shutdown reports NOT_SERVING on every health service (for good: later
// SetServing calls are ignored), stops accepting RPCs and waits for those
// in flight. When ctx ends first (health Watch streams, for one, last as
// long as their clients keep them) it closes every connection and returns
// ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	s.health.Shutdown()
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.grpc.Stop()
		<-done
		return ctx.Err()
	}
}

// Stop closes every connection and listener at once.
func (s *Server) Stop() { s.grpc.Stop() }
