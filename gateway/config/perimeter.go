package config

import (
	"errors"
	"fmt"
	"slices"
)

// validatePerimeter checks TLS, the store's keys and housekeeping, the limits for every
// client and the metrics access.
func (c *Config) validatePerimeter() []error {
	var errs []error
	errs = append(errs, c.TLS.validate()...)
	errs = append(errs, c.Store.validate()...)
	r := c.RateLimit
	if r.PerAddress.RequestsPerSecond <= 0 || r.PerAddress.Burst < 1 {
		errs = append(errs, errors.New("rateLimit.perAddress: requestsPerSecond > 0 and burst >= 1 required"))
	}
	if r.AuthFailures.PerMinute <= 0 || r.AuthFailures.Burst < 1 {
		errs = append(errs, errors.New("rateLimit.authFailures: perMinute > 0 and burst >= 1 required"))
	}
	if c.Events.MaxStreamsPerKey < 1 {
		errs = append(errs, errors.New("events.maxStreamsPerKey: must be at least 1"))
	}
	if len(c.Metrics.KeyIDs) > 0 && !c.Metrics.RequireKey {
		errs = append(errs, errors.New("metrics.keyIds: needs metrics.requireKey: true"))
	}
	for _, id := range c.Metrics.KeyIDs {
		if !slices.ContainsFunc(c.APIKeys, func(k APIKey) bool { return k.ID == id }) {
			errs = append(errs, fmt.Errorf("metrics.keyIds: %q is not the id of an API key", id))
		}
	}
	return errs
}

func (t TLS) validate() []error {
	var errs []error
	if t.Enabled() && (t.CertFile == "" || t.KeyFile == "") {
		errs = append(errs, errors.New("tls: certFile and keyFile go together"))
	}
	if !t.Enabled() && (t.ClientCAFile != "" || t.ClientAuth != "" || t.MinVersion != "") {
		errs = append(errs, errors.New("tls: clientCAFile, clientAuth and minVersion need certFile and keyFile"))
	}
	switch t.ClientAuth {
	case "", "none":
	case "optional", "require":
		if t.ClientCAFile == "" {
			errs = append(errs, fmt.Errorf("tls.clientAuth: %q needs tls.clientCAFile", t.ClientAuth))
		}
	default:
		errs = append(errs, fmt.Errorf("tls.clientAuth: %q is not none, optional or require", t.ClientAuth))
	}
	if t.MinVersion != "" && t.MinVersion != "1.2" && t.MinVersion != "1.3" {
		errs = append(errs, fmt.Errorf("tls.minVersion: %q is not 1.2 or 1.3", t.MinVersion))
	}
	return errs
}

func (s Store) validate() []error {
	var errs []error
	if s.KeyFile != "" && s.Keys != "" {
		errs = append(errs, errors.New("store: keyFile and XBORDER_STORE_KEYS are both set; give the keys once"))
	}
	if s.SweepInterval <= 0 || s.AbandonAfter <= 0 || s.CompactInterval < 0 {
		errs = append(errs, errors.New("store: sweepInterval and abandonAfter must be positive, compactInterval not negative"))
	}
	return errs
}
