package grpc

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/akidb/akidb/engine"
	"github.com/akidb/akidb/serve/api"
)

// TestErrorStatusEveryCode: each api code leaves with the table's gRPC
// code, its message, and an ErrorInfo whose reason is the code.
func TestErrorStatusEveryCode(t *testing.T) {
	for _, c := range api.Codes() {
		st := ErrorStatus(&api.Error{Code: c, Message: "m " + string(c), Details: map[string]any{"field": "x", "limit": 7, "list": []string{"a"}}})
		if st.Code() != api.StatusOf(c).GRPC || st.Message() != "m "+string(c) {
			t.Errorf("%s: %v %q", c, st.Code(), st.Message())
		}
		info := errorInfo(st)
		if info.GetReason() != string(c) || info.GetDomain() != "akidb" {
			t.Errorf("%s: ErrorInfo %v", c, info)
		}
		md := info.GetMetadata()
		if md["field"] != "x" || md["limit"] != "7" || md["list"] != `["a"]` {
			t.Errorf("%s: metadata %v", c, md)
		}
		if retryInfo(st) != nil {
			t.Errorf("%s: RetryInfo without RetryAfterSeconds", c)
		}
	}
}

func TestErrorStatusRetryInfo(t *testing.T) {
	st := ErrorStatus(&api.Error{Code: api.CodeRateLimited, Message: "slow down", RetryAfterSeconds: 3})
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("code %v", st.Code())
	}
	ri := retryInfo(st)
	if ri == nil || ri.GetRetryDelay().AsDuration() != 3*time.Second {
		t.Fatalf("RetryInfo = %v", ri)
	}
	if errorInfo(st).GetReason() != "rate_limited" {
		t.Fatalf("ErrorInfo = %v", errorInfo(st))
	}
}

// TestErrorStatusClassifies: engine errors and unknown errors go through
// api.AsError; an unknown error's text is never shown.
func TestErrorStatusClassifies(t *testing.T) {
	cases := []struct {
		err  error
		code codes.Code
		msg  string
	}{
		{nil, codes.OK, ""},
		{fmt.Errorf("wrapped: %w", engine.ErrNotFound), codes.NotFound, "wrapped: not found"},
		{engine.ErrClosed, codes.Unavailable, "the server is shutting down"},
		{fmt.Errorf("collection c: %w: wal: no space", engine.ErrNoSpace), codes.ResourceExhausted,
			"the disk is full: the write was refused and nothing of it was stored; reads go on, and writes succeed again once space is freed"},
		{context.DeadlineExceeded, codes.DeadlineExceeded, "the request deadline passed"},
		{errors.New("disk on fire at /secret/path"), codes.Internal, "internal error"},
	}
	for _, tc := range cases {
		st := ErrorStatus(tc.err)
		if st.Code() != tc.code || st.Message() != tc.msg {
			t.Errorf("ErrorStatus(%v) = %v %q, want %v %q", tc.err, st.Code(), st.Message(), tc.code, tc.msg)
		}
	}
}
