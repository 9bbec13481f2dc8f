package ledger

import (
	"context"
	"crypto/sha256"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

func collect(t *testing.T, it StateIterator) []string {
	t.Helper()
	defer it.Close()
	var keys []string
	for {
		kv, err := it.Next()
		require.NoError(t, err)
		if kv == nil {
			return keys
		}
		keys = append(keys, kv.Key)
	}
}

func TestStateRange(t *testing.T) {
	l, _ := openTest(t)
	comp := "\x00order\x00o1\x00"
	comp2 := "\x00order\x00o2\x00"
	x := tx("t0").put("b", "1").put("a", "1").put("a\x00", "1").put("ab", "1").put("c", "1").put(comp, "1").put(comp2, "1").put("ü", "1")
	y := tx("t1").put("a", "other-ns")
	y.ns = "c" // a namespace that is a prefix of nothing but shares bytes with "cc"
	z := tx("t2").put("zz", "1")
	z.ns = "ccc"
	commitTxs(t, l, nil, x, y, z)
	s, err := l.NewSnapshot()
	require.NoError(t, err)
	defer s.Release()
	tests := []struct {
		name       string
		start, end string
		want       []string
	}{
		{name: "whole namespace", want: []string{comp, comp2, "a", "a\x00", "ab", "b", "c", "ü"}},
		{name: "simple keys from a", start: "a", want: []string{"a", "a\x00", "ab", "b", "c", "ü"}},
		{name: "half open", start: "a", end: "b", want: []string{"a", "a\x00", "ab"}},
		{name: "composite prefix", start: "\x00order\x00", end: "\x00order\x00\U0010FFFF", want: []string{comp, comp2}},
		{name: "empty", start: "d", end: "e"},
		{name: "end before start", start: "c", end: "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it, err := s.GetStateRange(testNS, tc.start, tc.end)
			require.NoError(t, err)
			require.Equal(t, tc.want, collect(t, it))
		})
	}
}

func TestSnapshotIsolation(t *testing.T) {
	l, _ := openTest(t)
	commitTxs(t, l, nil, tx("t0").put("a", "1").put("b", "1").put("c", "1"))
	s, err := l.NewSnapshot()
	require.NoError(t, err)
	require.Equal(t, uint64(1), s.Height())
	it, err := s.GetStateRange(testNS, "", "")
	require.NoError(t, err)
	first, err := it.Next()
	require.NoError(t, err)
	require.Equal(t, "a", first.Key)
	hist, err := s.GetHistory(testNS, "a")
	require.NoError(t, err)

	// Commits after the snapshot are invisible to it and to its open iterators.
	for i := range 20 {
		commitTxs(t, l, nil, tx("u"+string(rune('a'+i))).put("a", "2").del("b").put("bb", "new").put("d", "new"))
	}
	vv, err := s.GetState(testNS, "a")
	require.NoError(t, err)
	require.Equal(t, "1", string(vv.Value))
	require.Equal(t, []string{"b", "c"}, collect(t, it))
	km, err := hist.Next()
	require.NoError(t, err)
	require.Equal(t, "t0", km.TxId)
	km, err = hist.Next()
	require.NoError(t, err)
	require.Nil(t, km)
	s.Release()
	s.Release()
	_, err = s.GetState(testNS, "a")
	require.ErrorIs(t, err, ErrReleased)
	_, err = it.Next()
	require.ErrorIs(t, err, ErrReleased)

	s2, err := l.NewSnapshot()
	require.NoError(t, err)
	defer s2.Release()
	vv, err = s2.GetState(testNS, "a")
	require.NoError(t, err)
	require.Equal(t, "2", string(vv.Value))
	require.Equal(t, Height{20, 0}, vv.Version)
}

func TestConcurrentReadsDuringCommits(t *testing.T) {
	l, _ := openTest(t)
	commitTxs(t, l, nil, tx("t0").put("n", "0"))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				s, err := l.NewSnapshot()
				if err != nil {
					t.Error(err)
					return
				}
				vv, err := s.GetState(testNS, "n")
				if err != nil || vv == nil || vv.Version.BlockNum+1 != s.Height() {
					t.Errorf("snapshot at height %d saw %+v, %v", s.Height(), vv, err)
				}
				s.Release()
			}
		})
	}
	for i := 1; i <= 30; i++ {
		commitTxs(t, l, nil, tx("t"+string(rune('A'+i))).put("n", string(rune('0'+i))))
	}
	cancel()
	wg.Wait()
}

