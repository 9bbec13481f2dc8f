package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/xborder/xborder/gateway/config"
	"github.com/xborder/xborder/gateway/fabric"
	"github.com/xborder/xborder/gateway/fabricca"
	"github.com/xborder/xborder/gateway/httpapi"
	"github.com/xborder/xborder/gateway/keys"
	"github.com/xborder/xborder/gateway/store"
)

// Run serves the REST gateway described by cfg until ctx ends: it dials every organisation's
// peer, loads its identity and starts the gateway on them (Start), with the store in
// cfg.DataDir and the event feed from the first organisation's peer. started, when not nil, is
// called with the base URL once the gateway accepts connections. SIGHUP reloads the TLS
// certificate.
func Run(ctx context.Context, cfg config.Config, logger *slog.Logger, started func(url string)) (err error) {
	keys, err := keyringOf(cfg.Store)
	if err != nil {
		return err
	}
	orgs, conns, err := dial(cfg.Organizations)
	defer func() {
		for i := len(conns) - 1; i >= 0; i-- {
			err = errors.Join(err, conns[i].Close())
		}
	}()
	if err != nil {
		return err
	}
	opts := optionsOf(cfg, orgs, logger)
	opts.Keyring = keys
	if opts.CAs, err = casOf(cfg.Organizations); err != nil {
		return err
	}
	g, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if started != nil {
		started(g.URL())
	}
	logger.Info("gateway started", "url", g.URL(), "metricsListen", g.MetricsAddr, "channel", cfg.Channel, "chaincode", cfg.Chaincode,
		"organizations", g.Ledger.Organizations())
	var serveErr error
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case serveErr = <-g.Done():
			break wait
		case <-hup:
			if err := g.ReloadTLS(); err != nil {
				logger.Error("SIGHUP: cannot reload the TLS files; the certificate in force stays", "error", err)
			}
		}
	}
	if err := errors.Join(serveErr, g.Close()); err != nil {
		return err
	}
	logger.Info("gateway stopped")
	return nil
}

// dial connects to every organisation's peer and loads its identity. The connections made are
// returned even on error, for the caller to close.
func dial(cfgOrgs []config.Organization) ([]fabric.Org, []*grpc.ClientConn, error) {
	var orgs []fabric.Org
	var conns []*grpc.ClientConn
	for _, o := range cfgOrgs {
		conn, err := fabric.Dial(fabric.DialOptions{Endpoint: o.PeerEndpoint, HostOverride: o.PeerHostOverride,
			TLSCACert: o.TLSCACert, TLSClientCert: o.TLSClientCert, TLSClientKey: o.TLSClientKey})
		if err != nil {
			return nil, conns, fmt.Errorf("organisation %s: %w", o.MSPID, err)
		}
		conns = append(conns, conn)
		cert, sign, err := fabric.LoadIdentity(o.Certificate, o.PrivateKey)
		if err != nil {
			return nil, conns, fmt.Errorf("organisation %s: %w", o.MSPID, err)
		}
		orgs = append(orgs, fabric.Org{MSPID: o.MSPID, Certificate: cert, Sign: sign, Conn: conn})
	}
	return orgs, conns, nil
}

