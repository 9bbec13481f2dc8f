package devnet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/xborder/xborder/internal/dirlock"
	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/msp"
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

// Network is a running devnet: an ordering service with its own block store, and one peer per
// organisation with its own ledger, serving Fabric's Gateway and Deliver gRPC services, all in
// this process.
type Network struct {
	cfg    Config
	opts   options
	logger *slog.Logger

	crypto    *msp.CryptoConfig
	mgr       *msp.Manager
	ordOrg    *msp.Org
	validator *validator.Validator

	chaincodes map[string]*chaincode
	peerOrgs   []string // peer organisations' MSP IDs in configuration order

	orderer  *orderingService
	inflight *inflight // with CutWhenIdle: endorsed transactions not yet submitted (else nil)
	peers    []*peerNode
	planner  *endorsementPlanner

	// shutdown is cancelled when Close begins: streams and waits end with Unavailable.
	shutdown     context.Context
	stopShutdown context.CancelFunc
	lock         *dirlock.Lock

	closeOnce sync.Once
	closeErr  error
}

// Start creates (first run) or reopens (later runs) the devnet in cfg.DataDir: the ordering
// service's block store (with the channel's genesis block on first run) and one peer per peer
// organisation, each with its own ledger, which catches up with the ordering service on its
// own. Chaincodes with an Address are attached to every peer before Start returns: Start
// waits for their servers to be ready until ctx is done. Once attached, a chaincode whose
// server restarts is reconnected in the background.
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
	n := &Network{cfg: cfg, opts: o, logger: o.logger}
	if n.lock, err = lockDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	n.shutdown, n.stopShutdown = context.WithCancel(context.Background())
	if err := n.loadOrganisations(); err != nil {
		_ = n.Close()
		return nil, err
	}
	if n.chaincodes, err = n.loadChaincodes(cfg.Chaincodes); err != nil {
		_ = n.Close()
		return nil, err
	}
	if err := n.newValidator(); err != nil {
		_ = n.Close()
		return nil, err
	}
	n.planner = newEndorsementPlanner(n.peerOrgs, n.chaincodes, n.validator)
	if err := n.open(ctx); err != nil {
		_ = n.Close()
		return nil, err
	}
	n.logger.Info("devnet started", "dataDir", cfg.DataDir, "channel", cfg.Channel, "height", n.orderer.height())
	return n, nil
}

// open opens the ordering service and the peers' stores, starts the peers' committers and
// services and attaches the chaincodes. The caller closes the network on failure.
func (n *Network) open(ctx context.Context) error {
	if err := checkLayout(n.cfg.DataDir); err != nil {
		return err
	}
	var err error
	if n.cfg.CutWhenIdle {
		n.inflight = newInflight(n.cfg.BatchTimeout)
	}
	if n.orderer, err = openOrderingService(n); err != nil {
		return err
	}
	for i, org := range n.crypto.PeerOrgs() {
		p, err := n.openPeer(org, i)
		if err != nil {
			return err
		}
		n.peers = append(n.peers, p)
	}
	for _, p := range n.peers {
		p.startCommitter()
	}
	// A peer serves once it has joined the channel, by committing the genesis block; after
	// that it catches up with the ordering service while it serves, as a Fabric peer does.
	for _, p := range n.peers {
		if err := p.waitForHeight(ctx, 1); err != nil {
			return fmt.Errorf("devnet: peer %s did not join the channel: %w", p.org.Node.Name, err)
		}
	}
	for _, cc := range n.cfg.Chaincodes {
		if cc.Address == "" {
			continue
		}
		if err := n.attach(ctx, cc.Name, cc.Address, cc.TLS); err != nil {
			return fmt.Errorf("devnet: attach chaincode %s at %s: %w", cc.Name, cc.Address, err)
		}
	}
	for _, p := range n.peers {
		p.serve()
	}
	return nil
}

// loadOrganisations creates (first run) or loads the organisations' crypto material and the
// MSP manager that verifies their identities.
func (n *Network) loadOrganisations() error {
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

// newValidator creates the validator every peer's committer uses: the channel's configuration
// and chaincode definitions are the same on every peer, and it reads no state of its own.
func (n *Network) newValidator() error {
	vcfg := validator.Config{ChannelID: n.cfg.Channel, MSP: n.mgr, ApplicationOrgs: n.peerOrgs}
	for _, def := range n.cfg.Chaincodes {
		cc := n.chaincodes[def.Name]
		vcfg.Chaincodes = append(vcfg.Chaincodes, validator.Chaincode{Name: def.Name, EndorsementPolicy: cc.policy, Collections: cc.collections})
	}
	var err error
	if n.validator, err = validator.New(vcfg); err != nil {
		return fmt.Errorf("devnet: validator: %w", err)
	}
	return nil
}

// checkLayout refuses a data directory written by a devnet whose peers shared one ledger
// (DataDir/ledger): its blocks are not in an ordering service's block store, from which
// the peers' own ledgers are built.
func checkLayout(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "ledger", ledger.FileName)); err == nil {
		return fmt.Errorf("devnet: data directory %s holds a ledger shared by all peers, written by an earlier devnet version; "+
			"this version keeps one ledger per peer and an ordering service's block store: start with a new data directory "+
			"(or remove %s to start over)", dir, dir)
	}
	return nil
}

