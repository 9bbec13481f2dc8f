package ccruntime

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/internal/testcc"
	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/policy"
)

func TestHandshake(t *testing.T) {
	rt, srv := newAttachedRuntime(t)
	require.True(t, rt.Ready(ns))
	require.Equal(t, testcc.CCID, rt.PackageID(ns))
	require.Equal(t, []string{ns}, rt.Chaincodes())
	require.ErrorContains(t, rt.Attach(t.Context(), ns, srv.Addr(), nil), "already attached")
}

func TestPublicStateRWSet(t *testing.T) {
	rt, _ := newAttachedRuntime(t)
	st := newMemState()
	st.put(ns, "k1", "v1", ledger.Height{BlockNum: 1, TxNum: 0})
	st.put(ns, "k2", "v2", ledger.Height{BlockNum: 2, TxNum: 3})

	tests := []struct {
		name       string
		args       []string
		payload    string
		reads      []*kvrwset.KVRead
		writes     []*kvrwset.KVWrite
		emptyRWSet bool
	}{
		{
			name:   "put records a write and no read",
			args:   []string{"put", "k3", "v3"},
			writes: []*kvrwset.KVWrite{{Key: "k3", Value: []byte("v3")}},
		},
		{
			name:    "get records the read with its committed version",
			args:    []string{"get", "k2"},
			payload: "v2",
			reads:   []*kvrwset.KVRead{{Key: "k2", Version: ver(2, 3)}},
		},
		{
			name:  "get of an absent key records a read without version",
			args:  []string{"get", "nope"},
			reads: []*kvrwset.KVRead{{Key: "nope"}},
		},
		{
			name:   "del records a delete",
			args:   []string{"del", "k1"},
			writes: []*kvrwset.KVWrite{{Key: "k1", IsDelete: true}},
		},
		{
			name:    "own writes are invisible to reads",
			args:    []string{"putGet", "k1", "new"},
			payload: "v1",
			reads:   []*kvrwset.KVRead{{Key: "k1", Version: ver(1, 0)}},
			writes:  []*kvrwset.KVWrite{{Key: "k1", Value: []byte("new")}},
		},
		{
			name:    "read-modify-write",
			args:    []string{"incr", "counter"},
			payload: "1",
			reads:   []*kvrwset.KVRead{{Key: "counter"}},
			writes:  []*kvrwset.KVWrite{{Key: "counter", Value: []byte("1")}},
		},
		{
			name: "a write batch is recorded with writes sorted by key, last write wins",
			args: []string{"putMany", "zeta", "1", "alpha", "2", "mid", "3", "alpha", "4"},
			writes: []*kvrwset.KVWrite{
				{Key: "alpha", Value: []byte("4")},
				{Key: "mid", Value: []byte("3")},
				{Key: "zeta", Value: []byte("1")},
			},
		},
		{
			name:    "multi-key reads record every key",
			args:    []string{"getMany", "k2", "absent", "k1"},
			payload: `["v2",null,"v1"]`,
			reads: []*kvrwset.KVRead{
				{Key: "absent"},
				{Key: "k1", Version: ver(1, 0)},
				{Key: "k2", Version: ver(2, 3)},
			},
		},
		{
			name:       "a function without state access has an empty rwset",
			args:       []string{"txinfo"},
			emptyRWSet: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := executeOK(t, rt, st, call{args: tc.args})
			if tc.payload != "" {
				require.Equal(t, tc.payload, string(res.Response.GetPayload()))
			}
			if tc.emptyRWSet {
				require.Empty(t, res.RWSet.GetNsRwset())
				require.Nil(t, res.PvtRWSet)
				return
			}
			kv := nsRWSet(t, res, ns)
			require.NotNil(t, kv)
			requireProtoSlice(t, tc.reads, kv.GetReads())
			requireProtoSlice(t, tc.writes, kv.GetWrites())
			require.Empty(t, kv.GetRangeQueriesInfo())
			require.Nil(t, res.PvtRWSet)
			require.Empty(t, res.CollectionsWritten)
		})
	}
}

