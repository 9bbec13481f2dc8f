package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/xborder/xborder/gateway"
)

// APIKey is one configured (static) bearer key, stored as the hex SHA-256 of the key.
type APIKey struct {
	ID     string
	MSPID  string
	User   string
	SHA256 string
	// Admin keys may manage their organisation's managed keys (/api/v1/admin/keys).
	Admin bool
	// Merchants, when not empty, are the only merchants the key may act for.
	Merchants []string
}

// Authenticator resolves bearer keys to callers by their SHA-256 hash; it never holds keys.
// Keys it does not know are looked up among the managed keys of its KeyService, if any, at
// every request (so a revocation takes effect at once).
type Authenticator struct {
	byHash  map[[sha256.Size]byte]gateway.Caller
	managed gateway.KeyService
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
		a.byHash[h] = gateway.Caller{KeyID: k.ID, MSPID: k.MSPID, User: k.User, Admin: k.Admin, Merchants: k.Merchants}
	}
	return a, nil
}

// Authenticate returns the caller of an Authorization header value.
func (a *Authenticator) Authenticate(ctx context.Context, header string) (gateway.Caller, error) {
	scheme, key, ok := strings.Cut(strings.TrimSpace(header), " ")
	if header == "" {
		return gateway.Caller{}, gateway.Errorf(gateway.CodeUnauthenticated, "missing Authorization: Bearer <API key>")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		return gateway.Caller{}, gateway.Errorf(gateway.CodeUnauthenticated, "the Authorization header must be \"Bearer <API key>\"")
	}
	key = strings.TrimSpace(key)
	caller, found := a.byHash[sha256.Sum256([]byte(key))]
	if found {
		return caller, nil
	}
	if a.managed != nil {
		return a.managed.Authenticate(ctx, key)
	}
	return gateway.Caller{}, gateway.Errorf(gateway.CodeUnauthenticated, "unknown API key")
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
