package ledger

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

func TestCommitAndRead(t *testing.T) {
	l, _ := openTest(t)
	require.Equal(t, uint64(0), l.Height())
	codes := commitTxs(t, l, nil, tx("t1").put("a", "1").put("b", "2"), tx("t2").put("c", "3"))
	require.Equal(t, codesOf(valid, valid), codes)
	codes = commitTxs(t, l, nil, tx("t3").read("a", ver(0, 0)).put("a", "10"))
	require.Equal(t, codesOf(valid), codes)
	require.Equal(t, uint64(2), l.Height())

	tests := []struct {
		key     string
		value   string
		version Height
		absent  bool
	}{
		{key: "a", value: "10", version: Height{1, 0}},
		{key: "b", value: "2", version: Height{0, 0}},
		{key: "c", value: "3", version: Height{0, 1}},
		{key: "d", absent: true},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			vv := getState(t, l, testNS, tc.key)
			if tc.absent {
				require.Nil(t, vv)
				return
			}
			require.NotNil(t, vv)
			require.Equal(t, tc.value, string(vv.Value))
			require.Equal(t, tc.version, vv.Version)
			require.Nil(t, vv.Metadata)
		})
	}
	require.Nil(t, getState(t, l, "other", "a"), "namespaces are separate")

	blk, err := l.Block(1)
	require.NoError(t, err)
	require.Equal(t, []byte{byte(valid)}, TxValidationFlags(blk))
	_, err = l.Block(2)
	require.ErrorIs(t, err, ErrNotFound)
	raw, err := l.BlockBytes(1)
	require.NoError(t, err)
	require.Equal(t, mustMarshal(t, blk), raw)
	_, err = l.BlockBytes(2)
	require.ErrorIs(t, err, ErrNotFound)
}

