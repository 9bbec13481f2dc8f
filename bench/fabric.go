package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/xborder/xborder/gateway/config"
	"github.com/xborder/xborder/gateway/fabric"
	"github.com/xborder/xborder/gateway/service"
)

// The files `network/fabric/network.sh deploy` writes into the network's home directory.
const (
	// GatewayConfigFile is the REST gateway's configuration: every organisation's peer
	// endpoint, TLS CA and client identity, the channel, the chaincode and the API key hashes.
	GatewayConfigFile = "gateway.yaml"
	// FabricCredentialsFile holds one API key per organisation.
	FabricCredentialsFile = "credentials.json"
)

// DialGatewayConfig connects the SDK driver to a real Fabric network as a REST gateway
// configuration describes it (gateway.yaml, as network.sh deploy writes it): as every
// organisation it lists, with its client identity, to its peer, over TLS when the file names a
// TLS CA.
func DialGatewayConfig(path string) (*SDKDriver, error) {
	cfg, err := config.Load(path, nil)
	if err != nil {
		return nil, fmt.Errorf("sdk driver: %w", err)
	}
	var peers []SDKPeer
	closeAll := func() {
		for _, p := range peers {
			_ = p.Conn.Close()
		}
	}
	for _, o := range cfg.Organizations {
		conn, err := fabric.Dial(fabric.DialOptions{Endpoint: o.PeerEndpoint, HostOverride: o.PeerHostOverride,
			TLSCACert: o.TLSCACert, TLSClientCert: o.TLSClientCert, TLSClientKey: o.TLSClientKey})
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("sdk driver: organisation %s: %w", o.MSPID, err)
		}
		peers = append(peers, SDKPeer{MSPID: o.MSPID, Conn: conn, CertPath: o.Certificate, KeyPath: o.PrivateKey})
	}
	d, err := NewSDKDriver(cfg.Channel, cfg.Chaincode, peers)
	if err != nil {
		closeAll()
		return nil, err
	}
	return d, nil
}

// FabricRateLimit is the per-key REST rate limit of the gateway StartFabric runs: high enough
// that the limiter never shapes a round.
const FabricRateLimit = 1e6

// Fabric is a REST gateway running in this process on a real Fabric network, with a REST and an
// SDK driver on the same peers: the real-network counterpart of Embedded.
type Fabric struct {
	// URL is the gateway's base URL.
	URL string
	// REST and SDK are the two targets.
	REST *RESTDriver
	SDK  *SDKDriver
	// Dir is the gateway's temporary data directory, removed by Close.
	Dir string

	cancel context.CancelFunc
	done   chan error
}

// StartFabric starts the REST gateway of the network in home (a network.sh home directory,
// holding gateway.yaml and credentials.json) in this process, on a free loopback port with a
// fresh data directory and the rate limit raised, and connects the REST driver to it (with
// restOpts) and the SDK driver to the same peers with the same identities. Close stops them.
func StartFabric(ctx context.Context, home string, maxConns int, logger *slog.Logger, restOpts ...RESTOption) (*Fabric, error) {
	cfgPath := filepath.Join(home, GatewayConfigFile)
	cfg, err := config.Load(cfgPath, nil)
	if err != nil {
		return nil, fmt.Errorf("fabric: %w", err)
	}
	keys, err := LoadCredentials(filepath.Join(home, FabricCredentialsFile))
	if err != nil {
		return nil, fmt.Errorf("fabric: %w", err)
	}
	f := &Fabric{done: make(chan error, 1)}
	if f.Dir, err = os.MkdirTemp("", "xborder-bench-gateway-"); err != nil {
		return nil, fmt.Errorf("fabric: temporary directory: %w", err)
	}
	cfg.Listen, cfg.DataDir = "127.0.0.1:0", f.Dir
	cfg.RateLimit = config.RateLimit{RequestsPerSecond: FabricRateLimit, Burst: int(FabricRateLimit)}
	if err := f.serve(ctx, cfg, logger); err != nil {
		_ = os.RemoveAll(f.Dir)
		return nil, err
	}
	if f.REST, err = NewRESTDriver(f.URL, keys, maxConns, restOpts...); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("fabric: %w", err)
	}
	if f.SDK, err = DialGatewayConfig(cfgPath); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("fabric: %w", err)
	}
	return f, nil
}

// serve runs the gateway of cfg in the background until Close, returning once it listens.
func (f *Fabric) serve(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f.cancel = cancel
	addr := make(chan string, 1)
	go func() { f.done <- service.Run(runCtx, cfg, logger, func(a string) { addr <- a }) }()
	select {
	case a := <-addr:
		f.URL = "http://" + a
		return nil
	case err := <-f.done:
		cancel()
		return fmt.Errorf("fabric: start the REST gateway: %w", err)
	case <-time.After(2 * time.Minute):
		cancel()
		return errors.New("fabric: the REST gateway did not start within 2 minutes")
	}
}

// Close closes the drivers, stops the gateway and removes its data directory.
func (f *Fabric) Close() error {
	var errs []error
	if f.REST != nil {
		errs = append(errs, f.REST.Close())
	}
	if f.SDK != nil {
		errs = append(errs, f.SDK.Close())
	}
	if f.cancel != nil {
		f.cancel()
		errs = append(errs, <-f.done)
	}
	errs = append(errs, os.RemoveAll(f.Dir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("fabric: close: %w", err)
	}
	return nil
}
