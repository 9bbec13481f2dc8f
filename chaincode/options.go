package chaincode

import (
	"time"
)

// DefaultMaxClockSkew is how far a write proposal's timestamp may be from the endorsing peer's
// clock when no WithMaxClockSkew option is given.
const DefaultMaxClockSkew = 5 * time.Minute

// config is what the options of NewContract and NewChaincode set.
type config struct {
	maxClockSkew time.Duration
	clock        func() time.Time
}

// defaultConfig returns the configuration without options: proposals checked against the
// machine's clock with DefaultMaxClockSkew.
func defaultConfig() config {
	return config{maxClockSkew: DefaultMaxClockSkew, clock: time.Now}
}

// Option configures the contract (NewContract) and the chaincode (NewChaincode).
type Option func(*config)

// WithMaxClockSkew sets how far the timestamp of a write proposal may be from the endorsing
// peer's clock (either way) before the peer refuses to endorse it; 0 (or a negative value)
// disables the check. The default is DefaultMaxClockSkew. Queries are never checked.
//
// The transaction timestamp is chosen by the client and decides release windows, delivery
// times and yearly limits, and Fabric peers do not check it, so the chaincode does while it is
// being endorsed. The wall clock only decides whether this peer endorses: it never reaches the
// write set, so honest endorsers still produce identical results.
func WithMaxClockSkew(d time.Duration) Option {
	return func(c *config) { c.maxClockSkew = max(d, 0) }
}

// WithClock sets the clock the endorsement-time check reads (time.Now by default); tests use it
// to stand in for the peer's clock.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.clock = now
		}
	}
}

// checkClock refuses a write proposal whose timestamp is more than the configured skew away
// from this peer's clock (INVALID_ARGUMENT naming "timestamp", with both times).
func (c config) checkClock(proposed time.Time) error {
	if c.maxClockSkew <= 0 {
		return nil
	}
	now := c.clock().UTC()
	off := proposed.Sub(now)
	if off >= -c.maxClockSkew && off <= c.maxClockSkew {
		return nil
	}
	side := "ahead of"
	if off < 0 {
		side, off = "behind", -off
	}
	return errInvalid("timestamp", "the proposal timestamp %s is %s %s this endorsing peer's clock (%s); at most %s is allowed: check the client's clock",
		proposed.Format(timeLayout), off, side, now.Format(timeLayout), c.maxClockSkew)
}
