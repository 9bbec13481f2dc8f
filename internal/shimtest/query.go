package shimtest

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// errRichQueryUnsupported is what a peer with the default LevelDB state
// database answers to a rich (JSON selector) query.
var errRichQueryUnsupported = errors.New("ExecuteQuery not supported for leveldb")

// peerScan is the peer side of a range query: it walks the keyspace at the
// stub's height, one key at a time, and records what it returns in the
// transaction's range query info (nil for private data, whose range reads
// are not validated for phantoms by Fabric).
type peerScan struct {
	ks        *keyspace
	height    uint64
	start     string
	end       string
	cursor    string
	started   bool
	exhausted bool
	rr        *rangeRead
	namespace string
}

// next returns the next key/value of the range, or nil at its end.
func (p *peerScan) next() *queryresult.KV {
	if p.exhausted {
		return nil
	}
	var kv *queryresult.KV
	if p.ks != nil {
		from, exclusive := p.start, false
		if p.started {
			from, exclusive = p.cursor, true
		}
		p.ks.scanFrom(from, exclusive, p.end, false, p.height, func(key string, e entry) bool {
			kv = &queryresult.KV{Namespace: p.namespace, Key: key, Value: bytes.Clone(e.value)}
			if p.rr != nil {
				p.rr.reads = append(p.rr.reads, keyVersion{key: key, version: e.block})
			}
			return false
		})
	}
	p.started = true
	if kv == nil {
		p.exhausted = true
		if p.rr != nil {
			p.rr.exhausted = true
		}
		return nil
	}
	p.cursor = kv.Key
	return kv
}

// peek returns the next key of the range without recording it (the
// bookmark of a page), or "".
func (p *peerScan) peek() string {
	if p.exhausted || p.ks == nil {
		return ""
	}
	from, exclusive := p.start, false
	if p.started {
		from, exclusive = p.cursor, true
	}
	next := ""
	p.ks.scanFrom(from, exclusive, p.end, false, p.height, func(key string, _ entry) bool {
		next = key
		return false
	})
	return next
}

// stateIterator is the chaincode side of a range query. It reproduces the
// peer/shim protocol: results arrive in batches of PeerBatchSize (the peer
// reads one result ahead when cutting a batch), the total is capped at the
// return limit, and a paginated query answers in one batch with metadata.
type stateIterator struct {
	stub      *Stub
	scan      *peerScan
	paginated bool
	limit     int32
	returned  int32
	pending   []*queryresult.KV
	batch     []*queryresult.KV
	pos       int
	hasMore   bool
	closed    bool
	metadata  *peer.QueryResponseMetadata
}

// fetchLocked builds the next response as the peer's QueryResponseBuilder
// does. Callers hold the stub and ledger locks.
func (it *stateIterator) fetchLocked() {
	for {
		if it.returned >= it.limit {
			it.finishLocked()
			return
		}
		kv := it.scan.next()
		switch {
		case kv == nil:
			it.finishLocked()
			return
		case !it.paginated && len(it.pending) == PeerBatchSize:
			it.batch, it.pending = it.pending, []*queryresult.KV{kv}
			it.pos = 0
			it.returned++
			it.hasMore = true
			return
		default:
			it.pending = append(it.pending, kv)
			it.returned++
		}
	}
}

func (it *stateIterator) finishLocked() {
	it.batch, it.pending = it.pending, nil
	it.pos = 0
	it.hasMore = false
	if it.paginated {
		it.metadata = &peer.QueryResponseMetadata{FetchedRecordsCount: it.returned, Bookmark: it.scan.peek()}
	}
}

// HasNext reports whether Next has another result.
func (it *stateIterator) HasNext() bool {
	it.stub.mu.Lock()
	defer it.stub.mu.Unlock()
	return !it.closed && (it.pos < len(it.batch) || it.hasMore)
}

// Next returns the next key/value of the range.
func (it *stateIterator) Next() (*queryresult.KV, error) {
	it.stub.mu.Lock()
	defer it.stub.mu.Unlock()
	if it.closed {
		return nil, errors.New("shimtest: iterator is closed")
	}
	if it.pos >= len(it.batch) {
		return nil, errors.New("no such key")
	}
	kv := it.batch[it.pos]
	it.pos++
	if it.pos == len(it.batch) && it.hasMore {
		// The shim pre-fetches the next batch on access of the last item.
		if err := it.stub.checkDoneLocked(); err != nil {
			return nil, err
		}
		it.stub.ledger.mu.RLock()
		it.fetchLocked()
		it.stub.ledger.mu.RUnlock()
	}
	return kv, nil
}