// optionsOf maps the configuration onto the gateway's options.
func optionsOf(cfg config.Config, orgs []fabric.Org, logger *slog.Logger) Options {
	keys := make([]httpapi.APIKey, 0, len(cfg.APIKeys))
	for _, k := range cfg.APIKeys {
		keys = append(keys, httpapi.APIKey{ID: k.ID, MSPID: k.MSPID, User: k.User, SHA256: k.SHA256, Admin: k.Admin, Merchants: k.Merchants})
	}
	o := Options{
		Channel:   cfg.Channel,
		Chaincode: cfg.Chaincode,
		Orgs:      orgs,
		Timeouts: fabric.Timeouts{Evaluate: cfg.Timeouts.Evaluate, Endorse: cfg.Timeouts.Endorse,
			Submit: cfg.Timeouts.Submit, Commit: cfg.Timeouts.Commit},
		MaxRetries:           cfg.MaxRetries,
		Consistency:          consistencyOf(cfg.ReadYourWrites),
		DataDir:              cfg.DataDir,
		IdempotencyRetention: cfg.IdempotencyRetention,
		Keys:                 keys,
		RateLimit:            cfg.RateLimit.RequestsPerSecond,
		Burst:                cfg.RateLimit.Burst,
		AllowedOrigins:       cfg.CORS.AllowedOrigins,
		MaxBodyBytes:         cfg.MaxBodyBytes,
		Listen:               cfg.Listen,
		Webhooks:             cfg.Webhooks.Delivery(),
		WebhookHistory:       cfg.Webhooks.DeliveryHistory,
		Logger:               logger,
		Tracking: httpapi.TrackingOptions{Org: cfg.Tracking.Org, RateLimit: cfg.Tracking.RequestsPerSecond,
			Burst: cfg.Tracking.Burst},
		SweepInterval:   cfg.Store.SweepInterval,
		AbandonAfter:    cfg.Store.AbandonAfter,
		CompactInterval: cfg.Store.CompactInterval,
		MetricsListen:   cfg.Metrics.Listen,
		Limits: Limits{
			AddressRateLimit: cfg.RateLimit.PerAddress.RequestsPerSecond,
			AddressBurst:     cfg.RateLimit.PerAddress.Burst,
			AuthFailureRate:  cfg.RateLimit.AuthFailures.PerMinute / 60,
			AuthFailureBurst: cfg.RateLimit.AuthFailures.Burst,
			TrustedProxies:   cfg.RateLimit.TrustedProxies,
			MaxStreamsPerKey: cfg.Events.MaxStreamsPerKey,
			Metrics: httpapi.MetricsAccess{Elsewhere: cfg.Metrics.Listen != "",
				RequireKey: cfg.Metrics.RequireKey, KeyIDs: cfg.Metrics.KeyIDs},
		},
	}
	if o.CompactInterval == 0 {
		o.CompactInterval = -1 // configured 0: only at start
	}
	if t := cfg.TLS; t.Enabled() {
		o.TLS = &httpapi.TLSOptions{CertFile: t.CertFile, KeyFile: t.KeyFile, ClientCAFile: t.ClientCAFile,
			ClientAuth: t.ClientAuth, MinVersion: t.MinVersion}
	}
	if len(orgs) > 0 {
		o.FeedOrg = orgs[0].MSPID
	}
	return o
}

// keyringOf loads the store's keys: from the key file, or inline (XBORDER_STORE_KEYS); nil
// without either.
func keyringOf(s config.Store) (*store.Keyring, error) {
	switch {
	case s.KeyFile != "":
		k, err := store.LoadKeyringFile(s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		return k, nil
	case s.Keys != "":
		k, err := store.ParseKeyring([]byte(s.Keys))
		if err != nil {
			return nil, fmt.Errorf("gateway: XBORDER_STORE_KEYS: %w", err)
		}
		return k, nil
	}
	return nil, nil
}

// consistencyOf maps the read-your-writes settings, where 0 turns a mechanism off, onto the
// Fabric client's, where 0 means the default.
func consistencyOf(r config.ReadYourWrites) fabric.Consistency {
	c := fabric.Consistency{WaitTimeout: r.WaitTimeout, StaleRetries: r.Retries}
	if c.WaitTimeout == 0 {
		c.WaitTimeout = -1
	}
	if c.StaleRetries == 0 {
		c.StaleRetries = -1
	}
	return c
}

// casOf makes a Fabric CA client for every organisation with a CA URL. A registrar secret
// may come from XBORDER_CA_SECRET_<MSP ID>.
func casOf(orgs []config.Organization) (map[string]keys.CA, error) {
	out := map[string]keys.CA{}
	for _, o := range orgs {
		if o.CA.URL == "" {
			continue
		}
		secret := o.CA.RegistrarSecret
		if v := os.Getenv("XBORDER_CA_SECRET_" + o.MSPID); v != "" {
			secret = v
		}
		opts := []fabricca.Option{fabricca.WithCAName(o.CA.CAName)}
		if o.CA.TLSCACert != "" {
			pemBytes, err := os.ReadFile(o.CA.TLSCACert) // #nosec G304 -- configured CA TLS root
			if err != nil {
				return nil, fmt.Errorf("organisation %s: CA TLS root: %w", o.MSPID, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pemBytes) {
				return nil, fmt.Errorf("organisation %s: no certificate in %s", o.MSPID, o.CA.TLSCACert)
			}
			opts = append(opts, fabricca.WithHTTPClient(&http.Client{Timeout: 30 * time.Second,
				Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}))
		}
		out[o.MSPID] = fabricca.New(o.CA.URL, o.CA.RegistrarID, secret, opts...)
	}
	return out, nil
}
