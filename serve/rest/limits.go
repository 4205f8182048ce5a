package rest

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/akidb/akidb/serve/limits"
)

// The /admin routes of quotas, API key rates and the runtime
// configuration: decode, call the guard's administration service, encode.

func (s *server) getQuota(c *gin.Context) {
	s.adminByID(c, nil, func(ctx context.Context, id string) (any, error) { return s.guard.GetQuota(ctx, id) })
}

func (s *server) setQuota(c *gin.Context) {
	var u limits.QuotaUpdate
	s.adminByID(c, &u, func(ctx context.Context, id string) (any, error) { return s.guard.SetQuota(ctx, id, u) })
}

func (s *server) getKeyRate(c *gin.Context) {
	s.adminByID(c, nil, func(ctx context.Context, id string) (any, error) { return s.guard.GetKeyRate(ctx, id) })
}

func (s *server) setKeyRate(c *gin.Context) {
	var u limits.KeyRateUpdate
	s.adminByID(c, &u, func(ctx context.Context, id string) (any, error) { return s.guard.SetKeyRate(ctx, id, u) })
}

func (s *server) clearKeyRate(c *gin.Context) {
	s.adminByID(c, nil, func(ctx context.Context, id string) (any, error) { return s.guard.ClearKeyRate(ctx, id) })
}

func (s *server) getConfig(c *gin.Context) {
	cfg, err := s.guard.GetConfig(c.Request.Context())
	ok(c, cfg, err)
}

func (s *server) setRateLimit(c *gin.Context) {
	var u limits.RateLimitUpdate
	if e := s.decodeBody(c, &u); e != nil {
		writeError(c, e)
		return
	}
	cfg, err := s.guard.SetRateLimit(c.Request.Context(), u)
	ok(c, cfg, err)
}

// adminByID serves an admin route that names its object by {id}: it reads
// the id, decodes the body into body when body is not nil, and answers what
// call returns. (needsGuard has checked that the security layer is there.)
func (s *server) adminByID(c *gin.Context, body any, call func(ctx context.Context, id string) (any, error)) {
	id, e := pathParam(c, "id")
	if e != nil {
		writeError(c, e)
		return
	}
	if body != nil {
		if e := s.decodeBody(c, body); e != nil {
			writeError(c, e)
			return
		}
	}
	v, err := call(c.Request.Context(), id)
	ok(c, v, err)
}
