package rest

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/akidb/akidb/serve/api"
)

// TestAnswerEncodedBeforeStatus: a value that cannot be encoded as JSON
// (an infinite score, as data stored before such vectors were refused
// could give) is answered 500 with a valid error body, and one past the
// response bound 400 response_too_large: never 200 with an empty or cut
// body, which is what writing the status before encoding gave.
func TestAnswerEncodedBeforeStatus(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	for _, c := range []struct {
		name   string
		v      any
		limit  int64
		status int
		code   api.Code
	}{
		{"an infinite score", api.QueryResponse{Results: []api.QueryHit{{ID: "a", Score: float32(math.Inf(1))}}}, 0, http.StatusInternalServerError, api.CodeInternal},
		{"past the response bound", api.QueryResponse{Results: []api.QueryHit{{ID: "a"}, {ID: "b"}}}, 20, http.StatusBadRequest, api.CodeResponseTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			ctx, _ := gin.CreateTestContext(rec)
			ctx.Request = httptest.NewRequest(http.MethodGet, "/", nil)
			if c.limit > 0 {
				ctx.Set(maxResponseKey, c.limit)
			}
			writeJSON(ctx, http.StatusOK, c.v)
			var env struct {
				Error api.Error `json:"error"`
			}
			if rec.Code != c.status || json.Unmarshal(rec.Body.Bytes(), &env) != nil || env.Error.Code != c.code {
				t.Fatalf("got %d %q, want %d with a %s error body", rec.Code, rec.Body.String(), c.status, c.code)
			}
		})
	}
}
