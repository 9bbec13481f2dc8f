package httpapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Client certificate policies of TLSOptions.ClientAuth.
const (
	// ClientAuthNone asks for no client certificate.
	ClientAuthNone = "none"
	// ClientAuthOptional verifies a client certificate when one is presented.
	ClientAuthOptional = "optional"
	// ClientAuthRequire refuses the handshake without a client certificate signed by a client CA.
	ClientAuthRequire = "require"
)

// defaultTLSPoll is how often the certificate files are checked for change.
const defaultTLSPoll = 10 * time.Second

// tls12Suites are the TLS 1.2 cipher suites offered: forward-secret AEAD suites only (TLS 1.3
// suites are all of that kind and not configurable).
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// TLSOptions configure TLS on the REST listener.
type TLSOptions struct {
	// CertFile and KeyFile are the PEM server certificate (with its chain) and private key.
	CertFile, KeyFile string
	// ClientCAFile is a PEM bundle of the CAs whose client certificates are accepted (mutual
	// TLS). A client certificate never replaces the bearer key: it is checked in addition.
	ClientCAFile string
	// ClientAuth is none, optional or require (default: require with ClientCAFile, else none).
	ClientAuth string
	// MinVersion is "1.2" (default) or "1.3". TLS 1.3 is negotiated whenever the client has it.
	MinVersion string
	// PollInterval is how often the files are checked for change (10 s when zero; negative:
	// only Reload, e.g. on SIGHUP).
	PollInterval time.Duration
}

// withDefaults fills the unset options and checks them.
func (o TLSOptions) withDefaults() (TLSOptions, error) {
	if o.CertFile == "" || o.KeyFile == "" {
		return o, errors.New("tls: certFile and keyFile are required")
	}
	if o.ClientAuth == "" {
		o.ClientAuth = ClientAuthNone
		if o.ClientCAFile != "" {
			o.ClientAuth = ClientAuthRequire
		}
	}
	switch o.ClientAuth {
	case ClientAuthNone:
	case ClientAuthOptional, ClientAuthRequire:
		if o.ClientCAFile == "" {
			return o, fmt.Errorf("tls: clientAuth %q needs clientCAFile", o.ClientAuth)
		}
	default:
		return o, fmt.Errorf("tls: clientAuth %q is not none, optional or require", o.ClientAuth)
	}
	if o.MinVersion == "" {
		o.MinVersion = "1.2"
	}
	if o.MinVersion != "1.2" && o.MinVersion != "1.3" {
		return o, fmt.Errorf("tls: minVersion %q is not 1.2 or 1.3", o.MinVersion)
	}
	if o.PollInterval == 0 {
		o.PollInterval = defaultTLSPoll
	}
	return o, nil
}

// CertReloader serves the REST listener's TLS configuration and replaces it when the files
// change (Watch) or when asked (Reload, e.g. on SIGHUP). Connections already open keep their
// session; new handshakes use the new certificate. A reload that fails keeps the configuration
// in force and reports the error.
type CertReloader struct {
	opts TLSOptions
	log  *slog.Logger

	mu      sync.Mutex
	current *tls.Config
	stamp   string

	notAfter prometheus.Gauge
	reloads  *prometheus.CounterVec
}

// NewCertReloader loads the files of opts; it fails when they do not make a valid
// configuration. reg, when not nil, receives the xborder_tls_* metrics.
func NewCertReloader(opts TLSOptions, log *slog.Logger, reg prometheus.Registerer) (*CertReloader, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &CertReloader{opts: opts, log: log,
		notAfter: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "xborder", Subsystem: "tls", Name: "certificate_not_after_seconds",
			Help: "Expiry (Unix time) of the REST listener's server certificate in use."}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "xborder", Subsystem: "tls", Name: "reloads_total",
			Help: "Reloads of the REST listener's TLS files by result (ok, error)."}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(r.notAfter, r.reloads)
	}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Config returns the listener's TLS configuration: every handshake takes the configuration in
// force at that moment.
func (r *CertReloader) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.current, nil
		},
	}
}

// Reload reads the files again and puts them in force; on error the configuration in force
// stays.
func (r *CertReloader) Reload() error {
	_, err := r.reload()
	return err
}

// reload is Reload, returning also the files' stamp taken before they were read: after a
// failure, only a change after that stamp may repair them (a key written while the failed
// load read the certificate is such a change).
func (r *CertReloader) reload() (string, error) {
	stamp := r.fileStamp()
	cfg, leaf, err := r.load()
	if err != nil {
		r.reloads.WithLabelValues("error").Inc()
		return stamp, err
	}
	r.mu.Lock()
	r.current, r.stamp = cfg, stamp
	r.mu.Unlock()
	r.reloads.WithLabelValues("ok").Inc()
	r.notAfter.Set(float64(leaf.NotAfter.Unix()))
	r.log.Info("TLS certificate loaded", "subject", leaf.Subject.String(), "notAfter", leaf.NotAfter.UTC().Format(time.RFC3339),
		"clientAuth", r.opts.ClientAuth, "minVersion", r.opts.MinVersion)
	if time.Until(leaf.NotAfter) < 0 {
		r.log.Error("the TLS server certificate has expired", "notAfter", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return stamp, nil
}

// load builds a configuration from the files.
func (r *CertReloader) load() (*tls.Config, *x509.Certificate, error) {
	o := r.opts
	cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: load %s and %s: %w", o.CertFile, o.KeyFile, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, nil, fmt.Errorf("tls: parse %s: %w", o.CertFile, err)
		}
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: tls12Suites,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if o.MinVersion == "1.3" {
		cfg.MinVersion = tls.VersionTLS13
	}
	if o.ClientAuth == ClientAuthNone {
		return cfg, leaf, nil
	}
	pem, err := os.ReadFile(o.ClientCAFile)
	if err != nil {
		return nil, nil, fmt.Errorf("tls: client CAs: %w", err)
	}
	cfg.ClientCAs = x509.NewCertPool()
	if !cfg.ClientCAs.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("tls: client CAs: %s holds no PEM certificate", o.ClientCAFile)
	}
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	if o.ClientAuth == ClientAuthRequire {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, leaf, nil
}

// fileStamp identifies the files' current versions by size and modification time.
func (r *CertReloader) fileStamp() string {
	var b strings.Builder
	for _, p := range []string{r.opts.CertFile, r.opts.KeyFile, r.opts.ClientCAFile} {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%s:%d:%d;", p, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return b.String()
}

// Watch reloads whenever the files change, checking every PollInterval, until ctx ends.
func (r *CertReloader) Watch(ctx context.Context) {
	if r.opts.PollInterval < 0 {
		return
	}
	t := time.NewTicker(r.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		changed := r.fileStamp() != r.stamp
		r.mu.Unlock()
		if !changed {
			continue
		}
		if stamp, err := r.reload(); err != nil {
			r.log.Error("TLS files changed but cannot be loaded; the certificate in force stays", "error", err)
			// Do not try the same broken files again on every tick, but do when one changes
			// after they were read (the certificate and key are written one after the other).
			r.mu.Lock()
			r.stamp = stamp
			r.mu.Unlock()
		}
	}
}
