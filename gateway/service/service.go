// Package service assembles and runs the REST gateway: the one place where the Fabric client,
// the bbolt store, the HTTP server and the chaincode-event feed are wired together (Start). Run
// is `xborder gateway --config FILE`: it dials the peers named by a configuration and starts the
// gateway on them; the development system (internal/devapp) starts it on the devnet's peers.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xborder/xborder/api"
	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/console"
	"github.com/xborder/xborder/gateway/fabric"
	"github.com/xborder/xborder/gateway/httpapi"
	"github.com/xborder/xborder/gateway/keys"
	"github.com/xborder/xborder/gateway/store"
	"github.com/xborder/xborder/gateway/webhook"
)

// Options are the parts and settings of one gateway.
type Options struct {
	// Channel and Chaincode name what the gateway calls.
	Channel   string
	Chaincode string
	// Orgs are the organisations the gateway signs for, each with the connection to its peer
	// (owned by the caller, who closes it after Close).
	Orgs []fabric.Org
	// Timeouts bound each Fabric phase; MaxRetries bounds the fresh proposals after an
	// MVCC_READ_CONFLICT or PHANTOM_READ_CONFLICT; Consistency tunes read-your-writes (zero:
	// the defaults).
	Timeouts    fabric.Timeouts
	MaxRetries  int
	Consistency fabric.Consistency
	// DataDir holds the gateway's store, gateway.db (created if needed).
	DataDir string
	// IdempotencyRetention is how long first answers to Idempotency-Keys are kept: older ones
	// are purged at start and at every sweep (0: none is purged).
	IdempotencyRetention time.Duration
	// Keyring seals the signed proposals of writes with private data that the store keeps to
	// finish them after a crash; without one they are not kept (see store.WithKeyring).
	Keyring *store.Keyring
	// SweepInterval is how often expired idempotency records are purged and the proposals of
	// committed or abandoned transactions dropped (30 s when zero).
	SweepInterval time.Duration
	// AbandonAfter is how long a proposal whose transaction the ledger does not know is kept
	// (1 h when zero).
	AbandonAfter time.Duration
	// CompactInterval is how often gateway.db is compacted while the gateway runs, besides at
	// start (24 h when zero; negative: only at start).
	CompactInterval time.Duration
	// Keys are the accepted API keys.
	Keys []httpapi.APIKey
	// RateLimit and Burst are the per-key token bucket.
	RateLimit float64
	Burst     int
	// AllowedOrigins are the CORS origins; MaxBodyBytes bounds request bodies.
	AllowedOrigins []string
	MaxBodyBytes   int64
	// KeysHint tells visitors of the landing page where API keys come from
	// (httpapi.DefaultKeysHint when empty).
	KeysHint string
	// Listen is the HTTP listen address ("127.0.0.1:0" picks a free port).
	Listen string
	// TLS, when not nil, serves the REST API over TLS only (optionally mutual TLS); the
	// certificate is reloaded when its files change and on ReloadTLS.
	TLS *httpapi.TLSOptions
	// Limits are the limits that apply to every client (address buckets, failed
	// authentications, trusted proxies, event streams) and the access to /metrics; the zero
	// value sets none of them.
	Limits Limits
	// MetricsListen, when not empty, serves GET /metrics in plain HTTP on an address of its own
	// (e.g. 127.0.0.1:9464) instead of on the API listener.
	MetricsListen string
	// FeedOrg is the organisation whose peer the chaincode events are read from.
	FeedOrg string
	// Tracking configures the endpoints buyers call with a tracking token.
	Tracking httpapi.TrackingOptions
	// ReadyTimeout, when positive, makes Start wait up to that long for every organisation's
	// peer to answer (Ledger.Ready) before it serves.
	ReadyTimeout time.Duration
	// Webhooks configures the delivery of event subscriptions (gateway/webhook); with no
	// AllowedTargets no subscription can be created. WebhookHistory is how many attempts each
	// subscription's delivery log keeps (store.DefaultDeliveryHistory when 0).
	Webhooks       webhook.Config
	WebhookHistory int
	// CAs are the Fabric CAs of the organisations whose managed API keys may have Fabric
	// identities of their own (see gateway/keys), by MSP ID.
	CAs map[string]keys.CA
	// Logger receives the structured logs (discarded when nil).
	Logger *slog.Logger
}

// withDefaults fills the unset options.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = defaultSweepInterval
	}
	if o.AbandonAfter <= 0 {
		o.AbandonAfter = defaultAbandonAfter
	}
	if o.CompactInterval == 0 {
		o.CompactInterval = defaultCompactInterval
	}
	if o.FeedOrg == "" && len(o.Orgs) > 0 {
		o.FeedOrg = o.Orgs[0].MSPID
	}
	return o
}

