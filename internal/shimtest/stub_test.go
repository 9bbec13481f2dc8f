package shimtest_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/internal/shimtest"
)

func TestProposalFields(t *testing.T) {
	ids, err := shimtest.NewIdentities("MerchantMSP")
	require.NoError(t, err)
	creator := ids.Creator("MerchantMSP")
	ts := time.Date(2026, 3, 4, 5, 6, 7, 800, time.UTC)

	tests := []struct {
		name        string
		opts        shimtest.TxOptions
		fn          string
		args        []string
		wantChannel string
		wantTxID    string
		wantTS      time.Time
		wantTrans   map[string][]byte
	}{
		{
			name:        "explicit options",
			opts:        shimtest.TxOptions{Creator: creator, TxID: "tx-explicit", ChannelID: "other", Timestamp: ts, Transient: map[string][]byte{"buyer": []byte("Alice")}},
			fn:          "CreateOrder",
			args:        []string{"o1", `{"a":1}`},
			wantChannel: "other",
			wantTxID:    "tx-explicit",
			wantTS:      ts,
			wantTrans:   map[string][]byte{"buyer": []byte("Alice")},
		},
		{
			name:        "defaults",
			opts:        shimtest.TxOptions{Creator: creator},
			fn:          "Ping",
			wantChannel: shimtest.DefaultChannelID,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := shimtest.NewLedger()
			stub := l.NewStub(tc.opts, tc.fn, tc.args...)

			fn, params := stub.GetFunctionAndParameters()
			require.Equal(t, tc.fn, fn)
			require.Equal(t, append([]string{}, tc.args...), params)
			require.Equal(t, append([]string{tc.fn}, tc.args...), stub.GetStringArgs())
			require.Len(t, stub.GetArgs(), 1+len(tc.args))
			require.Equal(t, tc.wantChannel, stub.GetChannelID())
			if tc.wantTxID != "" {
				require.Equal(t, tc.wantTxID, stub.GetTxID())
			} else {
				require.Len(t, stub.GetTxID(), 64)
			}
			gotTS, err := stub.GetTxTimestamp()
			require.NoError(t, err)
			if !tc.wantTS.IsZero() {
				require.True(t, tc.wantTS.Equal(gotTS.AsTime()))
			} else {
				require.True(t, shimtest.BaseTime.Equal(gotTS.AsTime()))
			}
			gotCreator, err := stub.GetCreator()
			require.NoError(t, err)
			require.Equal(t, creator, gotCreator)
			trans, err := stub.GetTransient()
			require.NoError(t, err)
			require.Equal(t, tc.wantTrans, trans)

			// The signed proposal parses the way the shim parses it.
			sp, err := stub.GetSignedProposal()
			require.NoError(t, err)
			prop := &peer.Proposal{}
			require.NoError(t, proto.Unmarshal(sp.ProposalBytes, prop))
			hdr := &common.Header{}
			require.NoError(t, proto.Unmarshal(prop.Header, hdr))
			chdr := &common.ChannelHeader{}
			require.NoError(t, proto.Unmarshal(hdr.ChannelHeader, chdr))
			require.Equal(t, int32(common.HeaderType_ENDORSER_TRANSACTION), chdr.Type)
			require.Equal(t, stub.GetTxID(), chdr.TxId)
			require.Equal(t, tc.wantChannel, chdr.ChannelId)
			require.True(t, proto.Equal(gotTS, chdr.Timestamp))
			shdr := &common.SignatureHeader{}
			require.NoError(t, proto.Unmarshal(hdr.SignatureHeader, shdr))
			require.Equal(t, creator, shdr.Creator)
			require.NotEmpty(t, shdr.Nonce)
			payload := &peer.ChaincodeProposalPayload{}
			require.NoError(t, proto.Unmarshal(prop.Payload, payload))
			require.Equal(t, len(tc.wantTrans), len(payload.TransientMap))
			cis := &peer.ChaincodeInvocationSpec{}
			require.NoError(t, proto.Unmarshal(payload.Input, cis))
			require.Equal(t, stub.GetArgs(), cis.ChaincodeSpec.Input.Args)
			require.Equal(t, shimtest.DefaultChaincodeName, cis.ChaincodeSpec.ChaincodeId.Name)

			// The binding is SHA-256(nonce || creator || epoch LE), as in the shim.
			epoch := make([]byte, 8)
			binary.LittleEndian.PutUint64(epoch, chdr.Epoch)
			want := sha256.Sum256(append(append(append([]byte{}, shdr.Nonce...), creator...), epoch...))
			binding, err := stub.GetBinding()
			require.NoError(t, err)
			require.Equal(t, want[:], binding)
		})
	}
}

