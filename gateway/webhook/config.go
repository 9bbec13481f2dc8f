package webhook

import (
	"fmt"
	"time"
)

// The defaults of Config.
const (
	DefaultMaxFailures        = 12
	DefaultBackoffBase        = time.Second
	DefaultBackoffMax         = 10 * time.Minute
	DefaultAttemptTimeout     = 10 * time.Second
	DefaultMaxPerOrganization = 100
)

// LoopbackTargets is the allow-list of `xborder dev`: receivers on this machine only.
var LoopbackTargets = []string{"127.0.0.0/8", "::1/128"}

// Config are the operator's settings of webhook delivery. Zero values take the defaults.
type Config struct {
	// AllowedTargets is the allow-list (see AllowList). Empty: every target is refused, so no
	// subscription can be created.
	AllowedTargets []string
	// MaxFailures is how many consecutive failed attempts at one event dead-letter a
	// subscription.
	MaxFailures int
	// BackoffBase and BackoffMax shape the wait after the n-th consecutive failure: BackoffBase ×
	// 2^(n-1), capped at BackoffMax, of which a random half is taken off (jitter).
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// AttemptTimeout bounds one attempt, from connecting to the end of the answer's headers.
	AttemptTimeout time.Duration
	// MaxPerOrganization bounds the subscriptions of one organisation.
	MaxPerOrganization int
	// Resolver resolves target host names (net.DefaultResolver when nil).
	Resolver Resolver
}

// withDefaults fills the zero settings and checks the others.
func (c Config) withDefaults() (Config, error) {
	set := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	set(&c.MaxFailures, DefaultMaxFailures)
	set(&c.MaxPerOrganization, DefaultMaxPerOrganization)
	setD(&c.BackoffBase, DefaultBackoffBase)
	setD(&c.BackoffMax, DefaultBackoffMax)
	setD(&c.AttemptTimeout, DefaultAttemptTimeout)
	switch {
	case c.MaxFailures < 1:
		return c, fmt.Errorf("webhooks: maxFailures must be at least 1, got %d", c.MaxFailures)
	case c.MaxPerOrganization < 1:
		return c, fmt.Errorf("webhooks: maxPerOrganization must be at least 1, got %d", c.MaxPerOrganization)
	case c.BackoffBase < 0 || c.BackoffMax < c.BackoffBase:
		return c, fmt.Errorf("webhooks: want 0 < backoffBase <= backoffMax, got %s and %s", c.BackoffBase, c.BackoffMax)
	case c.AttemptTimeout < 0:
		return c, fmt.Errorf("webhooks: attemptTimeout must be positive, got %s", c.AttemptTimeout)
	}
	return c, nil
}

// Backoff is the wait before the next attempt after failures consecutive failures (at least 1):
// base × 2^(failures-1) capped at max, minus a random share of up to half of it (rnd is in [0,
// 1)), so that receivers coming back up are not hit by every subscription at once.
func Backoff(base, maxDelay time.Duration, failures int, rnd float64) time.Duration {
	d := base
	for i := 1; i < failures && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	return d - time.Duration(float64(d/2)*rnd)
}

// Validate checks the settings as Dispatcher does, for configuration loaders.
func (c Config) Validate() error {
	if _, err := c.withDefaults(); err != nil {
		return err
	}
	if _, err := ParseAllowList(c.AllowedTargets); err != nil {
		return fmt.Errorf("webhooks.allowedTargets: %w", err)
	}
	return nil
}
