package devnet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/xborder/xborder/network/devnet/ccruntime"
	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/msp"
)

// peersDir is the directory, inside the data directory, that holds one directory per peer
// (named after the peer's host name) with its ledger.
const peersDir = "peers"

// peerNode is one organisation's peer. It keeps its own ledger (world state, history,
// transaction index, blocks, and the private data and private write sets of the collections
// its organisation is a member of), its own transient store and its own chaincode
// connections, and commits the blocks of the ordering service on its own
// (committer.go). Its gRPC listener serves the Gateway and Deliver services from its ledger.
type peerNode struct {
	net     *Network
	org     *msp.Org
	dir     string
	index   int
	address string
	lis     net.Listener
	server  *grpc.Server

	ledger    *ledger.Ledger
	transient *transientStore
	runtime   *ccruntime.Runtime
	commits   *commitControl
}

// transientMax bounds a peer's transient store (entries).
const transientMax = 100000

// openPeer opens the stores of org's peer (creating them on first run) and its listener; it
// neither commits nor serves yet (startCommitter, serve).
func (n *Network) openPeer(org *msp.Org, index int) (*peerNode, error) {
	p := &peerNode{
		net:     n,
		org:     org,
		index:   index,
		dir:     filepath.Join(n.cfg.DataDir, peersDir, org.Node.Name),
		runtime: ccruntime.NewRuntime(ccruntime.WithLogger(n.logger.With("peer", org.Node.Name)), ccruntime.WithTimeout(n.opts.endorsementTimeout)),
		commits: newCommitControl(n.cfg.CommitDelay[org.MSPID]),
	}
	var err error
	if p.ledger, err = ledger.Open(filepath.Join(p.dir, "ledger")); err != nil {
		_ = p.runtime.Close()
		return nil, fmt.Errorf("devnet: open ledger of %s: %w", org.Node.Name, err)
	}
	if p.transient, err = openTransientStore(filepath.Join(p.dir, "transient.db"), n.opts.pvtRetention, transientMax); err != nil {
		_ = p.runtime.Close()
		_ = p.ledger.Close()
		return nil, fmt.Errorf("devnet: %s: %w", org.Node.Name, err)
	}
	if err := p.listen(); err != nil {
		_ = p.runtime.Close()
		_ = p.ledger.Close()
		_ = p.transient.close()
		return nil, err
	}
	return p, nil
}

// listen opens the peer's listener and creates its gRPC server with the Gateway and Deliver
// services.
func (p *peerNode) listen() error {
	n := p.net
	port := 0
	if n.cfg.BasePort > 0 {
		port = n.cfg.BasePort + p.index
	}
	addr := net.JoinHostPort(n.cfg.ListenHost, strconv.Itoa(port))
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("devnet: listen for peer of %s on %s: %w", p.org.MSPID, addr, err)
	}
	sopts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(100 << 20),
		grpc.MaxSendMsgSize(100 << 20),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Minute, PermitWithoutStream: true}),
	}
	if !n.cfg.Plaintext {
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{p.org.Node.TLS},
			MinVersion:   tls.VersionTLS12,
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    n.mgr.TLSRootPool(),
		})))
	}
	p.lis, p.address, p.server = lis, lis.Addr().String(), grpc.NewServer(sopts...)
	gateway.RegisterGatewayServer(p.server, &gatewayServer{p: p})
	peer.RegisterDeliverServer(p.server, &deliverServer{p: p})
	return nil
}

// serve starts serving the peer's listener.
func (p *peerNode) serve() {
	go func() {
		if err := p.server.Serve(p.lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			p.net.logger.Error("peer stopped serving", "msp", p.org.MSPID, "error", err)
		}
	}()
}

// attach connects the peer's chaincode runtime to a chaincode server, replacing an earlier
// connection to that chaincode.
func (p *peerNode) attach(ctx context.Context, name, address string, tlsCfg *tls.Config) error {
	if slices.Contains(p.runtime.Chaincodes(), name) {
		if err := p.runtime.Detach(name); err != nil {
			return fmt.Errorf("peer %s: detach: %w", p.org.Node.Name, err)
		}
	}
	if err := p.runtime.Attach(ctx, name, address, tlsCfg); err != nil {
		return fmt.Errorf("peer %s: %w", p.org.Node.Name, err)
	}
	return nil
}

// stop stops the peer's server, letting in-flight calls finish for up to grace.
func (p *peerNode) stop(grace time.Duration) {
	if p.server == nil {
		return
	}
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

// finishCommits lets the peer commit the blocks ordered so far (unless it is paused) and stops
// its committer. It returns the failure that stopped the committer, if any.
func (p *peerNode) finishCommits() error {
	if err := p.stopCommitter(); err != nil {
		return fmt.Errorf("devnet: peer %s stopped committing: %w", p.org.Node.Name, err)
	}
	return nil
}

// close closes the peer's chaincode connections and ledger; finishCommits must have returned.
func (p *peerNode) close() []error {
	var errs []error
	if err := p.runtime.Close(); err != nil {
		errs = append(errs, fmt.Errorf("devnet: close chaincode runtime of %s: %w", p.org.Node.Name, err))
	}
	if err := p.ledger.Close(); err != nil {
		errs = append(errs, fmt.Errorf("devnet: close ledger of %s: %w", p.org.Node.Name, err))
	}
	if err := p.transient.close(); err != nil {
		errs = append(errs, fmt.Errorf("devnet: close transient store of %s: %w", p.org.Node.Name, err))
	}
	return errs
}

// waitForHeight blocks until the peer's ledger holds h blocks, ctx is done, the network
// closes or the peer's committer stopped.
func (p *peerNode) waitForHeight(ctx context.Context, h uint64) error {
	ctx, cancel := p.net.withShutdown(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.commits.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := p.ledger.WaitForHeight(ctx, h); err != nil {
		if cerr := p.commits.failure(); cerr != nil {
			err = cerr
		}
		return fmt.Errorf("devnet: peer %s at height %d: %w", p.org.Node.Name, p.ledger.Height(), err)
	}
	return nil
}

// mspID returns the peer's organisation's MSP ID.
func (p *peerNode) mspID() string { return p.org.MSPID }
