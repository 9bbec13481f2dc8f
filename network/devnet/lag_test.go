package devnet_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	mspproto "github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet"
	"github.com/xborder/xborder/network/devnet/internal/testcc"
	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/txutil"
)

const (
	bothPolicy = "AND('MerchantMSP.peer','BankMSP.peer')"
	twoOfFour  = "OutOf(2,'MerchantMSP.peer','BankMSP.peer','CarrierMSP.peer','CustomsMSP.peer')"
)

// TestPausedPeerServesItsOwnLedger holds BankMSP's peer at its height while MerchantMSP's
// commits: every service of the paused peer answers from its own, stale ledger, until it is
// resumed and catches up.
func TestPausedPeerServesItsOwnLedger(t *testing.T) {
	tn := startNet(t, withPolicy(anyOrg))
	require.NoError(t, tn.net.PausePeerCommits(bank))
	bankHeight := tn.ledger(bank).Height()

	_, commit, err := tn.contract(merchant).SubmitAsync("put", client.WithArguments("lag-k", "v1"))
	require.NoError(t, err)
	st, err := commit.Status()
	require.NoError(t, err)
	require.True(t, st.Successful)

	t.Run("reads", func(t *testing.T) {
		got, err := tn.contract(merchant).EvaluateTransaction("get", "lag-k")
		require.NoError(t, err)
		require.Equal(t, "v1", string(got), "the writer's peer reads its write")
		got, err = tn.contract(bank).EvaluateTransaction("get", "lag-k")
		require.NoError(t, err)
		require.Empty(t, got, "the paused peer has not committed the write")
	})
	t.Run("heights", func(t *testing.T) {
		require.Equal(t, bankHeight, tn.ledger(bank).Height())
		require.Equal(t, st.BlockNumber+1, tn.ledger(merchant).Height())
		require.Greater(t, tn.net.OrdererHeight(), bankHeight)
		info := chainInfo(t, tn, bank)
		require.Equal(t, bankHeight, info.GetHeight(), "qscc answers from the peer's ledger")
	})
	t.Run("commit status waits for the local peer", func(t *testing.T) {
		gw := tn.gateway(bank, client.WithCommitStatusTimeout(300*time.Millisecond))
		_, commit, err := gw.GetNetwork(tn.net.Channel()).GetContract(testcc.Name).SubmitAsync("put", client.WithArguments("lag-bank", "b"))
		require.NoError(t, err)
		_, err = commit.Status()
		require.Equal(t, codes.DeadlineExceeded, status.Code(err), "bank's peer has not committed it: %v", err)
		require.NoError(t, tn.net.ResumePeerCommits(bank))
		st, err := commit.Status()
		require.NoError(t, err)
		require.True(t, st.Successful)
		got, err := tn.contract(bank).EvaluateTransaction("get", "lag-bank")
		require.NoError(t, err)
		require.Equal(t, "b", string(got))
	})
	t.Run("converged", func(t *testing.T) {
		tn.sync()
		requireConverged(t, tn.net)
		got, err := tn.contract(bank).EvaluateTransaction("get", "lag-k")
		require.NoError(t, err)
		require.Equal(t, "v1", string(got))
	})
}

