package ccruntime

import (
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/ledger"
)

// queryIterator is an open chaincode query (Fabric's query context entry): a source of results
// plus the batch being assembled and the running count of returned records.
type queryIterator struct {
	next     func() (proto.Message, error) // nil, nil when exhausted
	bookmark func() string                 // next key after the page; closes the source
	close    func()
	pending  []*peer.QueryResultBytes
	returned int32
}

// rangeIterator is a public range scan that records what it read for phantom-read validation,
// as Fabric's resultsItr does (through the ledger's RangeQueryRecorder): StartKey as queried,
// EndKey the last key handed out (or the queried end once the scan is exhausted),
// ItrExhausted, and the keys read with their versions, as raw reads or, beyond the hashing
// degree, as a merkle summary.
type rangeIterator struct {
	ns        string
	db        ledger.StateIterator
	pageSize  int32
	fetched   int32
	rec       *ledger.RangeQueryRecorder
	closed    bool
	exhausted bool
}

func (it *rangeIterator) nextKV() (*ledgerKV, error) {
	if it.closed || it.exhausted {
		return nil, nil
	}
	if it.pageSize > 0 && it.fetched >= it.pageSize {
		return nil, nil
	}
	kv, err := it.db.Next()
	if err != nil {
		return nil, fmt.Errorf("range scan %s: %w", it.ns, err)
	}
	if kv == nil {
		it.exhausted = true
		return nil, nil
	}
	it.fetched++
	return kv, nil
}

func (it *rangeIterator) next() (proto.Message, error) {
	kv, err := it.nextKV()
	if err != nil {
		return nil, err
	}
	if kv == nil {
		it.rec.Exhausted()
		return nil, nil
	}
	var version ledger.Height
	if kv.Value != nil {
		version = kv.Value.Version
	}
	it.rec.Add(kv.Key, version)
	return &queryresult.KV{Namespace: it.ns, Key: kv.Key, Value: valueOf(kv.Value)}, nil
}

// bookmark returns the key following the page (without recording it) and closes the scan.
func (it *rangeIterator) bookmark() string {
	defer it.closeScan()
	if it.closed || it.exhausted {
		return ""
	}
	kv, err := it.db.Next()
	if err != nil || kv == nil {
		return ""
	}
	return kv.Key
}

func (it *rangeIterator) closeScan() {
	if !it.closed {
		it.closed = true
		it.db.Close()
	}
}

// rangeQueryInfo is the RangeQueryInfo the scan contributes to the read-write set. As on
// Fabric, a scan that read nothing carries no reads info at all.
func (it *rangeIterator) rangeQueryInfo() *kvrwset.RangeQueryInfo {
	info := proto.CloneOf(it.rec.Info())
	if raw := info.GetRawReads(); raw != nil && len(raw.GetKvReads()) == 0 {
		info.ReadsInfo = nil
	}
	return info
}

func (tx *txContext) stateRange(startKey, endKey string, pageSize int32) (*queryIterator, error) {
	db, err := tx.inv.State.GetStateRange(tx.ns, startKey, endKey)
	if err != nil {
		return nil, fmt.Errorf("range scan %s [%q, %q): %w", tx.ns, startKey, endKey, err)
	}
	rec, err := ledger.NewRangeQueryRecorder(startKey, endKey, tx.rt.opts.rangeHashDegree)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("range scan %s: %w", tx.ns, err)
	}
	it := &rangeIterator{ns: tx.ns, db: db, pageSize: pageSize, rec: rec}
	tx.rangeQueries = append(tx.rangeQueries, it)
	return &queryIterator{next: it.next, bookmark: it.bookmark, close: it.closeScan}, nil
}

// privateRange scans clear private data. As on Fabric it records nothing in the read-write
// set; on a peer of a non-member organisation the local private store is empty.
func (tx *txContext) privateRange(coll, startKey, endKey string) (*queryIterator, error) {
	if !tx.localMember(coll) {
		return &queryIterator{
			next:     func() (proto.Message, error) { return nil, nil },
			bookmark: func() string { return "" },
			close:    func() {},
		}, nil
	}
	prs, ok := tx.inv.State.(PrivateRangeState)
	if !ok {
		return nil, errors.New("private data range queries are not supported by this state database")
	}
	db, err := prs.GetPrivateDataRange(tx.ns, coll, startKey, endKey)
	if err != nil {
		return nil, fmt.Errorf("private range scan %s/%s [%q, %q): %w", tx.ns, coll, startKey, endKey, err)
	}
	return scanIterator(func() (proto.Message, error) {
		kv, err := db.Next()
		if err != nil {
			return nil, fmt.Errorf("private range scan %s/%s: %w", tx.ns, coll, err)
		}
		if kv == nil {
			return nil, nil
		}
		return &queryresult.KV{Namespace: tx.ns, Key: kv.Key, Value: valueOf(kv.Value)}, nil
	}, db.Close), nil
}

