package ccruntime

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/internal/testcc"
	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/policy"
	"github.com/xborder/xborder/network/devnet/txutil"
)

// These tests run the runtime against the devnet's real ledger: the read-write sets it records
// are committed as Fabric transactions and later simulations read what was committed, so the
// seam between simulation and commit (versions, MVCC, phantoms, private data hashes, metadata,
// history) is exercised end to end.

type chain struct {
	t  *testing.T
	rt *Runtime
	l  *ledger.Ledger
}

type simulated struct {
	res *Result
	env []byte
}

func newChain(t *testing.T) *chain {
	rt, _ := newAttachedRuntime(t)
	l, err := ledger.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return &chain{t: t, rt: rt, l: l}
}

// simulate executes c on a fresh snapshot and assembles the transaction envelope.
func (ch *chain) simulate(c call) simulated {
	t := ch.t
	snap, err := ch.l.NewSnapshot()
	require.NoError(t, err)
	defer snap.Release()
	return ch.simulateOn(snap, c)
}

func (ch *chain) simulateOn(st State, c call) simulated {
	t := ch.t
	inv := c.invocation(t, st)
	res, err := ch.rt.Execute(t.Context(), inv)
	require.NoError(t, err)
	require.EqualValues(t, 200, res.Response.GetStatus(), "chaincode message: %s", res.Response.GetMessage())
	prop, err := txutil.UnpackProposal(inv.Signed)
	require.NoError(t, err)
	results, err := proto.Marshal(res.RWSet)
	require.NoError(t, err)
	prp, err := txutil.ProposalResponsePayload(prop.Hash, &txutil.Action{
		Response: res.Response, Results: results, Event: res.Event, ChaincodeID: &peer.ChaincodeID{Name: ns, Version: "1.0"},
	})
	require.NoError(t, err)
	env, err := txutil.AssembleTransaction(prop, prp, nil)
	require.NoError(t, err)
	raw, err := proto.Marshal(env)
	require.NoError(t, err)
	return simulated{res: res, env: raw}
}

// commit orders the transactions into the next block and commits it.
func (ch *chain) commit(txs ...simulated) []peer.TxValidationCode {
	t := ch.t
	var prev []byte
	if h := ch.l.Height(); h > 0 {
		b, err := ch.l.Block(h - 1)
		require.NoError(t, err)
		prev = ledger.BlockHeaderHash(b.GetHeader())
	}
	envs := make([][]byte, len(txs))
	codes := make([]peer.TxValidationCode, len(txs))
	pvt := map[uint64]*rwset.TxPvtReadWriteSet{}
	for i, tx := range txs {
		envs[i] = tx.env
		codes[i] = peer.TxValidationCode_VALID
		if tx.res.PvtRWSet != nil {
			pvt[uint64(i)] = tx.res.PvtRWSet
		}
	}
	final, err := ch.l.Commit(ledger.NewBlock(ch.l.Height(), prev, envs), codes, pvt)
	require.NoError(t, err)
	return final
}

func (ch *chain) query(c call) *Result {
	return ch.simulate(c).res
}

func TestCommittedRoundTrip(t *testing.T) {
	ch := newChain(t)
	secret := map[string][]byte{testcc.TransientValueKey: []byte("s1")}

	codes := ch.commit(
		ch.simulate(call{args: []string{"put", "k", "v1"}}),
		ch.simulate(call{creator: "MerchantMSP", args: []string{"putPrivate", "privA", "p"}, transient: secret}),
		ch.simulate(call{args: []string{"putItem", "shelf", "001", "first"}}),
		ch.simulate(call{args: []string{"putItem", "shelf", "002", "second"}}),
		ch.simulate(call{args: []string{"putItem", "shelf", "003", "third"}}),
	)
	require.Equal(t, []peer.TxValidationCode{0, 0, 0, 0, 0}, codes)

	t.Run("committed value with its version", func(t *testing.T) {
		res := ch.query(call{args: []string{"get", "k"}})
		require.Equal(t, "v1", string(res.Response.GetPayload()))
		require.Equal(t, ver(0, 0), nsRWSet(t, res, ns).GetReads()[0].GetVersion())
	})
	t.Run("committed private value, its hash and the hashed read version", func(t *testing.T) {
		res := ch.query(call{creator: "BankMSP", args: []string{"getPrivate", "privA", "p"}})
		require.Equal(t, "s1", string(res.Response.GetPayload()))
		hashed, _ := hashedRWSet(t, res, "privA")
		require.Equal(t, ver(0, 1), hashed.GetHashedReads()[0].GetVersion())

		res = ch.query(call{creator: "CustomsMSP", args: []string{"getPrivateHash", "privA", "p"}})
		require.Equal(t, sha("s1"), res.Response.GetPayload())
	})
	t.Run("history", func(t *testing.T) {
		update := ch.simulate(call{args: []string{"put", "k", "v2"}, txID: "historytx"})
		require.Equal(t, []peer.TxValidationCode{0}, ch.commit(update))
		res := ch.query(call{args: []string{"history", "k"}})
		var mods []testcc.Modification
		require.NoError(t, json.Unmarshal(res.Response.GetPayload(), &mods))
		require.Len(t, mods, 2)
		require.Equal(t, "v1", mods[0].Value)
		require.Equal(t, "historytx", mods[1].TxID)
		require.Equal(t, "v2", mods[1].Value)
	})
	t.Run("pagination over committed composite keys", func(t *testing.T) {
		res := ch.query(call{args: []string{"page", "shelf", "2", ""}})
		var p testcc.Page
		require.NoError(t, json.Unmarshal(res.Response.GetPayload(), &p))
		require.Equal(t, []testcc.KV{{Key: "001", Value: "first"}, {Key: "002", Value: "second"}}, p.Records)
		res = ch.query(call{args: []string{"page", "shelf", "2", p.Bookmark}})
		require.NoError(t, json.Unmarshal(res.Response.GetPayload(), &p))
		require.Equal(t, []testcc.KV{{Key: "003", Value: "third"}}, p.Records)
		require.Empty(t, p.Bookmark)
	})
	t.Run("key-level endorsement policy metadata", func(t *testing.T) {
		env, err := policy.Parse("AND('BankMSP.member', 'CustomsMSP.member')")
		require.NoError(t, err)
		policyBytes := mustMarshal(t, env)
		require.Equal(t, []peer.TxValidationCode{0}, ch.commit(ch.simulate(call{args: []string{"setValidation", "k", string(policyBytes)}})))
		res := ch.query(call{args: []string{"getValidation", "k"}})
		require.Equal(t, policyBytes, res.Response.GetPayload())
		res = ch.query(call{args: []string{"put", "k", "v3"}})
		require.Len(t, res.Interest.GetChaincodes(), 1)
		require.Len(t, res.Interest.GetChaincodes()[0].GetKeyPolicies(), 1)
		require.True(t, proto.Equal(env, res.Interest.GetChaincodes()[0].GetKeyPolicies()[0]))
	})
}

