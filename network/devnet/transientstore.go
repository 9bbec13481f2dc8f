package devnet

import (
	"sort"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
)

// transientStore holds the private write sets of endorsed transactions until they are committed
// (Fabric's transient store). Entries expire after a retention period; the store is bounded.
type transientStore struct {
	retention time.Duration
	max       int

	mu        sync.Mutex
	entries   map[string]transientEntry
	lastSweep time.Time
}

type transientEntry struct {
	pvt   *rwset.TxPvtReadWriteSet
	added time.Time
}

func newTransientStore(retention time.Duration, max int) *transientStore {
	return &transientStore{retention: retention, max: max, entries: map[string]transientEntry{}}
}

func (s *transientStore) put(txID string, pvt *rwset.TxPvtReadWriteSet) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.lastSweep) > time.Second {
		s.lastSweep = now
		for id, e := range s.entries {
			if now.Sub(e.added) > s.retention {
				delete(s.entries, id)
			}
		}
	}
	if len(s.entries) >= s.max {
		ids := make([]string, 0, len(s.entries))
		for id := range s.entries {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return s.entries[ids[i]].added.Before(s.entries[ids[j]].added) })
		for _, id := range ids[:len(ids)-s.max+1] {
			delete(s.entries, id)
		}
	}
	s.entries[txID] = transientEntry{pvt: pvt, added: now}
}

func (s *transientStore) take(txID string) *rwset.TxPvtReadWriteSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[txID]
	if !ok {
		return nil
	}
	delete(s.entries, txID)
	return e.pvt
}