// Close releases the iterator.
func (it *stateIterator) Close() error {
	it.stub.mu.Lock()
	defer it.stub.mu.Unlock()
	it.closed = true
	return nil
}

// rangeQuery runs a range query the way the peer's GetStateByRange handler
// does for the given collection ("" = public state).
func (s *Stub) rangeQuery(coll, start, end string, withMetadata bool, pageSize int32, bookmark string) (*stateIterator, *peer.QueryResponseMetadata, error) {
	if err := checkKey(start); err != nil {
		return nil, nil, err
	}
	if err := checkKey(end); err != nil {
		return nil, nil, err
	}
	if err := checkKey(bookmark); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkDoneLocked(); err != nil {
		return nil, nil, err
	}
	paginated := withMetadata && (pageSize != 0 || bookmark != "")
	limit := int32(TotalQueryLimit)
	if withMetadata && pageSize > 0 && pageSize < limit {
		limit = pageSize
	}
	it := &stateIterator{stub: s, paginated: paginated, limit: limit}
	if coll != "" {
		if err := s.checkCollectionLocked(coll, accessRead); err != nil {
			return nil, nil, err
		}
	}
	s.ledger.mu.RLock()
	defer s.ledger.mu.RUnlock()
	scan := &peerScan{height: s.height, start: start, end: end, namespace: s.chaincodeName}
	switch {
	case coll != "":
		if err := s.checkBeforePvtQueryLocked(); err != nil {
			return nil, nil, err
		}
		scan.ks = s.ledger.private[coll]
	case paginated:
		if err := s.checkBeforePaginatedQueryLocked(); err != nil {
			return nil, nil, err
		}
		if bookmark != "" {
			scan.start = bookmark
		}
		scan.ks = s.ledger.public
	default:
		scan.ks = s.ledger.public
	}
	if coll == "" {
		scan.rr = &rangeRead{start: scan.start, end: end}
		s.rangeReads = append(s.rangeReads, scan.rr)
	}
	it.scan = scan
	it.fetchLocked()
	md := it.metadata
	if md == nil {
		md = &peer.QueryResponseMetadata{}
	}
	return it, md, nil
}

// GetStateByRange iterates the simple keys in [startKey, endKey) in key
// order. An empty startKey starts after the composite key namespace, so
// composite keys are never returned; an empty endKey is unbounded. The range
// is re-checked for phantoms at commit.
func (s *Stub) GetStateByRange(startKey, endKey string) (shim.StateQueryIteratorInterface, error) {
	if startKey == "" {
		startKey = emptyKeySubstitute
	}
	if err := validateSimpleKeys(startKey, endKey); err != nil {
		return nil, err
	}
	it, _, err := s.rangeQuery("", startKey, endKey, false, 0, "")
	if err != nil {
		return nil, err
	}
	return it, nil
}

// GetStateByRangeWithPagination returns one page of at most pageSize simple
// keys of [startKey, endKey), starting at bookmark when it is not empty. The
// metadata carries the number of records fetched and the bookmark of the
// next page: the first key after this page, or "" when the range is
// exhausted. Paginated queries are only allowed in read-only transactions.
func (s *Stub) GetStateByRangeWithPagination(startKey, endKey string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	if startKey == "" {
		startKey = emptyKeySubstitute
	}
	if err := validateSimpleKeys(startKey, endKey); err != nil {
		return nil, nil, err
	}
	it, md, err := s.rangeQuery("", startKey, endKey, true, pageSize, bookmark)
	if err != nil {
		return nil, nil, err
	}
	return it, md, nil
}

// GetStateByPartialCompositeKey iterates, in key order, the composite keys
// that start with the given object type and leading attributes.
func (s *Stub) GetStateByPartialCompositeKey(objectType string, keys []string) (shim.StateQueryIteratorInterface, error) {
	start, end, err := partialCompositeRange(objectType, keys)
	if err != nil {
		return nil, err
	}
	it, _, err := s.rangeQuery("", start, end, false, 0, "")
	if err != nil {
		return nil, err
	}
	return it, nil
}

