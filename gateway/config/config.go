// Package config loads the REST gateway's configuration from a YAML file and XBORDER_*
// environment variables, and checks API keys against their stored SHA-256 hashes.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// Config is the whole gateway configuration.
type Config struct {
	// Listen is the HTTP listen address, e.g. "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// DataDir holds the gateway's bbolt store (idempotency records, event log).
	DataDir string `yaml:"dataDir"`
	// Channel and Chaincode name the Fabric channel and chaincode.
	Channel   string `yaml:"channel"`
	Chaincode string `yaml:"chaincode"`
	// Organizations are the Fabric identities this gateway signs with (normally one).
	Organizations []Organization `yaml:"organizations"`
	// APIKeys maps bearer keys (by hash) to an organisation and user.
	APIKeys []APIKey `yaml:"apiKeys"`
	// RateLimit is the per-key request rate.
	RateLimit RateLimit `yaml:"rateLimit"`
	// CORS lists the browser origins allowed to call the API (none by default).
	CORS CORS `yaml:"cors"`
	// Timeouts bound each Fabric call.
	Timeouts Timeouts `yaml:"timeouts"`
	// MaxRetries bounds the fresh proposals made after an MVCC_READ_CONFLICT or a
	// PHANTOM_READ_CONFLICT.
	MaxRetries int `yaml:"maxRetries"`
	// ReadYourWrites tunes how the gateway keeps a client's sequence of requests consistent
	// across peers that commit blocks on their own.
	ReadYourWrites ReadYourWrites `yaml:"readYourWrites"`
	// MaxBodyBytes is the request body limit (413 above it).
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	// IdempotencyRetention is how long first answers to Idempotency-Keys are kept.
	IdempotencyRetention time.Duration `yaml:"idempotencyRetention"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"logLevel"`
	// Tracking configures the endpoints buyers call with an order's tracking token.
	Tracking Tracking `yaml:"tracking"`
	// Webhooks configures event subscriptions delivered to members' URLs.
	Webhooks Webhooks `yaml:"webhooks"`
	// TLS serves the REST API over TLS, optionally mutual (none when certFile is empty).
	TLS TLS `yaml:"tls"`
	// Store configures the encryption and housekeeping of gateway.db.
	Store Store `yaml:"store"`
	// Events limits the event streams.
	Events Events `yaml:"events"`
	// Metrics configures who may read GET /metrics, and where.
	Metrics Metrics `yaml:"metrics"`
}

// TLS configures TLS on the REST listener (see httpapi.TLSOptions). The files are read again
// when they change and on SIGHUP.
type TLS struct {
	// CertFile and KeyFile are the PEM server certificate (with its chain) and key.
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
	// ClientCAFile is a PEM bundle of the CAs of accepted client certificates (mutual TLS).
	ClientCAFile string `yaml:"clientCAFile"`
	// ClientAuth is none, optional or require (default: require with clientCAFile, else none).
	// A client certificate accompanies the bearer key; it never replaces it.
	ClientAuth string `yaml:"clientAuth"`
	// MinVersion is 1.2 (default) or 1.3.
	MinVersion string `yaml:"minVersion"`
}

// Enabled reports whether TLS is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Store configures gateway.db: the keys that seal the private data it keeps (the signed
// proposals of writes with transient data, needed to finish them after a crash) and its
// housekeeping.
type Store struct {
	// KeyFile holds the AES-256-GCM keys, one a line as <id>:<base64 of 32 bytes>, newest
	// last; mode 0600. Without keys such proposals are not kept at all.
	KeyFile string `yaml:"keyFile"`
	// Keys are the same keys given inline by XBORDER_STORE_KEYS (comma-separated); never read
	// from the file, so that the YAML holds no secret.
	Keys string `yaml:"-"`
	// SweepInterval is how often expired records are purged and the proposals of committed or
	// abandoned transactions dropped.
	SweepInterval time.Duration `yaml:"sweepInterval"`
	// AbandonAfter is how long a proposal whose transaction the ledger does not know is kept.
	AbandonAfter time.Duration `yaml:"abandonAfter"`
	// CompactInterval is how often gateway.db is compacted besides at start (0: only at start).
	CompactInterval time.Duration `yaml:"compactInterval"`
}

// Events limits the event streams.
type Events struct {
	// MaxStreamsPerKey caps the event streams open at once per API key (429 above).
	MaxStreamsPerKey int `yaml:"maxStreamsPerKey"`
}