func TestReadyParameters(t *testing.T) {
	// With write batches and multi-key reads not advertised, the shim falls back to one
	// request per key; the recorded rwset is the same.
	rt, _ := newAttachedRuntime(t, WithWriteBatch(false, 0), WithGetMultipleKeys(false, 0))
	st := newMemState()
	st.put(ns, "k1", "v1", ledger.Height{BlockNum: 1, TxNum: 0})
	res := executeOK(t, rt, st, call{args: []string{"putMany", "b", "1", "a", "2"}})
	requireProtoSlice(t, []*kvrwset.KVWrite{{Key: "a", Value: []byte("2")}, {Key: "b", Value: []byte("1")}}, nsRWSet(t, res, ns).GetWrites())
	res = executeOK(t, rt, st, call{args: []string{"getMany", "k1", "x"}})
	require.JSONEq(t, `["v1",null]`, string(res.Response.GetPayload()))
	requireProtoSlice(t, []*kvrwset.KVRead{{Key: "k1", Version: ver(1, 0)}, {Key: "x"}}, nsRWSet(t, res, ns).GetReads())
}

func requireProtoSlice[T proto.Message](t *testing.T, want, got []T, msgAndArgs ...any) {
	t.Helper()
	require.Len(t, got, len(want), "got %v %v", got, msgAndArgs)
	for i := range want {
		require.True(t, proto.Equal(want[i], got[i]), "element %d: want %v, got %v %v", i, want[i], got[i], msgAndArgs)
	}
}

func TestRangeQueries(t *testing.T) {
	rt, _ := newAttachedRuntime(t)
	st := newMemState()
	for i, k := range []string{"a", "b", "c", "d"} {
		st.put(ns, k, "v"+k, ledger.Height{BlockNum: 1, TxNum: uint64(i)})
	}
	for i := range 3 {
		key, err := shim.CreateCompositeKey(testcc.ItemObjectType, []string{"p", fmt.Sprintf("%02d", i)})
		require.NoError(t, err)
		st.put(ns, key, "item", ledger.Height{BlockNum: 2, TxNum: uint64(i)})
	}

	tests := []struct {
		name      string
		args      []string
		keys      []string
		start     string
		end       string
		exhausted bool
	}{
		{name: "bounded range", args: []string{"range", "b", "d"}, keys: []string{"b", "c"}, start: "b", end: "d", exhausted: true},
		{name: "open range excludes composite keys", args: []string{"range", "", ""}, keys: []string{"a", "b", "c", "d"}, start: "\x01", end: "", exhausted: true},
		{name: "empty range", args: []string{"range", "x", "z"}, keys: []string{}, start: "x", end: "z", exhausted: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := executeOK(t, rt, st, call{args: tc.args})
			var kvs []testcc.KV
			require.NoError(t, json.Unmarshal(res.Response.GetPayload(), &kvs))
			got := []string{}
			for _, kv := range kvs {
				got = append(got, kv.Key)
				require.Equal(t, "v"+kv.Key, kv.Value)
			}
			require.Equal(t, tc.keys, got)

			kv := nsRWSet(t, res, ns)
			require.Empty(t, kv.GetReads(), "range reads go to the range query info, not the read set")
			require.Len(t, kv.GetRangeQueriesInfo(), 1)
			rqi := kv.GetRangeQueriesInfo()[0]
			require.Equal(t, tc.start, rqi.GetStartKey())
			require.Equal(t, tc.end, rqi.GetEndKey())
			require.Equal(t, tc.exhausted, rqi.GetItrExhausted())
			readKeys := []string{}
			for _, r := range rqi.GetRawReads().GetKvReads() {
				readKeys = append(readKeys, r.GetKey())
				require.NotNil(t, r.GetVersion())
			}
			require.Equal(t, tc.keys, readKeys)
			if len(tc.keys) == 0 {
				require.Nil(t, rqi.GetReadsInfo(), "Fabric records no reads info for an empty range")
			}
		})
	}

	t.Run("partial composite key query", func(t *testing.T) {
		res := executeOK(t, rt, st, call{args: []string{"items", "p"}})
		var kvs []testcc.KV
		require.NoError(t, json.Unmarshal(res.Response.GetPayload(), &kvs))
		require.Equal(t, []testcc.KV{{Key: "00", Value: "item"}, {Key: "01", Value: "item"}, {Key: "02", Value: "item"}}, kvs)
		rqi := nsRWSet(t, res, ns).GetRangeQueriesInfo()[0]
		prefix, err := shim.CreateCompositeKey(testcc.ItemObjectType, []string{"p"})
		require.NoError(t, err)
		require.Equal(t, prefix, rqi.GetStartKey())
		require.Equal(t, prefix+"\U0010FFFF", rqi.GetEndKey())
		require.True(t, rqi.GetItrExhausted())
		require.Len(t, rqi.GetRawReads().GetKvReads(), 3)
	})
}

