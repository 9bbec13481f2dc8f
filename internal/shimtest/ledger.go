package shimtest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const (
	// DefaultChannelID is the channel a stub runs on when TxOptions.ChannelID is empty.
	DefaultChannelID = "xborder"
	// DefaultChaincodeName is the chaincode name (the state namespace) used when
	// TxOptions.ChaincodeName is empty.
	DefaultChaincodeName = "xborder"
	// PeerBatchSize is how many results the peer sends the chaincode per range
	// query round trip (Fabric's maxResultLimit); the rest is fetched on demand.
	PeerBatchSize = 100
	// TotalQueryLimit caps the results of a range query without pagination, as
	// core.yaml's ledger.state.totalQueryLimit (default 100000) does on a peer.
	TotalQueryLimit = 100000
)

// BaseTime is the transaction timestamp of the first stub a Ledger creates
// when TxOptions.Timestamp is zero; each further stub is one second later.
var BaseTime = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

var (
	// ErrMVCCConflict is returned (wrapped) by Commit when a key the
	// transaction read has a different committed version than when the
	// transaction was simulated, or when a range it read would now return a
	// different result set (a phantom read). The transaction is recorded as an
	// invalid transaction and none of its writes are applied.
	ErrMVCCConflict = errors.New("shimtest: MVCC read conflict")
	// ErrDuplicateTxID is returned (wrapped) by Commit when the ledger already
	// holds a transaction with the same ID (Fabric marks it DUPLICATE_TXID).
	ErrDuplicateTxID = errors.New("shimtest: duplicate transaction ID")
	// ErrAlreadyCommitted is returned (wrapped) by Commit when the stub was
	// already committed; a simulation produces exactly one transaction.
	ErrAlreadyCommitted = errors.New("shimtest: stub already committed")
)

// TxOptions describes the proposal a stub simulates.
type TxOptions struct {
	// Creator is the serialized identity of the submitting client (see
	// Identities.Creator). It becomes SignatureHeader.Creator.
	Creator []byte
	// Transient is the proposal's transient map (never written to the ledger).
	Transient map[string][]byte
	// Timestamp is the client timestamp of the channel header; the zero value
	// means BaseTime plus one second per stub created by the ledger.
	Timestamp time.Time
	// TxID is the transaction ID; "" means a deterministic ID derived from the
	// channel and the ledger's stub counter.
	TxID string
	// ChannelID is the channel; "" means DefaultChannelID.
	ChannelID string
	// ChaincodeName is the invoked chaincode (and state namespace); "" means
	// DefaultChaincodeName.
	ChaincodeName string
	// Decorations are the peer's proposal decorations (usually none).
	Decorations map[string][]byte
	// Signer, when set, signs the proposal (an *Identity from Identities.Issue
	// does so as a Fabric client would); otherwise the signature is empty.
	Signer Signer
}

// Result is the outcome of Ledger.Invoke or Ledger.Evaluate.
type Result struct {
	// Status is the chaincode response status (200 for success, 500 for an error).
	Status int32
	// Message is the chaincode response message (the error text on failure).
	Message string
	// Payload is the chaincode response payload.
	Payload []byte
	// Event is the chaincode event the transaction set, or nil.
	Event *peer.ChaincodeEvent
	// TxID is the transaction ID.
	TxID string
	// Err is the commit error (ErrMVCCConflict, ErrDuplicateTxID), nil when
	// the transaction committed or was not submitted for commit.
	Err error
	// WriteSet is the canonical encoding of the transaction's writes and
	// event (see Stub.WriteSet), taken when the chaincode returned.
	WriteSet []byte
	// Stub is the stub the chaincode ran against.
	Stub *Stub
}

// OK reports whether the chaincode succeeded and the transaction (if it was
// submitted) committed.
func (r *Result) OK() bool {
	return r.Status < shim.ERRORTHRESHOLD && r.Err == nil
}

