package rest

import (
	"github.com/gin-gonic/gin"

	"github.com/akidb/akidb/serve/limits"
)

// The /admin routes of quotas, API key rates and the runtime
// configuration: decode, call the guard's administration service, encode.

func (s *server) getQuota(c *gin.Context) {
	if s.guard == nil {
		noGuard(c)
		return
	}
	id, e := pathParam(c, "id")
	if e != nil {
		writeError(c, e)
		return
	}
	q, err := s.guard.GetQuota(c.Request.Context(), id)
	ok(c, q, err)
}

func (s *server) setQuota(c *gin.Context) {
	if s.guard == nil {
		noGuard(c)
		return
	}
	id, e := pathParam(c, "id")
	if e != nil {
		writeError(c, e)
		return
	}
	var u limits.QuotaUpdate
	if e := s.decodeBody(c, &u); e != nil {
		writeError(c, e)
		return
	}
	q, err := s.guard.SetQuota(c.Request.Context(), id, u)
	ok(c, q, err)
}

func (s *server) getKeyRate(c *gin.Context) {
	if s.guard == nil {
		noGuard(c)
		return
	}
	id, e := pathParam(c, "id")
	if e != nil {
		writeError(c, e)
		return
	}
	r, err := s.guard.GetKeyRate(c.Request.Context(), id)
	ok(c, r, err)
}

func (s *server) setKeyRate(c *gin.Context) {
	if s.guard == nil {
		noGuard(c)
		return
	}
	id, e := pathParam(c, "id")
	if e != nil {
		writeError(c, e)
		return
	}
	var u limits.KeyRateUpdate
	if e := s.decodeBody(c, &u); e != nil {
		writeError(c, e)
		return
	}
	r, err := s.guard.SetKeyRate(c.Request.Context(), id, u)
	ok(c, r, err)
}

func (s *server) clearKeyRate(c *gin.Context) {
	if s.guard == nil {
		noGuard(c)
		return
	}
	id, e := pathParam(c, "id")
	if e != nil {
		writeError(c, e)
		return
	}
	r, err := s.guard.ClearKeyRate(c.Request.Context(), id)
	ok(c, r, err)
}

func (s *server) getConfig(c *gin.Context) {
	if s.guard == nil {
		noGuard(c)
		return
	}
	cfg, err := s.guard.GetConfig(c.Request.Context())
	ok(c, cfg, err)
}

func (s *server) setRateLimit(c *gin.Context) {
	if s.guard == nil {
		noGuard(c)
		return
	}
	var u limits.RateLimitUpdate
	if e := s.decodeBody(c, &u); e != nil {
		writeError(c, e)
		return
	}
	cfg, err := s.guard.SetRateLimit(c.Request.Context(), u)
	ok(c, cfg, err)
}