func TestDeterministicTxIDsAndTimestamps(t *testing.T) {
	a, b := shimtest.NewLedger(), shimtest.NewLedger()
	for i := 0; i < 3; i++ {
		sa := a.NewStub(shimtest.TxOptions{}, "f")
		sb := b.NewStub(shimtest.TxOptions{}, "f")
		require.Equal(t, sa.GetTxID(), sb.GetTxID())
		tsA, err := sa.GetTxTimestamp()
		require.NoError(t, err)
		require.True(t, shimtest.BaseTime.Add(time.Duration(i)*time.Second).Equal(tsA.AsTime()))
	}
	require.NotEqual(t, a.NewStub(shimtest.TxOptions{}, "f").GetTxID(), a.NewStub(shimtest.TxOptions{}, "f").GetTxID())
}

func TestReadsDoNotSeeOwnWrites(t *testing.T) {
	l := shimtest.NewLedger()
	l.PutStateDirect("k", []byte("committed"))
	l.PutPrivateDataDirect("c", "p", []byte("committed-private"))

	tests := []struct {
		name  string
		write func(s *shimtest.Stub) error
		read  func(s *shimtest.Stub) ([]byte, error)
		want  []byte
	}{
		{"put then get", func(s *shimtest.Stub) error { return s.PutState("k", []byte("new")) },
			func(s *shimtest.Stub) ([]byte, error) { return s.GetState("k") }, []byte("committed")},
		{"delete then get", func(s *shimtest.Stub) error { return s.DelState("k") },
			func(s *shimtest.Stub) ([]byte, error) { return s.GetState("k") }, []byte("committed")},
		{"put new key then get", func(s *shimtest.Stub) error { return s.PutState("fresh", []byte("v")) },
			func(s *shimtest.Stub) ([]byte, error) { return s.GetState("fresh") }, nil},
		{"private put then get", func(s *shimtest.Stub) error { return s.PutPrivateData("c", "p", []byte("new")) },
			func(s *shimtest.Stub) ([]byte, error) { return s.GetPrivateData("c", "p") }, []byte("committed-private")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := l.NewStub(shimtest.TxOptions{}, "f")
			require.NoError(t, tc.write(s))
			got, err := tc.read(s)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestPutStateRules(t *testing.T) {
	tests := []struct {
		name      string
		key       string
		value     []byte
		wantErr   string
		wantState []byte
		wantKeys  []string
	}{
		{name: "ordinary", key: "k", value: []byte("v"), wantState: []byte("v"), wantKeys: []string{"k", "seed"}},
		{name: "empty key", key: "", value: []byte("v"), wantErr: "key must not be an empty string", wantKeys: []string{"seed"}},
		{name: "invalid utf8 key", key: "k\xff", value: []byte("v"), wantErr: "not a valid UTF-8 string", wantKeys: []string{"seed"}},
		{name: "nil value deletes", key: "seed", value: nil, wantKeys: nil},
		{name: "empty value deletes", key: "seed", value: []byte{}, wantKeys: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := shimtest.NewLedger()
			l.PutStateDirect("seed", []byte("s"))
			s := l.NewStub(shimtest.TxOptions{}, "f")
			err := s.PutState(tc.key, tc.value)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.NoError(t, l.Commit(s))
			if tc.wantErr == "" {
				require.Equal(t, tc.wantState, l.State(tc.key))
			}
			require.Equal(t, tc.wantKeys, l.Keys())
		})
	}
}

func TestCompositeKeysMatchShim(t *testing.T) {
	s := shimtest.NewLedger().NewStub(shimtest.TxOptions{}, "f")
	tests := []struct {
		name       string
		objectType string
		attrs      []string
		wantErr    bool
	}{
		{name: "type only", objectType: "order"},
		{name: "one attribute", objectType: "order", attrs: []string{"o1"}},
		{name: "several attributes", objectType: "byMerchant", attrs: []string{"MerchantMSP", "2026-01-01", "o1"}},
		{name: "empty attribute", objectType: "x", attrs: []string{""}},
		{name: "unicode", objectType: "订单", attrs: []string{"é", "🚚"}},
		{name: "nul in attribute", objectType: "x", attrs: []string{"a\x00b"}, wantErr: true},
		{name: "max rune in type", objectType: "x\U0010FFFF", wantErr: true},
		{name: "invalid utf8", objectType: "x", attrs: []string{"\xff"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.CreateCompositeKey(tc.objectType, tc.attrs)
			want, wantErr := shim.CreateCompositeKey(tc.objectType, tc.attrs)
			if tc.wantErr {
				require.Error(t, err)
				require.EqualError(t, err, wantErr.Error())
				return
			}
			require.NoError(t, err)
			require.Equal(t, want, got)
			require.Equal(t, "\x00"+tc.objectType+"\x00", got[:len(tc.objectType)+2])
			typ, attrs, err := s.SplitCompositeKey(got)
			require.NoError(t, err)
			require.Equal(t, tc.objectType, typ)
			require.Equal(t, append([]string{}, tc.attrs...), attrs)
		})
	}
	_, _, err := s.SplitCompositeKey("plain")
	require.Error(t, err)
}

// seedMixed commits simple keys a..e and composite keys of two object types.
func seedMixed(t *testing.T, l *shimtest.Ledger) {
	t.Helper()
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		l.PutStateDirect(k, []byte("v"+k))
	}
	for _, attrs := range [][]string{{"m2", "o3"}, {"m1", "o2"}, {"m1", "o1"}, {"m3", "o4"}} {
		ck, err := shim.CreateCompositeKey("byMerchant", attrs)
		require.NoError(t, err)
		l.PutStateDirect(ck, []byte(attrs[1]))
	}
	ck, err := shim.CreateCompositeKey("other", []string{"z"})
	require.NoError(t, err)
	l.PutStateDirect(ck, []byte("z"))
}

func TestRangeQueries(t *testing.T) {
	l := shimtest.NewLedger()
	seedMixed(t, l)
	tests := []struct {
		name       string
		start, end string
		want       []string
		wantErr    string
	}{
		{name: "all simple keys", want: []string{"a", "b", "c", "d", "e"}},
		{name: "bounded", start: "b", end: "d", want: []string{"b", "c"}},
		{name: "open end", start: "c", want: []string{"c", "d", "e"}},
		{name: "open start", end: "c", want: []string{"a", "b"}},
		{name: "empty range", start: "x", end: "y", want: nil},
		{name: "composite start refused", start: "\x00byMerchant", wantErr: "null character"},
		{name: "composite end refused", end: "\x00z", wantErr: "null character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := l.NewStub(shimtest.TxOptions{}, "f")
			it, err := s.GetStateByRange(tc.start, tc.end)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			keys, _ := drain(t, it)
			require.Equal(t, tc.want, keys)
		})
	}
}

