package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway"
)

// testKeyring is a keyring of one fixed key, for stores that keep proposals.
func testKeyring(t *testing.T) *Keyring {
	t.Helper()
	k, err := NewKeyring(Key{ID: "test-1", Secret: bytes.Repeat([]byte{7}, KeySize)})
	require.NoError(t, err)
	return k
}

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.db")
	s, err := Open(path, WithKeyring(testKeyring(t)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func TestIdempotency(t *testing.T) {
	ctx := context.Background()
	t.Run("first answer is replayed, also after reopening", func(t *testing.T) {
		s, path := openTemp(t)
		rec, release, err := s.Begin(ctx, "key-1", "idem", "fp-a")
		require.NoError(t, err)
		require.Nil(t, rec)
		require.NoError(t, release(&gateway.IdempotencyRecord{Status: 201, ContentType: "application/json", Body: []byte(`{"a":1}`), TxID: "tx1", Created: time.Unix(100, 0).UTC()}))

		rec, release, err = s.Begin(ctx, "key-1", "idem", "fp-a")
		require.NoError(t, err)
		require.Nil(t, release)
		require.Equal(t, 201, rec.Status)
		require.Equal(t, "tx1", rec.TxID)
		require.JSONEq(t, `{"a":1}`, string(rec.Body))

		require.NoError(t, s.Close())
		s2, err := Open(path)
		require.NoError(t, err)
		defer s2.Close()
		rec, _, err = s2.Begin(ctx, "key-1", "idem", "fp-a")
		require.NoError(t, err)
		require.Equal(t, "tx1", rec.TxID)
	})
	t.Run("another request with the key is refused", func(t *testing.T) {
		s, _ := openTemp(t)
		_, release, err := s.Begin(ctx, "key-1", "idem", "fp-a")
		require.NoError(t, err)
		_, _, err = s.Begin(ctx, "key-1", "idem", "fp-b")
		require.Equal(t, gateway.CodeIdempotencyMismatch, gateway.ErrorCode(err), "in flight")
		require.NoError(t, release(&gateway.IdempotencyRecord{Status: 200}))
		_, _, err = s.Begin(ctx, "key-1", "idem", "fp-b")
		require.Equal(t, gateway.CodeIdempotencyMismatch, gateway.ErrorCode(err), "answered")
	})
	t.Run("keys are scoped", func(t *testing.T) {
		s, _ := openTemp(t)
		_, release, err := s.Begin(ctx, "key-1", "idem", "fp-a")
		require.NoError(t, err)
		require.NoError(t, release(&gateway.IdempotencyRecord{Status: 200}))
		rec, release2, err := s.Begin(ctx, "key-2", "idem", "fp-b")
		require.NoError(t, err)
		require.Nil(t, rec)
		require.NoError(t, release2(nil))
	})
	t.Run("released without a record the key may be retried", func(t *testing.T) {
		s, _ := openTemp(t)
		_, release, err := s.Begin(ctx, "k", "idem", "fp")
		require.NoError(t, err)
		require.NoError(t, release(nil))
		require.NoError(t, release(nil), "release is idempotent")
		rec, release, err := s.Begin(ctx, "k", "idem", "fp")
		require.NoError(t, err)
		require.Nil(t, rec)
		require.NotNil(t, release)
		require.NoError(t, release(nil))
	})
	t.Run("a concurrent duplicate waits for the first answer", func(t *testing.T) {
		s, _ := openTemp(t)
		_, release, err := s.Begin(ctx, "k", "idem", "fp")
		require.NoError(t, err)
		const n = 8
		var wg sync.WaitGroup
		got := make(chan *gateway.IdempotencyRecord, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec, rel, err := s.Begin(ctx, "k", "idem", "fp")
				if err != nil || rel != nil {
					got <- nil
					return
				}
				got <- rec
			}()
		}
		require.NoError(t, release(&gateway.IdempotencyRecord{Status: 201, TxID: "tx"}))
		wg.Wait()
		close(got)
		for rec := range got {
			require.NotNil(t, rec)
			require.Equal(t, "tx", rec.TxID)
		}
	})
	t.Run("a concurrent duplicate gives up with its context", func(t *testing.T) {
		s, _ := openTemp(t)
		_, release, err := s.Begin(ctx, "k", "idem", "fp")
		require.NoError(t, err)
		defer release(nil)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, _, err = s.Begin(cctx, "k", "idem", "fp")
		require.Equal(t, gateway.CodeConflict, gateway.ErrorCode(err))
	})
	t.Run("purge", func(t *testing.T) {
		s, _ := openTemp(t)
		for i, created := range []time.Time{time.Unix(10, 0), time.Unix(20, 0), time.Unix(30, 0)} {
			_, release, err := s.Begin(ctx, "k", string(rune('a'+i)), "fp")
			require.NoError(t, err)
			require.NoError(t, release(&gateway.IdempotencyRecord{Status: 200, Created: created}))
		}
		n, err := s.PurgeIdempotency(time.Unix(25, 0))
		require.NoError(t, err)
		require.Equal(t, 2, n)
		rec, release, err := s.Begin(ctx, "k", "a", "fp")
		require.NoError(t, err)
		require.Nil(t, rec)
		require.NoError(t, release(nil))
		rec, _, err = s.Begin(ctx, "k", "c", "fp")
		require.NoError(t, err)
		require.NotNil(t, rec)
	})
}

func event(block uint64, tx string) gateway.Event {
	return gateway.Event{Name: "OrderCreated", TxID: tx, BlockNumber: block, OrderID: "o-" + tx,
		Payload: json.RawMessage(`{"orderId":"o-` + tx + `"}`), Received: time.Unix(1, 0).UTC()}
}

// requireEventLog checks the feed checkpoint and the number of events in the log.
func requireEventLog(t *testing.T, s *Store, block uint64, txID string, events int) {
	t.Helper()
	gotBlock, gotTx, err := s.EventCheckpoint()
	require.NoError(t, err)
	require.Equal(t, block, gotBlock)
	require.Equal(t, txID, gotTx)
	all, err := s.EventsAfter(gateway.EventID{}, 100)
	require.NoError(t, err)
	require.Len(t, all, events)
}

func TestEvents(t *testing.T) {
	t.Run("ids, cursor, checkpoint and replays", func(t *testing.T) {
		s, path := openTemp(t)
		id, err := s.LastEventID()
		require.NoError(t, err)
		require.True(t, id.IsZero())
		block, tx, err := s.EventCheckpoint()
		require.NoError(t, err)
		require.Equal(t, uint64(0), block)
		require.Empty(t, tx)

		changed := s.Changed()
		var ids []string
		for _, ev := range []gateway.Event{event(3, "a"), event(3, "b"), event(5, "c"), event(6, "d"), event(6, "e")} {
			stored, ok, err := s.AppendEvent(ev)
			require.NoError(t, err)
			require.True(t, ok)
			ids = append(ids, stored.ID.String())
		}
		require.Equal(t, []string{"3-0", "3-1", "5-0", "6-0", "6-1"}, ids)
		select {
		case <-changed:
		default:
			t.Fatal("Changed not signalled")
		}

		// Replays of stored events (a reconnect from the checkpoint's block) are ignored.
		for _, ev := range []gateway.Event{event(6, "e"), event(6, "d"), event(5, "c")} {
			_, ok, err := s.AppendEvent(ev)
			require.NoError(t, err)
			require.False(t, ok, "replay of %s", ev.TxID)
		}
		requireEventLog(t, s, 6, "e", 5)
		after, err := s.EventsAfter(gateway.EventID{Block: 3, Index: 1}, 2)
		require.NoError(t, err)
		require.Equal(t, []string{"c", "d"}, []string{after[0].TxID, after[1].TxID})
		after, err = s.EventsAfter(gateway.EventID{Block: 4, Index: 7}, 100)
		require.NoError(t, err, "a cursor between stored events")
		require.Equal(t, "5-0", after[0].ID.String())
		after, err = s.EventsAfter(gateway.EventID{Block: 6, Index: 1}, 100)
		require.NoError(t, err)
		require.Empty(t, after)

		require.NoError(t, s.Close())
		s2, err := Open(path)
		require.NoError(t, err)
		defer s2.Close()
		last, err := s2.LastEventID()
		require.NoError(t, err)
		require.Equal(t, "6-1", last.String())
		stored, ok, err := s2.AppendEvent(event(6, "f"))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "6-2", stored.ID.String())
	})
}