// Metrics configures GET /metrics.
type Metrics struct {
	// Listen, when set, serves the metrics in plain HTTP on this address of their own (e.g.
	// 127.0.0.1:9464) instead of on the API listener.
	Listen string `yaml:"listen"`
	// RequireKey asks for a bearer key on the API listener; KeyIDs, when set, are the only API
	// key IDs allowed.
	RequireKey bool     `yaml:"requireKey"`
	KeyIDs     []string `yaml:"keyIds"`
}

// Tracking configures the endpoints a buyer calls with an order's tracking token instead of an
// API key (GET /api/v1/track/{token}, POST /api/v1/track/{token}/statements).
type Tracking struct {
	// Org is the organisation whose identity signs those calls (the first organization when
	// empty); relaying a buyer's statement needs one that writes.
	Org string `yaml:"org"`
	// RequestsPerSecond and Burst are the token bucket per client address.
	RequestsPerSecond float64 `yaml:"requestsPerSecond"`
	Burst             int     `yaml:"burst"`
}

// Organization is one Fabric identity and the peer its gateway connection goes to.
type Organization struct {
	MSPID string `yaml:"mspId"`
	// PeerEndpoint is host:port of the organisation's peer (Fabric Gateway service).
	PeerEndpoint string `yaml:"peerEndpoint"`
	// PeerHostOverride is the TLS server name, when it differs from the endpoint host.
	PeerHostOverride string `yaml:"peerHostOverride"`
	// TLSCACert is the PEM file of the CA that signed the peer's TLS certificate; empty
	// means plaintext gRPC (development only).
	TLSCACert string `yaml:"tlsCACert"`
	// Certificate and PrivateKey are PEM files of the organisation's client identity.
	Certificate string `yaml:"certificate"`
	PrivateKey  string `yaml:"privateKey"`
	// TLSClientCert and TLSClientKey are PEM files of a client TLS certificate, for peers that
	// require mutual TLS (optional).
	TLSClientCert string `yaml:"tlsClientCert"`
	TLSClientKey  string `yaml:"tlsClientKey"`
	// CA, when its URL is set, is the organisation's Fabric CA: managed API keys of the
	// organisation may then have Fabric identities of their own, registered and enrolled there.
	CA CA `yaml:"ca"`
}

// CA is an organisation's Fabric CA (fabric-ca-server) and the registrar the gateway registers
// and revokes users as.
type CA struct {
	// URL is the CA's base URL, e.g. https://ca.merchant.example:7054.
	URL string `yaml:"url"`
	// CAName names the CA of a server that hosts several (optional).
	CAName string `yaml:"caName"`
	// TLSCACert is the PEM file of the CA's TLS root (optional; the system roots otherwise).
	TLSCACert string `yaml:"tlsCACert"`
	// RegistrarID and RegistrarSecret enrol the registrar (an identity with
	// hf.Registrar.Roles including client); the secret may come from XBORDER_CA_SECRET_<MSPID>.
	RegistrarID     string `yaml:"registrarId"`
	RegistrarSecret string `yaml:"registrarSecret"`
}

// APIKey maps one bearer key, stored as its SHA-256 hash, to an organisation and user.
type APIKey struct {
	// ID names the key in logs and metrics.
	ID    string `yaml:"id"`
	MSPID string `yaml:"mspId"`
	User  string `yaml:"user"`
	// SHA256 is the lowercase hex SHA-256 of the key.
	SHA256 string `yaml:"sha256"`
	// Admin keys may manage their organisation's keys (/api/v1/admin/keys).
	Admin bool `yaml:"admin"`
	// Merchants, when not empty, are the only merchant IDs the key may act for.
	Merchants []string `yaml:"merchants"`
}

// RateLimit is a token bucket per API key, and the limits per client address that apply
// before authentication.
type RateLimit struct {
	RequestsPerSecond float64 `yaml:"requestsPerSecond"`
	Burst             int     `yaml:"burst"`
	// PerAddress is a token bucket per client address for every request, keyed or not.
	PerAddress Bucket `yaml:"perAddress"`
	// AuthFailures is a bucket per client address that only failed authentications take from:
	// an address that ran it dry is refused until it refills.
	AuthFailures FailureBucket `yaml:"authFailures"`
	// TrustedProxies are the addresses or CIDRs of reverse proxies whose X-Forwarded-For names
	// the client (none: the peer's address is the client's).
	TrustedProxies []string `yaml:"trustedProxies"`
}

// Bucket is a token bucket.
type Bucket struct {
	RequestsPerSecond float64 `yaml:"requestsPerSecond"`
	Burst             int     `yaml:"burst"`
}

// FailureBucket is a token bucket counted in failures per minute.
type FailureBucket struct {
	PerMinute float64 `yaml:"perMinute"`
	Burst     int     `yaml:"burst"`
}

// CORS configures cross-origin access.
type CORS struct {
	AllowedOrigins []string `yaml:"allowedOrigins"`
}

