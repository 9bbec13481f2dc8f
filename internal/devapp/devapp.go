// Package devapp wires the whole xborder system into one process for development and tests:
// the embedded devnet, the xborder chaincode served in-process as chaincode-as-a-service, and
// the REST gateway (gateway/service) holding all four organisations' identities. `xborder dev`,
// the benchmark's embedded system and the end-to-end tests start it with Start.
package devapp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"

	"github.com/xborder/xborder/chaincode"
	"github.com/xborder/xborder/gateway/config"
	"github.com/xborder/xborder/gateway/fabric"
	"github.com/xborder/xborder/gateway/httpapi"
	"github.com/xborder/xborder/gateway/keys"
	"github.com/xborder/xborder/gateway/service"
	"github.com/xborder/xborder/gateway/store"
	"github.com/xborder/xborder/gateway/webhook"
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

// StoreKeyFile is the name of the file, in the data directory, of the key that seals the
// private data the gateway's store keeps (made at the first start, mode 0600).
const StoreKeyFile = "store.keys"

// The gateway settings of the dev system.
const (
	defaultRateLimit     = 500
	defaultBurst         = 1000
	defaultCommitTimeout = 30 * time.Second
	// idempotencyRetention is how long first answers to Idempotency-Keys are kept.
	idempotencyRetention = 7 * 24 * time.Hour
	// readyTimeout bounds the wait for every peer to answer before the gateway serves.
	readyTimeout = 60 * time.Second
	// devBackoffBase and devBackoffMax bound the waits between webhook attempts: a receiver
	// under development comes back quickly.
	devBackoffBase = 100 * time.Millisecond
	devBackoffMax  = 30 * time.Second
)

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
	// Webhooks configures event subscriptions; without AllowedTargets they may deliver to
	// loopback addresses only (webhook.LoopbackTargets), and without a backoff they retry
	// sooner than a production gateway (devBackoffBase up to devBackoffMax).
	Webhooks webhook.Config
	// Consistency tunes the gateway's read-your-writes (zero: the defaults).
	Consistency fabric.Consistency
	// Logger receives the structured logs (discarded when nil).
	Logger *slog.Logger
}

// withDefaults fills the unset settings.
func (cfg Config) withDefaults() Config {
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:8080"
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = defaultRateLimit
	}
	if cfg.Burst <= 0 {
		cfg.Burst = defaultBurst
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = defaultCommitTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Webhooks.AllowedTargets == nil {
		cfg.Webhooks.AllowedTargets = webhook.LoopbackTargets
	}
	if cfg.Webhooks.BackoffBase == 0 && cfg.Webhooks.BackoffMax == 0 {
		cfg.Webhooks.BackoffBase, cfg.Webhooks.BackoffMax = devBackoffBase, devBackoffMax
	}
	return cfg
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
	// Keys manages the gateway's API keys; CAURL is the base URL of the devnet's built-in
	// Fabric CAs (each organisation's under /<MSP ID>).
	Keys  *keys.Manager
	CAURL string

	caServer *http.Server

	gateway       *service.Gateway
	dataDir       *dataDir
	conns         []*grpc.ClientConn
	stopChaincode func()
	closeOnce     sync.Once
	closeErr      error
}

// LockFile is the name of the file, in the data directory, whose lock marks the directory in
// use by one dev system; it holds that process's ID.
const LockFile = "xborder.lock"

// Start starts the chaincode, the devnet and the gateway with its event feed, and returns once
// the gateway is ready (qscc GetChainInfo answers on every peer). Close stops everything.
//
// Before it creates anything, Start checks that the HTTP address parses and can be bound and
// that the data directory is a directory, then locks the data directory (LockFile), failing at
// once with a *dirlock.InUseError that names the process holding it. When Start fails, it
// removes the data directory again if this call created it, so a failed run leaves no fresh
// keys behind.
func Start(ctx context.Context, cfg Config) (app *App, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("devapp: DataDir is required")
	}
	cfg = cfg.withDefaults()
	if err := checkListen(cfg.HTTPAddr); err != nil {
		return nil, err
	}
	dir, err := claimDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a := &App{dataDir: dir}
	defer func() {
		if err != nil {
			a.dataDir = nil // abandon removes what this call created, then unlocks
			_ = a.Close()
			dir.abandon()
		}
	}()
	ccAddr, stop, err := ServeChaincode(ChaincodeName + ":dev")
	if err != nil {
		return nil, fmt.Errorf("devapp: %w", err)
	}
	a.stopChaincode = stop
	a.Network, err = devnet.Start(ctx, devnet.Config{
		DataDir:  filepath.Join(cfg.DataDir, "devnet"),
		BasePort: cfg.PeerBasePort,
		// A lone write is committed at once instead of waiting out the batch timeout;
		// concurrent writes share blocks, held up to the timeout while the peers commit.
		CutWhenIdle:  true,
		BatchTimeout: devnet.DefaultIdleBatchTimeout,
		Chaincodes:   []devnet.ChaincodeDefinition{Chaincode(ccAddr)},
	}, devnet.WithLogger(cfg.Logger.With("component", "devnet")))
	if err != nil {
		return nil, fmt.Errorf("devapp: start devnet: %w", err)
	}
	orgs, err := a.connect()
	if err != nil {
		return nil, err
	}
	if err := a.startGateway(ctx, cfg, orgs); err != nil {
		return nil, err
	}
	return a, nil
}

