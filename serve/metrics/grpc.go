package metrics

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The gRPC methods whose successful calls are also recorded as search and
// upsert latency by UnaryServerInterceptor.
const (
	QueryMethod  = "/akidb.v1.CollectionService/Query"
	UpsertMethod = "/akidb.v1.CollectionService/Upsert"
)

// UnaryServerInterceptor counts and times every unary call by full method
// and status code (status.Code of the handler's error), and records
// successful Query and Upsert calls in the search and upsert histograms.
func (m *Metrics) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if m == nil {
			return handler(ctx, req)
		}
		start := time.Now()
		resp, err := handler(ctx, req)
		d := time.Since(start)
		code := status.Code(err)
		m.grpcRequests.WithLabelValues(info.FullMethod, code.String()).Inc()
		m.grpcDuration.WithLabelValues(info.FullMethod).Observe(d.Seconds())
		if code == codes.OK {
			switch info.FullMethod {
			case QueryMethod:
				m.ObserveSearch(d)
			case UpsertMethod:
				m.ObserveUpsert(d)
			}
		}
		return resp, err
	}
}
