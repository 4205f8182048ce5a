package rest

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/akidb/akidb/serve/api"
)

const (
	requestIDHeader = "X-Request-ID"
	requestIDKey    = "akidb.request_id"
	maxRequestIDLen = 128
)

// requestID echoes the client's X-Request-ID when it is sane (1 to 128
// printable ASCII characters) and generates one otherwise, so every
// response and log line carries one.
func (s *server) requestID(c *gin.Context) {
	id := c.GetHeader(requestIDHeader)
	if !saneRequestID(id) {
		id = newRequestID()
	}
	c.Set(requestIDKey, id)
	c.Header(requestIDHeader, id)
	c.Next()
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// newRequestID makes 128 random bits from the runtime's generator
// (math/rand/v2, ChaCha8 seeded by the system): an id ties log lines
// together and nothing relies on it being unguessable, while crypto/rand's
// generator, cold after a second of idleness, was about 1.5% of the
// server's CPU for akidb top's refresh (perf).
func newRequestID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

func requestIDOf(c *gin.Context) string { return c.GetString(requestIDKey) }

// accessLog writes one line per request: debug normally, warn for 5xx
// but 503, whose refusals refusalLog sums up.
func (s *server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	status := c.Writer.Status()
	level := slog.LevelDebug
	ctx := c.Request.Context()
	switch {
	case status == http.StatusServiceUnavailable:
		// Refusals (recovering, shutting down, overloaded) are summed up
		// once per interval; the request's own line stays at debug.
		reason := ""
		if err := c.Errors.Last(); err != nil {
			reason = err.Err.Error()
		}
		s.refusals.refused(ctx, reason)
	case status >= 500:
		level = slog.LevelWarn
	}
	if !s.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", requestIDOf(c)),
		slog.String("method", c.Request.Method),
		slog.String("route", c.FullPath()),
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", status),
		slog.Int("bytes", c.Writer.Size()),
		slog.Duration("duration", time.Since(start)),
		slog.String("remote", c.Request.RemoteAddr),
	}
	if err := c.Errors.Last(); err != nil {
		attrs = append(attrs, slog.String("err", err.Err.Error()))
	}
	s.log.LogAttrs(ctx, level, "http request", attrs...)
}

// recoverPanics turns a panic in a handler into the internal error
// envelope (when nothing was written yet) and an error log with the stack.
func (s *server) recoverPanics(c *gin.Context) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler {
			// net/http's way to abort a response; let the server see it.
			panic(p)
		}
		s.log.Error("panic serving request", "request_id", requestIDOf(c), "method", c.Request.Method,
			"route", c.FullPath(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		if !c.Writer.Written() {
			writeError(c, fmt.Errorf("panic: %v", p))
		} else {
			_ = c.Error(fmt.Errorf("panic after the response began: %v", p))
		}
		c.Abort()
	}()
	c.Next()
}

// authenticate runs the configured authenticator and puts the caller in
// the request context for the service.
func authenticate(auth func(*http.Request) (api.Caller, *api.Error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		caller, aerr := auth(c.Request)
		if aerr != nil {
			refuseUnreadBody(c)
			writeError(c, aerr)
			c.Abort()
			return
		}
		c.Request = c.Request.WithContext(api.WithCaller(c.Request.Context(), caller))
		c.Next()
	}
}

func (s *server) noRoute(c *gin.Context) {
	writeError(c, api.Errorf(api.CodeNotFound, "no route for %s %s", c.Request.Method, clip(c.Request.URL.Path, 200)))
}

func (s *server) noMethod(c *gin.Context) {
	writeErrorStatus(c, api.StatusOf(api.CodeMethodNotAllowed).HTTP, &api.Error{
		Code:    api.CodeMethodNotAllowed,
		Message: fmt.Sprintf("method %s is not allowed on %s", clip(c.Request.Method, 20), clip(c.Request.URL.Path, 200)),
		Details: map[string]any{"allow": c.Writer.Header().Get("Allow")},
	})
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
