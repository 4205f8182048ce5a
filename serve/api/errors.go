package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/akidb/akidb/engine"
)

// Code is an error kind of the API, shared by both transports.
type Code string

// The error codes of the REST contract.
const (
	CodeInvalidArgument  Code = "invalid_argument"
	CodeUnauthenticated  Code = "unauthenticated"
	CodePermissionDenied Code = "permission_denied"
	CodeNotFound         Code = "not_found"
	CodeAlreadyExists    Code = "already_exists"
	// CodeFailedPrecondition: the request is valid but the object's state
	// refuses it (deleting a tenant that still has collections).
	CodeFailedPrecondition Code = "failed_precondition"
	CodeTooLarge           Code = "too_large"
	CodeRateLimited        Code = "rate_limited"
	CodeQuotaExceeded      Code = "quota_exceeded"
	CodeUnavailable        Code = "unavailable"
	// CodeCollectionLoading: the collection was evicted from memory and
	// its load did not finish within the request's time; it goes on
	// (Retry-After says when to come back).
	CodeCollectionLoading Code = "collection_loading"
	// CodeCollectionUnavailable: the collection cannot be loaded now (its
	// state is in the object store and the store does not answer, say);
	// details.reason says why.
	CodeCollectionUnavailable Code = "collection_unavailable"
	CodeDeadlineExceeded      Code = "deadline_exceeded"
	// CodeRequestTimeout: the client did not send its request body within
	// the server's body timeout (REST only).
	CodeRequestTimeout Code = "request_timeout"
	// CodeResponseTooLarge: the answer would be larger than the server's
	// response bound; the request must ask for less.
	CodeResponseTooLarge Code = "response_too_large"
	// CodeInsufficientStorage: the disk holding the data is full; reads
	// go on, writes resume by themselves once space is freed.
	CodeInsufficientStorage Code = "insufficient_storage"
	CodeInternal            Code = "internal"
	// CodeMethodNotAllowed: the path exists but not with this HTTP method
	// (REST only; gRPC has no such case).
	CodeMethodNotAllowed Code = "method_not_allowed"
)

// Status is how a code travels on each transport.
type Status struct {
	HTTP int
	GRPC codes.Code
}

// statusTable is the one mapping from API codes to transport statuses.
var statusTable = map[Code]Status{
	CodeInvalidArgument:       {http.StatusBadRequest, codes.InvalidArgument},
	CodeUnauthenticated:       {http.StatusUnauthorized, codes.Unauthenticated},
	CodePermissionDenied:      {http.StatusForbidden, codes.PermissionDenied},
	CodeNotFound:              {http.StatusNotFound, codes.NotFound},
	CodeAlreadyExists:         {http.StatusConflict, codes.AlreadyExists},
	CodeFailedPrecondition:    {http.StatusConflict, codes.FailedPrecondition},
	CodeTooLarge:              {http.StatusRequestEntityTooLarge, codes.InvalidArgument},
	CodeRateLimited:           {http.StatusTooManyRequests, codes.ResourceExhausted},
	CodeQuotaExceeded:         {http.StatusForbidden, codes.ResourceExhausted},
	CodeUnavailable:           {http.StatusServiceUnavailable, codes.Unavailable},
	CodeCollectionLoading:     {http.StatusServiceUnavailable, codes.Unavailable},
	CodeCollectionUnavailable: {http.StatusServiceUnavailable, codes.Unavailable},
	CodeDeadlineExceeded:      {http.StatusGatewayTimeout, codes.DeadlineExceeded},
	CodeRequestTimeout:        {http.StatusRequestTimeout, codes.DeadlineExceeded},
	CodeResponseTooLarge:      {http.StatusBadRequest, codes.ResourceExhausted},
	CodeInsufficientStorage:   {http.StatusInsufficientStorage, codes.ResourceExhausted},
	CodeInternal:              {http.StatusInternalServerError, codes.Internal},
	CodeMethodNotAllowed:      {http.StatusMethodNotAllowed, codes.Unimplemented},
}

// StatusOf returns the transport statuses for a code (internal for unknown).
func StatusOf(c Code) Status {
	if s, ok := statusTable[c]; ok {
		return s
	}
	return statusTable[CodeInternal]
}

// Codes lists every code (for tests and docs).
func Codes() []Code {
	out := make([]Code, 0, len(statusTable))
	for c := range statusTable {
		out = append(out, c)
	}
	return out
}

// Error is an API error: a code, a message safe to show the caller, and
// optional details. Its JSON form is the body of the error envelope.
type Error struct {
	Code    Code           `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
	// RetryAfterSeconds, when > 0, is sent as Retry-After / RetryInfo.
	RetryAfterSeconds int `json:"-"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf builds an *Error.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError turns any error from the service or the engine into an *Error,
// mapping engine sentinels; anything unrecognised is internal and its text
// is not shown to the caller.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var (
		ve *engine.ValidationError
		le *engine.LoadError
	)
	switch {
	case errors.As(err, &le) && errors.Is(err, engine.ErrLoading):
		return &Error{Code: CodeCollectionLoading, RetryAfterSeconds: retrySeconds(le.RetryAfter),
			Message: fmt.Sprintf("collection %q is being loaded into memory; retry after %d s", le.Collection, retrySeconds(le.RetryAfter))}
	case errors.As(err, &le):
		return &Error{Code: CodeCollectionUnavailable, RetryAfterSeconds: retrySeconds(le.RetryAfter),
			Message: fmt.Sprintf("collection %q cannot be loaded now: %s", le.Collection, le.Reason), Details: map[string]any{"reason": le.Reason}}
	case errors.Is(err, engine.ErrNotEvictable):
		return &Error{Code: CodeFailedPrecondition, Message: err.Error()}
	case errors.As(err, &ve):
		return &Error{Code: CodeInvalidArgument, Message: ve.Error(), Details: map[string]any{"field": ve.Field}}
	case errors.Is(err, engine.ErrInvalidArgument):
		return &Error{Code: CodeInvalidArgument, Message: err.Error()}
	case errors.Is(err, engine.ErrNotFound):
		return &Error{Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, engine.ErrAlreadyExists):
		return &Error{Code: CodeAlreadyExists, Message: err.Error()}
	case errors.Is(err, engine.ErrNoSpace):
		return &Error{Code: CodeInsufficientStorage, Message: "the disk is full: the write was refused and nothing of it was stored; reads go on, and writes succeed again once space is freed"}
	case errors.Is(err, engine.ErrClosed):
		return &Error{Code: CodeUnavailable, Message: "the server is shutting down"}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeDeadlineExceeded, Message: "the request deadline passed"}
	case errors.Is(err, context.Canceled):
		return &Error{Code: CodeUnavailable, Message: "the request was cancelled"}
	}
	return &Error{Code: CodeInternal, Message: "internal error"}
}

// retrySeconds is d in whole seconds for Retry-After, at least 1.
func retrySeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}