func TestPartialCompositeKeyQueries(t *testing.T) {
	l := shimtest.NewLedger()
	seedMixed(t, l)
	tests := []struct {
		name       string
		objectType string
		attrs      []string
		want       []string
	}{
		{name: "by type", objectType: "byMerchant", want: []string{"o1", "o2", "o3", "o4"}},
		{name: "by type and first attribute", objectType: "byMerchant", attrs: []string{"m1"}, want: []string{"o1", "o2"}},
		// The shim's range for a full key [key, key+U+10FFFF) contains the key
		// itself, so a peer returns it (despite the interface comment).
		{name: "full key matches itself", objectType: "byMerchant", attrs: []string{"m1", "o1"}, want: []string{"o1"}},
		{name: "other type", objectType: "other", want: []string{"z"}},
		{name: "unknown type", objectType: "nope", want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := l.NewStub(shimtest.TxOptions{}, "f")
			it, err := s.GetStateByPartialCompositeKey(tc.objectType, tc.attrs)
			require.NoError(t, err)
			keys, values := drain(t, it)
			require.Equal(t, tc.want, values)
			for i := 1; i < len(keys); i++ {
				require.Less(t, keys[i-1], keys[i], "keys must come in key order")
			}
		})
	}
}

func TestLargeRangeCrossesPeerBatches(t *testing.T) {
	l := shimtest.NewLedger()
	const n = 2*shimtest.PeerBatchSize + 37
	for i := 0; i < n; i++ {
		l.PutStateDirect(fmt.Sprintf("k%04d", i), []byte("v"))
	}
	s := l.NewStub(shimtest.TxOptions{}, "f")
	it, err := s.GetStateByRange("", "")
	require.NoError(t, err)
	keys, _ := drain(t, it)
	require.Len(t, keys, n)
	for i, k := range keys {
		require.Equal(t, fmt.Sprintf("k%04d", i), k)
	}
}

