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
	"net"
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
	"github.com/xborder/xborder/gateway/store"
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
	// MVCC_READ_CONFLICT.
	Timeouts   fabric.Timeouts
	MaxRetries int
	// DataDir holds the gateway's store, gateway.db (created if needed).
	DataDir string
	// IdempotencyRetention is how long first answers to Idempotency-Keys are kept: older ones
	// are purged at start (0: none is purged).
	IdempotencyRetention time.Duration
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
	// FeedOrg is the organisation whose peer the chaincode events are read from.
	FeedOrg string
	// Tracking configures the endpoints buyers call with a tracking token.
	Tracking httpapi.TrackingOptions
	// ReadyTimeout, when positive, makes Start wait up to that long for every organisation's
	// peer to answer (Ledger.Ready) before it serves.
	ReadyTimeout time.Duration
	// Logger receives the structured logs (discarded when nil).
	Logger *slog.Logger
}

// Gateway is a running REST gateway.
type Gateway struct {
	// Ledger is the Fabric client, Store the bbolt store, Server the HTTP server.
	Ledger *fabric.Client
	Store  *store.Store
	Server *httpapi.Server
	// Addr is the address the HTTP server listens on.
	Addr string

	log       *slog.Logger
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	serveErr  chan error
	closeOnce sync.Once
	closeErr  error
}

// Start assembles the gateway (Fabric client → store, with expired idempotency records purged →
// HTTP server), waits for the ledger if asked to, and starts the chaincode-event feed and the
// HTTP server in the background. Close stops them.
func Start(ctx context.Context, o Options) (g *Gateway, err error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
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
	l, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen on %s: %w", o.Listen, err)
	}
	g.Addr = l.Addr().String()
	g.wg.Add(2)
	go func() {
		defer g.wg.Done()
		if err := g.Ledger.FeedEvents(runCtx, o.FeedOrg, g.Store); err != nil {
			g.log.Error("event feed stopped", "error", err)
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
	var err error
	g.Ledger, err = fabric.New(fabric.Options{
		Channel:    o.Channel,
		Chaincode:  o.Chaincode,
		Orgs:       o.Orgs,
		Timeouts:   o.Timeouts,
		MaxRetries: o.MaxRetries,
		Logger:     o.Logger.With("component", "fabric"),
		Metrics:    fabric.NewMetrics(reg),
	})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if err := os.MkdirAll(o.DataDir, 0o750); err != nil {
		return fmt.Errorf("gateway: create data directory: %w", err)
	}
	g.Store, err = store.Open(filepath.Join(o.DataDir, "gateway.db"))
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if err := g.purge(o.IdempotencyRetention); err != nil {
		return err
	}
	g.Server, err = httpapi.New(httpapi.Options{
		Spec:           api.OpenAPI,
		Ledger:         g.Ledger,
		Idempotency:    g.Store,
		Events:         g.Store,
		Keys:           o.Keys,
		RateLimit:      o.RateLimit,
		Burst:          o.Burst,
		AllowedOrigins: o.AllowedOrigins,
		MaxBodyBytes:   o.MaxBodyBytes,
		Tracking:       o.Tracking,
		Logger:         o.Logger.With("component", "http"),
		Registry:       reg,
		Console:        console.FS(),
		KeysHint:       o.KeysHint,
	})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

// purge removes the idempotency records older than retention (none when it is 0).
func (g *Gateway) purge(retention time.Duration) error {
	if retention <= 0 {
		return nil
	}
	n, err := g.Store.PurgeIdempotency(time.Now().Add(-retention))
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if n > 0 {
		g.log.Info("purged expired idempotency records", "count", n)
	}
	return nil
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

// URL is the gateway's base URL, http://<Addr>.
func (g *Gateway) URL() string { return "http://" + g.Addr }

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