func (tx *txContext) history(key string) (*queryIterator, error) {
	db, err := tx.inv.State.GetHistory(tx.ns, key)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", key, err)
	}
	return scanIterator(func() (proto.Message, error) {
		m, err := db.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", key, err)
		}
		if m == nil {
			return nil, nil // not a typed nil inside the interface
		}
		return m, nil
	}, db.Close), nil
}

// scanIterator adapts a ledger scan that is read without pagination to a queryIterator. The scan
// is closed once: on close, or when a bookmark is asked for (there is none); next returns the end
// after that.
func scanIterator(next func() (proto.Message, error), closeDB func()) *queryIterator {
	closed := false
	closeScan := func() {
		if !closed {
			closed = true
			closeDB()
		}
	}
	return &queryIterator{
		next: func() (proto.Message, error) {
			if closed {
				return nil, nil
			}
			return next()
		},
		bookmark: func() string { closeScan(); return "" },
		close:    closeScan,
	}
}

func queryMetadata(b []byte) (*peer.QueryMetadata, error) {
	if b == nil {
		return nil, nil
	}
	md := &peer.QueryMetadata{}
	if err := proto.Unmarshal(b, md); err != nil {
		return nil, fmt.Errorf("unmarshal failed: %w", err)
	}
	return md, nil
}

func paginationRequested(md *peer.QueryMetadata) bool {
	return md != nil && (md.GetPageSize() != 0 || md.GetBookmark() != "")
}

func (tx *txContext) totalReturnLimit(md *peer.QueryMetadata) int32 {
	limit := tx.rt.opts.totalQueryLimit
	if ps := md.GetPageSize(); ps > 0 && ps < limit {
		limit = ps
	}
	return limit
}

func (tx *txContext) handleGetStateByRange(p []byte) ([]byte, error) {
	req := &peer.GetStateByRange{}
	if err := proto.Unmarshal(p, req); err != nil {
		return nil, fmt.Errorf("unmarshal failed: %w", err)
	}
	md, err := queryMetadata(req.GetMetadata())
	if err != nil {
		return nil, err
	}
	limit := tx.totalReturnLimit(md)
	id := tx.newQueryID()
	paginated := false
	var qi *queryIterator
	switch coll := req.GetCollection(); {
	case coll != "":
		if err := tx.checkPrivateQuery(coll); err != nil {
			return nil, err
		}
		qi, err = tx.privateRange(coll, req.GetStartKey(), req.GetEndKey())
	case paginationRequested(md):
		paginated = true
		start := req.GetStartKey()
		if md.GetBookmark() != "" {
			start = md.GetBookmark()
		}
		if err := tx.checkBeforePaginatedQueries(); err != nil {
			return nil, err
		}
		qi, err = tx.stateRange(start, req.GetEndKey(), md.GetPageSize())
	default:
		qi, err = tx.stateRange(req.GetStartKey(), req.GetEndKey(), 0)
	}
	if err != nil {
		return nil, err
	}
	tx.queries[id] = qi
	return tx.queryResponse(qi, id, paginated, limit)
}

// checkPrivateQuery applies the peer's checks before a query of collection coll: read
// permission, no private data query after a write in this transaction, a defined collection.
func (tx *txContext) checkPrivateQuery(coll string) error {
	if err := tx.checkReadPermission(coll); err != nil {
		return err
	}
	if err := tx.checkBeforePvtdataQueries(); err != nil {
		return err
	}
	return tx.validateCollName(coll)
}

func (tx *txContext) handleQueryStateNext(p []byte) ([]byte, error) {
	req := &peer.QueryStateNext{}
	if err := proto.Unmarshal(p, req); err != nil {
		return nil, fmt.Errorf("unmarshal failed: %w", err)
	}
	qi := tx.queries[req.GetId()]
	if qi == nil {
		return nil, errors.New("query iterator not found")
	}
	return tx.queryResponse(qi, req.GetId(), false, tx.totalReturnLimit(nil))
}

func (tx *txContext) handleQueryStateClose(p []byte) ([]byte, error) {
	req := &peer.QueryStateClose{}
	if err := proto.Unmarshal(p, req); err != nil {
		return nil, fmt.Errorf("unmarshal failed: %w", err)
	}
	tx.cleanupQuery(req.GetId())
	out, err := proto.Marshal(&peer.QueryResponse{HasMore: false, Id: req.GetId()})
	if err != nil {
		return nil, fmt.Errorf("marshal failed: %w", err)
	}
	return out, nil
}