func TestPagination(t *testing.T) {
	l := shimtest.NewLedger()
	var all []string
	for i := 0; i < 23; i++ {
		k := fmt.Sprintf("s%02d", i)
		l.PutStateDirect(k, []byte("v"))
		all = append(all, k)
		ck, err := shim.CreateCompositeKey("idx", []string{fmt.Sprintf("%02d", i)})
		require.NoError(t, err)
		l.PutStateDirect(ck, []byte(k))
	}
	type pager func(s *shimtest.Stub, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error)
	pagers := map[string]pager{
		"range": func(s *shimtest.Stub, ps int32, bm string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
			return s.GetStateByRangeWithPagination("", "", ps, bm)
		},
		"partial composite": func(s *shimtest.Stub, ps int32, bm string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
			return s.GetStateByPartialCompositeKeyWithPagination("idx", nil, ps, bm)
		},
		"all composite": func(s *shimtest.Stub, ps int32, bm string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
			return s.GetAllStatesCompositeKeyWithPagination(ps, bm)
		},
	}
	for _, name := range []string{"range", "partial composite", "all composite"} {
		for _, pageSize := range []int32{1, 5, 22, 23, 24, 150} {
			t.Run(fmt.Sprintf("%s/page %d", name, pageSize), func(t *testing.T) {
				var got []string
				seen := map[string]bool{}
				bookmark, pages := "", 0
				for {
					s := l.NewStub(shimtest.TxOptions{}, "f")
					it, md, err := pagers[name](s, pageSize, bookmark)
					require.NoError(t, err)
					keys, values := drain(t, it)
					require.Equal(t, int32(len(keys)), md.FetchedRecordsCount)
					require.LessOrEqual(t, len(keys), int(pageSize))
					for i, k := range keys {
						require.False(t, seen[k], "pages must be disjoint")
						seen[k] = true
						if name == "range" {
							got = append(got, k)
						} else {
							got = append(got, values[i])
						}
					}
					pages++
					if md.Bookmark == "" {
						break
					}
					require.Len(t, keys, int(pageSize), "only the last page may be short")
					bookmark = md.Bookmark
				}
				require.Equal(t, all, got, "pages must cover the whole range in order")
				wantPages := (len(all) + int(pageSize) - 1) / int(pageSize)
				require.Equal(t, wantPages, pages)
			})
		}
	}
}

