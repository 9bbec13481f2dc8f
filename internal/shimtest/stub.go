package shimtest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var _ shim.ChaincodeStubInterface = (*Stub)(nil)

const (
	compositeKeyNamespace = "\x00"
	// emptyKeySubstitute replaces an empty start key of a simple-key range,
	// so that the range starts after the composite key namespace.
	emptyKeySubstitute = "\x01"
	minUnicodeRune     = 0
	maxUnicodeRune     = utf8.MaxRune
)

// validationParameterKey is the state metadata key of a key-level
// endorsement policy ("VALIDATION_PARAMETER").
var validationParameterKey = peer.MetaDataKeys_VALIDATION_PARAMETER.String()

type readKey struct{ coll, key string }

type keyVersion struct {
	key     string
	version uint64
}

// rangeRead is the range query info Fabric puts in a read set: the start and
// end of the range, whether the iterator was exhausted, and the keys (with
// versions) the simulation obtained.
type rangeRead struct {
	start, end string
	exhausted  bool
	reads      []keyVersion
}

type write struct {
	value []byte
	del   bool
	purge bool
}

// Stub is an in-memory shim.ChaincodeStubInterface: one transaction
// simulation against the Ledger that created it. Reads see the committed
// state as of the block height when the stub was created (never the stub's
// own writes); writes, the event and the read set are kept in the stub until
// Ledger.Commit. A Stub may be used from several goroutines.
type Stub struct {
	mu sync.Mutex

	ledger        *Ledger
	height        uint64
	txID          string
	channelID     string
	chaincodeName string
	args          [][]byte
	creator       []byte
	creatorMSP    string
	transient     map[string][]byte
	decorations   map[string][]byte
	signed        *peer.SignedProposal
	timestamp     *timestamppb.Timestamp
	binding       []byte
	proposalErr   error

	reads      map[readKey]uint64
	rangeReads []*rangeRead
	writes     map[string]map[string]*write            // collection ("" = public) -> key -> write
	metaWrites map[string]map[string]map[string][]byte // collection -> key -> metakey -> value
	event      *peer.ChaincodeEvent

	writePerformed          bool
	pvtQueryPerformed       bool
	paginatedQueryPerformed bool
	done                    bool
}

// NewStub creates the simulation of function(args...) proposed with opts,
// reading the state committed so far.
func (l *Ledger) NewStub(opts TxOptions, function string, args ...string) *Stub {
	l.mu.Lock()
	l.seq++
	seq, height := l.seq, l.height
	l.mu.Unlock()

	s := &Stub{
		ledger:        l,
		height:        height,
		txID:          opts.TxID,
		channelID:     opts.ChannelID,
		chaincodeName: opts.ChaincodeName,
		creator:       bytes.Clone(opts.Creator),
		creatorMSP:    creatorMSPID(opts.Creator),
		reads:         make(map[readKey]uint64),
		writes:        make(map[string]map[string]*write),
		metaWrites:    make(map[string]map[string]map[string][]byte),
	}
	if s.channelID == "" {
		s.channelID = DefaultChannelID
	}
	if s.chaincodeName == "" {
		s.chaincodeName = DefaultChaincodeName
	}
	if s.txID == "" {
		sum := sha256.Sum256(fmt.Appendf(nil, "shimtest/%s/tx/%d", s.channelID, seq))
		s.txID = fmt.Sprintf("%x", sum)
	}
	ts := opts.Timestamp
	if ts.IsZero() {
		ts = BaseTime.Add(time.Duration(seq-1) * time.Second)
	}
	s.timestamp = timestamppb.New(ts)
	s.args = make([][]byte, 0, 1+len(args))
	s.args = append(s.args, []byte(function))
	for _, a := range args {
		s.args = append(s.args, []byte(a))
	}
	if len(opts.Transient) > 0 {
		s.transient = make(map[string][]byte, len(opts.Transient))
		for k, v := range opts.Transient {
			s.transient[k] = bytes.Clone(v)
		}
	}
	if len(opts.Decorations) > 0 {
		s.decorations = maps.Clone(opts.Decorations)
	}
	nonceSum := sha256.Sum256([]byte("shimtest/nonce/" + s.txID))
	prop, err := buildProposal(s.channelID, s.chaincodeName, s.txID, s.timestamp, s.creator, nonceSum[:24], s.args, s.transient)
	if err == nil && opts.Signer != nil {
		prop.signed.Signature, err = opts.Signer.Sign(prop.signed.ProposalBytes)
	}
	if err != nil {
		s.proposalErr = fmt.Errorf("shimtest: build proposal for tx %s: %w", s.txID, err)
	} else {
		s.signed, s.binding = prop.signed, prop.binding
	}
	return s
}

