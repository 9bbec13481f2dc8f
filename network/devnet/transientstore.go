package devnet

import (
	"encoding/binary"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// transientStore holds the private write sets of endorsed transactions until they are committed
// (Fabric's transient store). Like Fabric's, it lives on disk next to the peer's ledger, so that
// a peer that endorsed a transaction still has its private data when it commits the block after
// a crash: a store in memory would leave every member peer to commit such a block with hashes
// only, the private values lost for good. Writes are not synced (as Fabric's LevelDB store
// writes them): they survive the process, not the machine. Entries expire after a retention
// period and the store is bounded; recent entries are also kept in memory.
type transientStore struct {
	retention time.Duration
	max       int
	db        *bolt.DB

	mu      sync.Mutex
	entries map[string]transientEntry
	// recovered names the entries the file held when the store was opened (left by a crash):
	// only those are looked for on disk, the others are all in entries.
	recovered map[string]struct{}
	lastSweep time.Time
}

type transientEntry struct {
	pvt   *rwset.TxPvtReadWriteSet
	added time.Time
}

var bucketTransient = []byte("transient")

// openTransientStore opens (creating if needed) the transient store at path.
func openTransientStore(path string, retention time.Duration, max int) (*transientStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: true, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("open transient store %s: %w", path, err)
	}
	recovered := map[string]struct{}{}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTransient)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, _ []byte) error {
			recovered[string(k)] = struct{}{}
			return nil
		})
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initialise transient store %s: %w", path, err)
	}
	return &transientStore{retention: retention, max: max, db: db, entries: map[string]transientEntry{}, recovered: recovered}, nil
}

// close closes the store's file.
func (s *transientStore) close() error { return s.db.Close() }

// put keeps the private write set of txID.
func (s *transientStore) put(txID string, pvt *rwset.TxPvtReadWriteSet) error {
	raw, err := proto.Marshal(pvt)
	if err != nil {
		return fmt.Errorf("transient store: marshal %s: %w", txID, err)
	}
	now := time.Now()
	val := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(raw)), uint64(now.UnixNano())) // #nosec G115 -- a time after 1970
	val = append(val, raw...)
	s.mu.Lock()
	s.entries[txID] = transientEntry{pvt: pvt, added: now}
	sweep := now.Sub(s.lastSweep) > time.Second || len(s.entries) > s.max
	if sweep {
		s.lastSweep = now
	}
	s.mu.Unlock()
	if err := s.db.Batch(func(tx *bolt.Tx) error { return tx.Bucket(bucketTransient).Put([]byte(txID), val) }); err != nil {
		return fmt.Errorf("transient store: put %s: %w", txID, err)
	}
	if sweep {
		return s.sweep(now)
	}
	return nil
}

// get returns the private write set of txID (nil when there is none). It stays in the store
// until purge: a peer that crashes between reading it and committing its block still has it.
func (s *transientStore) get(txID string) *rwset.TxPvtReadWriteSet {
	s.mu.Lock()
	e, ok := s.entries[txID]
	_, onDisk := s.recovered[txID]
	s.mu.Unlock()
	if ok {
		return e.pvt
	}
	if !onDisk {
		return nil
	}
	var stored []byte
	_ = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketTransient).Get([]byte(txID)); v != nil {
			stored = append([]byte(nil), v...)
		}
		return nil
	})
	if len(stored) <= 8 {
		return nil
	}
	pvt := &rwset.TxPvtReadWriteSet{}
	if err := proto.Unmarshal(stored[8:], pvt); err != nil {
		return nil
	}
	return pvt
}

// purge forgets the private write sets of txIDs, once their block is committed (as Fabric's
// committer purges the transient store after the commit).
func (s *transientStore) purge(txIDs []string) error {
	if len(txIDs) == 0 {
		return nil
	}
	s.forget(txIDs)
	err := s.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTransient)
		for _, id := range txIDs {
			if err := b.Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("transient store: purge: %w", err)
	}
	return nil
}

// forget drops txIDs from memory.
func (s *transientStore) forget(txIDs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range txIDs {
		delete(s.entries, id)
		delete(s.recovered, id)
	}
}

// sweep drops the entries older than the retention, and the oldest beyond the bound.
func (s *transientStore) sweep(now time.Time) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTransient)
		drop := s.toDrop(b, now)
		ids := make([]string, len(drop))
		for i, k := range drop {
			if err := b.Delete(k); err != nil {
				return err
			}
			ids[i] = string(k)
		}
		s.forget(ids)
		return nil
	})
	if err != nil {
		return fmt.Errorf("transient store: sweep: %w", err)
	}
	return nil
}

// agedKey is a stored entry's key and when it was added.
type agedKey struct {
	key   []byte
	added time.Time
}

// toDrop returns the keys of b's entries that are expired or unreadable, then the oldest of
// the rest beyond the bound.
func (s *transientStore) toDrop(b *bolt.Bucket, now time.Time) [][]byte {
	var drop [][]byte
	var kept []agedKey
	_ = b.ForEach(func(k, v []byte) error {
		k = append([]byte(nil), k...)
		if len(v) < 8 {
			drop = append(drop, k)
			return nil
		}
		added := time.Unix(0, int64(binary.BigEndian.Uint64(v[:8]))) // #nosec G115 -- written from UnixNano
		if now.Sub(added) > s.retention {
			drop = append(drop, k)
		} else {
			kept = append(kept, agedKey{k, added})
		}
		return nil
	})
	if extra := len(kept) - s.max; extra > 0 {
		sort.Slice(kept, func(i, j int) bool { return kept[i].added.Before(kept[j].added) })
		for _, a := range kept[:extra] {
			drop = append(drop, a.key)
		}
	}
	return drop
}