func TestPaginatedQueriesAreReadOnly(t *testing.T) {
	l := shimtest.NewLedger()
	l.PutStateDirect("a", []byte("1"))

	s := l.NewStub(shimtest.TxOptions{}, "f")
	require.NoError(t, s.PutState("b", []byte("2")))
	_, _, err := s.GetStateByRangeWithPagination("", "", 10, "")
	require.ErrorContains(t, err, "Paginated queries are supported only in a read-only transaction")

	s = l.NewStub(shimtest.TxOptions{}, "f")
	_, _, err = s.GetStateByRangeWithPagination("", "", 10, "")
	require.NoError(t, err)
	require.ErrorContains(t, s.PutState("b", []byte("2")), "Transaction has already performed a paginated query")

	// pageSize 0 without a bookmark is not a paginated query on a peer.
	s = l.NewStub(shimtest.TxOptions{}, "f")
	it, md, err := s.GetStateByRangeWithPagination("", "", 0, "")
	require.NoError(t, err)
	keys, _ := drain(t, it)
	require.Equal(t, []string{"a"}, keys)
	require.Equal(t, int32(0), md.FetchedRecordsCount)
	require.NoError(t, s.PutState("b", []byte("2")))
}

func TestRichQueriesUnsupported(t *testing.T) {
	s := shimtest.NewLedger().NewStub(shimtest.TxOptions{}, "f")
	_, err := s.GetQueryResult(`{"selector":{}}`)
	require.ErrorContains(t, err, "not supported for leveldb")
	_, _, err = s.GetQueryResultWithPagination(`{"selector":{}}`, 10, "")
	require.ErrorContains(t, err, "not supported for leveldb")
	_, err = s.GetPrivateDataQueryResult("c", `{"selector":{}}`)
	require.ErrorContains(t, err, "not supported for leveldb")
}

func TestHistoryNewestFirst(t *testing.T) {
	l := shimtest.NewLedger()
	steps := []struct {
		value []byte // nil = delete
	}{{[]byte("v1")}, {[]byte("v2")}, {nil}, {[]byte("v3")}}
	var txIDs []string
	for i, st := range steps {
		res := l.Invoke(ccFunc(func(stub shim.ChaincodeStubInterface) *peer.Response {
			var err error
			if st.value == nil {
				err = stub.DelState("k")
			} else {
				err = stub.PutState("k", st.value)
			}
			if err != nil {
				return shim.Error(err.Error())
			}
			return shim.Success(nil)
		}), shimtest.TxOptions{Timestamp: shimtest.BaseTime.Add(time.Duration(i) * time.Hour)}, "f")
		require.True(t, res.OK(), res.Message)
		txIDs = append(txIDs, res.TxID)
	}
	// A metadata-only write changes the version but is not history.
	s := l.NewStub(shimtest.TxOptions{}, "f")
	require.NoError(t, s.SetStateValidationParameter("k", []byte("policy")))
	require.NoError(t, l.Commit(s))

	it, err := l.NewStub(shimtest.TxOptions{}, "f").GetHistoryForKey("k")
	require.NoError(t, err)
	var mods []struct {
		tx    string
		value string
		del   bool
		ts    time.Time
	}
	for it.HasNext() {
		m, err := it.Next()
		require.NoError(t, err)
		mods = append(mods, struct {
			tx    string
			value string
			del   bool
			ts    time.Time
		}{m.TxId, string(m.Value), m.IsDelete, m.Timestamp.AsTime()})
	}
	require.NoError(t, it.Close())
	require.Len(t, mods, 4)
	for i, m := range mods {
		step := len(steps) - 1 - i
		require.Equal(t, txIDs[step], m.tx)
		require.Equal(t, string(steps[step].value), m.value)
		require.Equal(t, steps[step].value == nil, m.del)
		require.True(t, shimtest.BaseTime.Add(time.Duration(step)*time.Hour).Equal(m.ts))
	}
	require.Len(t, l.History("k"), 4)
}