func TestIdempotencyPreparedClaims(t *testing.T) {
	ctx := context.Background()
	ptx := gateway.PreparedTx{TxID: "tx-prepared", Bytes: []byte{1, 2, 3}, Proposal: []byte{4, 5}}
	t.Run("a claim with a prepared transaction survives a crash and is resumed", func(t *testing.T) {
		s, path := openTemp(t)
		rec, release, err := s.Begin(ctx, "key", "idem", "fp")
		require.NoError(t, err)
		require.Nil(t, rec)
		require.NoError(t, s.Prepare("key", "idem", "fp", ptx))
		// The process dies here: release is never called.
		_ = release
		require.NoError(t, s.Close())

		s2, err := Open(path, WithKeyring(testKeyring(t)))
		require.NoError(t, err)
		defer s2.Close()
		rec, release, err = s2.Begin(ctx, "key", "idem", "fp")
		require.NoError(t, err)
		require.NotNil(t, release, "the claim must be resumed")
		require.NotNil(t, rec)
		require.False(t, rec.Answered())
		require.Equal(t, &ptx, rec.Prepared)

		_, _, err = s2.Begin(ctx, "key", "idem", "other-fp")
		require.Equal(t, gateway.CodeIdempotencyMismatch, gateway.ErrorCode(err), "another request with the key")

		require.NoError(t, release(&gateway.IdempotencyRecord{Status: 201, Body: []byte(`{}`), TxID: ptx.TxID}))
		rec, release, err = s2.Begin(ctx, "key", "idem", "fp")
		require.NoError(t, err)
		require.Nil(t, release, "answered")
		require.Equal(t, 201, rec.Status)
		require.Nil(t, rec.Prepared, "the final record replaces the claim")
	})
	t.Run("released without a record the claim stays", func(t *testing.T) {
		s, _ := openTemp(t)
		_, release, err := s.Begin(ctx, "key", "idem", "fp")
		require.NoError(t, err)
		require.NoError(t, s.Prepare("key", "idem", "fp", ptx))
		require.NoError(t, release(nil))
		rec, release, err := s.Begin(ctx, "key", "idem", "fp")
		require.NoError(t, err)
		require.NotNil(t, release)
		require.Equal(t, ptx.TxID, rec.Prepared.TxID)
		require.NoError(t, release(nil))
	})
	t.Run("a fresh proposal replaces the prepared transaction", func(t *testing.T) {
		s, _ := openTemp(t)
		_, release, err := s.Begin(ctx, "key", "idem", "fp")
		require.NoError(t, err)
		require.NoError(t, s.Prepare("key", "idem", "fp", ptx))
		require.NoError(t, s.Prepare("key", "idem", "fp", gateway.PreparedTx{TxID: "tx-2", Bytes: []byte{4}}))
		require.NoError(t, release(nil))
		rec, release, err := s.Begin(ctx, "key", "idem", "fp")
		require.NoError(t, err)
		require.Equal(t, "tx-2", rec.Prepared.TxID)
		require.NoError(t, release(nil))
	})
	t.Run("prepare refuses another fingerprint", func(t *testing.T) {
		s, _ := openTemp(t)
		_, release, err := s.Begin(ctx, "key", "idem", "fp")
		require.NoError(t, err)
		require.NoError(t, s.Prepare("key", "idem", "fp", ptx))
		err = s.Prepare("key", "idem", "fp-other", ptx)
		require.Equal(t, gateway.CodeIdempotencyMismatch, gateway.ErrorCode(err))
		require.NoError(t, release(nil))
	})
	t.Run("a 202 with its transaction is resumable, other answers are not", func(t *testing.T) {
		for _, tc := range []struct {
			name      string
			status    int
			prepared  *gateway.PreparedTx
			resumable bool
		}{
			{name: "202 with transaction", status: 202, prepared: &ptx, resumable: true},
			{name: "202 known on the ledger", status: 202},
			{name: "201", status: 201, prepared: &ptx},
			{name: "409", status: 409},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s, _ := openTemp(t)
				_, release, err := s.Begin(ctx, "key", "idem", "fp")
				require.NoError(t, err)
				require.NoError(t, release(&gateway.IdempotencyRecord{Status: tc.status, TxID: ptx.TxID, Prepared: tc.prepared}))
				rec, release, err := s.Begin(ctx, "key", "idem", "fp")
				require.NoError(t, err)
				require.Equal(t, tc.status, rec.Status)
				require.Equal(t, tc.resumable, release != nil)
				if release != nil {
					require.NoError(t, release(nil))
				}
			})
		}
	})
	t.Run("a concurrent duplicate of a resumed claim waits for it", func(t *testing.T) {
		s, _ := openTemp(t)
		_, release, err := s.Begin(ctx, "key", "idem", "fp")
		require.NoError(t, err)
		require.NoError(t, s.Prepare("key", "idem", "fp", ptx))
		got := make(chan *gateway.IdempotencyRecord, 1)
		go func() {
			rec, rel, err := s.Begin(ctx, "key", "idem", "fp")
			if err != nil || rel != nil {
				got <- nil
				return
			}
			got <- rec
		}()
		require.NoError(t, release(&gateway.IdempotencyRecord{Status: 200, TxID: ptx.TxID}))
		rec := <-got
		require.NotNil(t, rec)
		require.Equal(t, 200, rec.Status)
	})
	t.Run("purge removes stale claims", func(t *testing.T) {
		s, _ := openTemp(t)
		_, release, err := s.Begin(ctx, "key", "idem", "fp")
		require.NoError(t, err)
		require.NoError(t, s.Prepare("key", "idem", "fp", ptx))
		require.NoError(t, release(nil))
		n, err := s.PurgeIdempotency(time.Now().Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})
}