// TestLaggingRequiredEndorser: with a policy that needs BankMSP, a proposal endorsed while
// BankMSP's peer lags behind fails as on Fabric: its simulation on the stale ledger either
// differs from the first endorser's (ProposalResponsePayloads do not match) or fails in the
// chaincode (NOT_FOUND), and the gateway has no other organisation to ask.
func TestLaggingRequiredEndorser(t *testing.T) {
	tn := startNet(t, withPolicy(bothPolicy))
	c := tn.contract(merchant)
	_, err := c.SubmitTransaction("put", "counter", "1")
	require.NoError(t, err)
	tn.sync()
	require.NoError(t, tn.net.PausePeerCommits(bank))
	// Blind writes read nothing: both peers endorse them alike, and MerchantMSP's commits them.
	_, err = c.SubmitTransaction("put", "created", "x")
	require.NoError(t, err)
	_, err = c.SubmitTransaction("put", "counter", "2")
	require.NoError(t, err)

	tests := []struct {
		name    string
		fn      string
		args    []string
		message string
	}{
		{"stale read set", "incr", []string{"counter"}, "ProposalResponsePayloads do not match"},
		{"stale state", "update", []string{"created", "y"}, "chaincode response 500, NOT_FOUND: created does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Submit(tc.fn, client.WithArguments(tc.args...))
			var endorseErr *client.EndorseError
			require.ErrorAs(t, err, &endorseErr)
			st := status.Convert(err)
			require.Equal(t, codes.Aborted, st.Code())
			require.Equal(t, "failed to collect enough transaction endorsements, see attached details for more info", st.Message())
			details := endorseErr.Details()
			require.Len(t, details, 1)
			require.Equal(t, bank, details[0].GetMspId())
			require.NotEmpty(t, details[0].GetAddress())
			require.Equal(t, tc.message, details[0].GetMessage())
		})
	}

	require.NoError(t, tn.net.ResumePeerCommits(bank))
	tn.sync()
	got, err := c.SubmitTransaction("incr", "counter")
	require.NoError(t, err)
	require.Equal(t, "3", string(got))
	_, err = c.SubmitTransaction("update", "created", "y")
	require.NoError(t, err)
}

// TestLaggingOptionalEndorserIsAvoided: when the policy leaves a choice, the gateway moves on
// to the next layout after a lagging peer's mismatch, as Fabric's gateway does, and the
// transaction is endorsed without it.
func TestLaggingOptionalEndorserIsAvoided(t *testing.T) {
	tn := startNet(t, withPolicy(twoOfFour))
	c := tn.contract(merchant)
	_, err := c.SubmitTransaction("put", "counter", "1")
	require.NoError(t, err)
	tn.sync()
	require.NoError(t, tn.net.PausePeerCommits(bank))
	_, err = c.SubmitTransaction("incr", "counter")
	require.NoError(t, err)
	for _, org := range []string{carrier, customs} {
		require.NoError(t, tn.net.WaitForHeight(context.Background(), org, tn.ledger(merchant).Height()))
	}

	p, err := c.NewProposal("incr", client.WithArguments("counter"))
	require.NoError(t, err)
	tx, err := p.Endorse()
	require.NoError(t, err)
	endorsers := endorsersOf(t, tx)
	require.Len(t, endorsers, 2)
	require.Contains(t, endorsers, merchant)
	require.NotContains(t, endorsers, bank)
	commit, err := tx.Submit()
	require.NoError(t, err)
	st, err := commit.Status()
	require.NoError(t, err)
	require.Equal(t, peer.TxValidationCode_VALID, st.Code)
	require.NoError(t, tn.net.ResumePeerCommits(bank))
}

// TestPrivateDataOnlyOnMembers checks that a private value reaches only the peers of the
// collection's member organisations: their ledgers hold it; the others hold its hash only, and
// no file in their directories contains it.
func TestPrivateDataOnlyOnMembers(t *testing.T) {
	tn := startNet(t, withPolicy(anyOrg))
	secret := []byte("consignee: Erika Musterfrau, 7 Hafenstrasse")
	_, err := tn.contract(merchant).Submit("putPrivate",
		client.WithArguments("privA", "member-only"),
		client.WithTransient(map[string][]byte{"value": secret}))
	require.NoError(t, err)
	tn.sync()
	keyHash := sha256.Sum256([]byte("member-only"))
	valueHash := sha256.Sum256(secret)

	for _, tc := range []struct {
		org    string
		member bool
	}{{merchant, true}, {bank, true}, {carrier, false}, {customs, false}} {
		t.Run(tc.org, func(t *testing.T) {
			snap, err := tn.ledger(tc.org).NewSnapshot()
			require.NoError(t, err)
			defer snap.Release()
			h, err := snap.GetPrivateDataHash(testcc.Name, "privA", keyHash[:])
			require.NoError(t, err)
			require.Equal(t, valueHash[:], h.Value, "every peer commits the hash")
			v, err := snap.GetPrivateData(testcc.Name, "privA", "member-only")
			if tc.member {
				require.NoError(t, err)
				require.Equal(t, secret, v.Value)
			} else {
				require.ErrorIs(t, err, ledger.ErrPrivateDataUnavailable)
			}
			require.Equal(t, tc.member, peerFilesContain(t, tn, tc.org, secret))
		})
	}
}

