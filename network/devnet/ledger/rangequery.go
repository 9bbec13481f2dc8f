package ledger

import (
	"crypto/sha256"
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
)

// RangeQueryRecorder records the results of a range query during simulation into a
// kvrwset.RangeQueryInfo with Fabric's semantics, for the read set: raw KVReads, or, when
// hashing is enabled (maxDegree >= 2) and more than maxDegree results were read, a merkle
// summary (QueryReadsMerkleSummary) built the way Fabric's RangeQueryResultsHelper builds it.
// Commit re-executes the query and compares either form.
type RangeQueryRecorder struct {
	startKey, endKey string
	lastKey          string
	exhausted        bool
	hashing          bool
	maxDegree        uint32
	pending          []*kvrwset.KVRead
	tree             *merkleTree
	info             *kvrwset.RangeQueryInfo
}

// NewRangeQueryRecorder starts recording a range query over [startKey, endKey).
// maxDegree 0 disables hashing (raw reads only); otherwise it must be at least 2
// (Fabric's default is 50).
func NewRangeQueryRecorder(startKey, endKey string, maxDegree uint32) (*RangeQueryRecorder, error) {
	return newRecorder(startKey, endKey, maxDegree)
}

func newRecorder(startKey, endKey string, maxDegree uint32) (*RangeQueryRecorder, error) {
	r := &RangeQueryRecorder{startKey: startKey, endKey: endKey, maxDegree: maxDegree}
	if maxDegree != 0 {
		if maxDegree < 2 {
			return nil, fmt.Errorf("range query merkle max degree %d: must be 0 or at least 2", maxDegree)
		}
		r.hashing = true
		r.tree = &merkleTree{levels: map[uint32][][]byte{}, maxLevel: 1, maxDegree: maxDegree}
	}
	return r, nil
}

// Add records a result returned to the chaincode (key and its committed version).
func (r *RangeQueryRecorder) Add(key string, version Height) {
	r.add(&kvrwset.KVRead{Key: key, Version: &kvrwset.Version{BlockNum: version.BlockNum, TxNum: version.TxNum}})
}

func (r *RangeQueryRecorder) add(read *kvrwset.KVRead) {
	r.lastKey = read.GetKey()
	r.pending = append(r.pending, read)
	if r.hashing && uint32(len(r.pending)) > r.maxDegree {
		r.flush()
	}
}

// Exhausted marks that the iterator reported its end to the chaincode.
func (r *RangeQueryRecorder) Exhausted() { r.exhausted = true }

// Info returns the RangeQueryInfo for the read set. When the iterator was exhausted, EndKey
// is the query's end key; otherwise it is the last key returned (Commit includes it in the
// re-executed range). Call Info once recording is over; later calls return the same value.
func (r *RangeQueryRecorder) Info() *kvrwset.RangeQueryInfo {
	if r.info == nil {
		r.info = r.finish()
	}
	return r.info
}

func (r *RangeQueryRecorder) finish() *kvrwset.RangeQueryInfo {
	info := &kvrwset.RangeQueryInfo{StartKey: r.startKey, ItrExhausted: r.exhausted}
	if r.exhausted {
		info.EndKey = r.endKey
	} else {
		info.EndKey = r.lastKey
	}
	if !r.hashing || r.tree.empty() {
		info.ReadsInfo = &kvrwset.RangeQueryInfo_RawReads{RawReads: &kvrwset.QueryReads{KvReads: r.pending}}
		return info
	}
	if len(r.pending) > 0 {
		r.flush()
	}
	r.tree.done()
	info.ReadsInfo = &kvrwset.RangeQueryInfo_ReadsMerkleHashes{ReadsMerkleHashes: &kvrwset.QueryReadsMerkleSummary{
		MaxDegree:      r.maxDegree,
		MaxLevel:       r.tree.maxLevel,
		MaxLevelHashes: r.tree.levels[r.tree.maxLevel],
	}}
	return info
}

// flush hashes the pending reads (a marshalled kvrwset.QueryReads) into a merkle leaf.
func (r *RangeQueryRecorder) flush() {
	b, err := deterministic.Marshal(&kvrwset.QueryReads{KvReads: r.pending})
	if err != nil {
		// KVReads hold only strings and integers; marshalling cannot fail.
		panic(fmt.Sprintf("ledger: marshal query reads: %v", err))
	}
	r.pending = nil
	sum := sha256.Sum256(b)
	r.tree.add(sum[:])
}

// merkleTree is a bounded-degree hash tree over range query results. Each level holds at
// most maxDegree hashes; overflowing levels are combined (SHA-256 of the concatenation) into
// one hash on the level above.
type merkleTree struct {
	levels    map[uint32][][]byte
	maxLevel  uint32
	maxDegree uint32
}

func combineHashes(hs [][]byte) []byte {
	h := sha256.New()
	for _, x := range hs {
		h.Write(x)
	}
	return h.Sum(nil)
}

func (m *merkleTree) add(leaf []byte) {
	m.levels[1] = append(m.levels[1], leaf)
	for lvl := uint32(1); uint32(len(m.levels[lvl])) > m.maxDegree; lvl++ {
		combined := combineHashes(m.levels[lvl])
		delete(m.levels, lvl)
		m.levels[lvl+1] = append(m.levels[lvl+1], combined)
		if lvl+1 > m.maxLevel {
			m.maxLevel = lvl + 1
		}
	}
}

// done folds every level below the top into the top level, then caps the top level.
func (m *merkleTree) done() {
	for lvl := uint32(1); lvl < m.maxLevel; lvl++ {
		hs := m.levels[lvl]
		if len(hs) == 0 {
			continue
		}
		h := hs[0]
		if len(hs) > 1 {
			h = combineHashes(hs)
		}
		delete(m.levels, lvl)
		m.levels[lvl+1] = append(m.levels[lvl+1], h)
	}
	if top := m.levels[m.maxLevel]; uint32(len(top)) > m.maxDegree {
		delete(m.levels, m.maxLevel)
		m.maxLevel++
		m.levels[m.maxLevel] = [][]byte{combineHashes(top)}
	}
}

func (m *merkleTree) empty() bool { return m.maxLevel == 1 && len(m.levels[1]) == 0 }