// Close stops the peers' services (letting in-flight calls finish for a grace period; event
// streams end with Unavailable), the orderer (ordering what it holds), lets every peer that
// is not paused commit the blocks ordered so far, and closes the chaincode connections and
// the stores. It also reports a failure that stopped the ordering service or a peer's
// committer. It is safe to call more than once.
func (n *Network) Close() error {
	n.closeOnce.Do(func() {
		if n.stopShutdown != nil {
			n.stopShutdown()
		}
		n.stopPeers()
		errs := n.stopOrdering()
		// Every peer finishes its commits before any ledger closes: a peer may pull private
		// data from another's.
		for _, p := range n.peers {
			if err := p.finishCommits(); err != nil {
				errs = append(errs, err)
			}
		}
		for _, p := range n.peers {
			errs = append(errs, p.close()...)
		}
		if n.orderer != nil {
			if err := n.orderer.close(); err != nil {
				errs = append(errs, err)
			}
		}
		if err := n.lock.Release(); err != nil {
			errs = append(errs, fmt.Errorf("devnet: unlock data directory: %w", err))
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// stopOrdering stops the ordering service's block cutter, ordering what it holds, and returns
// the failure that stopped ordering earlier, if any.
func (n *Network) stopOrdering() []error {
	if n.orderer == nil {
		return nil
	}
	n.orderer.stopCutting()
	if err := n.orderer.failure(); err != nil {
		return []error{fmt.Errorf("devnet: ordering stopped after a failure: %w", err)}
	}
	return nil
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

// gracePeriod is how long Close lets in-flight calls finish before it cuts connections.
const gracePeriod = 5 * time.Second

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

// IssueClient issues a new client identity of the peer organisation mspID, signed by that
// organisation's CA, carrying attrs as Fabric CA attributes (msp.Org.IssueClient): what an
// enrolment with Fabric CA gives, for example a MerchantMSP identity bound to one merchant.
func (n *Network) IssueClient(mspID, name string, attrs map[string]string) (*msp.Identity, error) {
	org := n.crypto.Org(mspID)
	if org == nil || org.Orderer {
		return nil, fmt.Errorf("devnet: issue client: no peer organisation %q", mspID)
	}
	id, err := org.IssueClient(name, attrs)
	if err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	return id, nil
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

// Crypto returns the organisations' crypto material (their CA certificates and keys under
// each organisation's directory).
func (n *Network) Crypto() *msp.CryptoConfig { return n.crypto }

// MSPManager returns the manager that verifies the identities of the channel's organisations.
func (n *Network) MSPManager() *msp.Manager { return n.mgr }

// AttachChaincode connects every peer to the chaincode server of a chaincode defined in the
// configuration (each peer has its own connection, as Fabric peers dial a
// chaincode-as-a-service server each), replacing any earlier address, and waits until every
// connection is ready or ctx is done.
func (n *Network) AttachChaincode(ctx context.Context, name, address string, tlsCfg *tls.Config) error {
	if _, ok := n.chaincodes[name]; !ok {
		return fmt.Errorf("devnet: attach chaincode %s: chaincode is not defined on channel %s", name, n.cfg.Channel)
	}
	if err := n.attach(ctx, name, address, tlsCfg); err != nil {
		return fmt.Errorf("devnet: attach chaincode %s at %s: %w", name, address, err)
	}
	return nil
}

// attach connects every peer's chaincode runtime to a chaincode server, in parallel.
func (n *Network) attach(ctx context.Context, name, address string, tlsCfg *tls.Config) error {
	errs := make([]error, len(n.peers))
	var wg sync.WaitGroup
	for i, p := range n.peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.attach(ctx, name, address, tlsCfg)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// PeerLedger returns the ledger of mspID's peer, for tests and tools. Writing to it behind
// the peer's back (Commit) breaks the peer.
func (n *Network) PeerLedger(mspID string) (*ledger.Ledger, error) {
	p, err := n.peer(mspID)
	if err != nil {
		return nil, err
	}
	return p.ledger, nil
}

// OrdererHeight returns the number of blocks the ordering service has ordered (its block
// store's height). Every peer commits them all, each at its own pace.
func (n *Network) OrdererHeight() uint64 { return n.orderer.height() }

// OrdererBlockStore returns the ordering service's block store, for tests and tools.
func (n *Network) OrdererBlockStore() *ledger.BlockStore { return n.orderer.store }

// WaitForHeight blocks until mspID's peer has committed h blocks, or ctx is done, or the
// network closes.
func (n *Network) WaitForHeight(ctx context.Context, mspID string, h uint64) error {
	p, err := n.peer(mspID)
	if err != nil {
		return err
	}
	return p.waitForHeight(ctx, h)
}

// WaitForPeers blocks until every peer has committed every block ordered when it was called,
// or ctx is done. A paused peer (PausePeerCommits) holds it until it is resumed.
func (n *Network) WaitForPeers(ctx context.Context) error {
	h := n.orderer.height()
	for _, p := range n.peers {
		if err := p.waitForHeight(ctx, h); err != nil {
			return err
		}
	}
	return nil
}

// SetCommitDelay makes mspID's peer commit each block no earlier than d after the ordering
// service cut it (0: as soon as it can), from the next block on: the peer lags behind by d,
// as a peer does whose blocks arrive late. See Config.CommitDelay.
func (n *Network) SetCommitDelay(mspID string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("devnet: commit delay of %s: negative duration %s", mspID, d)
	}
	p, err := n.peer(mspID)
	if err != nil {
		return err
	}
	p.commits.setDelay(d)
	return nil
}

// PausePeerCommits holds mspID's peer at its current height: once it returns, the peer
// commits no block (a commit in progress is finished first) until ResumePeerCommits. The
// peer keeps serving from its ledger, so tests can reproduce a lagging peer exactly.
func (n *Network) PausePeerCommits(mspID string) error {
	p, err := n.peer(mspID)
	if err != nil {
		return err
	}
	p.commits.pause()
	return nil
}

// ResumePeerCommits lets mspID's peer commit again; it catches up with the ordering service.
func (n *Network) ResumePeerCommits(mspID string) error {
	p, err := n.peer(mspID)
	if err != nil {
		return err
	}
	p.commits.resume()
	return nil
}
