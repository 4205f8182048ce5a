package rest

import (
	"fmt"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/akidb/akidb/serve/api"
)

func (s *server) upsert(c *gin.Context) {
	start := time.Now()
	resp, err := s.svc.WriteUpsert(c.Request.Context(), bodyValue[*api.UpsertBatch](c))
	if err == nil {
		s.metrics.ObserveUpsert(time.Since(start))
	}
	ok(c, resp, err)
}

func (s *server) query(c *gin.Context) {
	name, e := pathParam(c, "name")
	if e != nil {
		writeError(c, e)
		return
	}
	start := time.Now()
	resp, err := s.svc.Query(c.Request.Context(), name, bodyValue[api.QueryRequest](c))
	if err == nil {
		s.metrics.ObserveSearch(time.Since(start))
	}
	ok(c, resp, err)
}

func (s *server) deleteVectors(c *gin.Context) {
	name, e := pathParam(c, "name")
	if e != nil {
		writeError(c, e)
		return
	}
	resp, err := s.svc.DeleteVectors(c.Request.Context(), name, bodyValue[api.DeleteRequest](c))
	ok(c, resp, err)
}

func (s *server) getVector(c *gin.Context) {
	name, id, e := nameAndID(c)
	if e != nil {
		writeError(c, e)
		return
	}
	v, err := s.svc.GetVector(c.Request.Context(), name, id)
	ok(c, v, err)
}

func (s *server) deleteVector(c *gin.Context) {
	name, id, e := nameAndID(c)
	if e != nil {
		writeError(c, e)
		return
	}
	resp, err := s.svc.DeleteVector(c.Request.Context(), name, id)
	ok(c, resp, err)
}

func nameAndID(c *gin.Context) (string, string, *api.Error) {
	name, e := pathParam(c, "name")
	if e != nil {
		return "", "", e
	}
	id, e := pathParam(c, "id")
	return name, id, e
}

// scroll serves GET /collections/{name}/vectors?limit=&cursor=&include_vector=.
func (s *server) scroll(c *gin.Context) {
	name, e := pathParam(c, "name")
	if e != nil {
		writeError(c, e)
		return
	}
	req := api.ScrollRequest{Cursor: c.Query("cursor")}
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeError(c, queryError("limit", "must be an integer, got %q", clip(v, 100)))
			return
		}
		if n < 1 {
			// The service reads 0 as "the default"; as a parameter it is
			// out of range.
			writeError(c, queryError("limit", "must be between 1 and %d, got %s", s.svc.Limits().MaxScrollLimit, v))
			return
		}
		req.Limit = n
	}
	if v, ok := c.GetQuery("include_vector"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(c, queryError("include_vector", "must be true or false, got %q", clip(v, 100)))
			return
		}
		req.IncludeVector = b
	}
	resp, err := s.svc.Scroll(c.Request.Context(), name, req)
	ok(c, resp, err)
}

func queryError(field, format string, args ...any) *api.Error {
	return &api.Error{Code: api.CodeInvalidArgument, Message: field + ": " + fmt.Sprintf(format, args...), Details: map[string]any{"field": field}}
}