// Chaincode is the devnet's definition of the xborder chaincode served at address.
func Chaincode(address string) devnet.ChaincodeDefinition {
	return devnet.ChaincodeDefinition{
		Name:              ChaincodeName,
		EndorsementPolicy: EndorsementPolicy,
		Collections:       string(chaincode.CollectionsConfigJSON),
		Address:           address,
	}
}

// ServeChaincode serves the xborder chaincode as a chaincode-as-a-service server (no TLS) on a
// free loopback port, registering with the peers as ccid, and returns its address and a
// function that stops it.
func ServeChaincode(ccid string) (string, func(), error) {
	cc, err := chaincode.NewChaincode()
	if err != nil {
		return "", nil, fmt.Errorf("xborder chaincode: %w", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("xborder chaincode listener: %w", err)
	}
	gs := grpc.NewServer()
	peer.RegisterChaincodeServer(gs, &shim.ChaincodeServer{CCID: ccid, Address: lis.Addr().String(), CC: cc,
		TLSProps: shim.TLSProperties{Disabled: true}})
	go func() { _ = gs.Serve(lis) }() // returns at Stop
	return lis.Addr().String(), gs.Stop, nil
}

// connect opens a client connection to every organisation's peer and loads its client
// identity.
func (a *App) connect() ([]fabric.Org, error) {
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
	return orgs, nil
}

// startGateway starts the REST gateway for orgs with one API key per organisation.
func (a *App) startGateway(ctx context.Context, cfg Config, orgs []fabric.Org) error {
	mspIDs := make([]string, 0, len(orgs))
	for _, o := range orgs {
		mspIDs = append(mspIDs, o.MSPID)
	}
	slices.Sort(mspIDs)
	cas, err := a.startCAs(cfg.DataDir)
	if err != nil {
		return err
	}
	a.Credentials, err = config.LoadOrCreateCredentials(filepath.Join(cfg.DataDir, CredentialsFile), mspIDs, rand.Reader)
	if err != nil {
		return fmt.Errorf("devapp: %w", err)
	}
	keys, err := store.LoadOrCreateKeyringFile(filepath.Join(cfg.DataDir, StoreKeyFile), rand.Reader, time.Now())
	if err != nil {
		return fmt.Errorf("devapp: %w", err)
	}
	a.gateway, err = service.Start(ctx, service.Options{
		Channel:              a.Network.Channel(),
		Chaincode:            ChaincodeName,
		Orgs:                 orgs,
		Timeouts:             fabric.Timeouts{Evaluate: 10 * time.Second, Endorse: 30 * time.Second, Submit: 10 * time.Second, Commit: cfg.CommitTimeout},
		MaxRetries:           3,
		Consistency:          cfg.Consistency,
		DataDir:              cfg.DataDir,
		IdempotencyRetention: idempotencyRetention,
		Keyring:              keys,
		Keys:                 APIKeys(a.Credentials, mspIDs),
		RateLimit:            cfg.RateLimit,
		Burst:                cfg.Burst,
		AllowedOrigins:       cfg.AllowedOrigins,
		MaxBodyBytes:         1 << 20,
		KeysHint: fmt.Sprintf("xborder dev prints one key per organisation at start and keeps them in %s.",
			filepath.Join(cfg.DataDir, CredentialsFile)),
		Listen:       cfg.HTTPAddr,
		FeedOrg:      feedOrg(mspIDs),
		ReadyTimeout: readyTimeout,
		Webhooks:     cfg.Webhooks,
		CAs:          cas,
		Logger:       cfg.Logger,
		// The platform serves its buyers' tracking links; a development machine is one client
		// address, so its bucket is generous.
		Tracking: httpapi.TrackingOptions{Org: "MerchantMSP", RateLimit: cfg.RateLimit, Burst: cfg.Burst},
	})
	if err != nil {
		return fmt.Errorf("devapp: %w", err)
	}
	a.URL = a.gateway.URL()
	a.Server, a.Ledger, a.Store, a.Keys = a.gateway.Server, a.gateway.Ledger, a.gateway.Store, a.gateway.Keys
	return nil
}

// APIKeys are the gateway's API keys for the dev credentials of the organisations orgs: key
// "dev-<MSP ID>", user "dev", admin of its organisation (it may manage the organisation's keys).
func APIKeys(creds map[string]string, orgs []string) []httpapi.APIKey {
	keys := make([]httpapi.APIKey, 0, len(orgs))
	for _, org := range orgs {
		keys = append(keys, httpapi.APIKey{ID: "dev-" + org, MSPID: org, User: "dev", SHA256: config.HashKey(creds[org]), Admin: true})
	}
	return keys
}

// feedOrg is the organisation whose peer feeds the dev gateway's event log: CustomsMSP when
// present, else the first of orgs.
func feedOrg(orgs []string) string {
	if slices.Contains(orgs, "CustomsMSP") {
		return "CustomsMSP"
	}
	if len(orgs) == 0 {
		return ""
	}
	return orgs[0]
}

// Done receives the HTTP server's result when it stops on its own.
func (a *App) Done() <-chan error { return a.gateway.Done() }

// Close shuts the gateway down gracefully, then the devnet and the chaincode.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		var errs []error
		if a.gateway != nil {
			errs = append(errs, a.gateway.Close())
		}
		for _, c := range a.conns {
			errs = append(errs, c.Close())
		}
		if a.caServer != nil {
			errs = append(errs, a.caServer.Close())
		}
		if a.Network != nil {
			errs = append(errs, a.Network.Close())
		}
		if a.stopChaincode != nil {
			a.stopChaincode()
		}
		errs = append(errs, a.dataDir.unlock())
		a.closeErr = errors.Join(errs...)
	})
	return a.closeErr
}
