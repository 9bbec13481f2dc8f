package ledger

import (
	"fmt"
	"slices"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// modelEntry is the reference model of one state entry.
type modelEntry struct {
	value string
	ver   Height
}

// modelRangeReads lists the (key, version) reads a full-namespace range sees in m.
func modelRangeReads(m map[string]modelEntry) []*kvrwset.KVRead {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	reads := make([]*kvrwset.KVRead, 0, len(keys))
	for _, k := range keys {
		reads = append(reads, kvr(k, ver(m[k].ver.BlockNum, m[k].ver.TxNum)))
	}
	return reads
}

func sameReads(a, b []*kvrwset.KVRead) bool {
	return slices.EqualFunc(a, b, func(x, y *kvrwset.KVRead) bool {
		return x.Key == y.Key && x.Version.GetBlockNum() == y.Version.GetBlockNum() && x.Version.GetTxNum() == y.Version.GetTxNum()
	})
}

// TestCommitMatchesModel is a differential property test: random blocks of transactions,
// simulated against the state at the start of their block (so in-block conflicts arise),
// must get the codes and produce the state that a straightforward sequential model of
// Fabric's MVCC and phantom rules computes.
func TestCommitMatchesModel(t *testing.T) {
	keys := []string{"a", "b", "c", "d"}
	rapid.Check(t, func(rt *rapid.T) {
		l, err := Open(t.TempDir())
		require.NoError(rt, err)
		defer l.Close()
		model := map[string]modelEntry{}
		txCount := 0
		blocks := rapid.IntRange(1, 6).Draw(rt, "blocks")
		for range blocks {
			start := map[string]modelEntry{}
			for k, v := range model {
				start[k] = v
			}
			n := rapid.IntRange(1, 5).Draw(rt, "txs")
			txs := make([]*txb, n)
			type plan struct {
				reads  []*kvrwset.KVRead
				ranged []*kvrwset.KVRead
				writes map[string]*string
				order  []string
			}
			plans := make([]plan, n)
			for i := range txs {
				txCount++
				x := tx(fmt.Sprintf("tx%d", txCount))
				p := plan{writes: map[string]*string{}}
				for _, k := range rapid.SliceOfNDistinct(rapid.SampledFrom(keys), 0, 2, rapid.ID[string]).Draw(rt, "reads") {
					var v *kvrwset.Version
					if e, ok := start[k]; ok {
						v = ver(e.ver.BlockNum, e.ver.TxNum)
					}
					if rapid.Bool().Draw(rt, "stale") && v != nil {
						v = ver(v.BlockNum+100, 0)
					}
					x.read(k, v)
					p.reads = append(p.reads, kvr(k, v))
				}
				if rapid.Bool().Draw(rt, "range") {
					p.ranged = modelRangeReads(start)
					x.rangeRaw("", "", true, p.ranged...)
				}
				for _, k := range rapid.SliceOfNDistinct(rapid.SampledFrom(keys), 0, 2, rapid.ID[string]).Draw(rt, "writes") {
					if rapid.Bool().Draw(rt, "delete") {
						x.del(k)
						p.writes[k] = nil
					} else {
						v := fmt.Sprintf("v%d", txCount)
						x.put(k, v)
						p.writes[k] = &v
					}
					p.order = append(p.order, k)
				}
				txs[i] = x
				plans[i] = p
			}
			codes := commitTxs(rt, l, nil, txs...)
			blockNum := l.Height() - 1
			for i, p := range plans {
				want := peer.TxValidationCode_VALID
				for _, r := range p.reads {
					e, ok := model[r.Key]
					if (r.Version == nil) != !ok || (ok && (e.ver.BlockNum != r.Version.BlockNum || e.ver.TxNum != r.Version.TxNum)) {
						want = peer.TxValidationCode_MVCC_READ_CONFLICT
						break
					}
				}
				if want == peer.TxValidationCode_VALID && p.ranged != nil && !sameReads(p.ranged, modelRangeReads(model)) {
					want = peer.TxValidationCode_PHANTOM_READ_CONFLICT
				}
				require.Equal(rt, want, codes[i], "block %d tx %d", blockNum, i)
				if want != peer.TxValidationCode_VALID {
					continue
				}
				for _, k := range p.order {
					if v := p.writes[k]; v == nil {
						delete(model, k)
					} else {
						model[k] = modelEntry{value: *v, ver: Height{blockNum, uint64(i)}}
					}
				}
			}
			s, err := l.NewSnapshot()
			require.NoError(rt, err)
			for _, k := range keys {
				vv, err := s.GetState(testNS, k)
				require.NoError(rt, err)
				e, ok := model[k]
				if !ok {
					require.Nil(rt, vv, "key %s", k)
					continue
				}
				require.NotNil(rt, vv, "key %s", k)
				require.Equal(rt, e.value, string(vv.Value))
				require.Equal(rt, e.ver, vv.Version)
			}
			s.Release()
		}
		require.NoError(rt, l.VerifyChain())
	})
}
