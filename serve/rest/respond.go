package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/ratelimit"
)

// errorEnvelope is the body of every error response.
type errorEnvelope struct {
	Error *api.Error `json:"error"`
}

// maxResponseKey holds the response bound in the Gin context.
const maxResponseKey = "akidb.max_response"

// errResponseTooLarge stops encoding a response past the bound.
var errResponseTooLarge = errors.New("response too large")

// boundedBuffer is a buffer that refuses to grow past limit bytes.
type boundedBuffer struct {
	bytes.Buffer
	limit int64
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if int64(b.Len()+len(p)) > b.limit {
		return 0, errResponseTooLarge
	}
	return b.Buffer.Write(p)
}

// writeJSON writes v with status. The body is encoded in full before the
// status is sent, so a value that cannot be encoded (a non-finite number
// in data stored before such numbers were refused) or that would pass the
// response bound gets an error answer, never a 200 with a broken body.
func writeJSON(c *gin.Context, status int, v any) {
	limit := c.GetInt64(maxResponseKey)
	if _, isError := v.(errorEnvelope); isError || limit <= 0 {
		limit = math.MaxInt64
	}
	buf := &boundedBuffer{limit: limit}
	enc := json.NewEncoder(buf)
	// HTML needs no escaping in application/json (nosniff is set), and
	// unescaped the response is the size the response bound assumes.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		if errors.Is(err, errResponseTooLarge) {
			writeError(c, api.ResponseTooLarge(limit))
			return
		}
		_ = c.Error(fmt.Errorf("encode the response: %w", err))
		writeErrorStatus(c, http.StatusInternalServerError, &api.Error{Code: api.CodeInternal, Message: "internal error: the response could not be encoded as JSON"})
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	c.Status(status)
	if _, err := c.Writer.Write(buf.Bytes()); err != nil {
		// The status is out; all that is left is to say so in the log.
		_ = c.Error(fmt.Errorf("write the response: %w", err))
	}
}

// writeError answers with err mapped through the shared status table. The
// original error goes to the access log (the client sees only the mapped
// message, which hides internal errors' text).
//
// A request stopped by the server's own request timeout (not the client's
// deadline) is answered 503 unavailable with Retry-After: 1
// (ratelimit.TimeoutError) whatever the handler saw.
func writeError(c *gin.Context, err error) {
	if ratelimit.ServerTimedOut(c.Request.Context(), err) {
		err = ratelimit.TimeoutError(c.GetDuration(requestTimeoutKey))
	}
	ae := api.AsError(err)
	if ae == nil { // a typed nil: no error to show, so a bug of ours
		ae = &api.Error{Code: api.CodeInternal, Message: "internal error"}
		err = errors.New("writeError called without an error")
	}
	writeErrorStatus(c, api.StatusOf(ae.Code).HTTP, ae)
	_ = c.Error(err)
}

func writeErrorStatus(c *gin.Context, status int, ae *api.Error) {
	if ae.RetryAfterSeconds > 0 {
		c.Header("Retry-After", strconv.Itoa(ae.RetryAfterSeconds))
	}
	writeJSON(c, status, errorEnvelope{Error: ae})
}

// respond writes v with status, or the error.
func respond(c *gin.Context, status int, v any, err error) {
	if ae, isAE := err.(*api.Error); isAE && ae == nil {
		// A nil *api.Error returned as error is non-nil; it means success.
		err = nil
	}
	if err != nil {
		writeError(c, err)
		return
	}
	writeJSON(c, status, v)
}

// created answers a create: 201 with a Location header naming the new
// object (the URI its DELETE or GET addresses), or the error.
func created(c *gin.Context, location string, v any, err error) {
	if ae, isAE := err.(*api.Error); err == nil || isAE && ae == nil {
		c.Header("Location", location)
	}
	respond(c, http.StatusCreated, v, err)
}

// ok is respond with 200.
func ok(c *gin.Context, v any, err error) { respond(c, http.StatusOK, v, err) }