func TestPrivateData(t *testing.T) {
	l := shimtest.NewLedger()
	res := l.Invoke(ccFunc(func(stub shim.ChaincodeStubInterface) *peer.Response {
		tr, _ := stub.GetTransient()
		if err := stub.PutPrivateData("orderPrivate", "o1", tr["buyer"]); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(nil)
	}), shimtest.TxOptions{Transient: map[string][]byte{"buyer": []byte(`{"name":"Alice"}`)}}, "f")
	require.True(t, res.OK(), res.Message)

	require.Equal(t, []byte(`{"name":"Alice"}`), l.PrivateData("orderPrivate", "o1"))
	require.Nil(t, l.State("o1"), "public state never holds private values")
	require.Empty(t, l.Keys())
	want := sha256.Sum256([]byte(`{"name":"Alice"}`))
	require.Equal(t, want[:], l.PrivateDataHash("orderPrivate", "o1"))

	s := l.NewStub(shimtest.TxOptions{}, "f")
	h, err := s.GetPrivateDataHash("orderPrivate", "o1")
	require.NoError(t, err)
	require.Equal(t, want[:], h)
	h, err = s.GetPrivateDataHash("orderPrivate", "missing")
	require.NoError(t, err)
	require.Nil(t, h)
	vals, err := s.GetMultiplePrivateData("orderPrivate", "o1", "missing")
	require.NoError(t, err)
	require.Equal(t, [][]byte{[]byte(`{"name":"Alice"}`), nil}, vals)

	tests := []struct {
		name string
		call func(s *shimtest.Stub) error
	}{
		{"get", func(s *shimtest.Stub) error { _, err := s.GetPrivateData("", "k"); return err }},
		{"put", func(s *shimtest.Stub) error { return s.PutPrivateData("", "k", []byte("v")) }},
		{"del", func(s *shimtest.Stub) error { return s.DelPrivateData("", "k") }},
		{"purge", func(s *shimtest.Stub) error { return s.PurgePrivateData("", "k") }},
		{"hash", func(s *shimtest.Stub) error { _, err := s.GetPrivateDataHash("", "k"); return err }},
		{"range", func(s *shimtest.Stub) error { _, err := s.GetPrivateDataByRange("", "", ""); return err }},
	}
	for _, tc := range tests {
		t.Run("empty collection/"+tc.name, func(t *testing.T) {
			require.ErrorContains(t, tc.call(l.NewStub(shimtest.TxOptions{}, "f")), "collection must not be an empty string")
		})
	}

	// Purge removes the value and every earlier value.
	s = l.NewStub(shimtest.TxOptions{}, "f")
	require.NoError(t, s.PurgePrivateData("orderPrivate", "o1"))
	require.NoError(t, l.Commit(s))
	require.Nil(t, l.PrivateData("orderPrivate", "o1"))
	require.Nil(t, l.PrivateDataHash("orderPrivate", "o1"))
}

func TestPrivateRangeQueriesAreReadOnly(t *testing.T) {
	l := shimtest.NewLedger()
	for _, k := range []string{"a", "b", "c"} {
		l.PutPrivateDataDirect("coll", k, []byte(k))
	}
	ck, err := shim.CreateCompositeKey("t", []string{"x"})
	require.NoError(t, err)
	l.PutPrivateDataDirect("coll", ck, []byte("composite"))

	s := l.NewStub(shimtest.TxOptions{}, "f")
	it, err := s.GetPrivateDataByRange("coll", "", "")
	require.NoError(t, err)
	keys, _ := drain(t, it)
	require.Equal(t, []string{"a", "b", "c"}, keys)
	it, err = s.GetPrivateDataByPartialCompositeKey("coll", "t", nil)
	require.NoError(t, err)
	_, values := drain(t, it)
	require.Equal(t, []string{"composite"}, values)
	require.ErrorContains(t, s.PutState("p", []byte("v")), "already performed queries on pvt data")

	s = l.NewStub(shimtest.TxOptions{}, "f")
	require.NoError(t, s.PutState("p", []byte("v")))
	_, err = s.GetPrivateDataByRange("coll", "", "")
	require.ErrorContains(t, err, "Queries on pvt data is supported only in a read-only transaction")
}