func TestRangeQueryBatching(t *testing.T) {
	st := newMemState()
	const n = 250 // more than two QueryResponse batches of 100, more than the hashing degree 50
	want := make([]string, 0, n)
	for i := range n {
		k := fmt.Sprintf("key%04d", i)
		want = append(want, k)
		st.put(ns, k, "v", ledger.Height{BlockNum: 1, TxNum: uint64(i)})
	}
	tests := []struct {
		name   string
		degree uint32
	}{
		{name: "merkle summary beyond the hashing degree, as Fabric", degree: DefaultRangeQueryHashDegree},
		{name: "raw reads with hashing disabled", degree: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt, _ := newAttachedRuntime(t, WithRangeQueryHashing(tc.degree))
			res := executeOK(t, rt, st, call{args: []string{"range", "key", "kez"}})
			var kvs []testcc.KV
			require.NoError(t, json.Unmarshal(res.Response.GetPayload(), &kvs))
			got := make([]string, 0, len(kvs))
			for _, kv := range kvs {
				got = append(got, kv.Key)
			}
			require.Equal(t, want, got)

			rec, err := ledger.NewRangeQueryRecorder("key", "kez", tc.degree)
			require.NoError(t, err)
			for i, k := range want {
				rec.Add(k, ledger.Height{BlockNum: 1, TxNum: uint64(i)})
			}
			rec.Exhausted()
			rqi := nsRWSet(t, res, ns).GetRangeQueriesInfo()[0]
			require.True(t, proto.Equal(rec.Info(), rqi), "want %v, got %v", rec.Info(), rqi)
			if tc.degree == 0 {
				require.Len(t, rqi.GetRawReads().GetKvReads(), n)
			} else {
				require.EqualValues(t, tc.degree, rqi.GetReadsMerkleHashes().GetMaxDegree())
			}
		})
	}
}

