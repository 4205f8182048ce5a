package grpc

import (
	"context"

	"github.com/akidb/akidb/serve/grpc/akidbv1"
)

// managementServer implements akidb.v1.ManagementService.
type managementServer struct {
	akidbv1.UnimplementedManagementServiceServer
	s *Server
}

func (m *managementServer) GetStatus(ctx context.Context, _ *akidbv1.GetStatusRequest) (*akidbv1.GetStatusResponse, error) {
	st, err := m.s.svc.Status(ctx)
	if err != nil {
		return nil, m.s.fail(ctx, err)
	}
	return statusOut(st), nil
}
