package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Snapshot is a consistent, point-in-time read view of the ledger (a bbolt read
// transaction). Commits made after NewSnapshot are invisible to it, and its iterators keep
// reading the same view after later commits. A Snapshot is safe for concurrent use. Release
// it when done: an unreleased snapshot keeps old pages alive and makes Close wait.
type Snapshot struct {
	mu       sync.Mutex
	tx       *bolt.Tx
	height   uint64
	released bool
}

// NewSnapshot opens a read view of the current committed state.
func (l *Ledger) NewSnapshot() (*Snapshot, error) {
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	tx, err := l.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("begin snapshot: %w", closedErr(err))
	}
	s := &Snapshot{tx: tx}
	if h := tx.Bucket(bucketMeta).Get(metaHeight); len(h) == 8 {
		s.height = binary.BigEndian.Uint64(h)
	}
	return s, nil
}

// Height returns the number of blocks committed when the snapshot was taken.
func (s *Snapshot) Height() uint64 { return s.height }

// Release ends the snapshot; later calls on it or its iterators return ErrReleased.
// Release is idempotent.
func (s *Snapshot) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return
	}
	s.released = true
	_ = s.tx.Rollback() // a read-only transaction has nothing to roll back; error only if already closed
}

// get returns a copy of the value under k in bucket, or nil.
func (s *Snapshot) get(bucket, k []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return nil, ErrReleased
	}
	v := s.tx.Bucket(bucket).Get(k)
	if v == nil {
		return nil, nil
	}
	return bytes.Clone(v), nil
}

// GetState returns the committed value of key in namespace ns, or nil if it is absent.
func (s *Snapshot) GetState(ns, key string) (*VersionedValue, error) {
	v, err := s.get(bucketState, stateKey(ns, key))
	if err != nil || v == nil {
		return nil, err
	}
	vv, err := decodeState(v)
	if err != nil {
		return nil, fmt.Errorf("state %s/%q: %w", ns, key, err)
	}
	return vv, nil
}

// GetStateRange iterates the keys of namespace ns in byte order in [startKey, endKey);
// endKey "" means to the end of the namespace. Composite keys (which start with 0x00) are
// included: filtering them out of simple-key ranges is the caller's business.
func (s *Snapshot) GetStateRange(ns, startKey, endKey string) (StateIterator, error) {
	return s.newRangeIter(bucketState, nsPrefix(ns), startKey, endKey, nil)
}

// GetPrivateData returns the committed private value of key in collection coll of namespace
// ns, nil if absent. Metadata comes from the hashed entry (where Fabric keeps it). If the key's
// hash is committed but the matching value is not, it returns ErrPrivateDataUnavailable.
func (s *Snapshot) GetPrivateData(ns, coll, key string) (*VersionedValue, error) {
	kh := sha256.Sum256([]byte(key))
	hv, err := s.GetPrivateDataHash(ns, coll, kh[:])
	if err != nil || hv == nil {
		return nil, err
	}
	v, err := s.get(bucketPvt, pvtKey(ns, coll, key))
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("private data %s/%s/%q at version %d/%d: %w", ns, coll, key, hv.Version.BlockNum, hv.Version.TxNum, ErrPrivateDataUnavailable)
	}
	vv, err := decodeState(v)
	if err != nil {
		return nil, fmt.Errorf("private data %s/%s/%q: %w", ns, coll, key, err)
	}
	if vv.Version != hv.Version {
		return nil, fmt.Errorf("private data %s/%s/%q: hash version %d/%d, value version %d/%d: %w", ns, coll, key,
			hv.Version.BlockNum, hv.Version.TxNum, vv.Version.BlockNum, vv.Version.TxNum, ErrPrivateDataUnavailable)
	}
	vv.Metadata = hv.Metadata
	return vv, nil
}

// GetPrivateDataHash returns the committed hashed entry of a private key: Value is the
// SHA-256 of the private value, Metadata the key's metadata. It returns nil if absent.
func (s *Snapshot) GetPrivateDataHash(ns, coll string, keyHash []byte) (*VersionedValue, error) {
	v, err := s.get(bucketPvtHash, pvtHashKey(ns, coll, keyHash))
	if err != nil || v == nil {
		return nil, err
	}
	vv, err := decodeState(v)
	if err != nil {
		return nil, fmt.Errorf("private data hash %s/%s/%x: %w", ns, coll, keyHash, err)
	}
	return vv, nil
}

// GetPrivateDataRange iterates the private keys of a collection in byte order in
// [startKey, endKey) ("" = to the end). Values whose committed hash is gone or newer than the
// value (private data not supplied at commit) are skipped.
func (s *Snapshot) GetPrivateDataRange(ns, coll, startKey, endKey string) (StateIterator, error) {
	check := func(key string, vv *VersionedValue) (bool, error) {
		kh := sha256.Sum256([]byte(key))
		v := s.tx.Bucket(bucketPvtHash).Get(pvtHashKey(ns, coll, kh[:]))
		if v == nil {
			return false, nil
		}
		hv, err := decodeState(v)
		if err != nil {
			return false, fmt.Errorf("private data hash %s/%s/%q: %w", ns, coll, key, err)
		}
		if hv.Version != vv.Version {
			return false, nil
		}
		vv.Metadata = hv.Metadata
		return true, nil
	}
	return s.newRangeIter(bucketPvt, collPrefix(ns, coll), startKey, endKey, check)
}

