// Package devapp wires the whole xborder system into one process for development and tests:
// the embedded devnet, the xborder chaincode served in-process as chaincode-as-a-service, and
// the REST gateway holding all four organisations' identities. `xborder dev` and the gateway's
// end-to-end tests both start it with Start.
package devapp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/xborder/xborder/api"
	"github.com/xborder/xborder/chaincode"
	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/config"
	"github.com/xborder/xborder/gateway/console"
	"github.com/xborder/xborder/gateway/fabric"
	"github.com/xborder/xborder/gateway/httpapi"
	"github.com/xborder/xborder/gateway/store"
	"github.com/xborder/xborder/network/devnet"
)

// ChaincodeName is the name of the xborder chaincode on the devnet.
const ChaincodeName = "xborder"

// EndorsementPolicy is the chaincode endorsement policy of the devnet: any two organisations.
// It lets the gateway restrict endorsement of private-data transactions to the collection's
// members (orderPrivate: Merchant, Carrier, Customs; paymentPrivate: Bank, Customs), so that
// transient private data never reaches a non-member peer.
const EndorsementPolicy = "OutOf(2, 'MerchantMSP.peer', 'BankMSP.peer', 'CarrierMSP.peer', 'CustomsMSP.peer')"

// CredentialsFile is the name of the API key file in the data directory.
const CredentialsFile = "dev-credentials.json"

// Config configures Start.
type Config struct {
	// DataDir holds everything: devnet/ (crypto, ledger), gateway.db, dev-credentials.json.
	DataDir string
	// HTTPAddr is the REST listen address ("127.0.0.1:0" picks a free port).
	HTTPAddr string
	// PeerBasePort is the first peer's port (0: free ports).
	PeerBasePort int
	// RateLimit and Burst are the per-key request rate (defaults 500/s, burst 1000).
	RateLimit float64
	Burst     int
	// CommitTimeout bounds the wait for a commit (default 30 s).
	CommitTimeout time.Duration
	// AllowedOrigins are the CORS origins.
	AllowedOrigins []string
	// Logger receives the structured logs (discarded when nil).
	Logger *slog.Logger
}

// App is a running dev system.
type App struct {
	// URL is the REST base URL, e.g. http://127.0.0.1:8080.
	URL string
	// Credentials maps each MSP ID to its API key.
	Credentials map[string]string
	// Network is the devnet.
	Network *devnet.Network
	// Server is the REST gateway.
	Server *httpapi.Server
	// Ledger is the gateway's Fabric client.
	Ledger *fabric.Client
	// Store is the gateway's bbolt store.
	Store *store.Store

	log       *slog.Logger
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	conns     []*grpc.ClientConn
	ccServer  *grpc.Server
	serveErr  chan error
	closeOnce sync.Once
	closeErr  error
}

