package ccruntime

import (
	"slices"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"github.com/xborder/xborder/network/devnet/ledger"
)

// These tests drive a transaction context directly with the messages the shim sends, to cover
// protocol corners that a well-behaved chaincode does not reach.

func newTestTx(tb testing.TB, st State, opts ...Option) *txContext {
	tb.Helper()
	rt := NewRuntime(opts...)
	return newTxContext(rt, call{args: []string{"test"}}.invocation(tb, st))
}

func request(tb testing.TB, tx *txContext, typ peer.ChaincodeMessage_Type, payload proto.Message) *peer.ChaincodeMessage {
	tb.Helper()
	return tx.handle(&peer.ChaincodeMessage{Type: typ, Payload: mustMarshal(tb, payload), Txid: tx.inv.TxID, ChannelId: tx.inv.ChannelID})
}

func rangeMsg(tb testing.TB, start, end string, pageSize int32, bookmark string) *peer.GetStateByRange {
	tb.Helper()
	req := &peer.GetStateByRange{StartKey: start, EndKey: end}
	if pageSize != 0 || bookmark != "" {
		req.Metadata = mustMarshal(tb, &peer.QueryMetadata{PageSize: pageSize, Bookmark: bookmark})
	}
	return req
}

func queryResponse(tb testing.TB, m *peer.ChaincodeMessage) *peer.QueryResponse {
	tb.Helper()
	require.Equal(tb, peer.ChaincodeMessage_RESPONSE, m.GetType(), "error: %s", m.GetPayload())
	qr := &peer.QueryResponse{}
	require.NoError(tb, proto.Unmarshal(m.GetPayload(), qr))
	return qr
}

func resultKeys(tb testing.TB, qr *peer.QueryResponse) []string {
	tb.Helper()
	keys := []string{}
	for _, r := range qr.GetResults() {
		kv := &queryresult.KV{}
		require.NoError(tb, proto.Unmarshal(r.GetResultBytes(), kv))
		keys = append(keys, kv.GetKey())
	}
	return keys
}

func TestQueryProtocolProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		keys := rapid.SliceOfNDistinct(rapid.StringMatching(`[a-c][a-c]{0,3}`), 0, 40, rapid.ID[string]).Draw(rt, "keys")
		st := newMemState()
		for i, k := range keys {
			st.put(ns, k, "v", ledger.Height{BlockNum: 1, TxNum: uint64(i)})
		}
		want := slices.Clone(keys)
		slices.Sort(want)
		if want == nil {
			want = []string{}
		}

		// Unpaginated: batches of at most maxResults, continued with QUERY_STATE_NEXT.
		maxResults := rapid.IntRange(1, 6).Draw(rt, "maxResults")
		tx := newTestTx(t, st)
		tx.rt.opts.maxResults = maxResults
		qr := queryResponse(t, request(t, tx, peer.ChaincodeMessage_GET_STATE_BY_RANGE, rangeMsg(t, "a", "d", 0, "")))
		got := []string{}
		for {
			if len(qr.GetResults()) > maxResults {
				rt.Fatalf("batch of %d results exceeds %d", len(qr.GetResults()), maxResults)
			}
			got = append(got, resultKeys(t, qr)...)
			if !qr.GetHasMore() {
				break
			}
			qr = queryResponse(t, request(t, tx, peer.ChaincodeMessage_QUERY_STATE_NEXT, &peer.QueryStateNext{Id: qr.GetId()}))
		}
		if !slices.Equal(want, got) {
			rt.Fatalf("unpaginated: want %v, got %v", want, got)
		}
		require.Empty(t, tx.queries, "an exhausted query is cleaned up")

		// Paginated: pages of at most pageSize chained by bookmarks cover the range exactly.
		pageSize := rapid.Int32Range(1, 12).Draw(rt, "pageSize")
		got = []string{}
		bookmark := ""
		for pages := 0; ; pages++ {
			if pages > len(keys)+1 {
				rt.Fatalf("pagination does not terminate")
			}
			tx := newTestTx(t, st)
			qr := queryResponse(t, request(t, tx, peer.ChaincodeMessage_GET_STATE_BY_RANGE, rangeMsg(t, "a", "d", pageSize, bookmark)))
			require.False(t, qr.GetHasMore())
			md := &peer.QueryResponseMetadata{}
			require.NoError(t, proto.Unmarshal(qr.GetMetadata(), md))
			page := resultKeys(t, qr)
			if int32(len(page)) > pageSize || md.GetFetchedRecordsCount() != int32(len(page)) {
				rt.Fatalf("page of %d (count %d) with page size %d", len(page), md.GetFetchedRecordsCount(), pageSize)
			}
			got = append(got, page...)
			bookmark = md.GetBookmark()
			if bookmark == "" {
				break
			}
		}
		if !slices.Equal(want, got) {
			rt.Fatalf("paginated (page size %d): want %v, got %v", pageSize, want, got)
		}
	})
}

func TestTotalQueryLimit(t *testing.T) {
	st := newMemState()
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		st.put(ns, k, "v", ledger.Height{BlockNum: 1})
	}
	tx := newTestTx(t, st, WithTotalQueryLimit(3))
	qr := queryResponse(t, request(t, tx, peer.ChaincodeMessage_GET_STATE_BY_RANGE, rangeMsg(t, "a", "z", 0, "")))
	require.Equal(t, []string{"a", "b", "c"}, resultKeys(t, qr))
	require.False(t, qr.GetHasMore())
}

