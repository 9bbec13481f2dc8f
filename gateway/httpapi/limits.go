package httpapi

import (
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/xborder/xborder/gateway"
)

// Defaults of the limits (Options).
const (
	defaultDrainLimit   = 16 << 20
	defaultDrainTimeout = 15 * time.Second
	// failureWarnEvery bounds the "repeated authentication failures" lines per address.
	failureWarnEvery = time.Minute
)

// MetricsAccess is who may read GET /metrics on the API listener.
type MetricsAccess struct {
	// Elsewhere is true when metrics are served on a listener of their own (Server.MetricsHandler):
	// GET /metrics on the API listener is then 404.
	Elsewhere bool
	// RequireKey asks for a bearer key; KeyIDs, when not empty, are the only keys allowed.
	RequireKey bool
	KeyIDs     []string
}

// limits are the Server's limits that hold state: the per-address token buckets, the count of
// open event streams per key, and their metrics.
type limits struct {
	// address limits every request by client address, before authentication (nil: none).
	address *RateLimiter
	// failures counts failed authentications per address: an address without tokens left is
	// refused before authentication (nil: no such limit).
	failures *RateLimiter

	mu      sync.Mutex
	streams map[string]int       // open event streams by API key ID
	warned  map[string]time.Time // last "repeated authentication failures" line by address

	limited      *prometheus.CounterVec
	authFailures prometheus.Counter
}

func newLimits(o Options) *limits {
	l := &limits{streams: map[string]int{}, warned: map[string]time.Time{}}
	if o.AddressRateLimit > 0 && o.AddressBurst > 0 {
		l.address = NewRateLimiter(o.AddressRateLimit, o.AddressBurst, o.Now)
	}
	if o.AuthFailureRate > 0 && o.AuthFailureBurst > 0 {
		l.failures = NewRateLimiter(o.AuthFailureRate, o.AuthFailureBurst, o.Now)
	}
	l.limited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "xborder", Subsystem: "http", Name: "rate_limited_total",
		Help: "Requests refused with 429 by limit: key, address, auth_failures or streams.",
	}, []string{"limit"})
	l.authFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "xborder", Subsystem: "http", Name: "auth_failures_total",
		Help: "Requests refused with 401 (missing, malformed or unknown API key).",
	})
	o.Registry.MustRegister(l.limited, l.authFailures)
	return l
}

// refuse answers 429 RATE_LIMITED with Retry-After (at least 1 s) and counts it under limit.
func (s *Server) refuse(c *gin.Context, limit string, wait time.Duration, format string) {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	s.lim.limited.WithLabelValues(limit).Inc()
	c.Header("Retry-After", strconv.Itoa(secs))
	abortProblem(c, gateway.Errorf(gateway.CodeRateLimited, format, secs))
}

// addressLimitMiddleware limits every request by client address, before authentication: an
// address that failed to authenticate too often is refused for a while, and every address has
// a token bucket. The address is the peer's, or the one a trusted proxy forwarded
// (Options.TrustedProxies).
func (s *Server) addressLimitMiddleware(c *gin.Context) {
	addr := c.ClientIP()
	if f := s.lim.failures; f != nil {
		if ok, wait := f.Peek(addr); !ok {
			s.refuse(c, "auth_failures", wait, "too many failed authentications from this address; retry after %d s")
			return
		}
	}
	if a := s.lim.address; a != nil {
		if ok, wait := a.Allow(addr); !ok {
			s.refuse(c, "address", wait, "rate limit exceeded for this client address; retry after %d s")
			return
		}
	}
	c.Next()
}

// authFailed records a failed authentication of the request's address, and logs (at most once
// a minute per address) when the address has failed so often that it is now refused. Neither
// the count nor the line holds the presented key.
func (s *Server) authFailed(c *gin.Context) {
	s.lim.authFailures.Inc()
	f := s.lim.failures
	if f == nil {
		return
	}
	addr := c.ClientIP()
	f.Allow(addr)
	ok, wait := f.Peek(addr)
	if ok {
		return
	}
	now := s.opts.Now()
	s.lim.mu.Lock()
	last, seen := s.lim.warned[addr]
	if seen && now.Sub(last) < failureWarnEvery {
		s.lim.mu.Unlock()
		return
	}
	s.lim.warned[addr] = now
	for a, t := range s.lim.warned {
		if now.Sub(t) >= failureWarnEvery {
			delete(s.lim.warned, a)
		}
	}
	s.lim.mu.Unlock()
	logger(c).Warn("repeated authentication failures: requests from this address are refused for a while",
		"clientAddress", addr, "retryAfter", wait.Round(time.Second).String())
}

// Peek reports whether key's bucket has a token, without taking it; when it has none, it also
// returns how long until it has one.
func (l *RateLimiter) Peek(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return true, 0
	}
	tokens := math.Min(l.burst, b.tokens+math.Max(0, l.now().Sub(b.last).Seconds())*l.rate)
	if tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - tokens) / l.rate * float64(time.Second))
}

