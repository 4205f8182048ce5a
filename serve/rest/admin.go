package rest

import (
	"context"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/akidb/akidb/serve/access"
	"github.com/akidb/akidb/serve/api"
)

// The /admin routes and POST /api/v1/auth/token: decode, call the guard's
// administration service, encode.

func (s *server) issueToken(c *gin.Context) {
	cred, aerr := credentialOf(c)
	if aerr != nil {
		writeError(c, aerr)
		return
	}
	tok, err := s.guard.IssueToken(c.Request.Context(), access.Request{
		Credential: cred, RemoteAddr: c.Request.RemoteAddr, RequestID: requestIDOf(c), OnRateLimit: rateLimitHeaders(c),
	})
	if err == nil {
		// A token is a credential: no cache may keep it.
		c.Header("Cache-Control", "no-store")
	}
	ok(c, tok, err)
}

func (s *server) createTenant(c *gin.Context) {
	var req access.CreateTenantRequest
	if e := s.decodeBody(c, &req); e != nil {
		writeError(c, e)
		return
	}
	t, err := s.guard.CreateTenant(c.Request.Context(), req)
	created(c, "/admin/tenants/"+url.PathEscape(t.ID), t, err)
}

func (s *server) listTenants(c *gin.Context) {
	list, err := s.guard.ListTenants(c.Request.Context())
	ok(c, list, err)
}

func (s *server) deleteTenant(c *gin.Context) {
	id, e := pathParam(c, "id")
	if e != nil {
		writeError(c, e)
		return
	}
	force, e := boolQuery(c, "force")
	if e != nil {
		writeError(c, e)
		return
	}
	res, err := s.guard.DeleteTenant(c.Request.Context(), id, force)
	ok(c, res, err)
}

func (s *server) createKey(c *gin.Context) {
	var req access.CreateKeyRequest
	if e := s.decodeBody(c, &req); e != nil {
		writeError(c, e)
		return
	}
	k, err := s.guard.CreateKey(c.Request.Context(), req)
	if err == nil {
		c.Header("Cache-Control", "no-store")
	}
	created(c, "/admin/api-keys/"+url.PathEscape(k.ID), k, err)
}

func (s *server) listKeys(c *gin.Context) {
	list, err := s.guard.ListKeys(c.Request.Context(), c.Query("tenant"))
	ok(c, list, err)
}

func (s *server) revokeKey(c *gin.Context) {
	s.adminByID(c, nil, func(ctx context.Context, id string) (any, error) { return s.guard.RevokeKey(ctx, id) })
}

func (s *server) rotateKey(c *gin.Context) {
	id, e := pathParam(c, "id")
	if e != nil {
		writeError(c, e)
		return
	}
	var req access.RotateKeyRequest
	// The body is optional: no body rotates with no overlap.
	if c.Request.ContentLength != 0 {
		if e := s.decodeBody(c, &req); e != nil {
			writeError(c, e)
			return
		}
	}
	r, err := s.guard.RotateKey(c.Request.Context(), id, req)
	if err == nil {
		c.Header("Cache-Control", "no-store")
	}
	created(c, "/admin/api-keys/"+url.PathEscape(r.New.ID), r, err)
}

func (s *server) listAudit(c *gin.Context) {
	limit, e := limitQuery(c)
	if e != nil {
		writeError(c, e)
		return
	}
	page, err := s.guard.ListAudit(c.Request.Context(), c.Query("tenant"), c.Query("cursor"), limit)
	ok(c, page, err)
}

// limitQuery reads the optional positive "limit" of a paged list (0 when
// absent: the list's default).
func limitQuery(c *gin.Context) (int, *api.Error) {
	v, has := c.GetQuery("limit")
	if !has {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, queryError("limit", "must be a positive integer, got %q", clip(v, 100))
	}
	return n, nil
}

// boolQuery reads an optional true/false query parameter.
func boolQuery(c *gin.Context, name string) (bool, *api.Error) {
	v, has := c.GetQuery(name)
	if !has {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, queryError(name, "must be true or false, got %q", clip(v, 100))
	}
	return b, nil
}
