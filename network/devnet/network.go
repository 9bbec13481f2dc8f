package devnet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/xborder/xborder/network/devnet/ccruntime"
	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/msp"
	"github.com/xborder/xborder/network/devnet/orderer"
	"github.com/xborder/xborder/network/devnet/validator"
)

// PeerInfo describes one organisation's peer: where it listens and the files a client needs
// to connect to it and to sign as that organisation's user.
type PeerInfo struct {
	// MSPID is the organisation's MSP ID.
	MSPID string
	// Name is the peer's host name, e.g. "peer0.merchant.xborder.example" (the TLS server name).
	Name string
	// Address is the host:port of the peer's gRPC listener (Gateway and Deliver services).
	Address string
	// TLS reports whether the listener uses TLS.
	TLS bool
	// TLSCACertPath is the PEM file of the organisation's TLS root CA.
	TLSCACertPath string
	// ClientCertPath and ClientKeyPath are the signing certificate and private key of the
	// organisation's client user (User1@<domain>).
	ClientCertPath, ClientKeyPath string
	// AdminCertPath and AdminKeyPath are the organisation admin's certificate and key.
	AdminCertPath, AdminKeyPath string
	// MSPDir is the organisation's verifying MSP directory.
	MSPDir string
}

// Network is a running devnet: one peer per organisation serving Fabric's Gateway and Deliver
// gRPC services, an ordering service, a ledger and a chaincode runtime, all in this process.
type Network struct {
	cfg    Config
	opts   options
	logger *slog.Logger

	crypto    *msp.CryptoConfig
	mgr       *msp.Manager
	ordOrg    *msp.Org
	ledger    *ledger.Ledger
	runtime   *ccruntime.Runtime
	cutter    *orderer.Cutter
	validator *validator.Validator

	chaincodes map[string]*chaincode
	peerOrgs   []string // peer organisations' MSP IDs in configuration order

	peers     []*peerNode
	transient *transientStore
	pvtBlocks *pvtBlockStore
	planner   *endorsementPlanner

	commitMu  sync.Mutex // serialises block assembly and commit
	failMu    sync.Mutex
	commitErr error // set when a commit failed; the network stops ordering

	// shutdown is cancelled when Close begins: streams and waits end with Unavailable.
	shutdown     context.Context
	stopShutdown context.CancelFunc

	closeOnce sync.Once
	closeErr  error
}

type peerNode struct {
	net     *Network
	org     *msp.Org
	address string
	lis     net.Listener
	server  *grpc.Server
}

// Start creates (first run) or reopens (later runs) the devnet in cfg.DataDir and starts one
// peer per peer organisation. Chaincodes with an Address are attached before Start returns:
// Start waits for their servers to be ready until ctx is done. Once attached, a chaincode
// whose server restarts is reconnected in the background.
func Start(ctx context.Context, cfg Config, opts ...Option) (*Network, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	o := options{endorsementTimeout: DefaultEndorsementTimeout, pvtRetention: 10 * time.Minute}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n := &Network{cfg: cfg, opts: o, logger: o.logger, transient: newTransientStore(o.pvtRetention, 100000)}
	if err := n.loadOrganisations(); err != nil {
		return nil, err
	}
	if n.chaincodes, err = n.loadChaincodes(cfg.Chaincodes); err != nil {
		return nil, err
	}
	if err := n.openStores(); err != nil {
		return nil, err
	}
	n.planner = newEndorsementPlanner(n.peerOrgs, n.chaincodes, n.validator)
	n.shutdown, n.stopShutdown = context.WithCancel(context.Background())
	if err := n.startServices(ctx); err != nil {
		_ = n.Close()
		return nil, err
	}
	n.logger.Info("devnet started", "dataDir", cfg.DataDir, "channel", cfg.Channel, "height", n.ledger.Height())
	return n, nil
}