// TestValidation commits a setup block, then a block of transactions, and checks the final
// codes and the resulting state.
func TestValidation(t *testing.T) {
	// The setup block 0 writes a=1 (0/0), b=2 (0/1), k1 (0/2), k3 (0/3).
	setup := func(t *testing.T, l *Ledger) {
		codes := commitTxs(t, l, nil, tx("s0").put("a", "1"), tx("s1").put("b", "2"), tx("s2").put("k1", "x"), tx("s3").put("k3", "x"))
		require.Equal(t, codesOf(valid, valid, valid, valid), codes)
	}
	merkle := func(t *testing.T, start, end string, exhausted bool, degree uint32, reads ...*kvrwset.KVRead) *kvrwset.RangeQueryInfo {
		r, err := NewRangeQueryRecorder(start, end, degree)
		require.NoError(t, err)
		for _, rd := range reads {
			r.Add(rd.GetKey(), Height{rd.GetVersion().GetBlockNum(), rd.GetVersion().GetTxNum()})
		}
		if exhausted {
			r.Exhausted()
		}
		return r.Info()
	}
	tests := []struct {
		name   string
		txs    func(t *testing.T) []*txb
		pre    []peer.TxValidationCode
		codes  []peer.TxValidationCode
		values map[string]string // expected state after; "" = absent
	}{
		{
			name:   "read at current version",
			txs:    func(*testing.T) []*txb { return []*txb{tx("x").read("a", ver(0, 0)).put("a", "n")} },
			codes:  codesOf(valid),
			values: map[string]string{"a": "n"},
		},
		{
			name:   "stale read",
			txs:    func(*testing.T) []*txb { return []*txb{tx("x").read("a", ver(0, 1)).put("a", "n")} },
			codes:  codesOf(mvcc),
			values: map[string]string{"a": "1"},
		},
		{
			name:   "read of absent key that now exists",
			txs:    func(*testing.T) []*txb { return []*txb{tx("x").read("a", nil).put("z", "n")} },
			codes:  codesOf(mvcc),
			values: map[string]string{"z": ""},
		},
		{
			name:   "read of absent key still absent",
			txs:    func(*testing.T) []*txb { return []*txb{tx("x").read("z", nil).put("z", "n")} },
			codes:  codesOf(valid),
			values: map[string]string{"z": "n"},
		},
		{
			name: "read conflicts with an earlier write in the same block",
			txs: func(*testing.T) []*txb {
				return []*txb{tx("x").put("a", "first"), tx("y").read("a", ver(0, 0)).put("b", "n")}
			},
			codes:  codesOf(valid, mvcc),
			values: map[string]string{"a": "first", "b": "2"},
		},
		{
			name: "insert conflicts with a later absent read in the same block",
			txs: func(*testing.T) []*txb {
				return []*txb{tx("x").put("new", "1"), tx("y").read("new", nil).put("new", "2")}
			},
			codes:  codesOf(valid, mvcc),
			values: map[string]string{"new": "1"},
		},
		{
			name: "read of deleted key",
			txs: func(*testing.T) []*txb {
				return []*txb{tx("x").del("a"), tx("y").read("a", ver(0, 0)).put("q", "n")}
			},
			codes:  codesOf(valid, mvcc),
			values: map[string]string{"a": "", "q": ""},
		},
		{
			name: "invalid pre-code writes are not applied and do not conflict",
			txs: func(*testing.T) []*txb {
				return []*txb{tx("x").put("a", "bad"), tx("y").read("a", ver(0, 0)).put("b", "ok")}
			},
			pre:    codesOf(peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, valid),
			codes:  codesOf(peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, valid),
			values: map[string]string{"a": "1", "b": "ok"},
		},
		{
			name: "MVCC-invalid transaction writes nothing",
			txs: func(*testing.T) []*txb {
				return []*txb{tx("x").read("a", ver(9, 9)).put("b", "bad").put("c", "bad")}
			},
			codes:  codesOf(mvcc),
			values: map[string]string{"b": "2", "c": ""},
		},
		{
			name: "range unchanged",
			txs: func(*testing.T) []*txb {
				return []*txb{tx("x").rangeRaw("k", "l", true, kvr("k1", ver(0, 2)), kvr("k3", ver(0, 3))).put("r", "n")}
			},
			codes:  codesOf(valid),
			values: map[string]string{"r": "n"},
		},
		{
			name: "phantom insert into range",
			txs: func(*testing.T) []*txb {
				return []*txb{tx("x").put("k2", "new"), tx("y").rangeRaw("k", "l", true, kvr("k1", ver(0, 2)), kvr("k3", ver(0, 3))).put("r", "n")}
			},
			codes:  codesOf(valid, phantom),
			values: map[string]string{"k2": "new", "r": ""},
		},
		{
			name: "phantom delete from range",
			txs: func(*testing.T) []*txb {
				return []*txb{tx("x").del("k3"), tx("y").rangeRaw("k", "", true, kvr("k1", ver(0, 2)), kvr("k3", ver(0, 3))).put("r", "n")}
			},
			codes:  codesOf(valid, phantom),
			values: map[string]string{"k3": "", "r": ""},
		},
		{
			name: "phantom update inside range",
			txs: func(*testing.T) []*txb {
				return []*txb{tx("x").put("k1", "upd"), tx("y").rangeRaw("k", "l", true, kvr("k1", ver(0, 2)), kvr("k3", ver(0, 3)))}
			},
			codes: codesOf(valid, phantom),
		},
		{
			name: "insert after the last key of an unexhausted range is not a phantom",
			txs: func(*testing.T) []*txb {
				return []*txb{tx("x").put("k2", "new"), tx("y").rangeRaw("k", "k1", false, kvr("k1", ver(0, 2))).put("r", "n")}
			},
			codes:  codesOf(valid, valid),
			values: map[string]string{"r": "n"},
		},
		{
			name: "change of the last key of an unexhausted range is a phantom",
			txs: func(*testing.T) []*txb {
				return []*txb{tx("x").put("k1", "upd"), tx("y").rangeRaw("k", "k1", false, kvr("k1", ver(0, 2))).put("r", "n")}
			},
			codes: codesOf(valid, phantom),
		},
		{
			name: "insert past the exclusive end of an exhausted range",
			txs: func(*testing.T) []*txb {
				return []*txb{tx("x").put("l", "new"), tx("y").rangeRaw("k", "l", true, kvr("k1", ver(0, 2)), kvr("k3", ver(0, 3)))}
			},
			codes: codesOf(valid, valid),
		},
		{
			name: "range in another namespace is not affected",
			txs: func(*testing.T) []*txb {
				other := tx("x").put("k2", "new")
				other.ns = "other"
				return []*txb{other, tx("y").rangeRaw("k", "", true, kvr("k1", ver(0, 2)), kvr("k3", ver(0, 3)))}
			},
			codes: codesOf(valid, valid),
		},
		{
			name: "merkle range unchanged",
			txs: func(t *testing.T) []*txb {
				return []*txb{tx("y").rangeInfo(merkle(t, "", "", true, 2, kvr("a", ver(0, 0)), kvr("b", ver(0, 1)), kvr("k1", ver(0, 2)), kvr("k3", ver(0, 3))))}
			},
			codes: codesOf(valid),
		},
		{
			name: "merkle range phantom",
			txs: func(t *testing.T) []*txb {
				return []*txb{tx("x").put("c", "new"), tx("y").rangeInfo(merkle(t, "", "", true, 2, kvr("a", ver(0, 0)), kvr("b", ver(0, 1)), kvr("k1", ver(0, 2)), kvr("k3", ver(0, 3))))}
			},
			codes: codesOf(valid, phantom),
		},
		{
			name: "duplicate tx id within the block",
			txs: func(*testing.T) []*txb {
				return []*txb{tx("same").put("d1", "1"), tx("same").put("d2", "2")}
			},
			codes:  codesOf(valid, dup),
			values: map[string]string{"d1": "1", "d2": ""},
		},
		{
			name: "repeat within the block is a duplicate whatever its pre-code",
			txs: func(*testing.T) []*txb {
				return []*txb{tx("same").put("d1", "1"), tx("same").put("d2", "2")}
			},
			pre:    codesOf(valid, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE),
			codes:  codesOf(valid, dup),
			values: map[string]string{"d1": "1", "d2": ""},
		},
		{
			name:   "invalid repeat of a committed tx id keeps its code",
			txs:    func(*testing.T) []*txb { return []*txb{tx("s1").put("d1", "1")} },
			pre:    codesOf(peer.TxValidationCode_BAD_CREATOR_SIGNATURE),
			codes:  codesOf(peer.TxValidationCode_BAD_CREATOR_SIGNATURE),
			values: map[string]string{"d1": ""},
		},
		{
			name:   "duplicate of a committed tx id",
			txs:    func(*testing.T) []*txb { return []*txb{tx("s1").put("d1", "1")} },
			codes:  codesOf(dup),
			values: map[string]string{"d1": ""},
		},
		{
			name: "duplicate of an invalid transaction earlier in the block",
			txs: func(*testing.T) []*txb {
				return []*txb{tx("same").read("a", ver(5, 5)), tx("same").put("d2", "2")}
			},
			codes:  codesOf(mvcc, dup),
			values: map[string]string{"d2": ""},
		},
		{
			name: "unknown header type",
			txs: func(*testing.T) []*txb {
				x := tx("x")
				x.typ = common.HeaderType_MESSAGE
				return []*txb{x}
			},
			codes: codesOf(peer.TxValidationCode_UNKNOWN_TX_TYPE),
		},
		{
			name: "key too long to store",
			txs: func(*testing.T) []*txb {
				return []*txb{tx("x").put(strings.Repeat("k", 40000), "v").put("a", "n"), tx("y").put("b", "n")}
			},
			codes:  codesOf(peer.TxValidationCode_INVALID_WRITESET, valid),
			values: map[string]string{"a": "1", "b": "n"},
		},
		{
			name: "namespace with the separator byte",
			txs: func(*testing.T) []*txb {
				x := tx("x").put("b", "n")
				x.ns = testNS + "\x00a"
				return []*txb{x}
			},
			codes: codesOf(peer.TxValidationCode_INVALID_WRITESET),
		},
		{
			name: "tx id too long to index",
			txs: func(*testing.T) []*txb {
				return []*txb{tx(strings.Repeat("i", 40000)).put("a", "n")}
			},
			codes:  codesOf(peer.TxValidationCode_BAD_PROPOSAL_TXID),
			values: map[string]string{"a": "1"},
		},
		{
			name: "empty value write is a delete",
			txs: func(*testing.T) []*txb {
				return []*txb{tx("x").put("a", "")}
			},
			codes:  codesOf(valid),
			values: map[string]string{"a": ""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := openTest(t)
			setup(t, l)
			txs := tc.txs(t)
			envs := make([][]byte, len(txs))
			for i, x := range txs {
				envs[i] = x.env(t)
			}
			codes, err := l.Commit(nextBlock(t, l, envs...), tc.pre, nil)
			require.NoError(t, err)
			require.Equal(t, tc.codes, codes)
			blk, err := l.Block(1)
			require.NoError(t, err)
			flags := TxValidationFlags(blk)
			require.Len(t, flags, len(codes))
			for i, c := range codes {
				require.Equal(t, byte(c), flags[i])
			}
			for k, want := range tc.values {
				vv := getState(t, l, testNS, k)
				if want == "" {
					require.Nil(t, vv, "key %s", k)
					continue
				}
				require.NotNil(t, vv, "key %s", k)
				require.Equal(t, want, string(vv.Value), "key %s", k)
			}
			require.NoError(t, l.VerifyChain())
		})
	}
}