// handleGetQueryResult answers rich queries as a peer on LevelDB (Fabric's default state
// database) does: they are not supported.
func (tx *txContext) handleGetQueryResult(p []byte) ([]byte, error) {
	req := &peer.GetQueryResult{}
	if err := proto.Unmarshal(p, req); err != nil {
		return nil, fmt.Errorf("unmarshal failed: %w", err)
	}
	md, err := queryMetadata(req.GetMetadata())
	if err != nil {
		return nil, err
	}
	switch coll := req.GetCollection(); {
	case coll != "":
		if err := tx.checkPrivateQuery(coll); err != nil {
			return nil, err
		}
		return nil, errors.New("ExecuteQuery not supported for leveldb")
	case paginationRequested(md):
		if err := tx.checkBeforePaginatedQueries(); err != nil {
			return nil, err
		}
		return nil, errors.New("ExecuteQueryWithMetadata not supported for leveldb")
	default:
		return nil, errors.New("ExecuteQuery not supported for leveldb")
	}
}

func (tx *txContext) handleGetHistoryForKey(p []byte) ([]byte, error) {
	req := &peer.GetHistoryForKey{}
	if err := proto.Unmarshal(p, req); err != nil {
		return nil, fmt.Errorf("unmarshal failed: %w", err)
	}
	id := tx.newQueryID()
	qi, err := tx.history(req.GetKey())
	if err != nil {
		return nil, err
	}
	tx.queries[id] = qi
	return tx.queryResponse(qi, id, false, tx.totalReturnLimit(nil))
}

// queryResponse assembles the next QueryResponse of a query as Fabric's
// QueryResponseGenerator does: batches of at most maxResults records with HasMore set while
// the source has more (the first record of the next batch is fetched ahead), at most limit
// records in total, and for paginated queries one response with QueryResponseMetadata
// {FetchedRecordsCount, Bookmark}.
func (tx *txContext) queryResponse(qi *queryIterator, id string, paginated bool, limit int32) ([]byte, error) {
	resp, err := tx.buildQueryResponse(qi, id, paginated, limit)
	if err != nil {
		tx.cleanupQuery(id)
		return nil, err
	}
	out, err := proto.Marshal(resp)
	if err != nil {
		tx.cleanupQuery(id)
		return nil, fmt.Errorf("marshal failed: %w", err)
	}
	return out, nil
}

func (tx *txContext) buildQueryResponse(qi *queryIterator, id string, paginated bool, limit int32) (*peer.QueryResponse, error) {
	maxResults := tx.rt.opts.maxResults
	for {
		if qi.returned >= limit {
			return tx.finishQuery(qi, id, paginated)
		}
		r, err := qi.next()
		if err != nil {
			return nil, err
		}
		if r == nil {
			return tx.finishQuery(qi, id, paginated)
		}
		b, err := proto.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("marshal query result: %w", err)
		}
		if !paginated && len(qi.pending) == maxResults {
			batch := qi.pending
			qi.pending = []*peer.QueryResultBytes{{ResultBytes: b}}
			qi.returned++
			return &peer.QueryResponse{Results: batch, HasMore: true, Id: id}, nil
		}
		qi.pending = append(qi.pending, &peer.QueryResultBytes{ResultBytes: b})
		qi.returned++
	}
}

func (tx *txContext) finishQuery(qi *queryIterator, id string, paginated bool) (*peer.QueryResponse, error) {
	batch := qi.pending
	qi.pending = nil
	if paginated {
		bookmark := qi.bookmark()
		delete(tx.queries, id)
		md, err := proto.Marshal(&peer.QueryResponseMetadata{FetchedRecordsCount: qi.returned, Bookmark: bookmark})
		if err != nil {
			return nil, fmt.Errorf("marshal query response metadata: %w", err)
		}
		return &peer.QueryResponse{Results: batch, HasMore: false, Id: id, Metadata: md}, nil
	}
	tx.cleanupQuery(id)
	return &peer.QueryResponse{Results: batch, HasMore: false, Id: id}, nil
}

func (tx *txContext) cleanupQuery(id string) {
	if qi, ok := tx.queries[id]; ok {
		qi.close()
		delete(tx.queries, id)
	}
}

func (tx *txContext) closeAllQueries() {
	for _, id := range sortedKeys(tx.queries) {
		tx.cleanupQuery(id)
	}
	for _, it := range tx.rangeQueries {
		it.closeScan()
	}
}