// Block is one committed block. The fake ledger orders every transaction in
// a block of its own, so the block number is also the transaction's height.
type Block struct {
	// Number is the block number (the first transaction is in block 1).
	Number uint64
	// TxID is the ID of the block's transaction.
	TxID string
	// ChannelID is the channel of the transaction.
	ChannelID string
	// Timestamp is the transaction's client timestamp.
	Timestamp time.Time
	// ValidationCode is VALID, MVCC_READ_CONFLICT, PHANTOM_READ_CONFLICT or
	// DUPLICATE_TXID.
	ValidationCode peer.TxValidationCode
	// Event is the chaincode event of the transaction, or nil. As in Fabric,
	// an invalid transaction's event is in its block but is not delivered by
	// Ledger.Events.
	Event *peer.ChaincodeEvent
	// WriteSet is the canonical encoding of the transaction's writes (see
	// Stub.WriteSet); it was applied only if ValidationCode is VALID.
	WriteSet []byte
}

// Ledger is an in-memory channel ledger for one peer: the committed world
// state with versions, history, private data per collection with its hashes,
// state metadata, chaincode events and the blocks of transactions. It is
// safe for concurrent use; stubs created from it can be simulated
// concurrently and committed in any order, with MVCC validation deciding
// which commits succeed, as on a Fabric peer.
type Ledger struct {
	mu          sync.RWMutex
	height      uint64
	seq         uint64
	public      *keyspace
	private     map[string]*keyspace
	collections map[string]CollectionPolicy
	txIDs       map[string]struct{}
	blocks      []*Block
	events      []*peer.ChaincodeEvent
}

// CollectionPolicy restricts access to a private data collection as a
// collection definition does (memberOrgsPolicy, memberOnlyRead,
// memberOnlyWrite), judged on the creator's MSP ID.
type CollectionPolicy struct {
	// Members are the MSP IDs of the member organisations.
	Members []string
	// MemberOnlyRead refuses reads by clients of non-member organisations.
	MemberOnlyRead bool
	// MemberOnlyWrite refuses writes by clients of non-member organisations.
	MemberOnlyWrite bool
}

// NewLedger returns an empty ledger (height 0).
func NewLedger() *Ledger {
	return &Ledger{
		public:  newKeyspace(),
		private: make(map[string]*keyspace),
		txIDs:   make(map[string]struct{}),
	}
}

// DefineCollection declares a private data collection. Once at least one
// collection is defined, private data operations on undefined collections
// fail as on a peer whose collection configuration lacks them; without any
// definition every collection name is accepted.
func (l *Ledger) DefineCollection(name string, policy CollectionPolicy) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.collections == nil {
		l.collections = make(map[string]CollectionPolicy)
	}
	policy.Members = append([]string(nil), policy.Members...)
	l.collections[name] = policy
}

// collectionPolicy returns the definition of coll; restricted is false when
// no collection is defined at all (every name is then accepted).
func (l *Ledger) collectionPolicy(coll string) (policy CollectionPolicy, defined, restricted bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.collections == nil {
		return CollectionPolicy{}, false, false
	}
	policy, defined = l.collections[coll]
	return policy, defined, true
}

// Height returns the number of the last committed block (0 when empty).
func (l *Ledger) Height() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.height
}

// State returns the committed value of a public key, or nil if absent.
func (l *Ledger) State(key string) []byte {
	l.mu.RLock()
	defer l.mu.RUnlock()
	e, ok := l.public.live(key, l.height)
	if !ok {
		return nil
	}
	return bytes.Clone(e.value)
}

// Version returns the committed version (block number) of a public key, or
// 0 if the key is absent.
func (l *Ledger) Version(key string) uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.public.version(key, l.height)
}

// ValidationParameter returns the committed key-level endorsement policy of
// a public key, or nil.
func (l *Ledger) ValidationParameter(key string) []byte {
	l.mu.RLock()
	defer l.mu.RUnlock()
	e, ok := l.public.live(key, l.height)
	if !ok {
		return nil
	}
	return bytes.Clone(e.metadata[validationParameterKey])
}

// PrivateData returns the committed value of key in collection coll, or nil.
func (l *Ledger) PrivateData(coll, key string) []byte {
	l.mu.RLock()
	defer l.mu.RUnlock()
	ks, ok := l.private[coll]
	if !ok {
		return nil
	}
	e, ok := ks.live(key, l.height)
	if !ok {
		return nil
	}
	return bytes.Clone(e.value)
}

