package httpapi

import (
	"math"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/xborder/xborder/gateway"
)

// Default rate of the token-holder endpoints, per client address.
const (
	DefaultTrackingRate  = 2.0
	DefaultTrackingBurst = 20
)

// ctxCapability holds the *gateway.Capability of a write whose answer carries a token, so that
// the stored idempotent answer can leave it out.
const ctxCapability = "xborder.capability"

// TrackingOptions configure the endpoints a buyer calls with an order's tracking token instead
// of an API key (GET /api/v1/track/{token}, POST /api/v1/track/{token}/statements).
type TrackingOptions struct {
	// Org is the organisation whose identity the gateway signs those calls with (the first
	// organisation the ledger holds when empty). Any member may read a tracking view; relaying
	// a buyer statement needs an organisation that writes (not RegulatorMSP).
	Org string
	// RateLimit and Burst are the token bucket per client address (DefaultTrackingRate and
	// DefaultTrackingBurst when zero).
	RateLimit float64
	Burst     int
}

// trackingOrg returns the organisation the token-holder endpoints sign with ("" when the gateway
// holds none).
func (s *Server) trackingOrg() string {
	if s.opts.Tracking.Org != "" {
		return s.opts.Tracking.Org
	}
	if orgs := s.ledger.Organizations(); len(orgs) > 0 {
		return orgs[0]
	}
	return ""
}

// tokenMiddleware admits a call made with a capability token (op.Token): it rate-limits per
// client address (the TCP peer; forwarded-for headers are not trusted), answers NOT_FOUND for a
// token of a form the gateway never issues, and makes the caller the gateway's tracking identity,
// scoped to the token's hash (Idempotency-Keys of one token never meet another's).
func (s *Server) tokenMiddleware(op gateway.Operation) gin.HandlerFunc {
	return func(c *gin.Context) {
		ok, wait := s.trackLimiter.Allow(c.RemoteIP())
		if !ok {
			secs := max(1, int(math.Ceil(wait.Seconds())))
			c.Header("Retry-After", strconv.Itoa(secs))
			abortProblem(c, gateway.Errorf(gateway.CodeRateLimited, "rate limit exceeded for this client address; retry after %d s", secs))
			return
		}
		token := c.Param(op.Token.PathParam)
		if !gateway.ValidCapabilityToken(token) {
			abortProblem(c, gateway.Errorf(gateway.CodeNotFound, "no order has this tracking token"))
			return
		}
		org := s.trackingOrg()
		if org == "" || !s.orgs[org] {
			abortProblem(c, gateway.Errorf(gateway.CodeUnavailable, "this gateway holds no identity to serve tracking links with"))
			return
		}
		hash := gateway.CapabilityHash(token)
		c.Set(ctxCaller, gateway.Caller{KeyID: "track:" + hash[:16], MSPID: org, User: "tracking-link"})
		setLogger(c, logger(c).With("org", org, "access", "tracking-link"))
		c.Next()
	}
}

// redactStored returns the answer to keep for an Idempotency-Key: without the capability token
// of a write that created one (the gateway never stores a token).
func redactStored(c *gin.Context, body []byte) []byte {
	v, ok := c.Get(ctxCapability)
	if !ok {
		return body
	}
	capability, _ := v.(*gateway.Capability)
	if capability == nil {
		return body
	}
	return capability.Redact(body)
}

// resumed reports whether the transaction txID is the one an earlier request with the same
// Idempotency-Key prepared (the write finished it, gateway.WithResume).
func resumed(opts []gateway.SubmitOption, txID string) bool {
	r := gateway.NewSubmitOptions(opts...).Resume
	return r != nil && r.TxID == txID
}

// answerOf turns a write's chaincode result into its answer: with the capability token it
// created, keeping only the fields a token holder may see.
func answerOf(op gateway.Operation, result []byte, token string) ([]byte, error) {
	out := result
	var err error
	if op.Capability != nil {
		if out, err = op.Capability.Answer(out, token); err != nil {
			return nil, err
		}
	}
	if op.Token != nil {
		return op.Token.Filter(out)
	}
	return out, nil
}