func TestTxIndex(t *testing.T) {
	l, _ := openTest(t)
	commitTxs(t, l, nil, tx("t1").put("a", "1"))
	envs := [][]byte{tx("t1").put("a", "dup").env(t), tx("t2").read("a", ver(7, 7)).env(t), tx("t3").put("b", "1").env(t)}
	codes, err := l.Commit(nextBlock(t, l, envs...), codesOf(valid, valid, peer.TxValidationCode_BAD_CREATOR_SIGNATURE), nil)
	require.NoError(t, err)
	require.Equal(t, codesOf(dup, mvcc, peer.TxValidationCode_BAD_CREATOR_SIGNATURE), codes)

	tests := []struct {
		id    string
		block uint64
		num   uint64
		code  peer.TxValidationCode
		env   []byte
	}{
		{id: "t1", block: 0, num: 0, code: valid},
		{id: "t2", block: 1, num: 1, code: mvcc, env: envs[1]},
		{id: "t3", block: 1, num: 2, code: peer.TxValidationCode_BAD_CREATOR_SIGNATURE, env: envs[2]},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			rec, err := l.TxByID(tc.id)
			require.NoError(t, err)
			require.Equal(t, tc.block, rec.BlockNum)
			require.Equal(t, tc.num, rec.TxNum)
			require.Equal(t, tc.code, rec.Code)
			p, _, err := ParseTx(mustMarshal(t, rec.Envelope))
			require.NoError(t, err)
			require.Equal(t, tc.id, p.TxID())
			if tc.env != nil {
				require.True(t, proto.Equal(rec.Envelope, unmarshalEnv(t, tc.env)))
			}
		})
	}
	_, err = l.TxByID("missing")
	require.ErrorIs(t, err, ErrNotFound)
	require.Equal(t, "1", string(getState(t, l, testNS, "a").Value))
	require.Nil(t, getState(t, l, testNS, "b"))
}

func unmarshalEnv(t *testing.T, b []byte) *common.Envelope {
	t.Helper()
	e := &common.Envelope{}
	require.NoError(t, proto.Unmarshal(b, e))
	return e
}

func TestMalformedTransactions(t *testing.T) {
	good := tx("g").put("a", "1")
	tests := []struct {
		name string
		env  func(t *testing.T) []byte
		code peer.TxValidationCode
	}{
		{name: "empty envelope", env: func(*testing.T) []byte { return nil }, code: peer.TxValidationCode_NIL_ENVELOPE},
		{name: "garbage envelope", env: func(*testing.T) []byte { return []byte{0xff, 0xff} }, code: peer.TxValidationCode_NIL_ENVELOPE},
		{
			name: "garbage payload",
			env: func(t *testing.T) []byte {
				return mustMarshal(t, &common.Envelope{Payload: []byte{0xff, 0xff}})
			},
			code: peer.TxValidationCode_BAD_PAYLOAD,
		},
		{
			name: "payload without header",
			env: func(t *testing.T) []byte {
				return mustMarshal(t, &common.Envelope{Payload: mustMarshal(t, &common.Payload{Data: []byte("x")})})
			},
			code: peer.TxValidationCode_BAD_COMMON_HEADER,
		},
		{
			name: "transaction without actions",
			env: func(t *testing.T) []byte {
				e := unmarshalEnv(t, good.env(t))
				p := &common.Payload{}
				require.NoError(t, proto.Unmarshal(e.Payload, p))
				p.Data = mustMarshal(t, &peer.Transaction{})
				e.Payload = mustMarshal(t, p)
				return mustMarshal(t, e)
			},
			code: peer.TxValidationCode_NIL_TXACTION,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := openTest(t)
			codes, err := l.Commit(nextBlock(t, l, tc.env(t), tx("ok").put("b", "2").env(t)), nil, nil)
			require.NoError(t, err)
			require.Equal(t, codesOf(tc.code, valid), codes)
			require.Nil(t, getState(t, l, testNS, "a"))
			require.NoError(t, l.VerifyChain())
		})
	}
}