// PrivateDataHash returns the SHA-256 of the committed value of key in coll
// (what every peer of the channel holds, members or not), or nil.
func (l *Ledger) PrivateDataHash(coll, key string) []byte {
	v := l.PrivateData(coll, key)
	if v == nil {
		return nil
	}
	sum := sha256.Sum256(v)
	return sum[:]
}

// PrivateKeys returns the keys present in collection coll, sorted.
func (l *Ledger) PrivateKeys(coll string) []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	ks, ok := l.private[coll]
	if !ok {
		return nil
	}
	var out []string
	ks.scanFrom("", false, "", false, l.height, func(key string, _ entry) bool {
		out = append(out, key)
		return true
	})
	return out
}

// Keys returns every public key present in the committed state (simple and
// composite), sorted in the ledger's byte order.
func (l *Ledger) Keys() []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []string
	l.public.scanFrom("", false, "", false, l.height, func(key string, _ entry) bool {
		out = append(out, key)
		return true
	})
	return out
}

// History returns the committed modifications of a public key, newest first
// (Fabric's order since v2.0).
func (l *Ledger) History(key string) []*queryresult.KeyModification {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.historyLocked(key, l.height)
}

func (l *Ledger) historyLocked(key string, height uint64) []*queryresult.KeyModification {
	es := l.public.entries[key]
	var out []*queryresult.KeyModification
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		if e.block > height || !e.history {
			continue
		}
		out = append(out, &queryresult.KeyModification{
			TxId:      e.txID,
			Value:     bytes.Clone(e.value),
			Timestamp: proto.Clone(e.ts).(*timestamppb.Timestamp),
			IsDelete:  e.deleted,
		})
	}
	return out
}

// Events returns the chaincode events of the valid transactions, in commit order.
func (l *Ledger) Events() []*peer.ChaincodeEvent {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]*peer.ChaincodeEvent, len(l.events))
	for i, ev := range l.events {
		out[i] = proto.Clone(ev).(*peer.ChaincodeEvent)
	}
	return out
}

// Blocks returns every block committed so far, valid and invalid
// transactions alike, in order.
func (l *Ledger) Blocks() []*Block {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]*Block, len(l.blocks))
	for i, b := range l.blocks {
		c := *b
		if b.Event != nil {
			c.Event = proto.Clone(b.Event).(*peer.ChaincodeEvent)
		}
		c.WriteSet = bytes.Clone(b.WriteSet)
		out[i] = &c
	}
	return out
}

// PutStateDirect writes a public key outside any transaction, as if a valid
// transaction had committed it in a block of its own (a nil or empty value
// deletes the key). It is a seeding helper for benchmarks and fixtures.
func (l *Ledger) PutStateDirect(key string, value []byte) {
	l.putDirect(l.public, key, value)
}

// PutPrivateDataDirect writes key in collection coll outside any
// transaction, like PutStateDirect.
func (l *Ledger) PutPrivateDataDirect(coll, key string, value []byte) {
	l.mu.Lock()
	ks, ok := l.private[coll]
	if !ok {
		ks = newKeyspace()
		l.private[coll] = ks
	}
	l.mu.Unlock()
	l.putDirect(ks, key, value)
}

func (l *Ledger) putDirect(ks *keyspace, key string, value []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.height++
	txID := fmt.Sprintf("shimtest-direct-%d", l.height)
	ts := timestamppb.New(BaseTime)
	prev, _ := ks.live(key, l.height-1)
	e := entry{block: l.height, txID: txID, ts: ts, history: true}
	if len(value) == 0 {
		e.deleted = true
	} else {
		e.value = bytes.Clone(value)
		e.metadata = prev.metadata
	}
	ks.put(key, e)
	l.txIDs[txID] = struct{}{}
	l.blocks = append(l.blocks, &Block{Number: l.height, TxID: txID, ChannelID: DefaultChannelID, Timestamp: ts.AsTime(), ValidationCode: peer.TxValidationCode_VALID})
}