// pruneLocked forgets, at most once a minute, the buckets that are full again (as good as
// new), so that the map does not grow with every address ever seen; l.mu is held.
func (l *RateLimiter) pruneLocked(now time.Time) {
	if now.Sub(l.pruned) < time.Minute {
		return
	}
	l.pruned = now
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// streamLimitMiddleware caps the event streams open at once per API key (429 above).
func (s *Server) streamLimitMiddleware(c *gin.Context) {
	limit := s.opts.MaxStreamsPerKey
	if limit <= 0 {
		c.Next()
		return
	}
	id := callerOf(c).KeyID
	s.lim.mu.Lock()
	if s.lim.streams[id] >= limit {
		s.lim.mu.Unlock()
		s.lim.limited.WithLabelValues("streams").Inc()
		c.Header("Retry-After", "5")
		abortProblem(c, gateway.Errorf(gateway.CodeRateLimited,
			"this API key already has %d open event streams, the most allowed; close one first", limit))
		return
	}
	s.lim.streams[id]++
	s.lim.mu.Unlock()
	defer func() {
		s.lim.mu.Lock()
		if s.lim.streams[id]--; s.lim.streams[id] <= 0 {
			delete(s.lim.streams, id)
		}
		s.lim.mu.Unlock()
	}()
	c.Next()
}

// noStoreMiddleware forbids caches to keep API answers: they may carry private data.
func (s *Server) noStoreMiddleware(c *gin.Context) {
	if strings.HasPrefix(c.Request.URL.Path, "/api/") {
		c.Header("Cache-Control", "no-store")
	}
	c.Next()
}

// methodNotAllowed answers a known path with a method it does not serve: 405
// METHOD_NOT_ALLOWED, with the Allow header that the router set.
func methodNotAllowed(c *gin.Context) {
	allow := c.Writer.Header().Get("Allow")
	abortProblem(c, gateway.Errorf(gateway.CodeMethodNotAllowed, "method %s is not allowed on %s; allowed: %s",
		c.Request.Method, c.Request.URL.Path, allow))
}

// guardsOf returns the access checks of op: the bearer key and the per-key rate limit for
// every operation with a security requirement, the stream cap for event streams, and the
// configured policy for /metrics.
func (s *Server) guardsOf(op *Operation) []gin.HandlerFunc {
	var chain []gin.HandlerFunc
	if !op.Public {
		chain = append(chain, s.authMiddleware, s.rateLimitMiddleware)
	} else if gop, ok := gateway.OperationByID(op.ID); ok && gop.Token != nil {
		chain = append(chain, s.tokenMiddleware(gop))
	}
	if op.ID == "metrics" {
		chain = append(chain, s.metricsAccess()...)
	}
	if isEventStream(op) {
		chain = append(chain, s.streamLimitMiddleware)
	}
	return chain
}

// isEventStream reports whether op answers text/event-stream.
func isEventStream(op *Operation) bool {
	if op.Op == nil || op.Op.Responses == nil {
		return false
	}
	ok := op.Op.Responses.Status(http.StatusOK)
	return ok != nil && ok.Value != nil && ok.Value.Content.Get("text/event-stream") != nil
}

// metricsAccess is the policy of GET /metrics on the API listener (Options.Metrics).
func (s *Server) metricsAccess() []gin.HandlerFunc {
	m := s.opts.Metrics
	switch {
	case m.Elsewhere:
		return []gin.HandlerFunc{func(c *gin.Context) {
			abortProblem(c, gateway.Errorf(gateway.CodeNotFound, "metrics are served on another listener"))
		}}
	case m.RequireKey:
		return []gin.HandlerFunc{s.authMiddleware, s.rateLimitMiddleware, func(c *gin.Context) {
			if len(m.KeyIDs) > 0 && !slices.Contains(m.KeyIDs, callerOf(c).KeyID) {
				abortProblem(c, gateway.Errorf(gateway.CodeForbidden, "this API key may not read the metrics"))
				return
			}
			c.Next()
		}}
	}
	return nil
}

// MetricsHandler serves the Prometheus metrics, for a listener of their own.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	return mux
}

// tooLarge refuses a request body over the limit with 413, after reading and discarding the rest
// of it (drainBody).
func (s *Server) tooLarge(c *gin.Context, rest io.Reader) {
	s.drainBody(c, rest)
	abortProblem(c, gateway.Errorf(gateway.CodePayloadTooLarge, "the request body exceeds %d bytes", s.opts.MaxBodyBytes))
}

// drainBody reads and discards what is left of a refused body, up to Options.DrainLimit bytes
// and Options.DrainTimeout. Many clients send the whole body before they read the answer: had
// the server closed the connection with their body unread, the kernel would answer their data
// with a reset that destroys the 413 before they read it. A body announced larger than the
// bound is not read at all (that client gets the reset).
func (s *Server) drainBody(c *gin.Context, rest io.Reader) {
	if rest == nil || c.Request.ContentLength > s.opts.DrainLimit {
		return
	}
	rc := http.NewResponseController(c.Writer)
	if err := rc.SetReadDeadline(time.Now().Add(s.opts.DrainTimeout)); err != nil {
		logger(c).Debug("cannot bound the time to drain a refused body", "error", err)
	}
	n, err := io.Copy(io.Discard, io.LimitReader(rest, s.opts.DrainLimit))
	if err != nil {
		logger(c).Debug("refused body not drained", "bytes", n, "error", err)
	}
}

// checkNotAhead refuses a resume point beyond the newest event of the log (400 naming field):
// such an ID was never given by this gateway (another gateway's, or a log that was reset), and
// streaming "after" it would wait silently for events that already exist under lower IDs.
func (s *Server) checkNotAhead(field string, id gateway.EventID) error {
	last, err := s.opts.Events.LastEventID()
	if err != nil {
		return &gateway.Error{Code: gateway.CodeInternal, Message: "cannot read the event log", Err: err}
	}
	if last.Less(id) {
		return gateway.FieldError(field, "event %s is beyond the newest event of this gateway (%s)", id, last)
	}
	return nil
}