// Start starts the devnet, the chaincode, the gateway and its event feed, and returns once the
// gateway is ready (qscc GetChainInfo answers on every peer). Close stops everything.
func Start(ctx context.Context, cfg Config) (app *App, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("devapp: DataDir is required")
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:8080"
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = 500
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 1000
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("devapp: create data directory: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a := &App{log: cfg.Logger, cancel: cancel, serveErr: make(chan error, 1)}
	defer func() {
		if err != nil {
			_ = a.Close()
		}
	}()

	// The chaincode, served in-process as chaincode-as-a-service on a loopback port.
	cc, err := chaincode.NewChaincode()
	if err != nil {
		return nil, fmt.Errorf("devapp: %w", err)
	}
	ccListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("devapp: chaincode listener: %w", err)
	}
	a.ccServer = grpc.NewServer()
	peer.RegisterChaincodeServer(a.ccServer, &shim.ChaincodeServer{CCID: ChaincodeName + ":dev", CC: cc})
	go func() { _ = a.ccServer.Serve(ccListener) }() // returns at Stop, in Close

	a.Network, err = devnet.Start(ctx, devnet.Config{
		DataDir:  filepath.Join(cfg.DataDir, "devnet"),
		BasePort: cfg.PeerBasePort,
		// A lone write is committed at once instead of waiting out the batch timeout;
		// concurrent writes still share blocks.
		CutWhenIdle: true,
		Chaincodes: []devnet.ChaincodeDefinition{{
			Name:              ChaincodeName,
			EndorsementPolicy: EndorsementPolicy,
			Collections:       string(chaincode.CollectionsConfigJSON),
			Address:           ccListener.Addr().String(),
		}},
	}, devnet.WithLogger(cfg.Logger.With("component", "devnet")))
	if err != nil {
		return nil, fmt.Errorf("devapp: start devnet: %w", err)
	}

	var orgs []fabric.Org
	for _, p := range a.Network.Peers() {
		conn, err := a.Network.ClientConnection(p.MSPID)
		if err != nil {
			return nil, fmt.Errorf("devapp: %w", err)
		}
		a.conns = append(a.conns, conn)
		cert, sign, err := fabric.LoadIdentity(p.ClientCertPath, p.ClientKeyPath)
		if err != nil {
			return nil, fmt.Errorf("devapp: identity of %s: %w", p.MSPID, err)
		}
		orgs = append(orgs, fabric.Org{MSPID: p.MSPID, Certificate: cert, Sign: sign, Conn: conn})
	}
	reg := prometheus.NewRegistry()
	a.Ledger, err = fabric.New(fabric.Options{
		Channel:    a.Network.Channel(),
		Chaincode:  ChaincodeName,
		Orgs:       orgs,
		Timeouts:   fabric.Timeouts{Evaluate: 10 * time.Second, Endorse: 30 * time.Second, Submit: 10 * time.Second, Commit: cfg.CommitTimeout},
		MaxRetries: 3,
		Logger:     cfg.Logger.With("component", "fabric"),
		Metrics:    fabric.NewMetrics(reg),
	})
	if err != nil {
		return nil, fmt.Errorf("devapp: %w", err)
	}

	a.Store, err = store.Open(filepath.Join(cfg.DataDir, "gateway.db"))
	if err != nil {
		return nil, fmt.Errorf("devapp: %w", err)
	}
	if _, err := a.Store.PurgeIdempotency(time.Now().Add(-7 * 24 * time.Hour)); err != nil {
		return nil, fmt.Errorf("devapp: %w", err)
	}

	a.Credentials, err = LoadOrCreateCredentials(filepath.Join(cfg.DataDir, CredentialsFile), a.Ledger.Organizations())
	if err != nil {
		return nil, err
	}
	keys := make([]httpapi.APIKey, 0, len(a.Credentials))
	for _, org := range a.Ledger.Organizations() {
		keys = append(keys, httpapi.APIKey{ID: "dev-" + org, MSPID: org, User: "dev", SHA256: config.HashKey(a.Credentials[org])})
	}
	a.Server, err = httpapi.New(httpapi.Options{
		Spec:           api.OpenAPI,
		Ledger:         a.Ledger,
		Idempotency:    a.Store,
		Events:         a.Store,
		Keys:           keys,
		RateLimit:      cfg.RateLimit,
		Burst:          cfg.Burst,
		AllowedOrigins: cfg.AllowedOrigins,
		MaxBodyBytes:   1 << 20,
		Logger:         cfg.Logger.With("component", "http"),
		Registry:       reg,
		Console:        console.FS(),
		KeysHint: fmt.Sprintf("xborder dev prints one key per organisation at start and keeps them in %s.",
			filepath.Join(cfg.DataDir, CredentialsFile)),
	})
	if err != nil {
		return nil, fmt.Errorf("devapp: %w", err)
	}

	if err := waitReady(ctx, a.Ledger); err != nil {
		return nil, err
	}
	feedOrg := a.Ledger.Organizations()[0]
	if slices.Contains(a.Ledger.Organizations(), "CustomsMSP") {
		feedOrg = "CustomsMSP"
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := a.Ledger.FeedEvents(runCtx, feedOrg, a.Store); err != nil {
			a.log.Error("event feed stopped", "error", err)
		}
	}()

	l, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("devapp: listen on %s: %w", cfg.HTTPAddr, err)
	}
	a.URL = "http://" + l.Addr().String()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.serveErr <- a.Server.Serve(runCtx, l)
	}()
	return a, nil
}

// waitReady polls the ledger until it answers or ctx ends.
func waitReady(ctx context.Context, l gateway.Ledger) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := l.Ready(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("devapp: ledger not ready after 60 s: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devapp: waiting for the ledger: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Done is closed with the HTTP server's result when it stops on its own.
func (a *App) Done() <-chan error { return a.serveErr }

// Close shuts the gateway down gracefully, then the devnet and the chaincode.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		var errs []error
		a.cancel()
		// Wait for the HTTP server and the event feed before closing what they use.
		done := make(chan struct{})
		go func() { a.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			errs = append(errs, errors.New("devapp: timed out waiting for the gateway to stop"))
		}
		if a.Ledger != nil {
			errs = append(errs, a.Ledger.Close())
		}
		for _, c := range a.conns {
			errs = append(errs, c.Close())
		}
		if a.Network != nil {
			errs = append(errs, a.Network.Close())
		}
		if a.ccServer != nil {
			a.ccServer.Stop()
		}
		if a.Store != nil {
			errs = append(errs, a.Store.Close())
		}
		a.closeErr = errors.Join(errs...)
	})
	return a.closeErr
}

// LoadOrCreateCredentials reads path ({"MerchantMSP": "<key>", ...}) and adds a random key for
// every organisation missing from it, rewriting the file (mode 0600) when it changed. Keys are
// stable across restarts.
func LoadOrCreateCredentials(path string, orgs []string) (map[string]string, error) {
	creds := map[string]string{}
	b, err := os.ReadFile(path) // #nosec G304 -- the data directory is the operator's
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &creds); err != nil {
			return nil, fmt.Errorf("devapp: parse %s: %w", path, err)
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, fmt.Errorf("devapp: read %s: %w", path, err)
	}
	changed := false
	for _, org := range orgs {
		if creds[org] != "" {
			continue
		}
		var k [24]byte
		if _, err := rand.Read(k[:]); err != nil {
			return nil, fmt.Errorf("devapp: generate API key: %w", err)
		}
		creds[org] = "xb_" + hex.EncodeToString(k[:])
		changed = true
	}
	if changed {
		out, err := json.MarshalIndent(creds, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("devapp: encode credentials: %w", err)
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, append(out, '\n'), 0o600); err != nil {
			return nil, fmt.Errorf("devapp: write %s: %w", tmp, err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, fmt.Errorf("devapp: write %s: %w", path, err)
		}
	}
	return creds, nil
}