// rangeIter iterates one key prefix of a bucket within a snapshot.
type rangeIter struct {
	s       *Snapshot
	c       *bolt.Cursor
	prefix  []byte
	start   []byte
	end     []byte // nil = to the end of the prefix
	started bool
	done    bool
	filter  func(key string, vv *VersionedValue) (bool, error)
}

func (s *Snapshot) newRangeIter(bucket, prefix []byte, startKey, endKey string, filter func(string, *VersionedValue) (bool, error)) (*rangeIter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return nil, ErrReleased
	}
	it := &rangeIter{
		s:      s,
		c:      s.tx.Bucket(bucket).Cursor(),
		prefix: prefix,
		start:  append(bytes.Clone(prefix), startKey...),
		filter: filter,
	}
	if endKey != "" {
		it.end = append(bytes.Clone(prefix), endKey...)
	}
	return it, nil
}

// Next returns the next entry, or nil, nil at the end of the range.
func (it *rangeIter) Next() (*KV, error) {
	it.s.mu.Lock()
	defer it.s.mu.Unlock()
	if it.s.released {
		return nil, ErrReleased
	}
	for !it.done {
		var k, v []byte
		if !it.started {
			k, v = it.c.Seek(it.start)
			it.started = true
		} else {
			k, v = it.c.Next()
		}
		if k == nil || !bytes.HasPrefix(k, it.prefix) || (it.end != nil && bytes.Compare(k, it.end) >= 0) {
			it.done = true
			break
		}
		vv, err := decodeState(v)
		if err != nil {
			return nil, fmt.Errorf("range entry %q: %w", k[len(it.prefix):], err)
		}
		key := string(k[len(it.prefix):])
		if it.filter != nil {
			ok, err := it.filter(key, vv)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		return &KV{Key: key, Value: vv}, nil
	}
	return nil, nil
}

// Close ends the iteration; the snapshot stays usable.
func (it *rangeIter) Close() {
	it.s.mu.Lock()
	defer it.s.mu.Unlock()
	it.done = true
}

// GetHistory iterates the committed modifications of key in namespace ns, oldest first
// (commit order). Each entry carries the writing transaction's ID and channel-header timestamp.
func (s *Snapshot) GetHistory(ns, key string) (HistoryIterator, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return nil, ErrReleased
	}
	return &historyIter{s: s, c: s.tx.Bucket(bucketHistory).Cursor(), prefix: historyPrefix(ns, key)}, nil
}

// GetHistoryNewestFirst iterates the committed modifications of key in namespace ns, newest
// first: the order in which a Fabric peer answers the chaincode's GetHistoryForKey.
func (s *Snapshot) GetHistoryNewestFirst(ns, key string) (HistoryIterator, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return nil, ErrReleased
	}
	return &historyIter{s: s, c: s.tx.Bucket(bucketHistory).Cursor(), prefix: historyPrefix(ns, key), reverse: true}, nil
}

type historyIter struct {
	s       *Snapshot
	c       *bolt.Cursor
	prefix  []byte
	reverse bool
	started bool
	done    bool
}

// first positions the cursor on the first entry in iteration order.
func (it *historyIter) first() ([]byte, []byte) {
	if !it.reverse {
		return it.c.Seek(it.prefix)
	}
	// Entry keys are prefix + be64(block) + be64(tx): seek past the largest possible one.
	past := append(bytes.Clone(it.prefix), bytes.Repeat([]byte{0xff}, 17)...)
	if k, _ := it.c.Seek(past); k == nil {
		return it.c.Last()
	}
	return it.c.Prev()
}

// Next returns the next modification, or nil, nil at the end.
func (it *historyIter) Next() (*queryresult.KeyModification, error) {
	it.s.mu.Lock()
	defer it.s.mu.Unlock()
	if it.s.released {
		return nil, ErrReleased
	}
	if it.done {
		return nil, nil
	}
	var k, v []byte
	switch {
	case !it.started:
		k, v = it.first()
		it.started = true
	case it.reverse:
		k, v = it.c.Prev()
	default:
		k, v = it.c.Next()
	}
	if k == nil || !bytes.HasPrefix(k, it.prefix) || len(k) != len(it.prefix)+16 {
		it.done = true
		return nil, nil
	}
	h, err := decodeHistory(v)
	if err != nil {
		return nil, fmt.Errorf("history entry %x: %w", k, err)
	}
	ts := h.timestamp
	if ts == nil {
		ts = &timestamppb.Timestamp{}
	}
	return &queryresult.KeyModification{TxId: h.txID, Value: h.value, Timestamp: ts, IsDelete: h.isDelete}, nil
}

// Close ends the iteration; the snapshot stays usable.
func (it *historyIter) Close() {
	it.s.mu.Lock()
	defer it.s.mu.Unlock()
	it.done = true
}