// Gateway is a running REST gateway.
type Gateway struct {
	// Ledger is the Fabric client, Store the bbolt store, Server the HTTP server, Webhooks the
	// delivery of event subscriptions.
	Ledger   *fabric.Client
	Store    *store.Store
	Server   *httpapi.Server
	Webhooks *webhook.Dispatcher
	// Keys manages the API keys kept in the store (and their Fabric identities).
	Keys *keys.Manager
	// Addr is the address the HTTP server listens on; MetricsAddr the metrics listener's
	// (empty without one).
	Addr        string
	MetricsAddr string
	// TLS reloads the listener's certificate (nil without TLS).
	TLS *httpapi.CertReloader

	log       *slog.Logger
	house     *housekeeper
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	serveErr  chan error
	closeOnce sync.Once
	closeErr  error
}

// Start assembles the gateway (Fabric client → store, with expired idempotency records purged →
// webhook dispatcher → HTTP server), waits for the ledger if asked to, and starts the
// housekeeping of the store, the chaincode-event feed, the webhook deliveries, the observation
// of the peers' heights (read-your-writes) and the HTTP server in the background. Close stops
// them.
func Start(ctx context.Context, o Options) (g *Gateway, err error) {
	o = o.withDefaults()
	if len(o.Orgs) == 0 {
		return nil, errors.New("gateway: at least one organisation is required")
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g = &Gateway{log: o.Logger, cancel: cancel, serveErr: make(chan error, 1)}
	defer func() {
		if err != nil {
			_ = g.Close()
		}
	}()
	reg := prometheus.NewRegistry()
	if err := g.open(o, reg); err != nil {
		return nil, err
	}
	if o.ReadyTimeout > 0 {
		if err := waitReady(ctx, g.Ledger, o.ReadyTimeout); err != nil {
			return nil, err
		}
	}
	l, err := g.listen(runCtx, o, reg)
	if err != nil {
		return nil, err
	}
	g.wg.Add(5)
	go func() {
		defer g.wg.Done()
		g.house.run(runCtx, o.SweepInterval, o.CompactInterval)
	}()
	go func() {
		defer g.wg.Done()
		g.Ledger.FollowPeers(runCtx)
	}()
	go func() {
		defer g.wg.Done()
		if err := g.Ledger.FeedEvents(runCtx, o.FeedOrg, g.Store); err != nil {
			g.log.Error("event feed stopped", "error", err)
		}
	}()
	go func() {
		defer g.wg.Done()
		if err := g.Webhooks.Run(runCtx); err != nil {
			g.log.Error("webhook delivery stopped", "error", err)
		}
	}()
	go func() {
		defer g.wg.Done()
		g.serveErr <- g.Server.Serve(runCtx, l)
	}()
	return g, nil
}

// open creates the Fabric client, the store and the HTTP server.
func (g *Gateway) open(o Options, reg *prometheus.Registry) error {
	if err := os.MkdirAll(o.DataDir, 0o750); err != nil {
		return fmt.Errorf("gateway: create data directory: %w", err)
	}
	var err error
	g.Store, err = store.Open(filepath.Join(o.DataDir, "gateway.db"), store.WithKeyring(o.Keyring))
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.Ledger, err = fabric.New(fabric.Options{
		Channel:     o.Channel,
		Chaincode:   o.Chaincode,
		Orgs:        o.Orgs,
		Timeouts:    o.Timeouts,
		MaxRetries:  o.MaxRetries,
		Consistency: o.Consistency,
		Logger:      o.Logger.With("component", "fabric"),
		Metrics:     fabric.NewMetrics(reg),
		Wallet:      g.Store,
	})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.Keys = newKeyManager(g, o)
	g.startHousekeeping(o, reg)
	if err := g.openWebhooks(o, reg); err != nil {
		return err
	}
	g.Server, err = httpapi.New(httpapi.Options{
		Spec:             api.OpenAPI,
		Ledger:           g.Ledger,
		Idempotency:      g.Store,
		Events:           g.Store,
		Keys:             o.Keys,
		RateLimit:        o.RateLimit,
		Burst:            o.Burst,
		AllowedOrigins:   o.AllowedOrigins,
		MaxBodyBytes:     o.MaxBodyBytes,
		Tracking:         o.Tracking,
		Logger:           o.Logger.With("component", "http"),
		Registry:         reg,
		AddressRateLimit: o.Limits.AddressRateLimit,
		AddressBurst:     o.Limits.AddressBurst,
		AuthFailureRate:  o.Limits.AuthFailureRate,
		AuthFailureBurst: o.Limits.AuthFailureBurst,
		TrustedProxies:   o.Limits.TrustedProxies,
		MaxStreamsPerKey: o.Limits.MaxStreamsPerKey,
		Metrics:          o.Limits.Metrics,
		Console:          console.FS(),
		KeysHint:         o.KeysHint,
		Subscriptions:    g.Webhooks,
		KeyService:       g.Keys,
	})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

// newKeyManager is the manager of the API keys in the store, with the organisations' CAs.
func newKeyManager(g *Gateway, o Options) *keys.Manager {
	opts := []keys.Option{keys.WithIdentityCache(g.Ledger), keys.WithLogger(o.Logger.With("component", "keys"))}
	for msp, ca := range o.CAs {
		opts = append(opts, keys.WithCA(msp, ca))
	}
	if len(o.CAs) > 0 && o.Keyring == nil {
		g.log.Warn("the private keys of API keys' Fabric identities are stored unsealed in gateway.db: configure store keys")
	}
	return keys.New(g.Store, g.Ledger.Organizations(), opts...)
}

// openWebhooks creates the webhook dispatcher on the store's subscriptions. An organisation
// receives the events of the channel (chaincode events carry no private data) while the gateway
// holds its identity.
func (g *Gateway) openWebhooks(o Options, reg *prometheus.Registry) error {
	subOpts := []store.SubscriptionsOption{store.WithDeliveryHistory(o.WebhookHistory)}
	if o.Keyring != nil {
		subOpts = append(subOpts, store.WithSecretSealer(o.Keyring))
	}
	subs, err := g.Store.SubscriptionStore(subOpts...)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	held := map[string]bool{}
	for _, org := range o.Orgs {
		held[org.MSPID] = true
	}
	g.Webhooks, err = webhook.New(subs, g.Store, o.Webhooks,
		webhook.WithLogger(o.Logger.With("component", "webhook")),
		webhook.WithRegisterer(reg),
		webhook.WithVisibility(func(org string, _ gateway.Event) bool { return held[org] }))
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if len(o.Webhooks.AllowedTargets) > 0 && o.Keyring == nil {
		// Without store keys (store.keyFile, XBORDER_STORE_KEYS) secrets are kept as they are
		// in gateway.db (mode 0600), like the file's other contents.
		g.log.Warn("webhook signing secrets are stored unsealed in gateway.db: configure store keys",
			"allowedTargets", len(o.Webhooks.AllowedTargets))
	}
	return nil
}

// startHousekeeping purges expired records and compacts the store once before the gateway
// serves; the housekeeper goes on in the background (Start).
func (g *Gateway) startHousekeeping(o Options, reg *prometheus.Registry) {
	g.house = &housekeeper{store: g.Store, ledger: g.Ledger, caller: gateway.Caller{KeyID: "housekeeping", MSPID: o.FeedOrg},
		retention: o.IdempotencyRetention, abandonAfter: o.AbandonAfter, log: g.log.With("component", "store"), m: newStoreMetrics(reg)}
	if o.Keyring == nil {
		g.log.Warn("no store encryption key: the signed proposals of writes with private data are not kept, " +
			"so such a write interrupted by a crash is resubmitted without being endorsed again")
	} else {
		g.log.Info("store encryption", "currentKeyId", o.Keyring.Current(), "keyIds", o.Keyring.IDs())
	}
	if err := g.house.purge(); err != nil {
		g.log.Error("cannot purge expired idempotency records", "error", err)
	}
	g.house.compact()
	g.house.observeFile()
}

// waitReady polls the ledger until it answers, timeout passes or ctx ends.
func waitReady(ctx context.Context, l gateway.Ledger, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := l.Ready(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway: ledger not ready after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gateway: waiting for the ledger: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// URL is the gateway's base URL, http://<Addr> or, with TLS, https://<Addr>.
func (g *Gateway) URL() string {
	if g.TLS != nil {
		return "https://" + g.Addr
	}
	return "http://" + g.Addr
}

// Done receives the HTTP server's result when it stops on its own.
func (g *Gateway) Done() <-chan error { return g.serveErr }

// Close shuts the HTTP server down gracefully (event streams end at once), stops the event
// feed, and closes the Fabric client and the store. It returns the HTTP server's error too,
// unless Done delivered it.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		var errs []error
		g.cancel()
		// Wait for the HTTP server and the event feed before closing what they use.
		done := make(chan struct{})
		go func() { g.wg.Wait(); close(done) }()
		select {
		case <-done:
			select {
			case err := <-g.serveErr:
				errs = append(errs, err)
			default:
			}
		case <-time.After(15 * time.Second):
			errs = append(errs, errors.New("gateway: timed out waiting for the HTTP server and the event feed to stop"))
		}
		if g.Ledger != nil {
			errs = append(errs, g.Ledger.Close())
		}
		if g.Store != nil {
			errs = append(errs, g.Store.Close())
		}
		g.closeErr = errors.Join(errs...)
	})
	return g.closeErr
}