// loadOrganisations creates (first run) or loads the organisations' crypto material and the
// MSP manager that verifies their identities.
func (n *Network) loadOrganisations() error {
	if err := os.MkdirAll(n.cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("devnet: create data dir: %w", err)
	}
	var err error
	if n.crypto, err = msp.Generate(n.cfg.DataDir, n.cfg.Orgs); err != nil {
		return fmt.Errorf("devnet: crypto material: %w", err)
	}
	if n.mgr, err = n.crypto.Manager(); err != nil {
		return fmt.Errorf("devnet: msp manager: %w", err)
	}
	for _, org := range n.crypto.Orgs {
		if org.Orderer {
			n.ordOrg = org
		} else {
			n.peerOrgs = append(n.peerOrgs, org.MSPID)
		}
	}
	return nil
}

// openStores creates the validator and opens the ledger and the private data store,
// committing the genesis block on first run. On failure it closes what it opened.
func (n *Network) openStores() error {
	vcfg := validator.Config{ChannelID: n.cfg.Channel, MSP: n.mgr, ApplicationOrgs: n.peerOrgs}
	for _, def := range n.cfg.Chaincodes {
		cc := n.chaincodes[def.Name]
		vcfg.Chaincodes = append(vcfg.Chaincodes, validator.Chaincode{Name: def.Name, EndorsementPolicy: cc.policy, Collections: cc.collections})
	}
	var err error
	if n.validator, err = validator.New(vcfg); err != nil {
		return fmt.Errorf("devnet: validator: %w", err)
	}
	if n.ledger, err = ledger.Open(filepath.Join(n.cfg.DataDir, "ledger")); err != nil {
		return fmt.Errorf("devnet: open ledger: %w", err)
	}
	if n.pvtBlocks, err = openPvtBlockStore(n.cfg.DataDir); err != nil {
		_ = n.ledger.Close()
		return fmt.Errorf("devnet: %w", err)
	}
	if n.ledger.Height() == 0 {
		if err := n.commitGenesis(); err != nil {
			_ = n.pvtBlocks.close()
			_ = n.ledger.Close()
			return err
		}
	}
	return nil
}

// startServices starts the chaincode runtime (attaching the chaincodes with an address), the
// ordering service and one peer per peer organisation. The caller closes the network on
// failure.
func (n *Network) startServices(ctx context.Context) error {
	n.runtime = ccruntime.NewRuntime(ccruntime.WithLogger(n.logger), ccruntime.WithTimeout(n.opts.endorsementTimeout))
	n.cutter = orderer.New(orderer.Config{
		BatchTimeout:      n.cfg.BatchTimeout,
		MaxMessageCount:   n.cfg.MaxBatch,
		PreferredMaxBytes: preferredMaxBytes,
		AbsoluteMaxBytes:  absoluteMaxBytes,
		CutWhenIdle:       n.cfg.CutWhenIdle,
	}, n.commitBatch)
	for _, cc := range n.cfg.Chaincodes {
		if cc.Address == "" {
			continue
		}
		if err := n.runtime.Attach(ctx, cc.Name, cc.Address, cc.TLS); err != nil {
			return fmt.Errorf("devnet: attach chaincode %s at %s: %w", cc.Name, cc.Address, err)
		}
	}
	for i, org := range n.crypto.PeerOrgs() {
		p, err := n.startPeer(org, i)
		if err != nil {
			return err
		}
		n.peers = append(n.peers, p)
	}
	return nil
}