func TestConfigBlock(t *testing.T) {
	l, _ := openTest(t)
	cfg := tx("config-0")
	cfg.typ = common.HeaderType_CONFIG
	codes := commitTxs(t, l, nil, cfg)
	require.Equal(t, codesOf(valid), codes)
	commitTxs(t, l, nil, tx("t1").put("a", "1"))
	require.Equal(t, uint64(0), l.LastConfigIndex())

	for _, num := range []uint64{0, 1} {
		blk, err := l.Block(num)
		require.NoError(t, err)
		md := &common.Metadata{}
		require.NoError(t, proto.Unmarshal(blk.Metadata.Metadata[common.BlockMetadataIndex_LAST_CONFIG], md))
		lc := &common.LastConfig{}
		require.NoError(t, proto.Unmarshal(md.Value, lc))
		require.Equal(t, uint64(0), lc.Index)
		ch := &common.Metadata{}
		require.NoError(t, proto.Unmarshal(blk.Metadata.Metadata[common.BlockMetadataIndex_COMMIT_HASH], ch))
		require.Len(t, ch.Value, 32)
	}
	rec, err := l.TxByID("config-0")
	require.NoError(t, err)
	require.Equal(t, valid, rec.Code)
}

func TestMetadataWrites(t *testing.T) {
	l, _ := openTest(t)
	commitTxs(t, l, nil, tx("t0").put("a", "1").meta("a", "VALIDATION_PARAMETER", "ep1"))
	decode := func(b []byte) map[string]string {
		entries, err := MetadataEntries(b)
		require.NoError(t, err)
		if entries == nil {
			return nil
		}
		m := map[string]string{}
		for _, e := range entries {
			m[e.Name] = string(e.Value)
		}
		return m
	}
	steps := []struct {
		name    string
		tx      *txb
		key     string
		value   string
		meta    map[string]string
		version Height
	}{
		{name: "value and metadata in one tx", key: "a", value: "1", meta: map[string]string{"VALIDATION_PARAMETER": "ep1"}, version: Height{0, 0}},
		{name: "value write keeps metadata", tx: tx("t1").put("a", "2"), key: "a", value: "2", meta: map[string]string{"VALIDATION_PARAMETER": "ep1"}, version: Height{1, 0}},
		{name: "metadata-only write bumps the version", tx: tx("t2").meta("a", "x", "1", "y", "2"), key: "a", value: "2", meta: map[string]string{"x": "1", "y": "2"}, version: Height{2, 0}},
		{name: "metadata delete", tx: tx("t3").meta("a"), key: "a", value: "2", version: Height{3, 0}},
		{name: "metadata on an absent key is ignored", tx: tx("t4").meta("nokey", "x", "1"), key: "nokey"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.tx != nil {
				require.Equal(t, codesOf(valid), commitTxs(t, l, nil, st.tx))
			}
			vv := getState(t, l, testNS, st.key)
			if st.value == "" {
				require.Nil(t, vv)
				return
			}
			require.Equal(t, st.value, string(vv.Value))
			require.Equal(t, st.meta, decode(vv.Metadata))
			require.Equal(t, st.version, vv.Version)
		})
	}
}

