package config

import (
	"strconv"
	"time"
)

// EnvVar is one XBORDER_* environment variable that Load reads.
type EnvVar struct {
	// Name is the variable's name, e.g. "XBORDER_LISTEN".
	Name string
	// Usage says what it sets, naming the configuration file's field it overrides.
	Usage string
}

// EnvVars returns every XBORDER_* environment variable Load reads, in the order of the
// documentation: the one list Load applies, so help texts generated from it cannot drift.
func EnvVars() []EnvVar {
	out := make([]EnvVar, len(envVars))
	for i, ev := range envVars {
		out[i] = EnvVar{Name: ev.name, Usage: ev.usage}
	}
	return out
}

// envVar is one variable: its name, its help text and how it sets the configuration.
type envVar struct {
	name  string
	usage string
	set   func(cfg *Config, v string) error
}

// envVars is the single list of the XBORDER_* variables, applied in this order.
var envVars = []envVar{
	str("XBORDER_LISTEN", "REST listen address (listen)", func(c *Config) *string { return &c.Listen }),
	str("XBORDER_DATA_DIR", "directory of the gateway's store (dataDir)", func(c *Config) *string { return &c.DataDir }),
	str("XBORDER_CHANNEL", "Fabric channel (channel)", func(c *Config) *string { return &c.Channel }),
	str("XBORDER_CHAINCODE", "chaincode name (chaincode)", func(c *Config) *string { return &c.Chaincode }),
	str("XBORDER_LOG_LEVEL", "debug, info, warn or error (logLevel)", func(c *Config) *string { return &c.LogLevel }),
	str("XBORDER_TLS_CERT_FILE", "PEM server certificate of the REST listener (tls.certFile)", func(c *Config) *string { return &c.TLS.CertFile }),
	str("XBORDER_TLS_KEY_FILE", "PEM private key of the REST listener (tls.keyFile)", func(c *Config) *string { return &c.TLS.KeyFile }),
	str("XBORDER_TLS_CLIENT_CA_FILE", "PEM bundle of accepted client certificate CAs (tls.clientCAFile)", func(c *Config) *string { return &c.TLS.ClientCAFile }),
	str("XBORDER_TLS_CLIENT_AUTH", "none, optional or require: the client certificate policy (tls.clientAuth)", func(c *Config) *string { return &c.TLS.ClientAuth }),
	str("XBORDER_TLS_MIN_VERSION", "1.2 or 1.3: the lowest TLS version accepted (tls.minVersion)", func(c *Config) *string { return &c.TLS.MinVersion }),
	str("XBORDER_STORE_KEY_FILE", "file of the keys that seal the store's private data (store.keyFile)", func(c *Config) *string { return &c.Store.KeyFile }),
	str("XBORDER_STORE_KEYS", "the store's sealing keys themselves, comma-separated, instead of a file", func(c *Config) *string { return &c.Store.Keys }),
	str("XBORDER_METRICS_LISTEN", "separate listen address of /metrics (metrics.listen)", func(c *Config) *string { return &c.Metrics.Listen }),
	str("XBORDER_TRACKING_ORG", "organisation that serves buyers' tracking links (tracking.org)", func(c *Config) *string { return &c.Tracking.Org }),
	// The single-organisation variables set the first of organizations.
	str("XBORDER_MSP_ID", "MSP ID of the first organisation (organizations[0].mspId)", func(c *Config) *string { return &firstOrg(c).MSPID }),
	str("XBORDER_PEER_ENDPOINT", "its peer's host:port (organizations[0].peerEndpoint)", func(c *Config) *string { return &firstOrg(c).PeerEndpoint }),
	str("XBORDER_PEER_HOST_OVERRIDE", "its peer's TLS server name (organizations[0].peerHostOverride)", func(c *Config) *string { return &firstOrg(c).PeerHostOverride }),
	str("XBORDER_TLS_CA_CERT", "PEM CA of its peer's TLS (organizations[0].tlsCACert)", func(c *Config) *string { return &firstOrg(c).TLSCACert }),
	str("XBORDER_CERTIFICATE", "PEM certificate of its client identity (organizations[0].certificate)", func(c *Config) *string { return &firstOrg(c).Certificate }),
	str("XBORDER_PRIVATE_KEY", "PEM private key of its client identity (organizations[0].privateKey)", func(c *Config) *string { return &firstOrg(c).PrivateKey }),
	{"XBORDER_API_KEYS", "API keys, comma-separated id:mspId:user:sha256hex (apiKeys)",
		func(c *Config, v string) (err error) { c.APIKeys, err = parseKeyList(v); return err }},
	list("XBORDER_CORS_ORIGINS", "browser origins allowed to call the API, comma-separated (cors.allowedOrigins)", func(c *Config) *[]string { return &c.CORS.AllowedOrigins }),
	float("XBORDER_RATE_LIMIT_RPS", "requests per second per API key (rateLimit.requestsPerSecond)", func(c *Config) *float64 { return &c.RateLimit.RequestsPerSecond }),
	integer("XBORDER_RATE_LIMIT_BURST", "burst per API key (rateLimit.burst)", func(c *Config) *int { return &c.RateLimit.Burst }),
	float("XBORDER_RATE_LIMIT_PER_ADDRESS_RPS", "requests per second per client address (rateLimit.perAddress.requestsPerSecond)",
		func(c *Config) *float64 { return &c.RateLimit.PerAddress.RequestsPerSecond }),
	integer("XBORDER_RATE_LIMIT_PER_ADDRESS_BURST", "burst per client address (rateLimit.perAddress.burst)", func(c *Config) *int { return &c.RateLimit.PerAddress.Burst }),
	list("XBORDER_TRUSTED_PROXIES", "proxies whose X-Forwarded-For names the client, comma-separated (rateLimit.trustedProxies)",
		func(c *Config) *[]string { return &c.RateLimit.TrustedProxies }),
	integer("XBORDER_MAX_RETRIES", "retries of a transaction after an MVCC conflict (maxRetries)", func(c *Config) *int { return &c.MaxRetries }),
	duration("XBORDER_COMMIT_TIMEOUT", "wait for a commit, e.g. 30s (timeouts.commit)", func(c *Config) *time.Duration { return &c.Timeouts.Commit }),
	list("XBORDER_WEBHOOK_ALLOWED_TARGETS", "hosts or networks webhooks may deliver to, comma-separated (webhooks.allowedTargets)",
		func(c *Config) *[]string { return &c.Webhooks.AllowedTargets }),
	integer("XBORDER_MAX_STREAMS_PER_KEY", "concurrent event streams per API key (events.maxStreamsPerKey)", func(c *Config) *int { return &c.Events.MaxStreamsPerKey }),
	boolean("XBORDER_METRICS_REQUIRE_KEY", "true: /metrics needs an API key (metrics.requireKey)", func(c *Config) *bool { return &c.Metrics.RequireKey }),
	duration("XBORDER_READ_YOUR_WRITES_WAIT", "wait of a read for the caller's own earlier write (readYourWrites.waitTimeout)",
		func(c *Config) *time.Duration { return &c.ReadYourWrites.WaitTimeout }),
	integer("XBORDER_READ_YOUR_WRITES_RETRIES", "retries of such a read on another peer (readYourWrites.retries)", func(c *Config) *int { return &c.ReadYourWrites.Retries }),
}

