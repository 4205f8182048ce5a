package access

import (
	"strings"

	"github.com/akidb/akidb/serve/api"
)

// Where credentials travel. REST reads the HTTP headers; gRPC reads the
// same names, lowercased, from the request metadata.
const (
	AuthorizationHeader = "Authorization"
	APIKeyHeader        = "X-API-Key"
	bearerScheme        = "bearer"
)

// Credential picks the credential out of an Authorization value
// ("Bearer <api-key-or-jwt>", the scheme case-insensitive) and an
// X-API-Key value. Either may be empty; when both are set they must agree
// (two different credentials in one request are refused rather than one of
// them chosen silently). Another scheme, such as Basic, is refused. An
// empty result with a nil error means the request carries no credential.
func Credential(authorization, apiKey string) (string, *api.Error) {
	authorization = strings.TrimSpace(authorization)
	apiKey = strings.TrimSpace(apiKey)
	var bearer string
	if authorization != "" {
		scheme, rest, _ := strings.Cut(authorization, " ")
		if !strings.EqualFold(scheme, bearerScheme) {
			return "", api.Errorf(api.CodeUnauthenticated, "the Authorization header must be \"Bearer <api-key-or-token>\"")
		}
		bearer = strings.TrimSpace(rest)
		if bearer == "" {
			return "", api.Errorf(api.CodeUnauthenticated, "the Authorization header has an empty Bearer credential")
		}
	}
	switch {
	case bearer != "" && apiKey != "" && bearer != apiKey:
		return "", api.Errorf(api.CodeUnauthenticated, "Authorization and X-API-Key carry different credentials; send one")
	case bearer != "":
		return bearer, nil
	}
	return apiKey, nil
}
