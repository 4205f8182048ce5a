package rest

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/akidb/akidb/serve/api"
)

// The object storage tier's routes: a collection's tiering policy,
// checkpoint, load and eviction (the service), the storage status, the DLQ and the circuit
// breaker (the guard's administration).

func (s *server) updateCollection(c *gin.Context) {
	name, e := pathParam(c, "name")
	if e != nil {
		writeError(c, e)
		return
	}
	var req api.UpdateCollectionRequest
	if e := s.decodeBody(c, &req); e != nil {
		writeError(c, e)
		return
	}
	col, err := s.svc.UpdateCollection(c.Request.Context(), name, req)
	ok(c, col, err)
}

func (s *server) checkpointCollection(c *gin.Context) {
	name, e := pathParam(c, "name")
	if e != nil {
		writeError(c, e)
		return
	}
	res, err := s.svc.CheckpointCollection(c.Request.Context(), name)
	ok(c, res, err)
}

func (s *server) loadCollection(c *gin.Context) {
	name, e := pathParam(c, "name")
	if e != nil {
		writeError(c, e)
		return
	}
	res, err := s.svc.LoadCollection(c.Request.Context(), name)
	ok(c, res, err)
}

func (s *server) evictCollection(c *gin.Context) {
	name, e := pathParam(c, "name")
	if e != nil {
		writeError(c, e)
		return
	}
	res, err := s.svc.EvictCollection(c.Request.Context(), name)
	ok(c, res, err)
}

func (s *server) storageStatus(c *gin.Context) {
	st, err := s.guard.StorageStatus(c.Request.Context())
	ok(c, st, err)
}

func (s *server) listDLQ(c *gin.Context) {
	limit, e := limitQuery(c)
	if e != nil {
		writeError(c, e)
		return
	}
	page, err := s.guard.ListDLQ(c.Request.Context(), c.Query("status"), c.Query("cursor"), limit)
	ok(c, page, err)
}

func (s *server) retryDLQ(c *gin.Context) {
	res, err := s.guard.RetryDLQ(c.Request.Context())
	ok(c, res, err)
}

// dlqID reads the {id} of a DLQ route.
func dlqID(c *gin.Context) (int64, *api.Error) {
	v, e := pathParam(c, "id")
	if e != nil {
		return 0, e
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		return 0, &api.Error{Code: api.CodeInvalidArgument, Message: "a DLQ entry id is a positive integer, got " + strconv.Quote(clip(v, 100)), Details: map[string]any{"field": "id"}}
	}
	return id, nil
}

func (s *server) retryDLQEntry(c *gin.Context) {
	id, e := dlqID(c)
	if e != nil {
		writeError(c, e)
		return
	}
	res, err := s.guard.RetryDLQEntry(c.Request.Context(), id)
	ok(c, res, err)
}

func (s *server) discardDLQEntry(c *gin.Context) {
	id, e := dlqID(c)
	if e != nil {
		writeError(c, e)
		return
	}
	res, err := s.guard.DiscardDLQEntry(c.Request.Context(), id)
	ok(c, res, err)
}

func (s *server) resetBreaker(c *gin.Context) {
	res, err := s.guard.ResetBreaker(c.Request.Context())
	respond(c, http.StatusOK, res, err)
}
