package httpapi

import (
	"math"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// RateLimiter is a token bucket per API key: Rate tokens per second, up to Burst.
type RateLimiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	pruned  time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewRateLimiter returns a limiter; now is the clock (time.Now when nil).
func NewRateLimiter(ratePerSecond float64, burst int, now func() time.Time) *RateLimiter {
	if now == nil {
		now = time.Now
	}
	return &RateLimiter{rate: ratePerSecond, burst: float64(burst), now: now, buckets: map[string]*bucket{}}
}

// Allow takes one token from key's bucket. When none is left it returns false and how long to
// wait for the next token.
func (l *RateLimiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.pruneLocked(now)
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

func (s *Server) rateLimitMiddleware(c *gin.Context) {
	ok, wait := s.limiter.Allow(callerOf(c).KeyID)
	if !ok {
		s.refuse(c, "key", wait, "rate limit exceeded for this API key; retry after %d s")
		return
	}
	c.Next()
}
