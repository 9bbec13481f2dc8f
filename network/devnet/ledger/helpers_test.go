package ledger

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const testNS = "cc"

// tb is the part of testing.TB the envelope helpers need; *rapid.T satisfies it too.
type tb interface {
	require.TestingT
	Helper()
}

// txb builds a real Fabric endorser transaction envelope for tests.
type txb struct {
	id       string
	ns       string
	ts       time.Time
	reads    []*kvrwset.KVRead
	ranges   []*kvrwset.RangeQueryInfo
	writes   []*kvrwset.KVWrite
	mdWrites []*kvrwset.KVMetadataWrite
	colls    []*rwset.CollectionHashedReadWriteSet
	event    *peer.ChaincodeEvent
	typ      common.HeaderType
}

func tx(id string) *txb {
	return &txb{id: id, ns: testNS, ts: time.Unix(1700000000, 0).UTC(), typ: common.HeaderType_ENDORSER_TRANSACTION}
}

func ver(b, t uint64) *kvrwset.Version { return &kvrwset.Version{BlockNum: b, TxNum: t} }

func (b *txb) read(key string, v *kvrwset.Version) *txb {
	b.reads = append(b.reads, &kvrwset.KVRead{Key: key, Version: v})
	return b
}

func (b *txb) put(key, value string) *txb {
	b.writes = append(b.writes, &kvrwset.KVWrite{Key: key, Value: []byte(value)})
	return b
}

func (b *txb) del(key string) *txb {
	b.writes = append(b.writes, &kvrwset.KVWrite{Key: key, IsDelete: true})
	return b
}

func (b *txb) meta(key string, kv ...string) *txb {
	mw := &kvrwset.KVMetadataWrite{Key: key}
	for i := 0; i+1 < len(kv); i += 2 {
		mw.Entries = append(mw.Entries, &kvrwset.KVMetadataEntry{Name: kv[i], Value: []byte(kv[i+1])})
	}
	b.mdWrites = append(b.mdWrites, mw)
	return b
}

func (b *txb) rangeRaw(start, end string, exhausted bool, reads ...*kvrwset.KVRead) *txb {
	b.ranges = append(b.ranges, &kvrwset.RangeQueryInfo{StartKey: start, EndKey: end, ItrExhausted: exhausted,
		ReadsInfo: &kvrwset.RangeQueryInfo_RawReads{RawReads: &kvrwset.QueryReads{KvReads: reads}}})
	return b
}

func (b *txb) rangeInfo(info *kvrwset.RangeQueryInfo) *txb {
	b.ranges = append(b.ranges, info)
	return b
}

func (b *txb) at(ts time.Time) *txb { b.ts = ts; return b }

func kvr(key string, v *kvrwset.Version) *kvrwset.KVRead {
	return &kvrwset.KVRead{Key: key, Version: v}
}