func TestNotifications(t *testing.T) {
	var hooked []uint64
	var mu sync.Mutex
	l, _ := openTest(t, WithCommitHook(func(b *common.Block) {
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, TxValidationFlags(b), len(b.Data.Data))
		hooked = append(hooked, b.Header.Number)
	}))
	heights, cancelSub := l.Subscribe()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	txDone := make(chan *TxRecord, 1)
	go func() {
		rec, err := l.WaitForTx(ctx, "late")
		if err != nil {
			t.Error(err)
		}
		txDone <- rec
	}()
	statusDone := make(chan *TxRecord, 1)
	go func() {
		rec, err := l.WaitForTxStatus(ctx, "late")
		if err != nil {
			t.Error(err)
		}
		statusDone <- rec
	}()
	heightDone := make(chan error, 1)
	go func() { heightDone <- l.WaitForHeight(ctx, 3) }()
	blocks := make(chan uint64, 3)
	go func() {
		it := l.Blocks(0)
		for range 3 {
			b, err := it.Next(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			blocks <- b.Header.Number
		}
	}()

	commitTxs(t, l, nil, tx("a").put("k", "1"))
	require.Equal(t, uint64(1), <-heights)
	commitTxs(t, l, nil, tx("b").put("k", "2"))
	commitTxs(t, l, nil, tx("late").read("k", ver(0, 0)).put("k", "3"))
	require.NoError(t, <-heightDone)
	rec := <-txDone
	require.Equal(t, uint64(2), rec.BlockNum)
	require.Equal(t, mvcc, rec.Code)
	require.NotNil(t, rec.Envelope)
	status := <-statusDone
	require.Equal(t, &TxRecord{BlockNum: 2, TxNum: 0, Code: mvcc}, status, "the status has no envelope")
	direct, err := l.TxStatus("late")
	require.NoError(t, err)
	require.Equal(t, status, direct)
	_, err = l.TxStatus("never")
	require.ErrorIs(t, err, ErrNotFound)
	require.Equal(t, []uint64{0, 1, 2}, []uint64{<-blocks, <-blocks, <-blocks})
	require.Equal(t, uint64(3), <-heights, "the latest height is delivered even if some were coalesced")
	mu.Lock()
	require.Equal(t, []uint64{0, 1, 2}, hooked)
	mu.Unlock()
	cancelSub()
	_, open := <-heights
	require.False(t, open)

	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	require.ErrorIs(t, l.WaitForHeight(short, 10), context.Canceled)
	_, err = l.WaitForTx(short, "never")
	require.ErrorIs(t, err, context.Canceled)
	_, err = l.WaitForTxStatus(short, "never")
	require.ErrorIs(t, err, context.Canceled)

	closedErr := make(chan error, 1)
	go func() { closedErr <- l.WaitForHeight(context.Background(), 100) }()
	sub2, _ := l.Subscribe()
	require.NoError(t, l.Close())
	require.ErrorIs(t, <-closedErr, ErrClosed)
	_, open = <-sub2
	require.False(t, open)
}

func TestParseTx(t *testing.T) {
	x := tx("ev").put("k", "v")
	x.event = &peer.ChaincodeEvent{ChaincodeId: testNS, TxId: "ev", EventName: "Created", Payload: []byte("p")}
	p, code, err := ParseTx(x.env(t))
	require.NoError(t, err)
	require.Equal(t, valid, code)
	require.Equal(t, "ev", p.TxID())
	require.Equal(t, common.HeaderType_ENDORSER_TRANSACTION, p.HeaderType())
	require.True(t, proto.Equal(x.event, p.Event))
	require.Equal(t, testNS, p.Action.GetChaincodeId().GetName())
	require.Len(t, p.RWSet.GetNsRwset(), 1)
	p, _, err = ParseTx(tx("noev").env(t))
	require.NoError(t, err)
	require.Nil(t, p.Event)
}