func TestPagination(t *testing.T) {
	rt, _ := newAttachedRuntime(t)
	st := newMemState()
	add := func(prefix string, n int) []string {
		ids := make([]string, 0, n)
		for i := range n {
			id := fmt.Sprintf("%03d", i)
			key, err := shim.CreateCompositeKey(testcc.ItemObjectType, []string{prefix, id})
			require.NoError(t, err)
			st.put(ns, key, prefix+id, ledger.Height{BlockNum: 3, TxNum: uint64(i)})
			ids = append(ids, id)
		}
		return ids
	}
	all25 := add("p25", 25)
	all20 := add("p20", 20)
	add("q", 5) // a neighbouring prefix that must never leak into the pages

	tests := []struct {
		name     string
		prefix   string
		pageSize int
		want     []string
		sizes    []int
	}{
		{name: "partial last page", prefix: "p25", pageSize: 10, want: all25, sizes: []int{10, 10, 5}},
		{name: "exact multiple ends with an empty bookmark", prefix: "p20", pageSize: 10, want: all20, sizes: []int{10, 10}},
		{name: "page larger than the result", prefix: "p20", pageSize: 50, want: all20, sizes: []int{20}},
		{name: "no match", prefix: "none", pageSize: 10, want: []string{}, sizes: []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			got := []string{}
			bookmark := ""
			for i, size := range tc.sizes {
				res := executeOK(t, rt, st, call{args: []string{"page", tc.prefix, fmt.Sprint(tc.pageSize), bookmark}})
				var p testcc.Page
				require.NoError(t, json.Unmarshal(res.Response.GetPayload(), &p))
				require.Len(t, p.Records, size, "page %d", i)
				require.EqualValues(t, size, p.FetchedRecordsCount)
				for _, r := range p.Records {
					require.False(t, seen[r.Key], "record %s returned twice", r.Key)
					seen[r.Key] = true
					require.Equal(t, tc.prefix+r.Key, r.Value)
					got = append(got, r.Key)
				}
				last := i == len(tc.sizes)-1
				if last {
					require.Empty(t, p.Bookmark, "the last page has no bookmark")
				} else {
					require.NotEmpty(t, p.Bookmark)
				}
				// The paginated range is recorded from the bookmark.
				rqi := nsRWSet(t, res, ns).GetRangeQueriesInfo()[0]
				if bookmark != "" {
					require.Equal(t, bookmark, rqi.GetStartKey())
				}
				require.Len(t, rqi.GetRawReads().GetKvReads(), size)
				bookmark = p.Bookmark
			}
			require.Equal(t, tc.want, got)
		})
	}

	t.Run("simple-key range pages", func(t *testing.T) {
		st := newMemState()
		for i := range 7 {
			st.put(ns, fmt.Sprintf("r%d", i), "v", ledger.Height{BlockNum: 1, TxNum: uint64(i)})
		}
		var got []string
		bookmark := ""
		for range 4 {
			res := executeOK(t, rt, st, call{args: []string{"rangePage", "r", "s", "3", bookmark}})
			var p testcc.Page
			require.NoError(t, json.Unmarshal(res.Response.GetPayload(), &p))
			for _, r := range p.Records {
				got = append(got, r.Key)
			}
			bookmark = p.Bookmark
			if bookmark == "" {
				break
			}
		}
		require.Equal(t, []string{"r0", "r1", "r2", "r3", "r4", "r5", "r6"}, got)
	})
}

func TestHistory(t *testing.T) {
	rt, _ := newAttachedRuntime(t)
	st := newMemState()
	st.addHistory(ns, "k", "tx1", "one", false, 100)
	st.addHistory(ns, "k", "tx2", "two", false, 200)
	st.addHistory(ns, "k", "tx3", "", true, 300)

	res := executeOK(t, rt, st, call{args: []string{"history", "k"}})
	var mods []testcc.Modification
	require.NoError(t, json.Unmarshal(res.Response.GetPayload(), &mods))
	require.Equal(t, []testcc.Modification{
		{TxID: "tx1", Value: "one", Timestamp: "1970-01-01T00:01:40Z"},
		{TxID: "tx2", Value: "two", Timestamp: "1970-01-01T00:03:20Z"},
		{TxID: "tx3", IsDelete: true, Timestamp: "1970-01-01T00:05:00Z"},
	}, mods)
	require.Empty(t, res.RWSet.GetNsRwset(), "history reads are not part of the rwset")

	res = executeOK(t, rt, st, call{args: []string{"history", "unknown"}})
	require.JSONEq(t, `[]`, string(res.Response.GetPayload()))
}