// Invoke simulates function(args...) on cc as a submitted transaction and,
// if the chaincode's response status is below 400 (shim.ERRORTHRESHOLD, the
// status at and above which a Fabric endorser refuses to endorse; contractapi
// answers 200 or 500), commits the stub's writes with MVCC validation.
func (l *Ledger) Invoke(cc shim.Chaincode, opts TxOptions, function string, args ...string) *Result {
	res := l.Evaluate(cc, opts, function, args...)
	if res.Status < shim.ERRORTHRESHOLD {
		res.Err = l.Commit(res.Stub)
	}
	return res
}

// Evaluate simulates function(args...) on cc without committing, as a
// Gateway Evaluate does: nothing it writes reaches the ledger.
func (l *Ledger) Evaluate(cc shim.Chaincode, opts TxOptions, function string, args ...string) *Result {
	stub := l.NewStub(opts, function, args...)
	resp := cc.Invoke(stub)
	res := &Result{TxID: stub.txID, Stub: stub}
	if resp == nil {
		res.Status = shim.ERROR
		res.Message = "shimtest: chaincode returned a nil response"
		return res
	}
	res.Status = resp.GetStatus()
	res.Message = resp.GetMessage()
	res.Payload = resp.GetPayload()
	res.Event = stub.Event()
	res.WriteSet = stub.WriteSet()
	return res
}

// Commit validates the stub's read set against the current committed state
// and, if nothing it read has changed (MVCC) and no range it scanned would
// return a different result (phantom), atomically applies its public,
// private and metadata writes, its history entries and its event in a new
// block. An invalid transaction is still recorded in a block with its
// validation code, and its transaction ID is spent, as in Fabric.
func (l *Ledger) Commit(stub *Stub) error {
	stub.mu.Lock()
	defer stub.mu.Unlock()
	if stub.ledger != l {
		return fmt.Errorf("shimtest: commit tx %s: stub belongs to another ledger", stub.txID)
	}
	if stub.done {
		return fmt.Errorf("commit tx %s: %w", stub.txID, ErrAlreadyCommitted)
	}
	stub.done = true
	writeSet := stub.writeSetLocked()

	l.mu.Lock()
	defer l.mu.Unlock()
	block := &Block{
		Number:    l.height + 1,
		TxID:      stub.txID,
		ChannelID: stub.channelID,
		Timestamp: stub.timestamp.AsTime(),
		WriteSet:  writeSet,
	}
	if stub.event != nil {
		block.Event = proto.Clone(stub.event).(*peer.ChaincodeEvent)
	}
	var commitErr error
	if _, dup := l.txIDs[stub.txID]; dup {
		block.ValidationCode = peer.TxValidationCode_DUPLICATE_TXID
		commitErr = fmt.Errorf("commit tx %s: %w", stub.txID, ErrDuplicateTxID)
	} else if code, err := l.validateLocked(stub); err != nil {
		block.ValidationCode = code
		commitErr = fmt.Errorf("commit tx %s: %w", stub.txID, err)
	} else {
		block.ValidationCode = peer.TxValidationCode_VALID
	}
	l.height = block.Number
	l.blocks = append(l.blocks, block)
	if block.ValidationCode == peer.TxValidationCode_DUPLICATE_TXID {
		return commitErr
	}
	l.txIDs[stub.txID] = struct{}{}
	if commitErr != nil {
		return commitErr
	}
	l.applyLocked(stub, block.Number)
	if block.Event != nil {
		l.events = append(l.events, block.Event)
	}
	return nil
}

// validateLocked re-checks the stub's reads against the latest committed state.
func (l *Ledger) validateLocked(stub *Stub) (peer.TxValidationCode, error) {
	for _, rk := range sortedReadKeys(stub.reads) {
		want := stub.reads[rk]
		var got uint64
		if rk.coll == "" {
			got = l.public.version(rk.key, l.height)
		} else if ks, ok := l.private[rk.coll]; ok {
			got = ks.version(rk.key, l.height)
		}
		if got != want {
			where := "public state"
			if rk.coll != "" {
				where = "collection " + rk.coll
			}
			return peer.TxValidationCode_MVCC_READ_CONFLICT, fmt.Errorf(
				"%w: key %q in %s read at version %d, committed version is now %d",
				ErrMVCCConflict, rk.key, where, want, got)
		}
	}
	for _, rr := range stub.rangeReads {
		if err := l.validateRangeLocked(rr); err != nil {
			return peer.TxValidationCode_PHANTOM_READ_CONFLICT, err
		}
	}
	return peer.TxValidationCode_VALID, nil
}

