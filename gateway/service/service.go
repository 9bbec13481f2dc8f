// Package service runs the REST gateway against a Fabric network from a configuration: the
// wiring behind `xborder gateway --config FILE`, as a library so that it can be tested.
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
	"google.golang.org/grpc"

	"github.com/xborder/xborder/api"
	"github.com/xborder/xborder/gateway/config"
	"github.com/xborder/xborder/gateway/console"
	"github.com/xborder/xborder/gateway/fabric"
	"github.com/xborder/xborder/gateway/httpapi"
	"github.com/xborder/xborder/gateway/store"
)

// Run serves the REST gateway described by cfg until ctx ends: it dials every organisation's
// peer, loads its identity, opens the store in cfg.DataDir, feeds chaincode events into it and
// answers HTTP on cfg.Listen. started, when not nil, is called with the listen address once the
// gateway accepts connections.
func Run(ctx context.Context, cfg config.Config, logger *slog.Logger, started func(addr string)) (err error) {
	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			err = errors.Join(err, closers[i]())
		}
	}()
	var orgs []fabric.Org
	for _, o := range cfg.Organizations {
		conn, err := fabric.Dial(fabric.DialOptions{Endpoint: o.PeerEndpoint, HostOverride: o.PeerHostOverride,
			TLSCACert: o.TLSCACert, TLSClientCert: o.TLSClientCert, TLSClientKey: o.TLSClientKey})
		if err != nil {
			return fmt.Errorf("organisation %s: %w", o.MSPID, err)
		}
		closers = append(closers, conn.Close)
		cert, sign, err := fabric.LoadIdentity(o.Certificate, o.PrivateKey)
		if err != nil {
			return fmt.Errorf("organisation %s: %w", o.MSPID, err)
		}
		orgs = append(orgs, fabric.Org{MSPID: o.MSPID, Certificate: cert, Sign: sign, Conn: grpc.ClientConnInterface(conn)})
	}
	reg := prometheus.NewRegistry()
	ledger, err := fabric.New(fabric.Options{
		Channel:   cfg.Channel,
		Chaincode: cfg.Chaincode,
		Orgs:      orgs,
		Timeouts: fabric.Timeouts{Evaluate: cfg.Timeouts.Evaluate, Endorse: cfg.Timeouts.Endorse,
			Submit: cfg.Timeouts.Submit, Commit: cfg.Timeouts.Commit},
		MaxRetries: cfg.MaxRetries,
		Logger:     logger.With("component", "fabric"),
		Metrics:    fabric.NewMetrics(reg),
	})
	if err != nil {
		return err
	}
	closers = append(closers, ledger.Close)
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, "gateway.db"))
	if err != nil {
		return err
	}
	closers = append(closers, st.Close)
	if n, err := st.PurgeIdempotency(time.Now().Add(-cfg.IdempotencyRetention)); err != nil {
		return err
	} else if n > 0 {
		logger.Info("purged expired idempotency records", "count", n)
	}
	keys := make([]httpapi.APIKey, 0, len(cfg.APIKeys))
	for _, k := range cfg.APIKeys {
		keys = append(keys, httpapi.APIKey{ID: k.ID, MSPID: k.MSPID, User: k.User, SHA256: k.SHA256})
	}
	srv, err := httpapi.New(httpapi.Options{
		Spec:           api.OpenAPI,
		Ledger:         ledger,
		Idempotency:    st,
		Events:         st,
		Keys:           keys,
		RateLimit:      cfg.RateLimit.RequestsPerSecond,
		Burst:          cfg.RateLimit.Burst,
		AllowedOrigins: cfg.CORS.AllowedOrigins,
		MaxBodyBytes:   cfg.MaxBodyBytes,
		Logger:         logger.With("component", "http"),
		Registry:       reg,
		Console:        console.FS(),
	})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := ledger.FeedEvents(runCtx, orgs[0].MSPID, st); err != nil {
			logger.Error("event feed stopped", "error", err)
		}
	}()
	if started != nil {
		started(l.Addr().String())
	}
	logger.Info("gateway started", "listen", l.Addr().String(), "channel", cfg.Channel, "chaincode", cfg.Chaincode,
		"organizations", ledger.Organizations())
	serveErr := srv.Serve(runCtx, l)
	cancel()
	wg.Wait()
	if serveErr != nil {
		return serveErr
	}
	logger.Info("gateway stopped")
	return nil
}