// TestRestartCatchUp closes the network while CarrierMSP's peer is paused, behind the
// ordering service, and restarts it: the peer catches up from the ordering service's block
// store, and the private data it missed (its transient store did not survive the restart) is
// pulled from CustomsMSP's peer, the other member of the collection.
func TestRestartCatchUp(t *testing.T) {
	dir := t.TempDir()
	cc, err := testcc.Start(context.Background(), "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(cc.Stop)
	start := func() *testNet {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cfg := testConfig(dir, withPolicy(anyOrg))
		cfg.Chaincodes[0].Address = cc.Addr()
		n, err := devnet.Start(ctx, cfg)
		require.NoError(t, err)
		return &testNet{t: t, net: n, cc: cc, dir: dir, conn: map[string]*grpc.ClientConn{}}
	}
	closeNet := func(tn *testNet) {
		for _, c := range tn.conn {
			_ = c.Close()
		}
		require.NoError(t, tn.net.Close())
	}

	first := start()
	require.NoError(t, first.net.PausePeerCommits(carrier))
	behind := first.ledger(carrier).Height()
	_, err = first.contract(customs).Submit("putPrivate",
		client.WithArguments("privB", "manifest"),
		client.WithTransient(map[string][]byte{"value": []byte("12 pallets")}))
	require.NoError(t, err)
	_, err = first.contract(merchant).Submit("put", client.WithArguments("public", "p"))
	require.NoError(t, err)
	for _, org := range []string{merchant, bank, customs} {
		require.NoError(t, first.net.WaitForHeight(context.Background(), org, first.net.OrdererHeight()))
	}
	require.Equal(t, behind, first.ledger(carrier).Height(), "a paused peer does not catch up at Close")
	closeNet(first)

	second := start()
	t.Cleanup(func() { closeNet(second) })
	second.sync()
	requireConverged(t, second.net)
	got, err := second.contract(carrier).EvaluateTransaction("getPrivate", "privB", "manifest")
	require.NoError(t, err)
	require.Equal(t, "12 pallets", string(got))
	got, err = second.contract(carrier).EvaluateTransaction("get", "public")
	require.NoError(t, err)
	require.Equal(t, "p", string(got))
}

// TestCommitDelay gives CustomsMSP's peer a commit delay far longer than the test: it stays
// behind the others until the delay is lifted, then catches up.
func TestCommitDelay(t *testing.T) {
	tn := startNet(t, withPolicy(anyOrg), func(c *devnet.Config) {
		c.CommitDelay = map[string]time.Duration{customs: time.Hour}
	})
	_, err := tn.contract(merchant).Submit("put", client.WithArguments("delayed", "d"))
	require.NoError(t, err)
	for _, org := range []string{merchant, bank, carrier} {
		require.NoError(t, tn.net.WaitForHeight(context.Background(), org, tn.net.OrdererHeight()))
	}
	require.Less(t, tn.ledger(customs).Height(), tn.net.OrdererHeight())
	require.NoError(t, tn.net.SetCommitDelay(customs, 0))
	tn.sync()
	requireConverged(t, tn.net)

	t.Run("config errors", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			delays map[string]time.Duration
			want   string
		}{
			{"unknown organisation", map[string]time.Duration{"NoSuchMSP": time.Second}, `CommitDelay names "NoSuchMSP"`},
			{"negative", map[string]time.Duration{bank: -time.Second}, "CommitDelay of BankMSP is negative"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cfg := testConfig(t.TempDir())
				cfg.CommitDelay = tc.delays
				_, err := devnet.Start(context.Background(), cfg)
				require.ErrorContains(t, err, tc.want)
			})
		}
		require.Error(t, tn.net.SetCommitDelay(bank, -time.Second))
		require.Error(t, tn.net.PausePeerCommits("NoSuchMSP"))
	})
}

