package grpc

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/akidb/akidb/serve/api"
	"github.com/akidb/akidb/serve/ratelimit"
)

// ErrorDomain is the ErrorInfo domain of every AkiDB error.
const ErrorDomain = "akidb"

// ErrorStatus is the one way an error becomes a gRPC status: api.AsError
// classifies it, api.StatusOf gives the code (the table REST uses too), the
// message is the api message, and the details are an ErrorInfo (reason =
// the api code, e.g. "not_found"; metadata = the error's details, strings
// as they are and other values as JSON) plus, when the error asks the
// caller to wait, a RetryInfo. A nil error is an OK status.
func ErrorStatus(err error) *status.Status {
	e := api.AsError(err)
	if e == nil {
		return status.New(codes.OK, "")
	}
	st := status.New(api.StatusOf(e.Code).GRPC, e.Message)
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: string(e.Code), Domain: ErrorDomain, Metadata: detailStrings(e.Details)}}
	if e.RetryAfterSeconds > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(e.RetryAfterSeconds) * time.Second)})
	}
	withDetails, derr := st.WithDetails(details...)
	if derr != nil {
		// Only a detail that cannot be marshalled fails here; the code
		// and message still go out.
		return st
	}
	return withDetails
}

// detailStrings flattens details for ErrorInfo.Metadata.
func detailStrings(d map[string]any) map[string]string {
	if len(d) == 0 {
		return nil
	}
	out := make(map[string]string, len(d))
	for k, v := range d {
		if s, ok := v.(string); ok {
			out[k] = s
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			out[k] = fmt.Sprint(v)
			continue
		}
		out[k] = string(b)
	}
	return out
}

// fail sends err as the RPC's status and logs what the caller is not
// shown: the cause of an internal error. An RPC stopped by the server's
// own request timeout (not the client's deadline) fails with UNAVAILABLE
// and a RetryInfo (ratelimit.TimeoutError), whatever the handler saw.
func (s *Server) fail(ctx context.Context, err error) error {
	if ratelimit.ServerTimedOut(ctx, err) {
		err = ratelimit.TimeoutError(s.timeout)
	}
	st := ErrorStatus(err)
	if st.Code() == codes.Internal {
		method, _ := grpc.Method(ctx)
		s.log.ErrorContext(ctx, "grpc: internal error", "method", method, "err", err)
	}
	return st.Err()
}