func TestHistory(t *testing.T) {
	l, _ := openTest(t)
	t0 := tx("h0").put("k", "v0").put("k2", "x")
	t1 := tx("h1").put("k", "v1").at(t0.ts.Add(1e9))
	t2 := tx("h2").del("k").at(t0.ts.Add(2e9))
	t3 := tx("h3").put("k", "v3").at(t0.ts.Add(3e9))
	commitTxs(t, l, nil, t0)
	commitTxs(t, l, nil, t1, t2)
	commitTxs(t, l, nil, tx("bad").read("k", ver(0, 0)).put("k", "never"))
	commitTxs(t, l, nil, t3)
	// A key whose name extends "k" must not leak into k's history.
	commitTxs(t, l, nil, tx("h5").put("kk", "other"))

	s, err := l.NewSnapshot()
	require.NoError(t, err)
	defer s.Release()
	it, err := s.GetHistory(testNS, "k")
	require.NoError(t, err)
	defer it.Close()
	want := []struct {
		txID     string
		value    string
		isDelete bool
		ts       int64
	}{
		{"h0", "v0", false, t0.ts.Unix()},
		{"h1", "v1", false, t1.ts.Unix()},
		{"h2", "", true, t2.ts.Unix()},
		{"h3", "v3", false, t3.ts.Unix()},
	}
	for _, w := range want {
		km, err := it.Next()
		require.NoError(t, err)
		require.NotNil(t, km)
		require.Equal(t, w.txID, km.TxId)
		require.Equal(t, w.value, string(km.Value))
		require.Equal(t, w.isDelete, km.IsDelete)
		require.Equal(t, w.ts, km.Timestamp.AsTime().Unix())
	}
	km, err := it.Next()
	require.NoError(t, err)
	require.Nil(t, km)

	rev, err := s.GetHistoryNewestFirst(testNS, "k")
	require.NoError(t, err)
	defer rev.Close()
	for i := len(want) - 1; i >= 0; i-- {
		km, err := rev.Next()
		require.NoError(t, err)
		require.NotNil(t, km)
		require.Equal(t, want[i].txID, km.TxId)
		require.Equal(t, want[i].value, string(km.Value))
	}
	km, err = rev.Next()
	require.NoError(t, err)
	require.Nil(t, km)
	for _, key := range []string{"kk", "k2"} {
		rev, err := s.GetHistoryNewestFirst(testNS, key)
		require.NoError(t, err)
		km, err := rev.Next()
		require.NoError(t, err)
		require.NotNil(t, km)
		km, err = rev.Next()
		require.NoError(t, err)
		require.Nil(t, km, "only one modification of %s", key)
	}
	last := tx("zz").put("zzz", "1")
	last.ns = "zz" // the last namespace in the bucket: reverse iteration starts from Last()
	commitTxs(t, l, nil, last)
	s2, err := l.NewSnapshot()
	require.NoError(t, err)
	defer s2.Release()
	rev, err = s2.GetHistoryNewestFirst("zz", "zzz")
	require.NoError(t, err)
	km, err = rev.Next()
	require.NoError(t, err)
	require.Equal(t, "zz", km.TxId)
	rev, err = s2.GetHistoryNewestFirst("zz", "absent")
	require.NoError(t, err)
	km, err = rev.Next()
	require.NoError(t, err)
	require.Nil(t, km)

	it2, err := s.GetHistory(testNS, "absent")
	require.NoError(t, err)
	km, err = it2.Next()
	require.NoError(t, err)
	require.Nil(t, km)
}

func TestPrivateData(t *testing.T) {
	const coll = "collA"
	t.Run("values and hashes", func(t *testing.T) {
		l, _ := openTest(t)
		x := tx("p0").put("pub", "1")
		pvt := x.private(t, pvtColl{coll: coll, writes: []*kvrwset.KVWrite{{Key: "secret", Value: []byte("s1")}, {Key: "other", Value: []byte("o1")}}})
		require.Equal(t, codesOf(valid), commitTxs(t, l, map[uint64]*rwset.TxPvtReadWriteSet{0: pvt}, x))

		s, err := l.NewSnapshot()
		require.NoError(t, err)
		defer s.Release()
		vv, err := s.GetPrivateData(testNS, coll, "secret")
		require.NoError(t, err)
		require.Equal(t, "s1", string(vv.Value))
		require.Equal(t, Height{0, 0}, vv.Version)
		hv, err := s.GetPrivateDataHash(testNS, coll, hashOf("secret"))
		require.NoError(t, err)
		require.Equal(t, hashOf("s1"), hv.Value)
		missing, err := s.GetPrivateData(testNS, coll, "nope")
		require.NoError(t, err)
		require.Nil(t, missing)
		missing, err = s.GetPrivateData(testNS, "collB", "secret")
		require.NoError(t, err)
		require.Nil(t, missing)

		it, err := s.GetPrivateDataRange(testNS, coll, "", "")
		require.NoError(t, err)
		var keys []string
		for {
			kv, err := it.Next()
			require.NoError(t, err)
			if kv == nil {
				break
			}
			keys = append(keys, kv.Key)
		}
		require.Equal(t, []string{"other", "secret"}, keys)
	})
	t.Run("hashed read conflict", func(t *testing.T) {
		l, _ := openTest(t)
		x := tx("p0")
		pvt := x.private(t, pvtColl{coll: coll, writes: []*kvrwset.KVWrite{{Key: "secret", Value: []byte("s1")}}})
		commitTxs(t, l, map[uint64]*rwset.TxPvtReadWriteSet{0: pvt}, x)

		w := tx("p1")
		pvtW := w.private(t, pvtColl{coll: coll, writes: []*kvrwset.KVWrite{{Key: "secret", Value: []byte("s2")}}})
		stale := tx("p2")
		pvtS := stale.private(t, pvtColl{coll: coll,
			hashedReads: []*kvrwset.KVReadHash{{KeyHash: hashOf("secret"), Version: ver(0, 0)}},
			writes:      []*kvrwset.KVWrite{{Key: "secret", Value: []byte("s3")}}})
		absent := tx("p3")
		absent.private(t, pvtColl{coll: coll, hashedReads: []*kvrwset.KVReadHash{{KeyHash: hashOf("secret"), Version: nil}}})
		fresh := tx("p4")
		fresh.private(t, pvtColl{coll: coll, hashedReads: []*kvrwset.KVReadHash{{KeyHash: hashOf("secret"), Version: ver(1, 0)}}})
		codes := commitTxs(t, l, map[uint64]*rwset.TxPvtReadWriteSet{0: pvtW, 1: pvtS}, w, stale, absent, fresh)
		require.Equal(t, codesOf(valid, mvcc, mvcc, valid), codes)
		vv := mustPrivate(t, l, coll, "secret")
		require.Equal(t, "s2", string(vv.Value))
		require.Equal(t, Height{1, 0}, vv.Version)
	})
	t.Run("missing or mismatched private data keeps only the hash", func(t *testing.T) {
		l, _ := openTest(t)
		x := tx("p0")
		pvt := x.private(t, pvtColl{coll: coll, writes: []*kvrwset.KVWrite{{Key: "secret", Value: []byte("s1")}}})
		commitTxs(t, l, map[uint64]*rwset.TxPvtReadWriteSet{0: pvt}, x)
		y := tx("p1")
		y.private(t, pvtColl{coll: coll, writes: []*kvrwset.KVWrite{{Key: "secret", Value: []byte("s2")}}})
		forged := tx("forged").private(t, pvtColl{coll: coll, writes: []*kvrwset.KVWrite{{Key: "secret", Value: []byte("evil")}}})
		commitTxs(t, l, map[uint64]*rwset.TxPvtReadWriteSet{0: forged}, y)

		s, err := l.NewSnapshot()
		require.NoError(t, err)
		defer s.Release()
		hv, err := s.GetPrivateDataHash(testNS, coll, hashOf("secret"))
		require.NoError(t, err)
		require.Equal(t, hashOf("s2"), hv.Value)
		_, err = s.GetPrivateData(testNS, coll, "secret")
		require.ErrorIs(t, err, ErrPrivateDataUnavailable)
		it, err := s.GetPrivateDataRange(testNS, coll, "", "")
		require.NoError(t, err)
		kv, err := it.Next()
		require.NoError(t, err)
		require.Nil(t, kv, "stale private values are not returned")
	})
	t.Run("invalid transaction stores neither values nor hashes", func(t *testing.T) {
		l, _ := openTest(t)
		x := tx("p0").read("pub", ver(3, 3))
		pvt := x.private(t, pvtColl{coll: coll, writes: []*kvrwset.KVWrite{{Key: "secret", Value: []byte("s1")}}})
		require.Equal(t, codesOf(mvcc), commitTxs(t, l, map[uint64]*rwset.TxPvtReadWriteSet{0: pvt}, x))
		require.Nil(t, mustPrivate(t, l, coll, "secret"))
		s, err := l.NewSnapshot()
		require.NoError(t, err)
		defer s.Release()
		hv, err := s.GetPrivateDataHash(testNS, coll, hashOf("secret"))
		require.NoError(t, err)
		require.Nil(t, hv)
	})
	t.Run("delete and metadata", func(t *testing.T) {
		l, _ := openTest(t)
		x := tx("p0")
		pvt := x.private(t, pvtColl{coll: coll, writes: []*kvrwset.KVWrite{{Key: "secret", Value: []byte("s1")}}})
		commitTxs(t, l, map[uint64]*rwset.TxPvtReadWriteSet{0: pvt}, x)
		m := tx("p1")
		pvtM := m.private(t, pvtColl{coll: coll, mdWrites: []*kvrwset.KVMetadataWrite{{Key: "secret",
			Entries: []*kvrwset.KVMetadataEntry{{Name: "VALIDATION_PARAMETER", Value: []byte("ep")}}}}})
		commitTxs(t, l, map[uint64]*rwset.TxPvtReadWriteSet{0: pvtM}, m)
		vv := mustPrivate(t, l, coll, "secret")
		require.NotNil(t, vv.Metadata)
		require.Equal(t, Height{1, 0}, vv.Version)

		d := tx("p2")
		pvtD := d.private(t, pvtColl{coll: coll, writes: []*kvrwset.KVWrite{{Key: "secret", IsDelete: true}}})
		commitTxs(t, l, map[uint64]*rwset.TxPvtReadWriteSet{0: pvtD}, d)
		require.Nil(t, mustPrivate(t, l, coll, "secret"))
	})
}