// firstOrg returns the first organisation, creating it when there is none.
func firstOrg(c *Config) *Organization {
	if len(c.Organizations) == 0 {
		c.Organizations = append(c.Organizations, Organization{})
	}
	return &c.Organizations[0]
}

func str(name, usage string, field func(*Config) *string) envVar {
	return envVar{name, usage, func(c *Config, v string) error { *field(c) = v; return nil }}
}

func list(name, usage string, field func(*Config) *[]string) envVar {
	return envVar{name, usage, func(c *Config, v string) error { *field(c) = splitList(v); return nil }}
}

func integer(name, usage string, field func(*Config) *int) envVar {
	return envVar{name, usage, func(c *Config, v string) (err error) { *field(c), err = strconv.Atoi(v); return err }}
}

func float(name, usage string, field func(*Config) *float64) envVar {
	return envVar{name, usage, func(c *Config, v string) (err error) { *field(c), err = strconv.ParseFloat(v, 64); return err }}
}

func boolean(name, usage string, field func(*Config) *bool) envVar {
	return envVar{name, usage, func(c *Config, v string) (err error) { *field(c), err = strconv.ParseBool(v); return err }}
}

func duration(name, usage string, field func(*Config) *time.Duration) envVar {
	return envVar{name, usage, func(c *Config, v string) (err error) { *field(c), err = time.ParseDuration(v); return err }}
}
