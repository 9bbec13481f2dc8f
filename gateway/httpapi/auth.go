package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/xborder/xborder/gateway"
)

// APIKey is one configured bearer key, stored as the hex SHA-256 of the key.
type APIKey struct {
	ID     string
	MSPID  string
	User   string
	SHA256 string
}

// Authenticator resolves bearer keys to callers by their SHA-256 hash; it never holds keys.
type Authenticator struct {
	byHash map[[sha256.Size]byte]gateway.Caller
}

// NewAuthenticator indexes keys by hash.
func NewAuthenticator(keys []APIKey) (*Authenticator, error) {
	a := &Authenticator{byHash: map[[sha256.Size]byte]gateway.Caller{}}
	for _, k := range keys {
		b, err := hex.DecodeString(k.SHA256)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("api key %q: sha256 must be 64 hex digits", k.ID)
		}
		var h [sha256.Size]byte
		copy(h[:], b)
		if _, dup := a.byHash[h]; dup {
			return nil, fmt.Errorf("api key %q: duplicate key hash", k.ID)
		}
		a.byHash[h] = gateway.Caller{KeyID: k.ID, MSPID: k.MSPID, User: k.User}
	}
	return a, nil
}

// Authenticate returns the caller of an Authorization header value.
func (a *Authenticator) Authenticate(header string) (gateway.Caller, error) {
	scheme, key, ok := strings.Cut(strings.TrimSpace(header), " ")
	if header == "" {
		return gateway.Caller{}, gateway.Errorf(gateway.CodeUnauthenticated, "missing Authorization: Bearer <API key>")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		return gateway.Caller{}, gateway.Errorf(gateway.CodeUnauthenticated, "the Authorization header must be \"Bearer <API key>\"")
	}
	caller, found := a.byHash[sha256.Sum256([]byte(strings.TrimSpace(key)))]
	if !found {
		return gateway.Caller{}, gateway.Errorf(gateway.CodeUnauthenticated, "unknown API key")
	}
	return caller, nil
}

func (s *Server) authMiddleware(c *gin.Context) {
	caller, err := s.authenticate(c)
	if err != nil {
		s.authFailed(c)
		c.Header("WWW-Authenticate", `Bearer realm="xborder"`)
		abortProblem(c, err)
		return
	}
	if !s.orgs[caller.MSPID] {
		abortProblem(c, gateway.Errorf(gateway.CodeForbidden, "this gateway holds no Fabric identity for %s", caller.MSPID))
		return
	}
	c.Set(ctxCaller, caller)
	setLogger(c, logger(c).With("keyId", caller.KeyID, "org", caller.MSPID))
	c.Next()
}

func callerOf(c *gin.Context) gateway.Caller {
	v, _ := c.Get(ctxCaller)
	caller, _ := v.(gateway.Caller)
	return caller
}