func mustPrivate(t *testing.T, l *Ledger, coll, key string) *VersionedValue {
	t.Helper()
	s, err := l.NewSnapshot()
	require.NoError(t, err)
	defer s.Release()
	vv, err := s.GetPrivateData(testNS, coll, key)
	require.NoError(t, err)
	return vv
}

func TestChainChecks(t *testing.T) {
	l, _ := openTest(t)
	commitTxs(t, l, nil, tx("t0").put("a", "1"))
	commitTxs(t, l, nil, tx("t1").put("a", "2"))
	require.NoError(t, l.VerifyChain())
	info, err := l.ChainInfo()
	require.NoError(t, err)
	b1, err := l.Block(1)
	require.NoError(t, err)
	b0, err := l.Block(0)
	require.NoError(t, err)
	require.Equal(t, uint64(2), info.Height)
	require.Equal(t, BlockHeaderHash(b1.Header), info.CurrentBlockHash)
	require.Equal(t, BlockHeaderHash(b0.Header), info.PreviousBlockHash)
	require.Equal(t, info.PreviousBlockHash, b1.Header.PreviousHash)
	byHash, err := l.BlockByHash(info.PreviousBlockHash)
	require.NoError(t, err)
	require.True(t, proto.Equal(b0, byHash))
	_, err = l.BlockByHash([]byte("unknown"))
	require.ErrorIs(t, err, ErrNotFound)

	env := tx("t2").put("a", "3").env(t)
	tests := []struct {
		name  string
		block func() *common.Block
		pre   []peer.TxValidationCode
	}{
		{name: "wrong previous hash", block: func() *common.Block { return NewBlock(2, []byte("bogus"), [][]byte{env}) }},
		{name: "previous hash of an older block", block: func() *common.Block { return NewBlock(2, info.PreviousBlockHash, [][]byte{env}) }},
		{name: "number too high", block: func() *common.Block { return NewBlock(3, info.CurrentBlockHash, [][]byte{env}) }},
		{name: "number already committed", block: func() *common.Block { return NewBlock(1, info.PreviousBlockHash, [][]byte{env}) }},
		{name: "data hash does not match", block: func() *common.Block {
			b := NewBlock(2, info.CurrentBlockHash, [][]byte{env})
			b.Data.Data = append(b.Data.Data, []byte("extra"))
			return b
		}},
		{name: "code count mismatch", block: func() *common.Block { return NewBlock(2, info.CurrentBlockHash, [][]byte{env}) }, pre: codesOf(valid, valid)},
		{name: "no header", block: func() *common.Block { return &common.Block{Data: &common.BlockData{}} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := l.Commit(tc.block(), tc.pre, nil)
			require.ErrorIs(t, err, ErrBadBlock)
			require.Equal(t, uint64(2), l.Height())
			require.Equal(t, "2", string(getState(t, l, testNS, "a").Value))
		})
	}
	codes, err := l.Commit(NewBlock(2, info.CurrentBlockHash, [][]byte{env}), nil, nil)
	require.NoError(t, err)
	require.Equal(t, codesOf(valid), codes)
	require.NoError(t, l.VerifyChain())
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir)
	require.NoError(t, err)
	x := tx("t0").put("a", "1").put("b", "2")
	pvt := x.private(t, pvtColl{coll: "c", writes: []*kvrwset.KVWrite{{Key: "s", Value: []byte("v")}}})
	commitTxs(t, l, map[uint64]*rwset.TxPvtReadWriteSet{0: pvt}, x)
	commitTxs(t, l, nil, tx("t1").del("b"))
	info1, err := l.ChainInfo()
	require.NoError(t, err)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close is idempotent")
	_, err = l.NewSnapshot()
	require.ErrorIs(t, err, ErrClosed)
	_, err = l.Commit(NewBlock(2, info1.CurrentBlockHash, nil), nil, nil)
	require.ErrorIs(t, err, ErrClosed)

	// A ledger without the block-hash index (older layout) gets it rebuilt on Open.
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketHashes) }))
	require.NoError(t, db.Close())

	l2, err := Open(dir)
	require.NoError(t, err)
	defer func() { require.NoError(t, l2.Close()) }()
	for _, h := range [][]byte{info1.CurrentBlockHash, info1.PreviousBlockHash} {
		_, err := l2.BlockByHash(h)
		require.NoError(t, err)
	}
	info2, err := l2.ChainInfo()
	require.NoError(t, err)
	require.True(t, proto.Equal(info1, info2))
	require.NoError(t, l2.VerifyChain())
	require.Equal(t, "1", string(getState(t, l2, testNS, "a").Value))
	require.Nil(t, getState(t, l2, testNS, "b"))
	rec, err := l2.TxByID("t1")
	require.NoError(t, err)
	require.Equal(t, uint64(1), rec.BlockNum)
	s, err := l2.NewSnapshot()
	require.NoError(t, err)
	vv, err := s.GetPrivateData(testNS, "c", "s")
	require.NoError(t, err)
	require.Equal(t, "v", string(vv.Value))
	s.Release()
	require.Equal(t, codesOf(valid), commitTxs(t, l2, nil, tx("t2").read("a", ver(0, 0)).put("a", "2")))
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir)
	require.NoError(t, err)
	defer l.Close()
	_, err = Open(dir, WithLockTimeout(50e6))
	require.Error(t, err, "the file is locked by the first Open")
	require.False(t, errors.Is(err, ErrClosed))
}

