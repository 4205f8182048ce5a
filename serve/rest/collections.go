package rest

import (
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
)

// pathParam returns a path parameter, percent-decoded.
func pathParam(c *gin.Context, key string) (string, *api.Error) {
	v, err := url.PathUnescape(c.Param(key))
	if err != nil {
		return "", &api.Error{Code: api.CodeInvalidArgument, Message: "bad escape in path parameter " + key, Details: map[string]any{"field": key}}
	}
	return v, nil
}

func (s *server) createCollection(c *gin.Context) {
	var req api.CreateCollectionRequest
	if e := s.decodeBody(c, &req); e != nil {
		writeError(c, e)
		return
	}
	access.CallFrom(c.Request.Context()).SetTarget(req.Name) // the audit trail's target: the name is in the body
	col, err := s.svc.CreateCollection(c.Request.Context(), req)
	created(c, "/api/v1/collections/"+url.PathEscape(col.Name), col, err)
}

func (s *server) listCollections(c *gin.Context) {
	list, err := s.svc.ListCollections(c.Request.Context())
	ok(c, list, err)
}

func (s *server) getCollection(c *gin.Context) {
	name, e := pathParam(c, "name")
	if e != nil {
		writeError(c, e)
		return
	}
	col, err := s.svc.GetCollection(c.Request.Context(), name)
	ok(c, col, err)
}

// deletedCollection is the answer to DELETE /collections/{name}.
type deletedCollection struct {
	Deleted bool `json:"deleted"`
}

func (s *server) deleteCollection(c *gin.Context) {
	name, e := pathParam(c, "name")
	if e != nil {
		writeError(c, e)
		return
	}
	err := s.svc.DeleteCollection(c.Request.Context(), name)
	ok(c, deletedCollection{Deleted: true}, err)
}
