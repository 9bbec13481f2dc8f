package store

import (
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// groupCommitInterval is the shortest time between the starts of two commits of the group
// committer. While writes keep coming, each commit takes all the writes that came during the
// interval; a write that comes after a quiet interval is committed at once.
const groupCommitInterval = 10 * time.Millisecond

// groupCommit shares bbolt commits among the store's frequent writes: idempotency records
// (two per keyed request) and chaincode events. Every bbolt commit syncs the file twice (its
// pages, then its meta page), and on a machine where the peers and the ordering service sync
// their own files, every sync queues at the same disk: measured under load, the gateway's
// syncs were two thirds of the device's flushes and slowed the peers' commits that every
// request waits for. Writes are queued; one goroutine commits the queue in one transaction,
// at most once per groupCommitInterval, and each writer returns once its commit is synced.
// (bbolt's Batch waits MaxBatchDelay from the first write of a batch and then commits what
// came; under load that made commits of one or two writes each, back to back.)
type groupCommit struct {
	mu      sync.Mutex
	queue   []*pendingWrite
	running bool      // a goroutine is committing the queue
	last    time.Time // when the last commit started (used by that goroutine only)
}

// pendingWrite is a write waiting for its commit.
type pendingWrite struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// write commits fn with the writes queued with it (see groupCommit) and returns once the
// commit is synced. fn must be safe to run more than once: when another write of its group
// fails, the group is rolled back and fn runs again in the next commit.
func (s *Store) write(fn func(*bolt.Tx) error) error {
	p := &pendingWrite{fn: fn, done: make(chan error, 1)}
	g := &s.group
	g.mu.Lock()
	g.queue = append(g.queue, p)
	start := !g.running
	g.running = true
	g.mu.Unlock()
	if start {
		go s.commitQueue()
	}
	return <-p.done
}

// commitQueue commits the queued writes, group after group, until the queue is empty.
func (s *Store) commitQueue() {
	g := &s.group
	for {
		if wait := time.Until(g.last.Add(groupCommitInterval)); wait > 0 {
			time.Sleep(wait)
		}
		g.mu.Lock()
		group := g.queue
		g.queue = nil
		if len(group) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.last = time.Now()
		s.commitGroup(group)
	}
}

// commitGroup runs the group's writes in one bbolt transaction, in order, and answers each.
// A write whose function fails gets its error (it saw the writes queued before it, which is
// the order they commit in); the others are committed again without it.
func (s *Store) commitGroup(group []*pendingWrite) {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	for len(group) > 0 {
		if s.db == nil {
			for _, p := range group {
				p.done <- errClosed
			}
			return
		}
		failed := -1
		err := s.db.Update(func(tx *bolt.Tx) error {
			for i, p := range group {
				if err := p.fn(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, p := range group {
				p.done <- err
			}
			return
		}
		group[failed].done <- err
		group = append(group[:failed:failed], group[failed+1:]...)
	}
}