func TestCommitConflicts(t *testing.T) {
	ch := newChain(t)
	require.Equal(t, []peer.TxValidationCode{0}, ch.commit(ch.simulate(call{args: []string{"putMany", "a", "1", "c", "3"}})))

	t.Run("read-modify-write races: the second commit is an MVCC conflict", func(t *testing.T) {
		snap, err := ch.l.NewSnapshot()
		require.NoError(t, err)
		first := ch.simulateOn(snap, call{args: []string{"incr", "n"}})
		second := ch.simulateOn(snap, call{args: []string{"incr", "n"}})
		snap.Release()
		require.Equal(t, []peer.TxValidationCode{peer.TxValidationCode_VALID, peer.TxValidationCode_MVCC_READ_CONFLICT}, ch.commit(first, second))
		res := ch.query(call{args: []string{"get", "n"}})
		require.Equal(t, "1", string(res.Response.GetPayload()))
	})
	t.Run("an insert into a range read is a phantom", func(t *testing.T) {
		snap, err := ch.l.NewSnapshot()
		require.NoError(t, err)
		scan := ch.simulateOn(snap, call{args: []string{"range", "a", "z"}})
		insert := ch.simulateOn(snap, call{args: []string{"put", "b", "2"}})
		snap.Release()
		require.Equal(t, []peer.TxValidationCode{peer.TxValidationCode_VALID, peer.TxValidationCode_PHANTOM_READ_CONFLICT}, ch.commit(insert, scan))
	})
	t.Run("range reads beyond the hashing degree are validated through their merkle summary", func(t *testing.T) {
		args := []string{"putMany"}
		for i := range 120 {
			args = append(args, fmt.Sprintf("m%03d", i), "v")
		}
		require.Equal(t, []peer.TxValidationCode{0}, ch.commit(ch.simulate(call{args: args})))
		snap, err := ch.l.NewSnapshot()
		require.NoError(t, err)
		stable := ch.simulateOn(snap, call{args: []string{"range", "m", "n"}})
		phantom := ch.simulateOn(snap, call{args: []string{"range", "m", "n"}})
		update := ch.simulateOn(snap, call{args: []string{"put", "m050", "changed"}})
		snap.Release()
		require.NotNil(t, nsRWSet(t, stable.res, ns).GetRangeQueriesInfo()[0].GetReadsMerkleHashes())
		require.Equal(t, []peer.TxValidationCode{0}, ch.commit(stable))
		require.Equal(t, []peer.TxValidationCode{peer.TxValidationCode_VALID, peer.TxValidationCode_PHANTOM_READ_CONFLICT}, ch.commit(update, phantom))
	})
	t.Run("an unrelated write keeps a range read valid", func(t *testing.T) {
		snap, err := ch.l.NewSnapshot()
		require.NoError(t, err)
		scan := ch.simulateOn(snap, call{args: []string{"range", "a", "c"}})
		outside := ch.simulateOn(snap, call{args: []string{"put", "x", "9"}})
		snap.Release()
		require.Equal(t, []peer.TxValidationCode{0, 0}, ch.commit(outside, scan))
	})
}