func TestBlockToLive(t *testing.T) {
	l, _ := openTest(t, WithBlockToLive(func(ns, coll string) uint64 {
		if ns == testNS && coll == "short" {
			return 2
		}
		return 0
	}))
	// write commits one transaction writing key=value pairs per collection (in sorted
	// collection order, one collection rwset each).
	write := func(id string, colls map[string][]string) {
		x := tx(id)
		pvt := &rwset.TxPvtReadWriteSet{}
		for _, coll := range []string{"forever", "short"} {
			kvs, ok := colls[coll]
			if !ok {
				continue
			}
			var ws []*kvrwset.KVWrite
			for i := 0; i+1 < len(kvs); i += 2 {
				ws = append(ws, &kvrwset.KVWrite{Key: kvs[i], Value: []byte(kvs[i+1])})
			}
			p := x.private(t, pvtColl{coll: coll, writes: ws})
			pvt.NsPvtRwset = append(pvt.NsPvtRwset, p.NsPvtRwset...)
		}
		require.Equal(t, codesOf(valid), commitTxs(t, l, map[uint64]*rwset.TxPvtReadWriteSet{0: pvt}, x))
	}
	filler := func(id string) { commitTxs(t, l, nil, tx(id).put("f", id)) }
	present := func(t *testing.T, coll, key string) bool {
		s, err := l.NewSnapshot()
		require.NoError(t, err)
		defer s.Release()
		vv, err := s.GetPrivateData(testNS, coll, key)
		require.NoError(t, err)
		hv, err := s.GetPrivateDataHash(testNS, coll, hashOf(key))
		require.NoError(t, err)
		require.Equal(t, vv == nil, hv == nil, "value and hash live and die together")
		return vv != nil
	}

	write("w0", map[string][]string{"short": {"k", "v", "r", "v"}, "forever": {"k", "v"}}) // block 0
	filler("f1")                                                                           // block 1
	write("w2", map[string][]string{"short": {"r", "v2"}})                                 // block 2
	steps := []struct {
		name       string
		height     uint64
		k, r, kept bool
	}{
		{name: "still readable at block b+btl", height: 3, k: true, r: true, kept: true},
		{name: "purged when block b+btl+1 commits", height: 4, k: false, r: true, kept: true},
		{name: "rewritten key lives on", height: 5, k: false, r: true, kept: true},
		{name: "rewritten key purged on its own schedule", height: 6, k: false, r: false, kept: true},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if i > 0 {
				filler(st.name)
			}
			require.Equal(t, st.height, l.Height())
			require.Equal(t, st.k, present(t, "short", "k"))
			require.Equal(t, st.r, present(t, "short", "r"))
			require.Equal(t, st.kept, present(t, "forever", "k"))
		})
	}
	require.NoError(t, l.VerifyChain())
}

func TestVerifyChainDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, tx *bolt.Tx)
	}{
		{
			name: "envelope changed",
			tamper: func(t *testing.T, tx *bolt.Tx) {
				b := &common.Block{}
				require.NoError(t, proto.Unmarshal(tx.Bucket(bucketBlocks).Get(be64(1)), b))
				b.Data.Data[0] = tx1Env(t)
				require.NoError(t, tx.Bucket(bucketBlocks).Put(be64(1), mustMarshal(t, b)))
			},
		},
		{
			name: "header rehashed but chain broken",
			tamper: func(t *testing.T, tx *bolt.Tx) {
				b := &common.Block{}
				require.NoError(t, proto.Unmarshal(tx.Bucket(bucketBlocks).Get(be64(1)), b))
				b.Data.Data[0] = tx1Env(t)
				b.Header.DataHash = BlockDataHash(b.Data)
				require.NoError(t, tx.Bucket(bucketBlocks).Put(be64(1), mustMarshal(t, b)))
			},
		},
		{
			name:   "block missing",
			tamper: func(t *testing.T, tx *bolt.Tx) { require.NoError(t, tx.Bucket(bucketBlocks).Delete(be64(1))) },
		},
		{
			name:   "tx index entry missing",
			tamper: func(t *testing.T, tx *bolt.Tx) { require.NoError(t, tx.Bucket(bucketTxIndex).Delete([]byte("t1"))) },
		},
		{
			name: "last block changed",
			tamper: func(t *testing.T, tx *bolt.Tx) {
				b := &common.Block{}
				require.NoError(t, proto.Unmarshal(tx.Bucket(bucketBlocks).Get(be64(2)), b))
				b.Header.DataHash = []byte("x")
				require.NoError(t, tx.Bucket(bucketBlocks).Put(be64(2), mustMarshal(t, b)))
			},
		},
		{
			name:   "height record wrong",
			tamper: func(t *testing.T, tx *bolt.Tx) { require.NoError(t, tx.Bucket(bucketMeta).Put(metaHeight, be64(2))) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l, err := Open(dir)
			require.NoError(t, err)
			commitTxs(t, l, nil, tx("t0").put("a", "1"))
			commitTxs(t, l, nil, tx("t1").put("a", "2"))
			commitTxs(t, l, nil, tx("t2").put("a", "3"))
			require.NoError(t, l.VerifyChain())
			require.NoError(t, l.Close())

			db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
			require.NoError(t, err)
			require.NoError(t, db.Update(func(tx *bolt.Tx) error { tc.tamper(t, tx); return nil }))
			require.NoError(t, db.Close())

			// Open checks the tip in O(1); VerifyChain walks everything.
			l, err = Open(dir)
			if err != nil {
				require.ErrorIs(t, err, ErrCorrupt)
				return
			}
			defer l.Close()
			require.Error(t, l.VerifyChain())
		})
	}
}

func tx1Env(t *testing.T) []byte { return tx("t1").put("a", "forged").env(t) }

// TestCommitParsed checks that a block committed with its ParsedBlock ends exactly as one
// parsed by Commit (codes, state, stored metadata with the commit hash), and that a
// ParsedBlock of another block is not used.
func TestCommitParsed(t *testing.T) {
	envs := func(t *testing.T, first string) [][]byte {
		return [][]byte{
			tx(first).put("k", "1").env(t),
			tx("conflict").read("k", ver(9, 9)).put("k", "2").env(t),
			[]byte("not an envelope"),
			tx(first).put("x", "1").env(t),
		}
	}
	block := NewBlock(0, nil, envs(t, "a"))
	other := NewBlock(0, nil, envs(t, "other"))
	want := codesOf(valid, peer.TxValidationCode_MVCC_READ_CONFLICT, peer.TxValidationCode_NIL_ENVELOPE, peer.TxValidationCode_DUPLICATE_TXID)

	reference, _ := openTest(t)
	_, err := reference.Commit(proto.Clone(block).(*common.Block), nil, nil)
	require.NoError(t, err)
	stored, err := reference.Block(0)
	require.NoError(t, err)
	tests := []struct {
		name   string
		parsed *ParsedBlock
	}{
		{"parsed once for the ledgers", ParseBlock(block)},
		{"parsed from another block: ignored", ParseBlock(other)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := openTest(t)
			codes, err := l.CommitBlocks([]BlockCommit{{Block: proto.Clone(block).(*common.Block), Parsed: tc.parsed}})
			require.NoError(t, err)
			require.Equal(t, want, codes[0])
			require.Equal(t, "1", string(getState(t, l, testNS, "k").Value))
			require.Nil(t, getState(t, l, testNS, "x"))
			_, err = l.TxStatus("a")
			require.NoError(t, err, "the block's own transaction IDs are indexed")
			got, err := l.Block(0)
			require.NoError(t, err)
			require.True(t, proto.Equal(stored, got), "the stored block and its metadata match")
		})
	}
}