func hashOf(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// pvtColl is a private collection write/read set: the hashed part goes into the public
// transaction, the raw part into the TxPvtReadWriteSet given to Commit.
type pvtColl struct {
	coll        string
	hashedReads []*kvrwset.KVReadHash
	writes      []*kvrwset.KVWrite
	mdWrites    []*kvrwset.KVMetadataWrite // plain keys; hashed into the public part
}

// private adds a collection to the transaction and returns the matching private rwset.
func (b *txb) private(t tb, c pvtColl) *rwset.TxPvtReadWriteSet {
	t.Helper()
	h := &kvrwset.HashedRWSet{HashedReads: c.hashedReads}
	for _, mw := range c.mdWrites {
		h.MetadataWrites = append(h.MetadataWrites, &kvrwset.KVMetadataWriteHash{KeyHash: hashOf(mw.Key), Entries: mw.Entries})
	}
	for _, w := range c.writes {
		hw := &kvrwset.KVWriteHash{KeyHash: hashOf(w.Key), IsDelete: w.IsDelete}
		if !w.IsDelete {
			hw.ValueHash = hashOf(string(w.Value))
		}
		h.HashedWrites = append(h.HashedWrites, hw)
	}
	hb, err := proto.Marshal(h)
	require.NoError(t, err)
	var raw []byte
	if len(c.writes) > 0 || len(c.mdWrites) > 0 {
		raw, err = proto.Marshal(&kvrwset.KVRWSet{Writes: c.writes, MetadataWrites: c.mdWrites})
		require.NoError(t, err)
	}
	chs := &rwset.CollectionHashedReadWriteSet{CollectionName: c.coll, HashedRwset: hb}
	if raw != nil {
		sum := sha256.Sum256(raw)
		chs.PvtRwsetHash = sum[:]
	}
	b.colls = append(b.colls, chs)
	if raw == nil {
		return nil
	}
	return &rwset.TxPvtReadWriteSet{DataModel: rwset.TxReadWriteSet_KV, NsPvtRwset: []*rwset.NsPvtReadWriteSet{{
		Namespace:          b.ns,
		CollectionPvtRwset: []*rwset.CollectionPvtReadWriteSet{{CollectionName: c.coll, Rwset: raw}},
	}}}
}

func mustMarshal(t tb, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

// env returns the marshalled envelope.
func (b *txb) env(t tb) []byte {
	t.Helper()
	ch := &common.ChannelHeader{Type: int32(b.typ), ChannelId: "xborder", TxId: b.id, Timestamp: timestamppb.New(b.ts)}
	sh := &common.SignatureHeader{Creator: []byte("creator"), Nonce: []byte("nonce-" + b.id)}
	var data []byte
	switch b.typ {
	case common.HeaderType_ENDORSER_TRANSACTION:
		kv := &kvrwset.KVRWSet{Reads: b.reads, RangeQueriesInfo: b.ranges, Writes: b.writes, MetadataWrites: b.mdWrites}
		rws := &rwset.TxReadWriteSet{DataModel: rwset.TxReadWriteSet_KV, NsRwset: []*rwset.NsReadWriteSet{{
			Namespace: b.ns, Rwset: mustMarshal(t, kv), CollectionHashedRwset: b.colls,
		}}}
		action := &peer.ChaincodeAction{
			Results:     mustMarshal(t, rws),
			Response:    &peer.Response{Status: 200},
			ChaincodeId: &peer.ChaincodeID{Name: b.ns},
		}
		if b.event != nil {
			action.Events = mustMarshal(t, b.event)
		}
		prp := &peer.ProposalResponsePayload{ProposalHash: hashOf(b.id), Extension: mustMarshal(t, action)}
		cap := &peer.ChaincodeActionPayload{
			ChaincodeProposalPayload: []byte("input"),
			Action: &peer.ChaincodeEndorsedAction{
				ProposalResponsePayload: mustMarshal(t, prp),
				Endorsements:            []*peer.Endorsement{{Endorser: []byte("endorser"), Signature: []byte("sig")}},
			},
		}
		data = mustMarshal(t, &peer.Transaction{Actions: []*peer.TransactionAction{{Header: mustMarshal(t, sh), Payload: mustMarshal(t, cap)}}})
	case common.HeaderType_CONFIG:
		data = mustMarshal(t, &common.ConfigEnvelope{Config: &common.Config{Sequence: 0}})
	default:
		data = []byte("opaque")
	}
	payload := &common.Payload{Header: &common.Header{ChannelHeader: mustMarshal(t, ch), SignatureHeader: mustMarshal(t, sh)}, Data: data}
	return mustMarshal(t, &common.Envelope{Payload: mustMarshal(t, payload), Signature: []byte("signature")})
}

func openTest(t testing.TB, opts ...Option) (*Ledger, string) {
	t.Helper()
	dir := t.TempDir()
	l, err := Open(dir, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l, dir
}

// nextBlock builds the next block of l from envelopes.
func nextBlock(t tb, l *Ledger, envs ...[]byte) *common.Block {
	t.Helper()
	info, err := l.ChainInfo()
	require.NoError(t, err)
	return NewBlock(info.Height, info.CurrentBlockHash, envs)
}

// commitTxs commits one block of the given transactions (all pre-validated VALID).
func commitTxs(t tb, l *Ledger, pvt map[uint64]*rwset.TxPvtReadWriteSet, txs ...*txb) []peer.TxValidationCode {
	t.Helper()
	envs := make([][]byte, len(txs))
	for i, x := range txs {
		envs[i] = x.env(t)
	}
	codes, err := l.Commit(nextBlock(t, l, envs...), nil, pvt)
	require.NoError(t, err)
	return codes
}

func getState(t tb, l *Ledger, ns, key string) *VersionedValue {
	t.Helper()
	s, err := l.NewSnapshot()
	require.NoError(t, err)
	defer s.Release()
	vv, err := s.GetState(ns, key)
	require.NoError(t, err)
	return vv
}

func codesOf(cs ...peer.TxValidationCode) []peer.TxValidationCode { return cs }

const (
	valid   = peer.TxValidationCode_VALID
	mvcc    = peer.TxValidationCode_MVCC_READ_CONFLICT
	phantom = peer.TxValidationCode_PHANTOM_READ_CONFLICT
	dup     = peer.TxValidationCode_DUPLICATE_TXID
)