// Timeouts bound Fabric calls.
type Timeouts struct {
	Evaluate time.Duration `yaml:"evaluate"`
	Endorse  time.Duration `yaml:"endorse"`
	Submit   time.Duration `yaml:"submit"`
	Commit   time.Duration `yaml:"commit"`
}

// ReadYourWrites tunes read-your-writes (docs/design.md §9).
type ReadYourWrites struct {
	// WaitTimeout bounds each wait for the observed peers to commit the block of the order's
	// last write before a request about it runs (0: never wait).
	WaitTimeout time.Duration `yaml:"waitTimeout"`
	// Retries bounds the fresh proposals made after a stale read from a lagging peer or an
	// endorsement mismatch (0: none).
	Retries int `yaml:"retries"`
}

// Defaults returns the configuration used where the file and environment are silent.
func Defaults() Config {
	return Config{
		Listen:    "127.0.0.1:8080",
		DataDir:   "./xborder-gateway-data",
		Channel:   "xborder",
		Chaincode: "xborder",
		RateLimit: RateLimit{RequestsPerSecond: 50, Burst: 100,
			PerAddress: Bucket{RequestsPerSecond: 200, Burst: 400}, AuthFailures: FailureBucket{PerMinute: 30, Burst: 20}},
		Store:                Store{SweepInterval: 30 * time.Second, AbandonAfter: time.Hour, CompactInterval: 24 * time.Hour},
		Events:               Events{MaxStreamsPerKey: 8},
		Timeouts:             Timeouts{Evaluate: 5 * time.Second, Endorse: 15 * time.Second, Submit: 5 * time.Second, Commit: time.Minute},
		MaxRetries:           3,
		ReadYourWrites:       ReadYourWrites{WaitTimeout: 5 * time.Second, Retries: 5},
		MaxBodyBytes:         1 << 20,
		IdempotencyRetention: 7 * 24 * time.Hour,
		LogLevel:             "info",
		Tracking:             Tracking{RequestsPerSecond: 2, Burst: 20},
	}
}