// requireConverged checks that every peer has committed every ordered block with the same
// outcome: same height, last block hash and commit hash.
func requireConverged(t *testing.T, n *devnet.Network) {
	t.Helper()
	var want *ledger.Ledger
	for _, p := range n.Peers() {
		l, err := n.PeerLedger(p.MSPID)
		require.NoError(t, err)
		require.Equal(t, n.OrdererHeight(), l.Height(), p.MSPID)
		require.NoError(t, l.VerifyChain(), p.MSPID)
		if want == nil {
			want = l
			continue
		}
		a, err := want.ChainInfo()
		require.NoError(t, err)
		b, err := l.ChainInfo()
		require.NoError(t, err)
		require.Equal(t, a.GetCurrentBlockHash(), b.GetCurrentBlockHash(), p.MSPID)
		require.Equal(t, want.CommitHash(), l.CommitHash(), p.MSPID)
	}
}

// chainInfo asks mspID's peer for qscc GetChainInfo.
func chainInfo(t *testing.T, tn *testNet, mspID string) *common.BlockchainInfo {
	t.Helper()
	b, err := tn.gateway(mspID).GetNetwork(tn.net.Channel()).GetContract("qscc").EvaluateTransaction("GetChainInfo", tn.net.Channel())
	require.NoError(t, err)
	info := &common.BlockchainInfo{}
	require.NoError(t, proto.Unmarshal(b, info))
	return info
}

// endorsersOf returns the MSP IDs of an endorsed transaction's endorsers.
func endorsersOf(t *testing.T, tx *client.Transaction) []string {
	t.Helper()
	b, err := tx.Bytes()
	require.NoError(t, err)
	pt := &gateway.PreparedTransaction{}
	require.NoError(t, proto.Unmarshal(b, pt))
	parsed, err := txutil.UnpackEnvelope(pt.GetEnvelope())
	require.NoError(t, err)
	var out []string
	for _, e := range parsed.ActionPayload.GetAction().GetEndorsements() {
		id := &mspproto.SerializedIdentity{}
		require.NoError(t, proto.Unmarshal(e.GetEndorser(), id))
		out = append(out, id.GetMspid())
	}
	return out
}

// peerFilesContain reports whether any file in the directory of mspID's peer contains b.
func peerFilesContain(t *testing.T, tn *testNet, mspID string, b []byte) bool {
	t.Helper()
	info, err := tn.net.Peer(mspID)
	require.NoError(t, err)
	found := false
	err = filepath.WalkDir(filepath.Join(tn.dir, "peers", info.Name), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		found = found || bytes.Contains(data, b)
		return nil
	})
	require.NoError(t, err)
	return found
}

// TestDataDirectoryInUse starts a second devnet on a running devnet's data directory: it fails
// at once, naming the process that holds the directory, and creates nothing.
func TestDataDirectoryInUse(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the data directory lock uses flock")
	}
	tn := startNet(t)
	cfg := testConfig(tn.dir)
	_, err := devnet.Start(context.Background(), cfg)
	require.EqualError(t, err, fmt.Sprintf("devnet: data directory %s is in use by PID %d", tn.dir, os.Getpid()))
	got, err := tn.contract(merchant).EvaluateTransaction("get", "anything")
	require.NoError(t, err, "the first devnet keeps running")
	require.Empty(t, got)
}