// TestConcurrentKeyedWrites records and answers many keys at once (their commits are shared,
// see write) and finds every prepared transaction and every answer after reopening the file.
func TestConcurrentKeyedWrites(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	const n = 48
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("k-%02d", i)
			_, release, err := s.Begin(ctx, "scope", key, "fp-"+key)
			require.NoError(t, err)
			require.NoError(t, s.Prepare("scope", key, "fp-"+key, gateway.PreparedTx{TxID: "tx-" + key, Bytes: []byte(key)}))
			if i%2 == 0 {
				require.NoError(t, release(&gateway.IdempotencyRecord{Status: 200, ContentType: "application/json", Body: []byte(`{}`), TxID: "tx-" + key}))
			} else {
				require.NoError(t, release(nil))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, s.Close())
	s, err := Open(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	for i := range n {
		key := fmt.Sprintf("k-%02d", i)
		rec, release, err := s.Begin(ctx, "scope", key, "fp-"+key)
		require.NoError(t, err)
		require.NotNil(t, rec, key)
		if i%2 == 0 {
			require.Nil(t, release, "%s was answered", key)
			require.Equal(t, 200, rec.Status)
			continue
		}
		require.NotNil(t, release, "%s has a claim to finish", key)
		require.Equal(t, "tx-"+key, rec.Prepared.TxID)
		require.NoError(t, release(nil))
	}
}
