package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/grpc"

	"github.com/xborder/xborder/gateway/config"
	"github.com/xborder/xborder/gateway/fabric"
	"github.com/xborder/xborder/gateway/httpapi"
)

// Run serves the REST gateway described by cfg until ctx ends: it dials every organisation's
// peer, loads its identity and starts the gateway on them (Start), with the store in
// cfg.DataDir and the event feed from the first organisation's peer. started, when not nil, is
// called with the listen address once the gateway accepts connections.
func Run(ctx context.Context, cfg config.Config, logger *slog.Logger, started func(addr string)) (err error) {
	orgs, conns, err := dial(cfg.Organizations)
	defer func() {
		for i := len(conns) - 1; i >= 0; i-- {
			err = errors.Join(err, conns[i].Close())
		}
	}()
	if err != nil {
		return err
	}
	g, err := Start(ctx, optionsOf(cfg, orgs, logger))
	if err != nil {
		return err
	}
	if started != nil {
		started(g.Addr)
	}
	logger.Info("gateway started", "listen", g.Addr, "channel", cfg.Channel, "chaincode", cfg.Chaincode,
		"organizations", g.Ledger.Organizations())
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-g.Done():
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
		keys = append(keys, httpapi.APIKey{ID: k.ID, MSPID: k.MSPID, User: k.User, SHA256: k.SHA256})
	}
	o := Options{
		Channel:   cfg.Channel,
		Chaincode: cfg.Chaincode,
		Orgs:      orgs,
		Timeouts: fabric.Timeouts{Evaluate: cfg.Timeouts.Evaluate, Endorse: cfg.Timeouts.Endorse,
			Submit: cfg.Timeouts.Submit, Commit: cfg.Timeouts.Commit},
		MaxRetries:           cfg.MaxRetries,
		DataDir:              cfg.DataDir,
		IdempotencyRetention: cfg.IdempotencyRetention,
		Keys:                 keys,
		RateLimit:            cfg.RateLimit.RequestsPerSecond,
		Burst:                cfg.RateLimit.Burst,
		AllowedOrigins:       cfg.CORS.AllowedOrigins,
		MaxBodyBytes:         cfg.MaxBodyBytes,
		Listen:               cfg.Listen,
		Logger:               logger,
		Tracking: httpapi.TrackingOptions{Org: cfg.Tracking.Org, RateLimit: cfg.Tracking.RequestsPerSecond,
			Burst: cfg.Tracking.Burst},
	}
	if len(orgs) > 0 {
		o.FeedOrg = orgs[0].MSPID
	}
	return o
}