func TestCollectionPolicies(t *testing.T) {
	ids, err := shimtest.NewIdentities("MerchantMSP", "BankMSP")
	require.NoError(t, err)
	l := shimtest.NewLedger()
	l.DefineCollection("orderPrivate", shimtest.CollectionPolicy{Members: []string{"MerchantMSP"}, MemberOnlyRead: true, MemberOnlyWrite: true})
	l.PutPrivateDataDirect("orderPrivate", "o1", []byte("secret"))

	tests := []struct {
		name    string
		msp     string
		call    func(s *shimtest.Stub) error
		wantErr string
	}{
		{"member reads", "MerchantMSP", func(s *shimtest.Stub) error { _, err := s.GetPrivateData("orderPrivate", "o1"); return err }, ""},
		{"member writes", "MerchantMSP", func(s *shimtest.Stub) error { return s.PutPrivateData("orderPrivate", "o2", []byte("x")) }, ""},
		{"non-member read refused", "BankMSP", func(s *shimtest.Stub) error { _, err := s.GetPrivateData("orderPrivate", "o1"); return err }, "does not have read access"},
		{"non-member write refused", "BankMSP", func(s *shimtest.Stub) error { return s.PutPrivateData("orderPrivate", "o2", []byte("x")) }, "does not have write access"},
		{"non-member reads hash", "BankMSP", func(s *shimtest.Stub) error { _, err := s.GetPrivateDataHash("orderPrivate", "o1"); return err }, ""},
		{"undefined collection", "MerchantMSP", func(s *shimtest.Stub) error { _, err := s.GetPrivateData("nope", "o1"); return err }, "not defined in the collection config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(l.NewStub(shimtest.TxOptions{Creator: ids.Creator(tc.msp)}, "f"))
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.wantErr)
			}
		})
	}
}

func TestOneEventPerTransaction(t *testing.T) {
	l := shimtest.NewLedger()
	res := l.Invoke(ccFunc(func(stub shim.ChaincodeStubInterface) *peer.Response {
		if err := stub.SetEvent("", []byte("x")); err == nil {
			return shim.Error("empty event name accepted")
		}
		if err := stub.SetEvent("First", []byte("1")); err != nil {
			return shim.Error(err.Error())
		}
		if err := stub.SetEvent("Second", []byte("2")); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(nil)
	}), shimtest.TxOptions{}, "f")
	require.True(t, res.OK(), res.Message)
	require.Equal(t, "Second", res.Event.EventName)
	events := l.Events()
	require.Len(t, events, 1)
	require.Equal(t, "Second", events[0].EventName)
	require.Equal(t, []byte("2"), events[0].Payload)
	require.Equal(t, res.TxID, events[0].TxId)
	require.Equal(t, shimtest.DefaultChaincodeName, events[0].ChaincodeId)
}

func TestValidationParameters(t *testing.T) {
	l := shimtest.NewLedger()
	l.PutStateDirect("k", []byte("v"))

	s := l.NewStub(shimtest.TxOptions{}, "f")
	require.NoError(t, s.SetStateValidationParameter("k", []byte("ep1")))
	require.NoError(t, s.SetStateValidationParameter("absent", []byte("ep2")))
	got, err := s.GetStateValidationParameter("k")
	require.NoError(t, err)
	require.Nil(t, got, "own metadata writes are not visible either")
	require.NoError(t, l.Commit(s))
	require.Equal(t, []byte("ep1"), l.ValidationParameter("k"))
	require.Nil(t, l.ValidationParameter("absent"), "metadata of a missing key is dropped")
	require.Nil(t, l.State("absent"))

	// A value update keeps the metadata; a delete removes it.
	l.PutStateDirect("k", []byte("v2"))
	require.Equal(t, []byte("ep1"), l.ValidationParameter("k"))
	s = l.NewStub(shimtest.TxOptions{}, "f")
	got, err = s.GetStateValidationParameter("k")
	require.NoError(t, err)
	require.Equal(t, []byte("ep1"), got)
	require.NoError(t, s.DelState("k"))
	require.NoError(t, l.Commit(s))
	l.PutStateDirect("k", []byte("v3"))
	require.Nil(t, l.ValidationParameter("k"))

	// Private data metadata.
	l.PutPrivateDataDirect("c", "p", []byte("v"))
	s = l.NewStub(shimtest.TxOptions{}, "f")
	require.NoError(t, s.SetPrivateDataValidationParameter("c", "p", []byte("pep")))
	require.NoError(t, l.Commit(s))
	got, err = l.NewStub(shimtest.TxOptions{}, "f").GetPrivateDataValidationParameter("c", "p")
	require.NoError(t, err)
	require.Equal(t, []byte("pep"), got)
}

