package ccruntime

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/xborder/xborder/network/devnet/internal/testcc"
	"github.com/xborder/xborder/network/devnet/policy"
)

const (
	testChannel = "xborder"
	ns          = testcc.Name
)

// testCollections is testcc's collections_config.json as the policy package parses it.
func testCollections(tb testing.TB) []policy.Collection {
	tb.Helper()
	colls, err := policy.ParseCollections(testcc.CollectionsConfig)
	require.NoError(tb, err)
	return colls
}

// startServer runs testcc as a CCaaS server on a free loopback port.
func startServer(tb testing.TB) *testcc.Server {
	tb.Helper()
	srv, err := testcc.Start(context.Background(), "127.0.0.1:0")
	require.NoError(tb, err)
	tb.Cleanup(srv.Stop)
	return srv
}

// newAttachedRuntime starts testcc and a Runtime attached to it.
func newAttachedRuntime(tb testing.TB, opts ...Option) (*Runtime, *testcc.Server) {
	tb.Helper()
	srv := startServer(tb)
	rt := NewRuntime(opts...)
	tb.Cleanup(func() { require.NoError(tb, rt.Close()) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(tb, rt.Attach(ctx, ns, srv.Addr(), nil))
	return rt, srv
}

var txCounter atomic.Uint64

func nextTxID() string {
	return fmt.Sprintf("tx%06d", txCounter.Add(1))
}

// call describes one invocation for the tests.
type call struct {
	creator   string // MSP ID of the proposal creator
	local     string // MSP ID of the simulating peer
	args      []string
	transient map[string][]byte
	txID      string
}

func (c call) invocation(tb testing.TB, st State) *Invocation {
	tb.Helper()
	if c.creator == "" {
		c.creator = "MerchantMSP"
	}
	if c.local == "" {
		c.local = c.creator
	}
	if c.txID == "" {
		c.txID = nextTxID()
	}
	input := &peer.ChaincodeInput{}
	for _, a := range c.args {
		input.Args = append(input.Args, []byte(a))
	}
	return &Invocation{
		ChannelID:     testChannel,
		TxID:          c.txID,
		Chaincode:     ns,
		Signed:        signedProposal(tb, c.creator, c.txID, input, c.transient),
		Input:         input,
		Transient:     c.transient,
		LocalMSPID:    c.local,
		Collections:   testCollections(tb),
		ChannelMSPIDs: []string{"BankMSP", "CarrierMSP", "CustomsMSP", "MerchantMSP"},
		State:         st,
		Timestamp:     &timestamppb.Timestamp{Seconds: 1700000000},
	}
}

func mustMarshal(tb testing.TB, m proto.Message) []byte {
	tb.Helper()
	b, err := proto.Marshal(m)
	require.NoError(tb, err)
	return b
}

// signedProposal builds a Fabric endorser proposal as the Gateway SDK would (the signature
// is not checked by the runtime or the shim).
func signedProposal(tb testing.TB, creatorMSP, txID string, input *peer.ChaincodeInput, transient map[string][]byte) *peer.SignedProposal {
	tb.Helper()
	chdr := &common.ChannelHeader{
		Type:      int32(common.HeaderType_ENDORSER_TRANSACTION),
		ChannelId: testChannel,
		TxId:      txID,
		Timestamp: &timestamppb.Timestamp{Seconds: 1700000000},
		Extension: mustMarshal(tb, &peer.ChaincodeHeaderExtension{ChaincodeId: &peer.ChaincodeID{Name: ns}}),
	}
	shdr := &common.SignatureHeader{
		Creator: mustMarshal(tb, &msp.SerializedIdentity{Mspid: creatorMSP, IdBytes: []byte("-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n")}),
		Nonce:   []byte(txID),
	}
	hdr := &common.Header{ChannelHeader: mustMarshal(tb, chdr), SignatureHeader: mustMarshal(tb, shdr)}
	cis := &peer.ChaincodeInvocationSpec{ChaincodeSpec: &peer.ChaincodeSpec{
		Type:        peer.ChaincodeSpec_GOLANG,
		ChaincodeId: &peer.ChaincodeID{Name: ns},
		Input:       input,
	}}
	payload := &peer.ChaincodeProposalPayload{Input: mustMarshal(tb, cis), TransientMap: transient}
	prop := &peer.Proposal{Header: mustMarshal(tb, hdr), Payload: mustMarshal(tb, payload)}
	return &peer.SignedProposal{ProposalBytes: mustMarshal(tb, prop), Signature: []byte("sig")}
}

func execute(tb testing.TB, rt *Runtime, st State, c call) *Result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := rt.Execute(ctx, c.invocation(tb, st))
	require.NoError(tb, err)
	return res
}

// executeOK runs c and requires a 200 response.
func executeOK(tb testing.TB, rt *Runtime, st State, c call) *Result {
	tb.Helper()
	res := execute(tb, rt, st, c)
	require.EqualValues(tb, 200, res.Response.GetStatus(), "chaincode message: %s", res.Response.GetMessage())
	return res
}

// nsRWSet decodes the public KVRWSet of namespace ns from a result (nil if absent).
func nsRWSet(tb testing.TB, res *Result, namespace string) *kvrwset.KVRWSet {
	tb.Helper()
	for _, n := range res.RWSet.GetNsRwset() {
		if n.GetNamespace() == namespace {
			kv := &kvrwset.KVRWSet{}
			require.NoError(tb, proto.Unmarshal(n.GetRwset(), kv))
			return kv
		}
	}
	return nil
}

func hashedRWSet(tb testing.TB, res *Result, coll string) (*kvrwset.HashedRWSet, *rwset.CollectionHashedReadWriteSet) {
	tb.Helper()
	for _, n := range res.RWSet.GetNsRwset() {
		for _, c := range n.GetCollectionHashedRwset() {
			if c.GetCollectionName() == coll {
				h := &kvrwset.HashedRWSet{}
				require.NoError(tb, proto.Unmarshal(c.GetHashedRwset(), h))
				return h, c
			}
		}
	}
	return nil, nil
}

func pvtRWSet(tb testing.TB, res *Result, coll string) (*kvrwset.KVRWSet, []byte) {
	tb.Helper()
	for _, n := range res.PvtRWSet.GetNsPvtRwset() {
		for _, c := range n.GetCollectionPvtRwset() {
			if c.GetCollectionName() == coll {
				kv := &kvrwset.KVRWSet{}
				require.NoError(tb, proto.Unmarshal(c.GetRwset(), kv))
				return kv, c.GetRwset()
			}
		}
	}
	return nil, nil
}

func ver(block, tx uint64) *kvrwset.Version {
	return &kvrwset.Version{BlockNum: block, TxNum: tx}
}

// waitFor polls cond until it holds, failing the test after a generous deadline. It waits for
// asynchronous events (a stream breaking, a reconnect); it does not assert on durations.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
