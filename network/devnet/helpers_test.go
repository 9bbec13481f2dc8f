package devnet_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/xborder/xborder/network/devnet"
	"github.com/xborder/xborder/network/devnet/internal/testcc"
	"github.com/xborder/xborder/network/devnet/ledger"
)

const (
	merchant  = "MerchantMSP"
	bank      = "BankMSP"
	carrier   = "CarrierMSP"
	customs   = "CustomsMSP"
	regulator = "RegulatorMSP"
)

// testNet is a devnet with testcc served in-process as a CCaaS server.
type testNet struct {
	t    *testing.T
	net  *devnet.Network
	cc   *testcc.Server
	dir  string
	conn map[string]*grpc.ClientConn
}

type netOption func(*devnet.Config)

func withPolicy(p string) netOption {
	return func(c *devnet.Config) { c.Chaincodes[0].EndorsementPolicy = p }
}

func withBatch(timeout time.Duration, maxBatch int) netOption {
	return func(c *devnet.Config) {
		c.BatchTimeout = timeout
		c.MaxBatch = maxBatch
	}
}

func withPlaintext() netOption {
	return func(c *devnet.Config) { c.Plaintext = true }
}

func testConfig(dir string, opts ...netOption) devnet.Config {
	cfg := devnet.Config{
		DataDir: dir,
		Chaincodes: []devnet.ChaincodeDefinition{{
			Name:        testcc.Name,
			Collections: string(testcc.CollectionsConfig),
		}},
		BatchTimeout: 5 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// startNet starts testcc and a devnet in a temporary directory; both stop at the test's end.
func startNet(t *testing.T, opts ...netOption) *testNet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cc, err := testcc.Start(context.Background(), "127.0.0.1:0")
	require.NoError(t, err)
	cfg := testConfig(t.TempDir(), opts...)
	cfg.Chaincodes[0].Address = cc.Addr()
	n, err := devnet.Start(ctx, cfg)
	require.NoError(t, err)
	tn := &testNet{t: t, net: n, cc: cc, dir: cfg.DataDir, conn: map[string]*grpc.ClientConn{}}
	t.Cleanup(func() {
		for _, c := range tn.conn {
			_ = c.Close()
		}
		require.NoError(t, n.Close())
		cc.Stop()
	})
	return tn
}

// gateway connects the real Fabric Gateway SDK to mspID's peer as its client user.
func (tn *testNet) gateway(mspID string, opts ...client.ConnectOption) *client.Gateway {
	t := tn.t
	t.Helper()
	conn, ok := tn.conn[mspID]
	if !ok {
		var err error
		conn, err = tn.net.ClientConnection(mspID)
		require.NoError(t, err)
		tn.conn[mspID] = conn
	}
	id, sign := clientIdentity(t, tn.net, mspID)
	all := append([]client.ConnectOption{
		client.WithSign(sign),
		client.WithHash(hash.SHA256),
		client.WithClientConnection(conn),
		client.WithEvaluateTimeout(20 * time.Second),
		client.WithEndorseTimeout(20 * time.Second),
		client.WithSubmitTimeout(20 * time.Second),
		client.WithCommitStatusTimeout(30 * time.Second),
	}, opts...)
	gw, err := client.Connect(id, all...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	return gw
}

// sync waits until every peer has committed every block ordered so far. Each peer commits on
// its own, so a client that reads through another organisation's peer than the one whose
// commit status it received must wait for that peer, as on Fabric.
func (tn *testNet) sync() {
	tn.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(tn.t, tn.net.WaitForPeers(ctx))
}

// ledger returns the ledger of mspID's peer.
func (tn *testNet) ledger(mspID string) *ledger.Ledger {
	tn.t.Helper()
	l, err := tn.net.PeerLedger(mspID)
	require.NoError(tn.t, err)
	return l
}

func (tn *testNet) contract(mspID string) *client.Contract {
	return tn.gateway(mspID).GetNetwork(tn.net.Channel()).GetContract(testcc.Name)
}

func clientIdentity(t testing.TB, n *devnet.Network, mspID string) (*identity.X509Identity, identity.Sign) {
	t.Helper()
	certPath, keyPath, err := n.ClientIdentity(mspID)
	require.NoError(t, err)
	certPEM, err := os.ReadFile(certPath)
	require.NoError(t, err)
	cert, err := identity.CertificateFromPEM(certPEM)
	require.NoError(t, err)
	id, err := identity.NewX509Identity(mspID, cert)
	require.NoError(t, err)
	keyPEM, err := os.ReadFile(keyPath)
	require.NoError(t, err)
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	require.NoError(t, err)
	sign, err := identity.NewPrivateKeySign(key)
	require.NoError(t, err)
	return id, sign
}

func withArgs(args ...string) []client.ProposalOption {
	return []client.ProposalOption{client.WithArguments(args...)}
}