func (n *Network) startPeer(org *msp.Org, index int) (*peerNode, error) {
	port := 0
	if n.cfg.BasePort > 0 {
		port = n.cfg.BasePort + index
	}
	addr := net.JoinHostPort(n.cfg.ListenHost, strconv.Itoa(port))
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("devnet: listen for peer of %s on %s: %w", org.MSPID, addr, err)
	}
	sopts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(100 << 20),
		grpc.MaxSendMsgSize(100 << 20),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Minute, PermitWithoutStream: true}),
	}
	if !n.cfg.Plaintext {
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{org.Node.TLS},
			MinVersion:   tls.VersionTLS12,
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    n.mgr.TLSRootPool(),
		})))
	}
	p := &peerNode{net: n, org: org, address: lis.Addr().String(), lis: lis, server: grpc.NewServer(sopts...)}
	gateway.RegisterGatewayServer(p.server, &gatewayServer{p: p})
	peer.RegisterDeliverServer(p.server, &deliverServer{p: p})
	go func() {
		if err := p.server.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			n.logger.Error("peer stopped serving", "msp", org.MSPID, "error", err)
		}
	}()
	return p, nil
}

// Close stops the peers (letting in-flight calls finish for a grace period; event streams end
// with Unavailable), the orderer (committing what it holds), the chaincode runtime and the
// ledger. It also reports a commit failure that stopped the ordering service. It is safe to
// call more than once.
func (n *Network) Close() error {
	n.closeOnce.Do(func() {
		if n.stopShutdown != nil {
			n.stopShutdown()
		}
		n.stopPeers()
		if n.cutter != nil {
			n.cutter.Close()
		}
		errs := n.closeStores()
		if err := n.commitFailure(); err != nil {
			errs = append(errs, fmt.Errorf("devnet: ordering stopped after a failed commit: %w", err))
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// stopPeers stops every peer's server at once, each with the grace period.
func (n *Network) stopPeers() {
	var wg sync.WaitGroup
	for _, p := range n.peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop(gracePeriod)
		}()
	}
	wg.Wait()
}

// closeStores closes the chaincode runtime, the private data store and the ledger.
func (n *Network) closeStores() []error {
	var errs []error
	if n.runtime != nil {
		if err := n.runtime.Close(); err != nil {
			errs = append(errs, fmt.Errorf("devnet: close chaincode runtime: %w", err))
		}
	}
	if n.pvtBlocks != nil {
		if err := n.pvtBlocks.close(); err != nil {
			errs = append(errs, fmt.Errorf("devnet: close private data store: %w", err))
		}
	}
	if n.ledger != nil {
		if err := n.ledger.Close(); err != nil {
			errs = append(errs, fmt.Errorf("devnet: close ledger: %w", err))
		}
	}
	return errs
}

// gracePeriod is how long Close lets in-flight calls finish before it cuts connections.
const gracePeriod = 5 * time.Second

// stop stops the peer's server, letting in-flight calls finish for up to grace.
func (p *peerNode) stop(grace time.Duration) {
	done := make(chan struct{})
	go func() {
		p.server.GracefulStop()
		close(done)
	}()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		p.server.Stop()
		<-done
	}
}

// withShutdown returns a context that is cancelled with ctx or when the network closes.
func (n *Network) withShutdown(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(n.shutdown, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// Channel returns the name of the devnet's channel.
func (n *Network) Channel() string { return n.cfg.Channel }

// DataDir returns the devnet's data directory.
func (n *Network) DataDir() string { return n.cfg.DataDir }

// Peers describes the peers, one per peer organisation, in configuration order.
func (n *Network) Peers() []PeerInfo {
	out := make([]PeerInfo, 0, len(n.peers))
	for _, p := range n.peers {
		out = append(out, p.info(!n.cfg.Plaintext))
	}
	return out
}

func (p *peerNode) info(tlsOn bool) PeerInfo {
	return PeerInfo{
		MSPID:          p.org.MSPID,
		Name:           p.org.Node.Name,
		Address:        p.address,
		TLS:            tlsOn,
		TLSCACertPath:  filepath.Join(p.org.Node.TLSDir, "ca.crt"),
		ClientCertPath: p.org.User.CertPath(),
		ClientKeyPath:  p.org.User.KeyPath(),
		AdminCertPath:  p.org.Admin.CertPath(),
		AdminKeyPath:   p.org.Admin.KeyPath(),
		MSPDir:         p.org.MSPDir(),
	}
}

// Peer returns the description of mspID's peer.
func (n *Network) Peer(mspID string) (PeerInfo, error) {
	p, err := n.peer(mspID)
	if err != nil {
		return PeerInfo{}, err
	}
	return p.info(!n.cfg.Plaintext), nil
}

func (n *Network) peer(mspID string) (*peerNode, error) {
	for _, p := range n.peers {
		if p.org.MSPID == mspID {
			return p, nil
		}
	}
	return nil, fmt.Errorf("devnet: no peer organisation %q: %w", mspID, msp.ErrUnknownMSP)
}

// ClientIdentity returns the paths of the PEM certificate and private key of mspID's client
// user (User1@<domain>), for client.Connect with identity.NewX509Identity and
// identity.NewPrivateKeySign.
func (n *Network) ClientIdentity(mspID string) (certPath, keyPath string, err error) {
	p, err := n.peer(mspID)
	if err != nil {
		return "", "", err
	}
	return p.org.User.CertPath(), p.org.User.KeyPath(), nil
}

// ClientSigner returns the signing identity of mspID's client user.
func (n *Network) ClientSigner(mspID string) (*msp.Identity, error) {
	p, err := n.peer(mspID)
	if err != nil {
		return nil, err
	}
	return p.org.User.Signer, nil
}

// ClientConnection dials mspID's peer with TLS (trusting the organisation's TLS CA and
// presenting the client user's TLS certificate) or in plaintext, as the network is configured.
// The caller closes the connection.
func (n *Network) ClientConnection(mspID string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	p, err := n.peer(mspID)
	if err != nil {
		return nil, err
	}
	creds := insecure.NewCredentials()
	if !n.cfg.Plaintext {
		pool := x509.NewCertPool()
		pool.AddCert(p.org.TLSCACert)
		creds = credentials.NewTLS(&tls.Config{
			RootCAs:      pool,
			ServerName:   p.org.Node.Name,
			Certificates: []tls.Certificate{p.org.User.TLS},
			MinVersion:   tls.VersionTLS12,
		})
	}
	dopts := append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, opts...)
	conn, err := grpc.NewClient(p.address, dopts...)
	if err != nil {
		return nil, fmt.Errorf("devnet: dial peer of %s at %s: %w", mspID, p.address, err)
	}
	return conn, nil
}

// Ledger returns the network's ledger (shared by every peer), for tests and tools.
func (n *Network) Ledger() *ledger.Ledger { return n.ledger }

// MSPManager returns the manager that verifies the identities of the channel's organisations.
func (n *Network) MSPManager() *msp.Manager { return n.mgr }

// AttachChaincode connects the runtime to the chaincode server of a chaincode defined in the
// configuration, replacing any earlier address, and waits until it is ready or ctx is done.
func (n *Network) AttachChaincode(ctx context.Context, name, address string, tlsCfg *tls.Config) error {
	if _, ok := n.chaincodes[name]; !ok {
		return fmt.Errorf("devnet: attach chaincode %s: chaincode is not defined on channel %s", name, n.cfg.Channel)
	}
	if slices.Contains(n.runtime.Chaincodes(), name) {
		if err := n.runtime.Detach(name); err != nil {
			return fmt.Errorf("devnet: detach chaincode %s: %w", name, err)
		}
	}
	if err := n.runtime.Attach(ctx, name, address, tlsCfg); err != nil {
		return fmt.Errorf("devnet: attach chaincode %s at %s: %w", name, address, err)
	}
	return nil
}

func (n *Network) setCommitErr(err error) {
	n.failMu.Lock()
	defer n.failMu.Unlock()
	if n.commitErr == nil {
		n.commitErr = err
	}
}

func (n *Network) commitFailure() error {
	n.failMu.Lock()
	defer n.failMu.Unlock()
	return n.commitErr
}
