package grpc

import (
	"context"
	"runtime/debug"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/ratelimit"
)

// akidbPrefix starts the full method name of every akidb.v1 RPC.
const akidbPrefix = "/akidb.v1."

// recoverUnary turns a panic in a handler into an internal error for that
// RPC instead of a crashed server, and logs it with the stack.
func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.ErrorContext(ctx, "grpc: panic in handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			resp, err = nil, ErrorStatus(api.Errorf(api.CodeInternal, "internal error")).Err()
		}
	}()
	return handler(ctx, req)
}

// recoverStream is recoverUnary for streaming RPCs (health Watch,
// reflection).
func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.ErrorContext(ss.Context(), "grpc: panic in stream handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			err = ErrorStatus(api.Errorf(api.CodeInternal, "internal error")).Err()
		}
	}()
	return handler(srv, ss)
}

// authenticateUnary attaches the caller of every akidb.v1 RPC to its
// context, or fails the RPC with the authenticator's error. Health and
// reflection need no credentials (like REST's probes).
func (s *Server) authenticateUnary(authn func(context.Context) (api.Caller, *api.Error)) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !strings.HasPrefix(info.FullMethod, akidbPrefix) {
			return handler(ctx, req)
		}
		caller, aerr := authn(ctx)
		if aerr != nil {
			return nil, ErrorStatus(aerr).Err()
		}
		return handler(api.WithCaller(ctx, caller), req)
	}
}

// shedUnary admits every akidb.v1 RPC under the in-flight bound, per
// tenant and per server, after authentication (gRPC has read the message
// before any interceptor runs, so a slow sender never holds a slot), or
// fails it at once: RESOURCE_EXHAUSTED past the tenant's share,
// UNAVAILABLE past the server's bound, both with a RetryInfo of 1 s. An
// admitted RPC runs under the server's request timeout. Health and
// reflection are never shed: an orchestrator must be able to probe an
// overloaded server.
func (s *Server) shedUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if !strings.HasPrefix(info.FullMethod, akidbPrefix) {
		return handler(ctx, req)
	}
	tenant := ""
	if c, ok := api.CallerFrom(ctx); ok {
		tenant = c.TenantID
	}
	release, e := s.shedder.Admit(tenant)
	if e != nil {
		return nil, ErrorStatus(e).Err()
	}
	defer release()
	if s.budget != nil {
		size := messageSize(ctx, req)
		held, e := s.budget.Reserve(tenant, size)
		if e != nil {
			return nil, ErrorStatus(e).Err()
		}
		defer held.Release()
		ctx = context.WithValue(ctx, heldKey{}, heldMessage{held, size})
	}
	ctx, cancel := ratelimit.WithRequestTimeout(ctx, s.timeout)
	defer cancel()
	return handler(ctx, req)
}

// heldKey holds an RPC's heldMessage in its context.
type heldKey struct{}

// heldMessage is what an RPC holds of the body budget: its message's
// size, and what it decodes from it.
type heldMessage struct {
	res  *ratelimit.Reservation
	size int64
}

// holdDecoded makes the RPC of ctx hold its message and mem bytes decoded
// from it (UpsertBatch.HoldWith); without a budget it does nothing.
func holdDecoded(ctx context.Context) func(mem int64) *api.Error {
	h, ok := ctx.Value(heldKey{}).(heldMessage)
	if !ok {
		return nil
	}
	return func(mem int64) *api.Error { return h.res.GrowTo(h.size + mem) }
}

// messageSize is the size of a request message: what it holds in memory
// once received, and what it counts toward the body budget.
func messageSize(ctx context.Context, req any) int64 {
	if raw, _, ok := keptUpsert(ctx); ok {
		return int64(len(raw))
	}
	if m, ok := req.(proto.Message); ok {
		return int64(proto.Size(m))
	}
	return 0
}

// boundResponse answers RESOURCE_EXHAUSTED response_too_large, with the
// bound and what to ask for instead, when a response would be larger than
// the send limit (gRPC's own refusal would only say it is too large).
func (s *Server) boundResponse(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err != nil {
		return resp, err
	}
	if m, ok := resp.(proto.Message); ok && int64(proto.Size(m)) > s.maxResponse {
		return nil, ErrorStatus(api.ResponseTooLarge(s.maxResponse)).Err()
	}
	return resp, nil
}