// validateRangeLocked re-executes a range query as Fabric's validator does:
// up to the range end if the simulation exhausted the iterator, else up to
// and including the last key the simulation obtained.
func (l *Ledger) validateRangeLocked(rr *rangeRead) error {
	end, inclusive := rr.end, false
	if !rr.exhausted {
		if len(rr.reads) == 0 {
			return nil
		}
		end, inclusive = rr.reads[len(rr.reads)-1].key, true
	}
	var now []keyVersion
	l.public.scanFrom(rr.start, false, end, inclusive, l.height, func(key string, e entry) bool {
		now = append(now, keyVersion{key: key, version: e.block})
		return true
	})
	if len(now) != len(rr.reads) {
		return fmt.Errorf("%w: phantom read: range [%q, %q) returned %d keys in simulation, %d now",
			ErrMVCCConflict, rr.start, rr.end, len(rr.reads), len(now))
	}
	for i := range now {
		if now[i] != rr.reads[i] {
			return fmt.Errorf("%w: phantom read: range [%q, %q) changed at key %q",
				ErrMVCCConflict, rr.start, rr.end, now[i].key)
		}
	}
	return nil
}

// applyLocked applies a validated stub's writes in block number.
func (l *Ledger) applyLocked(stub *Stub, number uint64) {
	txID, ts := stub.txID, stub.timestamp
	applyKeyspace(l.public, stub.writes[""], stub.metaWrites[""], number, txID, ts)
	colls := make([]string, 0, len(stub.writes)+len(stub.metaWrites))
	seen := map[string]bool{"": true}
	for c := range stub.writes {
		if !seen[c] {
			seen[c] = true
			colls = append(colls, c)
		}
	}
	for c := range stub.metaWrites {
		if !seen[c] {
			seen[c] = true
			colls = append(colls, c)
		}
	}
	sort.Strings(colls)
	for _, c := range colls {
		ks, ok := l.private[c]
		if !ok {
			ks = newKeyspace()
			l.private[c] = ks
		}
		applyKeyspace(ks, stub.writes[c], stub.metaWrites[c], number, txID, ts)
	}
}

func applyKeyspace(ks *keyspace, writes map[string]*write, meta map[string]map[string][]byte, number uint64, txID string, ts *timestamppb.Timestamp) {
	keys := make([]string, 0, len(writes)+len(meta))
	for k := range writes {
		keys = append(keys, k)
	}
	for k := range meta {
		if _, ok := writes[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, key := range keys {
		prev, exists := ks.live(key, number-1)
		w, hasWrite := writes[key]
		md, hasMeta := meta[key]
		e := entry{block: number, txID: txID, ts: ts}
		switch {
		case hasWrite && w.del:
			// Deleting a key removes its metadata with it.
			e.deleted, e.history = true, true
			if w.purge {
				for i := range ks.entries[key] {
					ks.entries[key][i].value = nil
				}
			}
		case hasWrite:
			e.value, e.history = w.value, true
			e.metadata = mergeMetadata(prev.metadata, md)
		case exists && hasMeta:
			// A metadata-only write keeps the value and bumps the version.
			e.value = prev.value
			e.metadata = mergeMetadata(prev.metadata, md)
		default:
			// Metadata for a key that does not exist is dropped.
			continue
		}
		ks.put(key, e)
	}
}

func mergeMetadata(prev, upd map[string][]byte) map[string][]byte {
	if len(upd) == 0 {
		return prev
	}
	out := make(map[string][]byte, len(prev)+len(upd))
	for k, v := range prev {
		out[k] = v
	}
	for k, v := range upd {
		if len(v) == 0 {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func sortedReadKeys(m map[readKey]uint64) []readKey {
	out := make([]readKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].coll != out[j].coll {
			return out[i].coll < out[j].coll
		}
		return out[i].key < out[j].key
	})
	return out
}
