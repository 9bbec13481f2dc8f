package shimtest

import (
	"sort"
	"sync"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// entry is one committed version of a key: the state after the transaction
// committed in block `block`. A deleted entry marks the key absent from that
// block on. Entries whose history flag is false come from metadata-only
// writes, which change the version but are not part of the key's history (as
// Fabric's history database indexes only the value writes of a write set).
type entry struct {
	block    uint64
	value    []byte
	deleted  bool
	metadata map[string][]byte
	txID     string
	ts       *timestamppb.Timestamp
	history  bool
}

// keyspace is a multi-version ordered key/value store: every committed
// version of every key is kept, so any transaction can read the state as of
// the block height at which it started (Fabric simulates a transaction against
// one consistent committed state, holding the commit lock while it runs).
//
// Entries are only changed under the ledger's write lock. The ordered key
// index is maintained lazily: new keys go to a pending list and are merged
// into a freshly allocated sorted slice by the next scan (under idxMu), so
// seeding many keys in any order costs one sort, and a published sorted slice
// is never modified, which lets concurrent readers keep iterating it.
type keyspace struct {
	entries map[string][]entry

	idxMu   sync.Mutex
	sorted  []string // every key that ever had an entry, sorted; never mutated in place
	pending []string // keys added since the last merge, unsorted
}

func newKeyspace() *keyspace {
	return &keyspace{entries: make(map[string][]entry)}
}

// at returns the newest entry of key committed at or below height.
func (ks *keyspace) at(key string, height uint64) (entry, bool) {
	es := ks.entries[key]
	// Entries are appended in block order, so the newest ones are last.
	i := sort.Search(len(es), func(i int) bool { return es[i].block > height })
	if i == 0 {
		return entry{}, false
	}
	return es[i-1], true
}

// live returns the value entry of key at height, or false when the key is
// absent (never written or deleted) at that height.
func (ks *keyspace) live(key string, height uint64) (entry, bool) {
	e, ok := ks.at(key, height)
	if !ok || e.deleted {
		return entry{}, false
	}
	return e, true
}

// version is the committed version (block number) of key at height; 0 means
// the key is absent, which is how Fabric records a read of a missing key.
func (ks *keyspace) version(key string, height uint64) uint64 {
	e, ok := ks.live(key, height)
	if !ok {
		return 0
	}
	return e.block
}

// put appends a new version of key.
func (ks *keyspace) put(key string, e entry) {
	if _, known := ks.entries[key]; !known {
		ks.idxMu.Lock()
		ks.pending = append(ks.pending, key)
		ks.idxMu.Unlock()
	}
	ks.entries[key] = append(ks.entries[key], e)
}

// index returns the sorted key index, merging pending keys first.
func (ks *keyspace) index() []string {
	ks.idxMu.Lock()
	defer ks.idxMu.Unlock()
	if len(ks.pending) == 0 {
		return ks.sorted
	}
	sort.Strings(ks.pending)
	merged := make([]string, 0, len(ks.sorted)+len(ks.pending))
	i, j := 0, 0
	for i < len(ks.sorted) && j < len(ks.pending) {
		if ks.sorted[i] < ks.pending[j] {
			merged = append(merged, ks.sorted[i])
			i++
		} else {
			merged = append(merged, ks.pending[j])
			j++
		}
	}
	merged = append(merged, ks.sorted[i:]...)
	merged = append(merged, ks.pending[j:]...)
	ks.sorted, ks.pending = merged, nil
	return merged
}

// scanFrom visits, in key order, the keys live at height that are >= from (or
// > from when exclusive) and below end ("" = unbounded; when endInclusive the
// end key itself is visited too), until fn returns false.
func (ks *keyspace) scanFrom(from string, exclusive bool, end string, endInclusive bool, height uint64, fn func(key string, e entry) bool) {
	keys := ks.index()
	i := sort.SearchStrings(keys, from)
	for ; i < len(keys); i++ {
		key := keys[i]
		if exclusive && key == from {
			continue
		}
		if end != "" {
			if endInclusive {
				if key > end {
					return
				}
			} else if key >= end {
				return
			}
		}
		e, ok := ks.live(key, height)
		if !ok {
			continue
		}
		if !fn(key, e) {
			return
		}
	}
}
