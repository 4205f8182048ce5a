package rest

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/akidb/akidb/serve/api"
)

// createIndex serves POST /collections/{name}/indexes: 202 Accepted, since
// the index is built in the background (its state says when it is ready).
func (s *server) createIndex(c *gin.Context) {
	name, e := pathParam(c, "name")
	if e != nil {
		writeError(c, e)
		return
	}
	var req api.CreateIndexRequest
	if e := s.decodeBody(c, &req); e != nil {
		writeError(c, e)
		return
	}
	idx, err := s.svc.CreateIndex(c.Request.Context(), name, req)
	if err == nil {
		c.Header("Location", "/api/v1/collections/"+url.PathEscape(name)+"/indexes/"+url.PathEscape(idx.Field))
	}
	respond(c, http.StatusAccepted, idx, err)
}

func (s *server) listIndexes(c *gin.Context) {
	name, e := pathParam(c, "name")
	if e != nil {
		writeError(c, e)
		return
	}
	list, err := s.svc.ListIndexes(c.Request.Context(), name)
	ok(c, list, err)
}

func (s *server) deleteIndex(c *gin.Context) {
	name, e := pathParam(c, "name")
	if e != nil {
		writeError(c, e)
		return
	}
	field, e := pathParam(c, "field")
	if e != nil {
		writeError(c, e)
		return
	}
	resp, err := s.svc.DropIndex(c.Request.Context(), name, field)
	ok(c, resp, err)
}
