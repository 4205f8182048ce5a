package grpc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/tap"

	"github.com/akidb/akidb/serve/api"
)

// A request message must arrive within the body timeout, as a REST body
// must (--body-timeout): gRPC reads an RPC's whole message before any
// interceptor runs, for as long as the stream lives, and a stream has no
// deadline unless the client sets one, so a client that sends a message
// slowly (or never finishes it) would hold the stream, a goroutine and
// what it sent so far for ever.
//
// The server's tap (receiveDeadline), which gRPC runs when a stream's
// headers arrive, before its message is read, gives the stream's context
// a timer; an interceptor (endReceive), which runs once the message is
// in, stops it. When the timer fires first the stream's
// context ends, the read stops, and the client gets DEADLINE_EXCEEDED.
// Health and reflection streams are not timed: they carry no request
// body worth the name, and health Watch lives as long as its client.

// errReceiveTimeout is the cause of a stream context whose message did
// not arrive in time.
var errReceiveTimeout = errors.New("the request message did not arrive within the body timeout")

// receiveCtx is a stream's context with the receive timer. Once the timer
// has fired, Err is context.DeadlineExceeded, so that gRPC answers
// DEADLINE_EXCEEDED (as for a deadline) rather than CANCELED.
type receiveCtx struct {
	context.Context
	timer   *time.Timer
	expired atomic.Bool
}

func (c *receiveCtx) Err() error {
	err := c.Context.Err()
	if err != nil && c.expired.Load() && errors.Is(context.Cause(c.Context), errReceiveTimeout) {
		return context.DeadlineExceeded
	}
	return err
}

// receiveKey holds the *receiveCtx in the stream's context.
type receiveKey struct{}

// receiveDeadline is the server's tap handle (grpc.InTapHandle): it runs
// in the connection's reader goroutine, so it only arms a timer.
func (s *Server) receiveDeadline(ctx context.Context, info *tap.Info) (context.Context, error) {
	if !strings.HasPrefix(info.FullMethodName, akidbPrefix) {
		return ctx, nil
	}
	inner, cancel := context.WithCancelCause(ctx)
	rc := &receiveCtx{Context: inner}
	method := info.FullMethodName
	rc.timer = time.AfterFunc(s.bodyTimeout, func() {
		rc.expired.Store(true)
		cancel(errReceiveTimeout)
		s.log.Debug("grpc: request message not received within the body timeout", "method", method, "body_timeout", s.bodyTimeout)
	})
	// The timer goes when the stream does, however it ends.
	context.AfterFunc(inner, func() { rc.timer.Stop() })
	return context.WithValue(rc, receiveKey{}, rc), nil
}

// endReceive runs right after takeDecoded: the message is in, so the
// receive timer stops. If it fired meanwhile, the stream is already ended: the
// RPC fails as the read would have.
func (s *Server) endReceive(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if rc, ok := ctx.Value(receiveKey{}).(*receiveCtx); ok && !rc.timer.Stop() && rc.expired.Load() {
		return nil, ErrorStatus(receiveTimeoutError(s.bodyTimeout)).Err()
	}
	return handler(ctx, req)
}

// receiveTimeoutError is the answer to a message that came too late
// (request_timeout: DEADLINE_EXCEEDED).
func receiveTimeoutError(timeout time.Duration) *api.Error {
	return &api.Error{Code: api.CodeRequestTimeout,
		Message: fmt.Sprintf("the request message did not arrive within %s (the server's body timeout)", timeout),
		Details: map[string]any{"body_timeout_seconds": timeout.Seconds()}}
}