// TxID returns the stub's transaction ID (same as GetTxID).
func (s *Stub) TxID() string { return s.txID }

// Event returns a copy of the chaincode event set so far, or nil.
func (s *Stub) Event() *peer.ChaincodeEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.event == nil {
		return nil
	}
	return proto.Clone(s.event).(*peer.ChaincodeEvent)
}

// ---------------------------------------------------------------- proposal

// GetArgs returns the function name followed by the arguments, as bytes.
func (s *Stub) GetArgs() [][]byte { return s.args }

// GetStringArgs returns the function name followed by the arguments.
func (s *Stub) GetStringArgs() []string {
	out := make([]string, 0, len(s.args))
	for _, a := range s.args {
		out = append(out, string(a))
	}
	return out
}

// GetFunctionAndParameters returns the first argument as the function name
// and the rest as parameters (an empty, non-nil slice when there are none).
func (s *Stub) GetFunctionAndParameters() (string, []string) {
	all := s.GetStringArgs()
	if len(all) == 0 {
		return "", []string{}
	}
	return all[0], all[1:]
}

// GetArgsSlice returns all arguments concatenated.
func (s *Stub) GetArgsSlice() ([]byte, error) {
	var out []byte
	for _, a := range s.args {
		out = append(out, a...)
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// GetTxID returns the transaction ID.
func (s *Stub) GetTxID() string { return s.txID }

// GetChannelID returns the channel ID.
func (s *Stub) GetChannelID() string { return s.channelID }

// GetCreator returns the serialized identity of the submitting client.
func (s *Stub) GetCreator() ([]byte, error) { return s.creator, nil }

// GetTransient returns the transient map (nil when empty, as the shim
// returns after unmarshalling an empty map).
func (s *Stub) GetTransient() (map[string][]byte, error) { return s.transient, nil }

// GetBinding returns SHA-256(nonce || creator || epoch), as the shim computes it.
func (s *Stub) GetBinding() ([]byte, error) {
	if s.proposalErr != nil {
		return nil, s.proposalErr
	}
	return s.binding, nil
}

// GetDecorations returns the proposal decorations.
func (s *Stub) GetDecorations() map[string][]byte { return s.decorations }

// GetSignedProposal returns the signed proposal (signed by TxOptions.Signer,
// or with an empty signature when there is none).
func (s *Stub) GetSignedProposal() (*peer.SignedProposal, error) {
	if s.proposalErr != nil {
		return nil, s.proposalErr
	}
	return s.signed, nil
}

// GetTxTimestamp returns the channel header timestamp.
func (s *Stub) GetTxTimestamp() (*timestamppb.Timestamp, error) {
	return proto.Clone(s.timestamp).(*timestamppb.Timestamp), nil
}

// SetEvent sets the transaction's chaincode event. Only one event is kept
// per transaction: a later call replaces an earlier one, as in the shim.
func (s *Stub) SetEvent(name string, payload []byte) error {
	if name == "" {
		return errors.New("event name can not be empty string")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.event = &peer.ChaincodeEvent{
		ChaincodeId: s.chaincodeName,
		TxId:        s.txID,
		EventName:   name,
		Payload:     bytes.Clone(payload),
	}
	return nil
}

// InvokeChaincode always answers with an error response: chaincode-to-
// chaincode calls need a second chaincode running on the peer, which the
// in-memory stub does not provide.
func (s *Stub) InvokeChaincode(chaincodeName string, _ [][]byte, channel string) *peer.Response {
	return &peer.Response{
		Status:  shim.ERROR,
		Message: fmt.Sprintf("shimtest: InvokeChaincode(%q, channel %q) is not supported by the in-memory stub", chaincodeName, channel),
	}
}

// StartWriteBatch has no effect: the fake behaves like a peer without write
// batching support, which the interface documents as a valid behaviour.
func (s *Stub) StartWriteBatch() {}

// FinishWriteBatch returns nil: no batch is ever started (see StartWriteBatch).
func (s *Stub) FinishWriteBatch() error { return nil }

// ---------------------------------------------------------------- checks

// checkDoneLocked mirrors the peer refusing to serve a finished simulation.
func (s *Stub) checkDoneLocked() error {
	if s.done {
		return fmt.Errorf("shimtest: tx %s: this instance should not be used after its transaction was committed", s.txID)
	}
	return nil
}

// checkKey mirrors the shim, which marshals keys into proto3 string fields
// (the real shim panics on invalid UTF-8; the fake returns an error).
func checkKey(key string) error {
	if !utf8.ValidString(key) {
		return fmt.Errorf("key [%x] is not a valid UTF-8 string", key)
	}
	return nil
}

// checkWritePreconditionLocked mirrors Fabric's transaction simulator: no
// writes after a private data range query or a paginated query.
func (s *Stub) checkWritePreconditionLocked(key string) error {
	if err := s.checkDoneLocked(); err != nil {
		return err
	}
	if s.pvtQueryPerformed {
		return fmt.Errorf("txid [%s]: unsuppored transaction. Transaction has already performed queries on pvt data. Writes are not allowed", s.txID)
	}
	if s.paginatedQueryPerformed {
		return fmt.Errorf("txid [%s]: unsuppored transaction. Transaction has already performed a paginated query. Writes are not allowed", s.txID)
	}
	if err := checkKey(key); err != nil {
		return err
	}
	s.writePerformed = true
	return nil
}

func (s *Stub) checkBeforePvtQueryLocked() error {
	if s.writePerformed {
		return fmt.Errorf("txid [%s]: unsuppored transaction. Queries on pvt data is supported only in a read-only transaction", s.txID)
	}
	s.pvtQueryPerformed = true
	return nil
}

func (s *Stub) checkBeforePaginatedQueryLocked() error {
	if s.writePerformed {
		return fmt.Errorf("txid [%s]: unsuppored transaction. Paginated queries are supported only in a read-only transaction", s.txID)
	}
	s.paginatedQueryPerformed = true
	return nil
}

// checkCollectionLocked mirrors the peer's collection checks: the
// collection must be defined (when the ledger has definitions) and the
// creator's organisation must be allowed to read or write it (hashes are
// readable by everyone: access "hash"). Callers hold the stub lock but not
// the ledger lock.
func (s *Stub) checkCollectionLocked(coll string, access collectionAccess) error {
	policy, defined, restricted := s.ledger.collectionPolicy(coll)
	if !restricted {
		return nil
	}
	if !defined {
		return fmt.Errorf("collection [%s] not defined in the collection config for chaincode [%s]", coll, s.chaincodeName)
	}
	member := false
	for _, m := range policy.Members {
		if m == s.creatorMSP {
			member = true
			break
		}
	}
	switch {
	case access == accessWrite && policy.MemberOnlyWrite && !member:
		return fmt.Errorf("tx creator does not have write access permission on privatedata in chaincodeName:%s collectionName: %s", s.chaincodeName, coll)
	case access == accessRead && policy.MemberOnlyRead && !member:
		return fmt.Errorf("tx creator does not have read access permission on privatedata in chaincodeName:%s collectionName: %s", s.chaincodeName, coll)
	}
	return nil
}

type collectionAccess int

const (
	accessRead collectionAccess = iota
	accessWrite
	accessHash
)

// ---------------------------------------------------------------- reads

// keyspaceLocked returns the committed keyspace of a collection ("" =
// public); nil for a collection nothing was ever written to. Callers hold
// the ledger read lock.
func (s *Stub) keyspaceLocked(coll string) *keyspace {
	if coll == "" {
		return s.ledger.public
	}
	return s.ledger.private[coll]
}

// readLocked reads one key as of the stub's height and records its version.
func (s *Stub) readLocked(coll, key string) (entry, bool) {
	var e entry
	var ok bool
	if ks := s.keyspaceLocked(coll); ks != nil {
		e, ok = ks.live(key, s.height)
	}
	if _, seen := s.reads[readKey{coll, key}]; !seen {
		var v uint64
		if ok {
			v = e.block
		}
		s.reads[readKey{coll, key}] = v
	}
	return e, ok
}

func (s *Stub) getValue(coll, key string) ([]byte, error) {
	e, ok, err := s.readChecked(coll, key, accessRead)
	if err != nil || !ok {
		return nil, err
	}
	return bytes.Clone(e.value), nil
}

// readChecked validates key, the stub's state and (for a collection) the caller's access, then
// reads one key as of the stub's height, recording the read for the MVCC check.
func (s *Stub) readChecked(coll, key string, access collectionAccess) (entry, bool, error) {
	if err := checkKey(key); err != nil {
		return entry{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkDoneLocked(); err != nil {
		return entry{}, false, err
	}
	if coll != "" {
		if err := s.checkCollectionLocked(coll, access); err != nil {
			return entry{}, false, err
		}
	}
	s.ledger.mu.RLock()
	defer s.ledger.mu.RUnlock()
	e, ok := s.readLocked(coll, key)
	return e, ok, nil
}

func (s *Stub) getValues(coll string, keys []string) ([][]byte, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkDoneLocked(); err != nil {
		return nil, err
	}
	if coll != "" {
		if err := s.checkCollectionLocked(coll, accessRead); err != nil {
			return nil, err
		}
	}
	s.ledger.mu.RLock()
	defer s.ledger.mu.RUnlock()
	out := make([][]byte, len(keys))
	for i, k := range keys {
		if e, ok := s.readLocked(coll, k); ok {
			out[i] = bytes.Clone(e.value)
		}
	}
	return out, nil
}

// GetState returns the committed value of key (nil if absent). It does not
// see this transaction's own PutState/DelState, exactly as on a peer.
func (s *Stub) GetState(key string) ([]byte, error) { return s.getValue("", key) }

// GetMultipleStates returns the committed values of keys in order (nil for
// missing ones); (nil, nil) when no key is given.
func (s *Stub) GetMultipleStates(keys ...string) ([][]byte, error) { return s.getValues("", keys) }

// GetPrivateData returns the committed value of key in collection (nil if
// absent), not seeing this transaction's own private writes.
func (s *Stub) GetPrivateData(collection, key string) ([]byte, error) {
	if collection == "" {
		return nil, errors.New("collection must not be an empty string")
	}
	return s.getValue(collection, key)
}

// GetMultiplePrivateData returns the committed values of keys in collection.
func (s *Stub) GetMultiplePrivateData(collection string, keys ...string) ([][]byte, error) {
	if collection == "" {
		return nil, errors.New("collection must not be an empty string")
	}
	return s.getValues(collection, keys)
}

// GetPrivateDataHash returns the SHA-256 of the committed value of key in
// collection, or nil. Any organisation may read hashes.
func (s *Stub) GetPrivateDataHash(collection, key string) ([]byte, error) {
	if collection == "" {
		return nil, errors.New("collection must not be an empty string")
	}
	e, ok, err := s.readChecked(collection, key, accessHash)
	if err != nil || !ok {
		return nil, err
	}
	sum := sha256.Sum256(e.value)
	return sum[:], nil
}

func (s *Stub) getMetadata(coll, key, metakey string) ([]byte, error) {
	e, ok, err := s.readChecked(coll, key, accessRead)
	if err != nil || !ok {
		return nil, err
	}
	return bytes.Clone(e.metadata[metakey]), nil
}

// GetStateValidationParameter returns the committed key-level endorsement
// policy of key (nil if none); like Fabric it adds key to the read set.
func (s *Stub) GetStateValidationParameter(key string) ([]byte, error) {
	return s.getMetadata("", key, validationParameterKey)
}

// GetPrivateDataValidationParameter returns the committed key-level
// endorsement policy of a private key (nil if none).
func (s *Stub) GetPrivateDataValidationParameter(collection, key string) ([]byte, error) {
	return s.getMetadata(collection, key, validationParameterKey)
}

// ---------------------------------------------------------------- writes

func (s *Stub) putLocked(coll, key string, w *write) {
	m, ok := s.writes[coll]
	if !ok {
		m = make(map[string]*write)
		s.writes[coll] = m
	}
	m[key] = w
}

func (s *Stub) writeValue(coll, key string, value []byte, del, purge bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if coll != "" {
		if err := s.checkCollectionLocked(coll, accessWrite); err != nil {
			return err
		}
	}
	if err := s.checkWritePreconditionLocked(key); err != nil {
		return err
	}
	// A nil or empty value reaches the peer as an absent proto3 bytes field,
	// which Fabric's write set records as a delete.
	if len(value) == 0 {
		del = true
	}
	w := &write{del: del, purge: purge}
	if !del {
		w.value = bytes.Clone(value)
	}
	s.putLocked(coll, key, w)
	return nil
}

// PutState records a write of key; it reaches the ledger only when the
// transaction commits. The key must not be empty. A nil or empty value
// deletes the key, which is what a Fabric peer does with it.
func (s *Stub) PutState(key string, value []byte) error {
	if key == "" {
		return errors.New("key must not be an empty string")
	}
	return s.writeValue("", key, value, false, false)
}

// DelState records the deletion of key.
func (s *Stub) DelState(key string) error {
	return s.writeValue("", key, nil, true, false)
}

// PutPrivateData records a write of key in collection. Only the collection
// (and the hash of the value) changes; public state never holds the value.
func (s *Stub) PutPrivateData(collection, key string, value []byte) error {
	if collection == "" {
		return errors.New("collection must not be an empty string")
	}
	if key == "" {
		return errors.New("key must not be an empty string")
	}
	return s.writeValue(collection, key, value, false, false)
}

// DelPrivateData records the deletion of key in collection.
func (s *Stub) DelPrivateData(collection, key string) error {
	if collection == "" {
		return errors.New("collection must not be an empty string")
	}
	return s.writeValue(collection, key, nil, true, false)
}

// PurgePrivateData records the deletion of key in collection together with
// the removal of all its earlier private values from the ledger.
func (s *Stub) PurgePrivateData(collection, key string) error {
	if collection == "" {
		return errors.New("collection must not be an empty string")
	}
	return s.writeValue(collection, key, nil, true, true)
}

func (s *Stub) putMetadata(coll, key, metakey string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if coll != "" {
		if err := s.checkCollectionLocked(coll, accessWrite); err != nil {
			return err
		}
	}
	if err := s.checkWritePreconditionLocked(key); err != nil {
		return err
	}
	byKey, ok := s.metaWrites[coll]
	if !ok {
		byKey = make(map[string]map[string][]byte)
		s.metaWrites[coll] = byKey
	}
	md, ok := byKey[key]
	if !ok {
		md = make(map[string][]byte)
		byKey[key] = md
	}
	md[metakey] = bytes.Clone(value)
	return nil
}

// SetStateValidationParameter records a key-level endorsement policy for
// key. Like a peer, it is a blind metadata write (no read dependency); at
// commit it is kept with the key's value, and dropped if the key does not
// exist then.
func (s *Stub) SetStateValidationParameter(key string, ep []byte) error {
	return s.putMetadata("", key, validationParameterKey, ep)
}

// SetPrivateDataValidationParameter records a key-level endorsement policy
// for a private key.
func (s *Stub) SetPrivateDataValidationParameter(collection, key string, ep []byte) error {
	if collection == "" {
		return errors.New("collection must not be an empty string")
	}
	return s.putMetadata(collection, key, validationParameterKey, ep)
}

// ---------------------------------------------------------------- composite keys

// CreateCompositeKey combines objectType and attributes into a composite key
// (U+0000 namespace prefix, each part followed by U+0000), exactly as the shim.
func (s *Stub) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return shim.CreateCompositeKey(objectType, attributes)
}

// SplitCompositeKey splits a composite key into its object type and
// attributes, as the shim does. Unlike the shim, which panics on a string
// that is not a composite key, it returns an error for one.
func (s *Stub) SplitCompositeKey(compositeKey string) (string, []string, error) {
	return SplitCompositeKey(compositeKey)
}

// SplitCompositeKey is the package-level form of Stub.SplitCompositeKey.
func SplitCompositeKey(compositeKey string) (string, []string, error) {
	if len(compositeKey) < 2 || compositeKey[0] != compositeKeyNamespace[0] {
		return "", nil, fmt.Errorf("shimtest: %q is not a composite key", compositeKey)
	}
	start := 1
	var parts []string
	for i := 1; i < len(compositeKey); i++ {
		if compositeKey[i] == minUnicodeRune {
			parts = append(parts, compositeKey[start:i])
			start = i + 1
		}
	}
	if len(parts) == 0 {
		return "", nil, fmt.Errorf("shimtest: %q is not a composite key", compositeKey)
	}
	return parts[0], parts[1:], nil
}

// validateSimpleKeys mirrors the shim: range bounds must not start with the
// composite key namespace.
func validateSimpleKeys(keys ...string) error {
	for _, key := range keys {
		if len(key) > 0 && key[0] == compositeKeyNamespace[0] {
			return fmt.Errorf(`first character of the key [%s] contains a null character which is not allowed`, key)
		}
	}
	return nil
}

func partialCompositeRange(objectType string, attributes []string) (string, string, error) {
	start, err := shim.CreateCompositeKey(objectType, attributes)
	if err != nil {
		return "", "", err
	}
	return start, start + string(rune(maxUnicodeRune)), nil
}