func TestTransactionPreconditions(t *testing.T) {
	st := newMemState()
	st.put(ns, "a", "v", ledger.Height{BlockNum: 1})
	put := &peer.PutState{Key: "k", Value: []byte("v")}
	paged := rangeMsg(t, "a", "z", 5, "")
	pvtRange := &peer.GetStateByRange{StartKey: "a", EndKey: "z", Collection: "privB"}

	type step struct {
		typ     peer.ChaincodeMessage_Type
		payload proto.Message
	}
	tests := []struct {
		name  string
		steps []step
		err   string
	}{
		{"paginated query then write", []step{{peer.ChaincodeMessage_GET_STATE_BY_RANGE, paged}, {peer.ChaincodeMessage_PUT_STATE, put}},
			"Transaction has already performed a paginated query. Writes are not allowed"},
		{"write then paginated query", []step{{peer.ChaincodeMessage_PUT_STATE, put}, {peer.ChaincodeMessage_GET_STATE_BY_RANGE, paged}},
			"Paginated queries are supported only in a read-only transaction"},
		{"private range query then write", []step{{peer.ChaincodeMessage_GET_STATE_BY_RANGE, pvtRange}, {peer.ChaincodeMessage_DEL_STATE, &peer.DelState{Key: "k"}}},
			"Transaction has already performed queries on pvt data. Writes are not allowed"},
		{"write then private range query", []step{{peer.ChaincodeMessage_PUT_STATE, put}, {peer.ChaincodeMessage_GET_STATE_BY_RANGE, pvtRange}},
			"Queries on pvt data is supported only in a read-only transaction"},
		{"next on an unknown iterator", []step{{peer.ChaincodeMessage_QUERY_STATE_NEXT, &peer.QueryStateNext{Id: "42"}}},
			"query iterator not found"},
		{"purge of public data", []step{{peer.ChaincodeMessage_PURGE_PRIVATE_DATA, &peer.DelState{Key: "k"}}},
			"only applicable for private data"},
		{"unknown write batch operation", []step{{peer.ChaincodeMessage_WRITE_BATCH_STATE, &peer.WriteBatchState{Rec: []*peer.WriteRecord{{Key: "k", Type: peer.WriteRecord_UNDEFINED}}}}},
			"unknown operation type"},
		{"metadata write without entry", []step{{peer.ChaincodeMessage_PUT_STATE_METADATA, &peer.PutStateMetadata{Key: "k"}}},
			"state metadata entry must not be nil"},
		{"paginated rich query", []step{{peer.ChaincodeMessage_GET_QUERY_RESULT, &peer.GetQueryResult{Query: "{}", Metadata: mustMarshal(t, &peer.QueryMetadata{PageSize: 2})}}},
			"ExecuteQueryWithMetadata not supported for leveldb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx := newTestTx(t, st)
			var last *peer.ChaincodeMessage
			for i, s := range tc.steps {
				last = request(t, tx, s.typ, s.payload)
				if i < len(tc.steps)-1 {
					require.Equal(t, peer.ChaincodeMessage_RESPONSE, last.GetType(), "step %d: %s", i, last.GetPayload())
				}
			}
			require.Equal(t, peer.ChaincodeMessage_ERROR, last.GetType())
			require.Contains(t, string(last.GetPayload()), tc.steps[len(tc.steps)-1].typ.String()+" failed: transaction ID: "+tx.inv.TxID+": ")
			require.Contains(t, string(last.GetPayload()), tc.err)
		})
	}

	t.Run("close of an unknown iterator answers an empty response", func(t *testing.T) {
		tx := newTestTx(t, st)
		qr := queryResponse(t, request(t, tx, peer.ChaincodeMessage_QUERY_STATE_CLOSE, &peer.QueryStateClose{Id: "7"}))
		require.Equal(t, "7", qr.GetId())
		require.False(t, qr.GetHasMore())
	})
	t.Run("an abandoned range query is recorded up to the last key handed out", func(t *testing.T) {
		st := newMemState()
		for i, k := range []string{"a", "b", "c", "d"} {
			st.put(ns, k, "v", ledger.Height{BlockNum: 1, TxNum: uint64(i)})
		}
		tx := newTestTx(t, st)
		tx.rt.opts.maxResults = 2
		qr := queryResponse(t, request(t, tx, peer.ChaincodeMessage_GET_STATE_BY_RANGE, rangeMsg(t, "a", "z", 0, "")))
		require.True(t, qr.GetHasMore())
		queryResponse(t, request(t, tx, peer.ChaincodeMessage_QUERY_STATE_CLOSE, &peer.QueryStateClose{Id: qr.GetId()}))
		res, err := tx.complete(&peer.ChaincodeMessage{Type: peer.ChaincodeMessage_COMPLETED, Payload: mustMarshal(t, &peer.Response{Status: 200})})
		require.NoError(t, err)
		rqi := nsRWSet(t, res, ns).GetRangeQueriesInfo()
		require.Len(t, rqi, 1)
		// Like Fabric's peer, the batch of two was sent after fetching the third key ahead.
		require.Equal(t, "c", rqi[0].GetEndKey())
		require.False(t, rqi[0].GetItrExhausted())
		require.Len(t, rqi[0].GetRawReads().GetKvReads(), 3)
	})
}
