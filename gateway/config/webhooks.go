package config

import (
	"fmt"
	"time"

	"github.com/xborder/xborder/gateway/webhook"
)

// Webhooks configures the delivery of chaincode events to members' URLs (event subscriptions).
// Zero values take the defaults of gateway/webhook.
type Webhooks struct {
	// AllowedTargets is the allow-list of delivery targets: address ranges in CIDR notation,
	// host names ("*.example.com" for subdomains) and http(s) URL prefixes. Host names and
	// prefixes reach public addresses only; internal ones must be listed as ranges. Empty (the
	// default): no subscription can be created.
	AllowedTargets []string `yaml:"allowedTargets"`
	// MaxFailures consecutive failed attempts at one event dead-letter a subscription
	// (default 12).
	MaxFailures int `yaml:"maxFailures"`
	// BackoffBase and BackoffMax shape the exponential backoff between attempts (default 1s and
	// 10m).
	BackoffBase time.Duration `yaml:"backoffBase"`
	BackoffMax  time.Duration `yaml:"backoffMax"`
	// AttemptTimeout bounds one attempt (default 10s).
	AttemptTimeout time.Duration `yaml:"attemptTimeout"`
	// MaxPerOrganization bounds the subscriptions of one organisation (default 100).
	MaxPerOrganization int `yaml:"maxPerOrganization"`
	// DeliveryHistory is how many attempts each subscription's delivery log keeps (default 200).
	DeliveryHistory int `yaml:"deliveryHistory"`
}

// Delivery returns the settings as gateway/webhook takes them.
func (w Webhooks) Delivery() webhook.Config {
	return webhook.Config{
		AllowedTargets:     w.AllowedTargets,
		MaxFailures:        w.MaxFailures,
		BackoffBase:        w.BackoffBase,
		BackoffMax:         w.BackoffMax,
		AttemptTimeout:     w.AttemptTimeout,
		MaxPerOrganization: w.MaxPerOrganization,
	}
}

// validate checks the settings and the allow-list's entries.
func (w Webhooks) validate() []error {
	var errs []error
	if err := w.Delivery().Validate(); err != nil {
		errs = append(errs, err)
	}
	if w.DeliveryHistory < 0 {
		errs = append(errs, fmt.Errorf("webhooks.deliveryHistory: must not be negative, got %d", w.DeliveryHistory))
	}
	return errs
}
