package grpc

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/auth"
	"github.com/akidb/akidb/serve/ratelimit"
)

// Metadata keys of a call's credential and request id: the REST header
// names, lowercased as gRPC metadata is.
const (
	authorizationMD = "authorization"
	apiKeyMD        = "x-api-key"
	requestIDMD     = "x-request-id"
	maxRequestIDLen = 128
)

// credentialOf reads the call's credential from its metadata:
// "authorization: Bearer <api-key-or-jwt>", or "x-api-key". A key sent
// more than once is refused rather than one value chosen.
func credentialOf(ctx context.Context) (string, *api.Error) {
	md, _ := metadata.FromIncomingContext(ctx)
	authz, key := md.Get(authorizationMD), md.Get(apiKeyMD)
	if len(authz) > 1 || len(key) > 1 {
		return "", api.Errorf(api.CodeUnauthenticated, "send one credential, once")
	}
	return access.Credential(first(authz), first(key))
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// peerAddr is the caller's address ("host:port"), for throttling and the
// audit trail.
func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

// requestIDOf is the call's x-request-id when it is sane (1 to 128
// printable ASCII characters), else "".
func requestIDOf(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	id := first(md.Get(requestIDMD))
	if len(id) > maxRequestIDLen {
		return ""
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return ""
		}
	}
	return id
}

// targetOf names what a request acts on, for the audit trail.
func targetOf(req any) string {
	switch r := req.(type) {
	case interface{ GetCollection() string }:
		return r.GetCollection()
	case interface{ GetName() string }:
		return r.GetName()
	case interface{ GetId() string }:
		return r.GetId()
	}
	return ""
}

// guardUnary admits every akidb.v1 RPC through the guard: authenticate,
// authorize the method's action, attach the caller, run the handler,
// audit. Public services (health, reflection) pass; any other method
// without an action is refused, never served openly.
func (s *Server) guardUnary(g *access.Guard) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if PublicMethod(info.FullMethod) {
			return handler(ctx, req)
		}
		action, ok := MethodAction(info.FullMethod)
		if !ok {
			return nil, ErrorStatus(api.Errorf(api.CodePermissionDenied, "this method has no authorization rule")).Err()
		}
		if action == auth.ActionTokenIssue {
			return handler(ctx, req) // the handler authenticates the key it exchanges
		}
		cred, aerr := credentialOf(ctx)
		if aerr != nil {
			return nil, ErrorStatus(aerr).Err()
		}
		ctx, call, err := g.Begin(ctx, access.Request{
			Action: action, Credential: cred, RemoteAddr: peerAddr(ctx),
			RequestID: requestIDOf(ctx), Target: targetOf(req), OnRateLimit: s.rateLimitHeaders(ctx),
		})
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		resp, err := handler(ctx, req)
		call.End(ctx, apiErrorOf(err))
		return resp, err
	}
}

// rateLimitHeaders sends a rate limit decision as response header
// metadata: the REST headers' names, lowercased (x-ratelimit-limit,
// x-ratelimit-remaining, x-ratelimit-reset, retry-after). They go out with
// the response, or with the status of a refused call.
func (s *Server) rateLimitHeaders(ctx context.Context) func(ratelimit.Decision) {
	return func(d ratelimit.Decision) {
		h := d.Headers()
		if len(h) == 0 {
			return
		}
		md := metadata.MD{}
		for k, v := range h {
			md.Set(strings.ToLower(k), v)
		}
		if err := grpc.SetHeader(ctx, md); err != nil {
			s.log.DebugContext(ctx, "grpc: rate limit headers not sent", "err", err)
		}
	}
}

// guardStream refuses streaming RPCs other than the public ones: akidb.v1
// has none, and a stream added later must get a rule first.
func (s *Server) guardStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if PublicMethod(info.FullMethod) {
		return handler(srv, ss)
	}
	return ErrorStatus(api.Errorf(api.CodePermissionDenied, "this method has no authorization rule")).Err()
}

// apiErrorOf turns a handler's status error back into the api error it
// came from (its ErrorInfo reason is the code), for the audit result.
func apiErrorOf(err error) error {
	if err == nil {
		return nil
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae
	}
	st := status.Convert(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == ErrorDomain {
			return &api.Error{Code: api.Code(info.GetReason()), Message: st.Message()}
		}
	}
	return err
}