func TestMiscStubMethods(t *testing.T) {
	l := shimtest.NewLedger()
	l.PutStateDirect("a", []byte("1"))
	l.PutStateDirect("c", []byte("3"))
	s := l.NewStub(shimtest.TxOptions{Decorations: map[string][]byte{"d": []byte("x")}}, "f", "x", "y")

	vals, err := s.GetMultipleStates("a", "b", "c")
	require.NoError(t, err)
	require.Equal(t, [][]byte{[]byte("1"), nil, []byte("3")}, vals)
	vals, err = s.GetMultipleStates()
	require.NoError(t, err)
	require.Nil(t, vals)

	resp := s.InvokeChaincode("other", [][]byte{[]byte("f")}, "")
	require.Equal(t, int32(shim.ERROR), resp.Status)
	require.Contains(t, resp.Message, "not supported")

	argsSlice, err := s.GetArgsSlice()
	require.NoError(t, err)
	require.Equal(t, []byte("fxy"), argsSlice)
	require.Equal(t, map[string][]byte{"d": []byte("x")}, s.GetDecorations())

	s.StartWriteBatch()
	require.NoError(t, s.PutState("b", []byte("2")))
	require.NoError(t, s.FinishWriteBatch())
	require.NoError(t, l.Commit(s))
	require.Equal(t, []byte("2"), l.State("b"))

	_, err = s.GetState("a")
	require.ErrorContains(t, err, "should not be used after")
	require.ErrorContains(t, s.PutState("z", []byte("1")), "should not be used after")
}

func TestCollectionsFromJSON(t *testing.T) {
	ids, err := shimtest.NewIdentities("MerchantMSP", "BankMSP", "CarrierMSP", "CustomsMSP")
	require.NoError(t, err)
	config := []byte(`[
  {"name": "orderPrivate", "policy": "OR('MerchantMSP.member', 'CarrierMSP.member', 'CustomsMSP.member')",
   "requiredPeerCount": 0, "maxPeerCount": 3, "blockToLive": 0, "memberOnlyRead": true, "memberOnlyWrite": true},
  {"name": "paymentPrivate", "policy": "OR('BankMSP.member', 'CustomsMSP.member')",
   "requiredPeerCount": 0, "maxPeerCount": 3, "blockToLive": 0, "memberOnlyRead": true, "memberOnlyWrite": false}
]`)
	l := shimtest.NewLedger()
	require.NoError(t, l.DefineCollectionsFromJSON(config))
	require.Equal(t, []string{"orderPrivate", "paymentPrivate"}, l.Collections())

	tests := []struct {
		msp, coll   string
		read, write bool
	}{
		{"MerchantMSP", "orderPrivate", true, true},
		{"CarrierMSP", "orderPrivate", true, true},
		{"BankMSP", "orderPrivate", false, false},
		{"BankMSP", "paymentPrivate", true, true},
		{"MerchantMSP", "paymentPrivate", false, true}, // memberOnlyWrite is false
		{"CustomsMSP", "paymentPrivate", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.msp+"/"+tc.coll, func(t *testing.T) {
			s := l.NewStub(shimtest.TxOptions{Creator: ids.Creator(tc.msp)}, "f")
			_, err := s.GetPrivateData(tc.coll, "k")
			require.Equal(t, tc.read, err == nil, "read: %v", err)
			err = s.PutPrivateData(tc.coll, "k", []byte("v"))
			require.Equal(t, tc.write, err == nil, "write: %v", err)
		})
	}

	bad := []struct {
		name string
		json string
	}{
		{"not json", `{`},
		{"no name", `[{"policy":"OR('A.member')"}]`},
		{"no member", `[{"name":"c","policy":"OR()"}]`},
		{"duplicate", `[{"name":"c","policy":"OR('A.member')"},{"name":"c","policy":"OR('A.member')"}]`},
	}
	for _, tc := range bad {
		t.Run("invalid/"+tc.name, func(t *testing.T) {
			require.Error(t, shimtest.NewLedger().DefineCollectionsFromJSON([]byte(tc.json)))
		})
	}
}