func TestValidationParameter(t *testing.T) {
	rt, _ := newAttachedRuntime(t)
	st := newMemState()
	env, err := policy.Parse("OR('BankMSP.member', 'CarrierMSP.member')")
	require.NoError(t, err)
	policyBytes := mustMarshal(t, env)
	st.put(ns, "guarded", "v", ledger.Height{BlockNum: 4, TxNum: 2})
	st.setMetadata(ns, "guarded", map[string][]byte{validationParameterKey: policyBytes})
	st.put(ns, "plain", "v", ledger.Height{BlockNum: 4, TxNum: 3})

	t.Run("set records a metadata write", func(t *testing.T) {
		res := executeOK(t, rt, st, call{args: []string{"setValidation", "plain", string(policyBytes)}})
		kv := nsRWSet(t, res, ns)
		requireProtoSlice(t, []*kvrwset.KVMetadataWrite{{
			Key:     "plain",
			Entries: []*kvrwset.KVMetadataEntry{{Name: validationParameterKey, Value: policyBytes}},
		}}, kv.GetMetadataWrites())
		require.Empty(t, kv.GetWrites())
	})
	t.Run("get returns the committed parameter and records the read", func(t *testing.T) {
		res := executeOK(t, rt, st, call{args: []string{"getValidation", "guarded"}})
		require.Equal(t, policyBytes, res.Response.GetPayload())
		requireProtoSlice(t, []*kvrwset.KVRead{{Key: "guarded", Version: ver(4, 2)}}, nsRWSet(t, res, ns).GetReads())
	})
	t.Run("writing a key with a key-level policy reports the policy in the interest", func(t *testing.T) {
		res := executeOK(t, rt, st, call{args: []string{"put", "guarded", "new"}})
		require.Len(t, res.Interest.GetChaincodes(), 1)
		cc := res.Interest.GetChaincodes()[0]
		require.Equal(t, ns, cc.GetName())
		require.True(t, cc.GetDisregardNamespacePolicy())
		require.Len(t, cc.GetKeyPolicies(), 1)
	})
	t.Run("writing a plain key requires the chaincode policy", func(t *testing.T) {
		res := executeOK(t, rt, st, call{args: []string{"put", "plain", "new"}})
		require.Len(t, res.Interest.GetChaincodes(), 1)
		cc := res.Interest.GetChaincodes()[0]
		require.False(t, cc.GetDisregardNamespacePolicy())
		require.Empty(t, cc.GetKeyPolicies())
	})
}

func TestEventsAndResponses(t *testing.T) {
	rt, _ := newAttachedRuntime(t)
	st := newMemState()

	t.Run("chaincode event", func(t *testing.T) {
		c := call{args: []string{"event", "OrderCreated", `{"id":"o1"}`}, txID: nextTxID()}
		res := executeOK(t, rt, st, c)
		require.True(t, proto.Equal(&peer.ChaincodeEvent{
			ChaincodeId: ns, TxId: c.txID, EventName: "OrderCreated", Payload: []byte(`{"id":"o1"}`),
		}, res.Event), "event %v", res.Event)
	})
	t.Run("no event", func(t *testing.T) {
		res := executeOK(t, rt, st, call{args: []string{"get", "x"}})
		require.Nil(t, res.Event)
	})
	t.Run("shim.Error is a normal result with its status", func(t *testing.T) {
		res := execute(t, rt, st, call{args: []string{"fail", "FORBIDDEN: not yours"}})
		require.EqualValues(t, shim.ERROR, res.Response.GetStatus())
		require.Equal(t, "FORBIDDEN: not yours", res.Response.GetMessage())
	})
	t.Run("rich queries are not supported on LevelDB", func(t *testing.T) {
		res := execute(t, rt, st, call{args: []string{"rich", `{"selector":{}}`}})
		require.EqualValues(t, shim.ERROR, res.Response.GetStatus())
		require.Contains(t, res.Response.GetMessage(), "GET_QUERY_RESULT failed: transaction ID: ")
		require.Contains(t, res.Response.GetMessage(), "ExecuteQuery not supported for leveldb")
	})
	t.Run("chaincode-to-chaincode calls are refused", func(t *testing.T) {
		res := execute(t, rt, st, call{args: []string{"call", "other", "fn"}})
		require.EqualValues(t, shim.ERROR, res.Response.GetStatus())
		require.Contains(t, string(res.Response.GetPayload()), "INVOKE_CHAINCODE failed")
		require.Contains(t, string(res.Response.GetPayload()), "not supported by the devnet")
	})
}
