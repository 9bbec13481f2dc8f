package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/gateway"
)

// TestGroupCommit checks the group committer: concurrent writes all commit, a write whose
// function fails gets its own error and leaves no trace while the writes grouped with it
// still commit, and writes to a closed store fail.
func TestGroupCommit(t *testing.T) {
	errRefused := errors.New("refused")
	tests := []struct {
		name    string
		writers int
		fails   func(i int) bool
	}{
		{"all succeed", 64, func(int) bool { return false }},
		{"every fifth fails", 64, func(i int) bool { return i%5 == 0 }},
		{"all fail", 8, func(int) bool { return true }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTemp(t)
			errs := make([]error, tc.writers)
			var wg sync.WaitGroup
			for i := range tc.writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = s.write(func(tx *bolt.Tx) error {
						if err := tx.Bucket(bucketMeta).Put(fmt.Appendf(nil, "w-%03d", i), []byte("v")); err != nil {
							return err
						}
						if tc.fails(i) {
							return errRefused
						}
						return nil
					})
				}()
			}
			wg.Wait()
			require.NoError(t, s.view(func(tx *bolt.Tx) error {
				for i := range tc.writers {
					got := tx.Bucket(bucketMeta).Get(fmt.Appendf(nil, "w-%03d", i))
					if tc.fails(i) {
						require.ErrorIs(t, errs[i], errRefused, "writer %d", i)
						require.Nil(t, got, "writer %d failed: nothing of it is stored", i)
						continue
					}
					require.NoError(t, errs[i], "writer %d", i)
					require.Equal(t, []byte("v"), got, "writer %d", i)
				}
				return nil
			}))
		})
	}
	t.Run("writes queued during a commit share the next one", func(t *testing.T) {
		s, _ := openTemp(t)
		release, entered := make(chan struct{}), make(chan struct{}, 1)
		first := make(chan error, 1)
		go func() {
			first <- s.write(func(*bolt.Tx) error {
				entered <- struct{}{}
				<-release
				return nil
			})
		}()
		<-entered // a commit is in progress
		var once sync.Once
		unblock := func() { once.Do(func() { close(release) }) }
		t.Cleanup(unblock) // before the store closes, should an assertion stop the test early
		const queued = 10
		txIDs := make([]int, queued)
		errs := make(chan error, queued)
		for i := range queued {
			go func() {
				errs <- s.write(func(tx *bolt.Tx) error { txIDs[i] = tx.ID(); return nil })
			}()
		}
		require.Eventually(t, func() bool {
			s.group.mu.Lock()
			defer s.group.mu.Unlock()
			return len(s.group.queue) == queued
		}, 5*time.Second, time.Millisecond, "the writes wait behind the commit in progress")
		unblock()
		require.NoError(t, <-first)
		for range queued {
			require.NoError(t, <-errs)
		}
		for i := range txIDs {
			require.Equal(t, txIDs[0], txIDs[i], "write %d committed in another transaction", i)
		}
	})
	t.Run("closed store", func(t *testing.T) {
		s, _ := openTemp(t)
		require.NoError(t, s.Close())
		require.ErrorIs(t, s.write(func(*bolt.Tx) error { return nil }), errClosed)
	})
}

// TestAppendEventsBatch checks that a batch of events is stored as the same events appended one
// by one would be: IDs in order, replays within the batch ignored, checkpoint at the last.
func TestAppendEventsBatch(t *testing.T) {
	s, _ := openTemp(t)
	_, _, err := s.AppendEvent(event(3, "a"))
	require.NoError(t, err)
	stored, fresh, err := s.AppendEvents([]gateway.Event{event(3, "a"), event(3, "b"), event(4, "c"), event(4, "c")})
	require.NoError(t, err)
	require.Equal(t, []bool{false, true, true, false}, fresh, "the replays of a and c are ignored")
	require.Equal(t, "3-1", stored[1].ID.String())
	require.Equal(t, "4-0", stored[2].ID.String())
	requireEventLog(t, s, 4, "c", 3)
}