func TestRangeQueryRecorder(t *testing.T) {
	reads := func(n int) []*kvrwset.KVRead {
		var rs []*kvrwset.KVRead
		for i := range n {
			rs = append(rs, kvr(string(rune('a'+i)), ver(1, uint64(i))))
		}
		return rs
	}
	leaf := func(rs ...*kvrwset.KVRead) []byte {
		sum := sha256.Sum256(mustMarshal(t, &kvrwset.QueryReads{KvReads: rs})) // KVReads marshal deterministically
		return sum[:]
	}
	combine := func(hs ...[]byte) []byte { return combineHashes(hs) }
	r4 := reads(4)
	r9 := reads(9)
	tests := []struct {
		name      string
		degree    uint32
		reads     []*kvrwset.KVRead
		exhausted bool
		wantRaw   []*kvrwset.KVRead
		wantLevel uint32
		wantHash  [][]byte
		wantEnd   string
	}{
		{name: "no hashing", degree: 0, reads: r4, exhausted: true, wantRaw: r4, wantEnd: "z"},
		{name: "few results stay raw", degree: 4, reads: r4, wantRaw: r4, wantEnd: "d"},
		{name: "two leaves", degree: 2, reads: r4, exhausted: true, wantLevel: 1, wantEnd: "z",
			wantHash: [][]byte{leaf(r4[0], r4[1], r4[2]), leaf(r4[3])}},
		{name: "overflowing level is combined", degree: 2, reads: r9, wantLevel: 2, wantEnd: "i",
			wantHash: [][]byte{combine(leaf(r9[0:3]...), leaf(r9[3:6]...), leaf(r9[6:9]...))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := NewRangeQueryRecorder("a", "z", tc.degree)
			require.NoError(t, err)
			for _, rd := range tc.reads {
				rec.Add(rd.Key, Height{rd.Version.BlockNum, rd.Version.TxNum})
			}
			if tc.exhausted {
				rec.Exhausted()
			}
			info := rec.Info()
			require.Same(t, info, rec.Info())
			require.Equal(t, "a", info.StartKey)
			require.Equal(t, tc.wantEnd, info.EndKey)
			require.Equal(t, tc.exhausted, info.ItrExhausted)
			if tc.wantRaw != nil {
				require.Len(t, info.GetRawReads().GetKvReads(), len(tc.wantRaw))
				for i, r := range tc.wantRaw {
					require.True(t, proto.Equal(r, info.GetRawReads().GetKvReads()[i]))
				}
				return
			}
			m := info.GetReadsMerkleHashes()
			require.NotNil(t, m)
			require.Equal(t, tc.degree, m.MaxDegree)
			require.Equal(t, tc.wantLevel, m.MaxLevel)
			require.Equal(t, tc.wantHash, m.MaxLevelHashes)
		})
	}
	_, err := NewRangeQueryRecorder("", "", 1)
	require.Error(t, err)
}

// TestTxWaiters checks the per-transaction wake-ups of WaitForTxStatus: waiters of a
// committed transaction are answered, waiters of other transactions keep waiting, cancelled
// waiters and answered ones leave no registration behind, and Close releases the rest.
func TestTxWaiters(t *testing.T) {
	l, _ := openTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type result struct {
		rec *TxRecord
		err error
	}
	wait := func(ctx context.Context, id string) chan result {
		out := make(chan result, 1)
		go func() {
			rec, err := l.WaitForTxStatus(ctx, id)
			out <- result{rec, err}
		}()
		return out
	}
	registered := func(id string) int {
		l.mu.RLock()
		defer l.mu.RUnlock()
		if w, ok := l.txWaiters[id]; ok {
			return w.refs
		}
		return 0
	}
	settle := func(id string, refs int) {
		for registered(id) != refs {
			runtime.Gosched()
		}
	}

	first, second := wait(ctx, "t1"), wait(ctx, "t1")
	other := wait(ctx, "t2")
	cctx, ccancel := context.WithCancel(ctx)
	cancelled := wait(cctx, "t3")
	settle("t1", 2)
	settle("t2", 1)
	settle("t3", 1)
	ccancel()
	require.ErrorIs(t, (<-cancelled).err, context.Canceled)
	require.Zero(t, registered("t3"))

	commitTxs(t, l, nil, tx("t1").put("k", "1"))
	for _, ch := range []chan result{first, second} {
		r := <-ch
		require.NoError(t, r.err)
		require.Equal(t, &TxRecord{BlockNum: 0, TxNum: 0, Code: peer.TxValidationCode_VALID}, r.rec)
	}
	require.Zero(t, registered("t1"))
	require.Equal(t, 1, registered("t2"), "a commit of another transaction does not answer t2")

	require.NoError(t, l.Close())
	require.ErrorIs(t, (<-other).err, ErrClosed)
	l.mu.RLock()
	require.Empty(t, l.txWaiters)
	l.mu.RUnlock()
}
