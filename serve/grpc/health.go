package grpc

import (
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// SetServing sets the health of "" and "akidb.v1.CollectionService" to
// SERVING or NOT_SERVING. Watchers are told at once. After Shutdown it has
// no effect.
func (s *Server) SetServing(serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	for _, name := range healthServices {
		s.health.SetServingStatus(name, st)
	}
}

// UpdateHealth sets the health from the service's readiness; the serve
// loop calls it when readiness changes (database recovered, shutdown
// begun).
func (s *Server) UpdateHealth() { s.SetServing(s.svc.Ready()) }