// GetStateByPartialCompositeKeyWithPagination is the paginated form of
// GetStateByPartialCompositeKey, with the bookmark semantics of
// GetStateByRangeWithPagination.
func (s *Stub) GetStateByPartialCompositeKeyWithPagination(objectType string, keys []string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	start, end, err := partialCompositeRange(objectType, keys)
	if err != nil {
		return nil, nil, err
	}
	it, md, err := s.rangeQuery("", start, end, true, pageSize, bookmark)
	if err != nil {
		return nil, nil, err
	}
	return it, md, nil
}

// GetAllStatesCompositeKeyWithPagination pages through every composite key.
func (s *Stub) GetAllStatesCompositeKeyWithPagination(pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	it, md, err := s.rangeQuery("", compositeKeyNamespace, compositeKeyNamespace+string(rune(maxUnicodeRune)), true, pageSize, bookmark)
	if err != nil {
		return nil, nil, err
	}
	return it, md, nil
}

// GetPrivateDataByRange iterates the keys of collection in [startKey,
// endKey). As on a peer, it is only allowed in a transaction that has not
// written anything, and forbids writes afterwards.
func (s *Stub) GetPrivateDataByRange(collection, startKey, endKey string) (shim.StateQueryIteratorInterface, error) {
	if collection == "" {
		return nil, errors.New("collection must not be an empty string")
	}
	if startKey == "" {
		startKey = emptyKeySubstitute
	}
	if err := validateSimpleKeys(startKey, endKey); err != nil {
		return nil, err
	}
	it, _, err := s.rangeQuery(collection, startKey, endKey, false, 0, "")
	if err != nil {
		return nil, err
	}
	return it, nil
}

// GetPrivateDataByPartialCompositeKey iterates the composite keys of
// collection with the given prefix (read-only transactions, as above).
func (s *Stub) GetPrivateDataByPartialCompositeKey(collection, objectType string, keys []string) (shim.StateQueryIteratorInterface, error) {
	if collection == "" {
		return nil, errors.New("collection must not be an empty string")
	}
	start, end, err := partialCompositeRange(objectType, keys)
	if err != nil {
		return nil, err
	}
	it, _, err := s.rangeQuery(collection, start, end, false, 0, "")
	if err != nil {
		return nil, err
	}
	return it, nil
}

// GetQueryResult fails as on a peer using LevelDB: rich queries need CouchDB.
func (s *Stub) GetQueryResult(query string) (shim.StateQueryIteratorInterface, error) {
	return nil, fmt.Errorf("rich query %q: %w", query, errRichQueryUnsupported)
}

// GetQueryResultWithPagination fails as on a peer using LevelDB.
func (s *Stub) GetQueryResultWithPagination(query string, _ int32, _ string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return nil, nil, fmt.Errorf("rich query %q: %w", query, errRichQueryUnsupported)
}

// GetPrivateDataQueryResult fails as on a peer using LevelDB.
func (s *Stub) GetPrivateDataQueryResult(collection, query string) (shim.StateQueryIteratorInterface, error) {
	if collection == "" {
		return nil, errors.New("collection must not be an empty string")
	}
	return nil, fmt.Errorf("rich query %q on collection %s: %w", query, collection, errRichQueryUnsupported)
}

// historyIterator iterates a key's committed modifications.
type historyIterator struct {
	mods []*queryresult.KeyModification
	pos  int
}

// HasNext reports whether Next has another modification.
func (it *historyIterator) HasNext() bool { return it.pos < len(it.mods) }

// Next returns the next modification.
func (it *historyIterator) Next() (*queryresult.KeyModification, error) {
	if it.pos >= len(it.mods) {
		return nil, errors.New("no such key")
	}
	m := it.mods[it.pos]
	it.pos++
	return m, nil
}

// Close releases the iterator.
func (it *historyIterator) Close() error { return nil }

// GetHistoryForKey returns the committed modifications of key, newest first
// (Fabric's order since v2.0: by block and transaction height, descending).
// Each has the transaction ID, the value (nil for a delete), the
// transaction timestamp and IsDelete. The query is not re-checked at commit.
func (s *Stub) GetHistoryForKey(key string) (shim.HistoryQueryIteratorInterface, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkDoneLocked(); err != nil {
		return nil, err
	}
	s.ledger.mu.RLock()
	defer s.ledger.mu.RUnlock()
	return &historyIterator{mods: s.ledger.historyLocked(key, s.height)}, nil
}