// Load reads the YAML file at path (skipped when path is ""), applies XBORDER_* variables from
// env (os.Environ format) over it, makes relative file paths relative to the file's directory,
// and validates the result. Unknown YAML fields are errors.
func Load(path string, env []string) (Config, error) {
	cfg := Defaults()
	if path != "" {
		b, err := os.ReadFile(path) // #nosec G304 -- the operator names the configuration file
		if err != nil {
			return Config{}, fmt.Errorf("read gateway config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		// An empty file decodes as io.EOF: no settings.
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return Config{}, fmt.Errorf("parse gateway config %s: %w", path, err)
		}
		base := filepath.Dir(path)
		for i := range cfg.Organizations {
			o := &cfg.Organizations[i]
			o.TLSCACert = relTo(base, o.TLSCACert)
			o.Certificate = relTo(base, o.Certificate)
			o.PrivateKey = relTo(base, o.PrivateKey)
			o.TLSClientCert = relTo(base, o.TLSClientCert)
			o.TLSClientKey = relTo(base, o.TLSClientKey)
			o.CA.TLSCACert = relTo(base, o.CA.TLSCACert)
		}
		for _, p := range []*string{&cfg.TLS.CertFile, &cfg.TLS.KeyFile, &cfg.TLS.ClientCAFile, &cfg.Store.KeyFile} {
			*p = relTo(base, *p)
		}
	}
	if err := applyEnv(&cfg, env); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func relTo(base, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

// applyEnv overlays the XBORDER_* variables of EnvVars. The single-organisation variables
// (XBORDER_MSP_ID, XBORDER_PEER_ENDPOINT, ...) set the first organisation, creating it if
// needed. An error names the variable.
func applyEnv(cfg *Config, env []string) error {
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "XBORDER_") {
			vars[k] = v
		}
	}
	for _, ev := range envVars {
		v, ok := vars[ev.name]
		if !ok {
			continue
		}
		if err := ev.set(cfg, v); err != nil {
			return fmt.Errorf("%s: %w", ev.name, err)
		}
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func parseKeyList(v string) ([]APIKey, error) {
	var keys []APIKey
	for _, item := range splitList(v) {
		parts := strings.Split(item, ":")
		if len(parts) != 4 {
			return nil, fmt.Errorf("entry %q: want id:mspId:user:sha256hex", item)
		}
		keys = append(keys, APIKey{ID: parts[0], MSPID: parts[1], User: parts[2], SHA256: strings.ToLower(parts[3])})
	}
	return keys, nil
}

// Validate checks that the configuration is complete and consistent.
func (c *Config) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen: required"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("dataDir: required"))
	}
	if c.Channel == "" || c.Chaincode == "" {
		errs = append(errs, errors.New("channel and chaincode: required"))
	}
	orgs, orgErrs := c.validateOrganizations()
	errs = append(errs, orgErrs...)
	errs = append(errs, c.validateAPIKeys(orgs)...)
	errs = append(errs, c.validateLimits()...)
	errs = append(errs, c.Webhooks.validate()...)
	errs = append(errs, c.validatePerimeter()...)
	errs = append(errs, c.validateTracking(orgs)...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid gateway config: %w", err)
	}
	return nil
}

// validateOrganizations checks the organisations and returns their MSP IDs.
func (c *Config) validateOrganizations() (map[string]bool, []error) {
	var errs []error
	if len(c.Organizations) == 0 {
		errs = append(errs, errors.New("organizations: at least one required"))
	}
	orgs := map[string]bool{}
	for i, o := range c.Organizations {
		if o.MSPID == "" || o.PeerEndpoint == "" || o.Certificate == "" || o.PrivateKey == "" {
			errs = append(errs, fmt.Errorf("organizations[%d]: mspId, peerEndpoint, certificate and privateKey are required", i))
		}
		if orgs[o.MSPID] {
			errs = append(errs, fmt.Errorf("organizations[%d]: duplicate mspId %q", i, o.MSPID))
		}
		if o.CA.URL != "" && o.CA.RegistrarID == "" {
			errs = append(errs, fmt.Errorf("organizations[%d].ca: registrarId is required with a url", i))
		}
		orgs[o.MSPID] = true
	}
	return orgs, errs
}

// validateAPIKeys checks that every key is complete, unique and of one of orgs.
func (c *Config) validateAPIKeys(orgs map[string]bool) []error {
	var errs []error
	ids := map[string]bool{}
	hashes := map[string]bool{}
	for i, k := range c.APIKeys {
		if k.ID == "" || k.MSPID == "" || k.User == "" {
			errs = append(errs, fmt.Errorf("apiKeys[%d]: id, mspId and user are required", i))
		}
		if b, err := hex.DecodeString(k.SHA256); err != nil || len(b) != sha256.Size {
			errs = append(errs, fmt.Errorf("apiKeys[%d]: sha256 must be 64 hex digits", i))
		}
		if !orgs[k.MSPID] {
			errs = append(errs, fmt.Errorf("apiKeys[%d]: mspId %q has no organization in this gateway", i, k.MSPID))
		}
		if ids[k.ID] {
			errs = append(errs, fmt.Errorf("apiKeys[%d]: duplicate id %q", i, k.ID))
		}
		if hashes[strings.ToLower(k.SHA256)] {
			errs = append(errs, fmt.Errorf("apiKeys[%d]: duplicate key hash", i))
		}
		ids[k.ID] = true
		hashes[strings.ToLower(k.SHA256)] = true
	}
	return errs
}

// validateLimits checks the rate limit, retries, body limit, timeouts and log level.
func (c *Config) validateLimits() []error {
	var errs []error
	if c.RateLimit.RequestsPerSecond <= 0 || c.RateLimit.Burst < 1 {
		errs = append(errs, errors.New("rateLimit: requestsPerSecond > 0 and burst >= 1 required"))
	}
	if c.MaxRetries < 0 {
		errs = append(errs, errors.New("maxRetries: must not be negative"))
	}
	if c.ReadYourWrites.WaitTimeout < 0 || c.ReadYourWrites.Retries < 0 {
		errs = append(errs, errors.New("readYourWrites: waitTimeout and retries must not be negative"))
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("maxBodyBytes: must be positive"))
	}
	t := c.Timeouts
	if t.Evaluate <= 0 || t.Endorse <= 0 || t.Submit <= 0 || t.Commit <= 0 {
		errs = append(errs, errors.New("timeouts: evaluate, endorse, submit and commit must be positive"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("logLevel: %q is not debug, info, warn or error", c.LogLevel))
	}
	return errs
}

// validateTracking checks the tracking-link settings against the organisations.
func (c *Config) validateTracking(orgs map[string]bool) []error {
	var errs []error
	if c.Tracking.Org != "" && !orgs[c.Tracking.Org] {
		errs = append(errs, fmt.Errorf("tracking.org: %q has no organization in this gateway", c.Tracking.Org))
	}
	if c.Tracking.RequestsPerSecond <= 0 || c.Tracking.Burst < 1 {
		errs = append(errs, errors.New("tracking: requestsPerSecond > 0 and burst >= 1 required"))
	}
	return errs
}

// HashKey returns the lowercase hex SHA-256 of an API key, as stored in the configuration.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
