package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/xborder/xborder/gateway"
)

// adminKeyHandlers are the handlers of the API key management operations
// (/api/v1/admin/keys...), answered by Options.KeyService for admin keys of the caller's
// organisation.
func (s *Server) adminKeyHandlers() map[string]gin.HandlerFunc {
	return map[string]gin.HandlerFunc{
		"createApiKey": s.createAPIKey,
		"listApiKeys":  s.listAPIKeys,
		"getApiKey": s.keyAction(func(c *gin.Context, ks gateway.KeyService) (gateway.APIKey, error) {
			return ks.GetKey(c.Request.Context(), callerOf(c), c.Param("id"))
		}),
		"updateApiKey": s.updateAPIKey,
		"revokeApiKey": s.keyAction(func(c *gin.Context, ks gateway.KeyService) (gateway.APIKey, error) {
			return ks.RevokeKey(c.Request.Context(), callerOf(c), c.Param("id"))
		}),
		"rotateApiKeyIdentity": s.keyAction(func(c *gin.Context, ks gateway.KeyService) (gateway.APIKey, error) {
			return ks.RotateIdentity(c.Request.Context(), callerOf(c), c.Param("id"))
		}),
	}
}

// createdKeyAnswer is a new key with the key itself, shown only in this answer.
type createdKeyAnswer struct {
	gateway.APIKey
	Key string `json:"key"`
}

// keyService returns the key service of an admin caller, or answers UNAVAILABLE without one
// and FORBIDDEN to a non-admin key.
func (s *Server) keyService(c *gin.Context) (gateway.KeyService, bool) {
	if s.opts.KeyService == nil {
		abortProblem(c, gateway.Errorf(gateway.CodeUnavailable, "API key management is not enabled on this gateway"))
		return nil, false
	}
	if caller := callerOf(c); !caller.Admin {
		abortProblem(c, gateway.Errorf(gateway.CodeForbidden, "only an admin API key of %s may manage its keys", caller.MSPID))
		return nil, false
	}
	return s.opts.KeyService, true
}

// createAPIKey serves POST /api/v1/admin/keys.
func (s *Server) createAPIKey(c *gin.Context) {
	ks, ok := s.keyService(c)
	var req gateway.APIKeyRequest
	if !ok || !decodeBody(c, &req) {
		return
	}
	k, key, err := ks.CreateKey(c.Request.Context(), callerOf(c), req)
	if err != nil {
		abortProblem(c, err)
		return
	}
	c.Header("Location", "/api/v1/admin/keys/"+k.ID)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, createdKeyAnswer{APIKey: k, Key: key})
}

// listAPIKeys serves GET /api/v1/admin/keys.
func (s *Server) listAPIKeys(c *gin.Context) {
	ks, ok := s.keyService(c)
	if !ok {
		return
	}
	keys, err := ks.ListKeys(c.Request.Context(), callerOf(c))
	if err != nil {
		abortProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, listAnswer[gateway.APIKey]{Items: keys, Count: len(keys)})
}

// updateAPIKey serves PATCH /api/v1/admin/keys/{id} (the label).
func (s *Server) updateAPIKey(c *gin.Context) {
	ks, ok := s.keyService(c)
	var patch struct {
		Label string `json:"label"`
	}
	if !ok || !decodeBody(c, &patch) {
		return
	}
	k, err := ks.LabelKey(c.Request.Context(), callerOf(c), c.Param("id"), patch.Label)
	answerKey(c, k, err)
}

// keyAction serves an operation on one key.
func (s *Server) keyAction(fn func(*gin.Context, gateway.KeyService) (gateway.APIKey, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		ks, ok := s.keyService(c)
		if !ok {
			return
		}
		k, err := fn(c, ks)
		answerKey(c, k, err)
	}
}

// answerKey answers err, or k.
func answerKey(c *gin.Context, k gateway.APIKey, err error) {
	if err != nil {
		abortProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, k)
}
