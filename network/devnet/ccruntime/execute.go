package ccruntime

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/ledger"
)

// ChaincodeError is the error Execute returns when the chaincode answered the transaction with
// an ERROR message. It matches ErrChaincodeFailed with errors.Is; Message is the chaincode's
// payload. Its text is Fabric's "transaction returned with failure: <message>".
type ChaincodeError struct {
	Message string
}

// Error implements error.
func (e *ChaincodeError) Error() string {
	return "transaction returned with failure: " + e.Message
}

// Is makes ChaincodeError match ErrChaincodeFailed.
func (e *ChaincodeError) Is(target error) bool {
	return target == ErrChaincodeFailed
}

// sentinelError carries a Fabric-like message while matching one of the package's sentinels.
type sentinelError struct {
	sentinel error
	msg      string
	cause    error
}

func (e *sentinelError) Error() string        { return e.msg }
func (e *sentinelError) Is(target error) bool { return target == e.sentinel }
func (e *sentinelError) Unwrap() error        { return e.cause }

// errStreamTerminated is Fabric's message for a chaincode stream that ended during a
// transaction.
const errStreamTerminated = "chaincode stream terminated"

// Execute runs one transaction of inv.Chaincode: it sends TRANSACTION (the marshalled input,
// the transaction ID, the channel and the signed proposal) over the chaincode's stream and
// serves the chaincode's state requests from inv.State until the chaincode answers COMPLETED
// or ERROR. Evaluations use Execute too and discard the read-write set.
//
// Errors: ErrChaincodeUnavailable (not attached, not connected, stream broke), ErrChaincodeFailed
// (*ChaincodeError: the chaincode answered ERROR), ErrTimeout, ErrClosed, ctx's error, or an
// invalid invocation. A chaincode Response with status >= 400 is a normal Result. The texts of
// ChaincodeError and of the timeout and stream errors are those of a Fabric peer's chaincode
// support, so "error in simulation: " + err.Error() is what a Fabric endorser reports.
func (r *Runtime) Execute(ctx context.Context, inv *Invocation) (*Result, error) {
	if err := validateInvocation(inv); err != nil {
		return nil, err
	}
	r.mu.Lock()
	closed := r.closed
	c := r.conns[inv.Chaincode]
	r.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("execute %s: %w", inv.Chaincode, ErrClosed)
	}
	if c == nil {
		return nil, &sentinelError{sentinel: ErrChaincodeUnavailable, msg: fmt.Sprintf("chaincode %s is not attached: %v", inv.Chaincode, ErrChaincodeUnavailable)}
	}
	if inv.Input.GetIsInit() {
		return nil, fmt.Errorf("invalid invocation: chaincode '%s' does not require initialization but called as init", inv.Chaincode)
	}
	s := c.currentSession()
	if s == nil {
		return nil, c.unavailable()
	}

	tx := newTxContext(r, inv)
	if err := s.register(tx); err != nil {
		return nil, fmt.Errorf("failed to execute transaction %s: error sending: %w", inv.TxID, err)
	}
	defer s.unregister(tx)
	defer tx.closeAllQueries()

	payload, err := proto.Marshal(inv.Input)
	if err != nil {
		return nil, fmt.Errorf("failed to create chaincode message: %w", err)
	}
	msg := &peer.ChaincodeMessage{
		Type:      peer.ChaincodeMessage_TRANSACTION,
		Payload:   payload,
		Txid:      inv.TxID,
		ChannelId: inv.ChannelID,
		Proposal:  inv.Signed,
	}
	if err := s.send(msg); err != nil {
		return nil, &sentinelError{sentinel: ErrChaincodeUnavailable, msg: fmt.Sprintf("failed to execute transaction %s: %v", inv.TxID, err), cause: err}
	}

	timer := time.NewTimer(r.opts.timeout)
	defer timer.Stop()
	for {
		select {
		case m := <-tx.msgs:
			switch m.GetType() {
			case peer.ChaincodeMessage_COMPLETED:
				return tx.complete(m)
			case peer.ChaincodeMessage_ERROR:
				return nil, &ChaincodeError{Message: string(m.GetPayload())}
			default:
				if err := s.send(tx.handle(m)); err != nil {
					return nil, &sentinelError{sentinel: ErrChaincodeUnavailable, msg: fmt.Sprintf("failed to execute transaction %s: %v", inv.TxID, err), cause: err}
				}
			}
		case <-timer.C:
			r.opts.logger.Warn("chaincode execution timed out", "chaincode", inv.Chaincode, "txID", inv.TxID, "timeout", r.opts.timeout)
			return nil, &sentinelError{sentinel: ErrTimeout, msg: fmt.Sprintf("failed to execute transaction %s: error sending: %v", inv.TxID, ErrTimeout)}
		case <-ctx.Done():
			return nil, fmt.Errorf("failed to execute transaction %s: %w", inv.TxID, ctx.Err())
		case <-s.done:
			err := s.terminationError()
			return nil, &sentinelError{sentinel: ErrChaincodeUnavailable, msg: fmt.Sprintf("failed to execute transaction %s: error sending: %s", inv.TxID, errStreamTerminated), cause: err}
		}
	}
}

// Evaluate runs a query transaction: Execute, keeping only the chaincode's response (a Fabric
// peer simulates evaluations exactly like endorsements and discards the read-write set).
func (r *Runtime) Evaluate(ctx context.Context, inv *Invocation) (*peer.Response, error) {
	res, err := r.Execute(ctx, inv)
	if err != nil {
		return nil, err
	}
	return res.Response, nil
}

func validateInvocation(inv *Invocation) error {
	switch {
	case inv == nil:
		return errors.New("invalid invocation: nil")
	case inv.ChannelID == "":
		return errors.New("invalid invocation: channel ID must not be empty")
	case inv.TxID == "":
		return errors.New("invalid invocation: transaction ID must not be empty")
	case inv.Chaincode == "":
		return errors.New("invalid invocation: chaincode name must not be empty")
	case inv.Input == nil:
		return errors.New("invalid invocation: chaincode input must not be nil")
	case inv.State == nil:
		return errors.New("invalid invocation: state must not be nil")
	}
	return nil
}

// txContext is the peer-side context of one executing transaction: Fabric's
// TransactionContext plus its transaction simulator.
type txContext struct {
	rt   *Runtime
	inv  *Invocation
	ns   string
	msgs chan *peer.ChaincodeMessage

	rw           *rwsetBuilder
	rangeQueries []*rangeIterator
	queries      map[string]*queryIterator
	nextQueryID  int
	privateReads map[string]bool
	// written records, per collection ("" = public) and key, the metadata the written keys
	// had in the committed state: the endorser's writeset metadata for the chaincode interest.
	written map[string]map[string]map[string][]byte

	writePerformed            bool
	pvtQueriesPerformed       bool
	paginatedQueriesPerformed bool

	creatorParsed bool
	creatorMSP    string
	creatorErr    error
}

func newTxContext(r *Runtime, inv *Invocation) *txContext {
	return &txContext{
		rt:           r,
		inv:          inv,
		ns:           inv.Chaincode,
		msgs:         make(chan *peer.ChaincodeMessage, 4),
		rw:           newRWSetBuilder(),
		queries:      map[string]*queryIterator{},
		privateReads: map[string]bool{},
		written:      map[string]map[string]map[string][]byte{},
	}
}

// deliver hands a message from the receive loop to the transaction without blocking; false
// when the transaction already has requests queued (the shim sends one at a time).
func (tx *txContext) deliver(m *peer.ChaincodeMessage) bool {
	select {
	case tx.msgs <- m:
		return true
	default:
		return false
	}
}

// complete turns the chaincode's COMPLETED message into the Result.
func (tx *txContext) complete(m *peer.ChaincodeMessage) (*Result, error) {
	resp := &peer.Response{}
	if err := proto.Unmarshal(m.GetPayload(), resp); err != nil {
		return nil, fmt.Errorf("failed to unmarshal response for transaction %s: %w", tx.inv.TxID, err)
	}
	var event *peer.ChaincodeEvent
	if m.GetChaincodeEvent() != nil {
		event = proto.CloneOf(m.GetChaincodeEvent())
		event.ChaincodeId = tx.inv.Chaincode
		event.TxId = tx.inv.TxID
	}
	for _, it := range tx.rangeQueries {
		tx.rw.addRangeQuery(tx.ns, it.rangeQueryInfo())
	}
	pub, pvt, written, err := tx.rw.build()
	if err != nil {
		return nil, fmt.Errorf("build read-write set of transaction %s: %w", tx.inv.TxID, err)
	}
	interest, err := tx.chaincodeInterest(pub)
	if err != nil {
		return nil, fmt.Errorf("build chaincode interest of transaction %s: %w", tx.inv.TxID, err)
	}
	return &Result{
		Response:           resp,
		Event:              event,
		RWSet:              pub,
		PvtRWSet:           pvt,
		CollectionsWritten: written,
		PrivateReads:       sortedKeys(tx.privateReads),
		Interest:           interest,
	}, nil
}

// handle serves one state request and returns the RESPONSE or ERROR message for it.
func (tx *txContext) handle(m *peer.ChaincodeMessage) *peer.ChaincodeMessage {
	payload, err := tx.dispatch(m)
	if err != nil {
		return errorReply(m, err)
	}
	return &peer.ChaincodeMessage{Type: peer.ChaincodeMessage_RESPONSE, Payload: payload, Txid: m.GetTxid(), ChannelId: m.GetChannelId()}
}

func (tx *txContext) dispatch(m *peer.ChaincodeMessage) ([]byte, error) {
	p := m.GetPayload()
	switch m.GetType() {
	case peer.ChaincodeMessage_GET_STATE:
		return tx.handleGetState(p)
	case peer.ChaincodeMessage_GET_STATE_MULTIPLE:
		return tx.handleGetStateMultiple(p)
	case peer.ChaincodeMessage_PUT_STATE:
		return nil, tx.handlePutState(p)
	case peer.ChaincodeMessage_DEL_STATE:
		return nil, tx.handleDelState(p)
	case peer.ChaincodeMessage_PURGE_PRIVATE_DATA:
		return nil, tx.handlePurgePrivateData(p)
	case peer.ChaincodeMessage_PUT_STATE_METADATA:
		return nil, tx.handlePutStateMetadata(p)
	case peer.ChaincodeMessage_WRITE_BATCH_STATE:
		return nil, tx.handleWriteBatch(p)
	case peer.ChaincodeMessage_GET_STATE_METADATA:
		return tx.handleGetStateMetadata(p)
	case peer.ChaincodeMessage_GET_PRIVATE_DATA_HASH:
		return tx.handleGetPrivateDataHash(p)
	case peer.ChaincodeMessage_GET_STATE_BY_RANGE:
		return tx.handleGetStateByRange(p)
	case peer.ChaincodeMessage_QUERY_STATE_NEXT:
		return tx.handleQueryStateNext(p)
	case peer.ChaincodeMessage_QUERY_STATE_CLOSE:
		return tx.handleQueryStateClose(p)
	case peer.ChaincodeMessage_GET_QUERY_RESULT:
		return tx.handleGetQueryResult(p)
	case peer.ChaincodeMessage_GET_HISTORY_FOR_KEY:
		return tx.handleGetHistoryForKey(p)
	case peer.ChaincodeMessage_INVOKE_CHAINCODE:
		return nil, handleInvokeChaincode(p)
	default:
		return nil, fmt.Errorf("unexpected message type %s", m.GetType())
	}
}

func (tx *txContext) handlePutState(p []byte) error {
	req := &peer.PutState{}
	if err := proto.Unmarshal(p, req); err != nil {
		return fmt.Errorf("unmarshal failed: %w", err)
	}
	return tx.putState(req.GetCollection(), req.GetKey(), req.GetValue())
}

func (tx *txContext) handleDelState(p []byte) error {
	req := &peer.DelState{}
	if err := proto.Unmarshal(p, req); err != nil {
		return fmt.Errorf("unmarshal failed: %w", err)
	}
	return tx.putState(req.GetCollection(), req.GetKey(), nil)
}

func (tx *txContext) handlePurgePrivateData(p []byte) error {
	req := &peer.DelState{}
	if err := proto.Unmarshal(p, req); err != nil {
		return fmt.Errorf("unmarshal failed: %w", err)
	}
	return tx.purgePrivateData(req.GetCollection(), req.GetKey())
}

func (tx *txContext) handlePutStateMetadata(p []byte) error {
	req := &peer.PutStateMetadata{}
	if err := proto.Unmarshal(p, req); err != nil {
		return fmt.Errorf("unmarshal failed: %w", err)
	}
	return tx.putStateMetadata(req.GetCollection(), req.GetKey(), req.GetMetadata())
}

// handleInvokeChaincode refuses chaincode-to-chaincode calls, which the devnet does not support.
func handleInvokeChaincode(p []byte) error {
	spec := &peer.ChaincodeSpec{}
	if err := proto.Unmarshal(p, spec); err != nil {
		return fmt.Errorf("unmarshal failed: %w", err)
	}
	return fmt.Errorf("chaincode-to-chaincode invocation of %q is not supported by the devnet", spec.GetChaincodeId().GetName())
}

func (tx *txContext) handleGetState(p []byte) ([]byte, error) {
	req := &peer.GetState{}
	if err := proto.Unmarshal(p, req); err != nil {
		return nil, fmt.Errorf("unmarshal failed: %w", err)
	}
	if coll := req.GetCollection(); coll != "" {
		if err := tx.checkReadPermission(coll); err != nil {
			return nil, err
		}
		return tx.getPrivateData(coll, req.GetKey())
	}
	vv, err := tx.getPublic(req.GetKey())
	if err != nil {
		return nil, err
	}
	return valueOf(vv), nil
}

func (tx *txContext) handleGetStateMultiple(p []byte) ([]byte, error) {
	req := &peer.GetStateMultiple{}
	if err := proto.Unmarshal(p, req); err != nil {
		return nil, fmt.Errorf("unmarshal failed: %w", err)
	}
	var values [][]byte
	var err error
	if coll := req.GetCollection(); coll != "" {
		values, err = tx.getPrivateMultiple(coll, req.GetKeys())
	} else {
		values, err = tx.getPublicMultiple(req.GetKeys())
	}
	if err != nil {
		return nil, err
	}
	out, err := proto.Marshal(&peer.GetStateMultipleResult{Values: values})
	if err != nil {
		return nil, fmt.Errorf("marshal failed: %w", err)
	}
	return out, nil
}

// getPublicMultiple reads committed public keys, recording each read.
func (tx *txContext) getPublicMultiple(keys []string) ([][]byte, error) {
	values := make([][]byte, len(keys))
	for i, key := range keys {
		vv, err := tx.getPublic(key)
		if err != nil {
			return nil, err
		}
		values[i] = valueOf(vv)
	}
	return values, nil
}

// getPrivateMultiple reads private keys as Fabric's multi-key private read does: it takes what
// the local private store holds, with no hash-version cross-check, and records a hashed read
// per key.
func (tx *txContext) getPrivateMultiple(coll string, keys []string) ([][]byte, error) {
	if err := tx.checkReadPermission(coll); err != nil {
		return nil, err
	}
	if err := tx.validateCollName(coll); err != nil {
		return nil, err
	}
	local := tx.localMember(coll)
	values := make([][]byte, len(keys))
	for i, key := range keys {
		var vv *ledgerValue
		if local {
			v, err := tx.localPrivateData(coll, key)
			if err != nil {
				return nil, err
			}
			vv = v
		}
		tx.rw.addHashedRead(tx.ns, coll, key, toVersion(vv))
		tx.privateReads[coll] = true
		values[i] = valueOf(vv)
	}
	return values, nil
}

// getPublic reads a committed public key and records the read with its version.
func (tx *txContext) getPublic(key string) (*ledgerValue, error) {
	vv, err := tx.inv.State.GetState(tx.ns, key)
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", key, err)
	}
	tx.rw.addRead(tx.ns, key, toVersion(vv))
	return vv, nil
}

// getPrivateData reads a private key as Fabric's query executor does: the clear value comes
// from the local private store (empty on a peer of a non-member organisation) and must match
// the version of the committed hash.
func (tx *txContext) getPrivateData(coll, key string) ([]byte, error) {
	if err := tx.validateCollName(coll); err != nil {
		return nil, err
	}
	var pvt *ledgerValue
	if tx.localMember(coll) {
		v, err := tx.localPrivateData(coll, key)
		if err != nil {
			return nil, err
		}
		pvt = v
	}
	hashed, err := tx.inv.State.GetPrivateDataHash(tx.ns, coll, hashKey(key))
	if err != nil {
		return nil, fmt.Errorf("read private data hash %s/%s: %w", coll, key, err)
	}
	pvtVer, hashVer := toVersion(pvt), toVersion(hashed)
	if !sameVersion(hashVer, pvtVer) {
		return nil, fmt.Errorf("private data matching public hash version is not available. Public hash version = %s, Private data version = %s",
			versionString(hashVer), versionString(pvtVer))
	}
	tx.rw.addHashedRead(tx.ns, coll, key, pvtVer)
	tx.privateReads[coll] = true
	return valueOf(pvt), nil
}

// localPrivateData reads the clear private value the local private store holds; a value whose
// committed hash is newer (not supplied at commit) counts as absent, as in Fabric's store.
func (tx *txContext) localPrivateData(coll, key string) (*ledgerValue, error) {
	v, err := tx.inv.State.GetPrivateData(tx.ns, coll, key)
	if errors.Is(err, ledger.ErrPrivateDataUnavailable) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read private data %s/%s: %w", coll, key, err)
	}
	return v, nil
}

func (tx *txContext) handleGetPrivateDataHash(p []byte) ([]byte, error) {
	req := &peer.GetState{}
	if err := proto.Unmarshal(p, req); err != nil {
		return nil, fmt.Errorf("unmarshal failed: %w", err)
	}
	coll := req.GetCollection()
	if err := tx.validateCollName(coll); err != nil {
		return nil, err
	}
	hashed, err := tx.inv.State.GetPrivateDataHash(tx.ns, coll, hashKey(req.GetKey()))
	if err != nil {
		return nil, fmt.Errorf("read private data hash %s/%s: %w", coll, req.GetKey(), err)
	}
	tx.rw.addHashedRead(tx.ns, coll, req.GetKey(), toVersion(hashed))
	return valueOf(hashed), nil
}

func (tx *txContext) handleGetStateMetadata(p []byte) ([]byte, error) {
	req := &peer.GetStateMetadata{}
	if err := proto.Unmarshal(p, req); err != nil {
		return nil, fmt.Errorf("unmarshal failed: %w", err)
	}
	var vv *ledgerValue
	if coll := req.GetCollection(); coll != "" {
		if err := tx.checkReadPermission(coll); err != nil {
			return nil, err
		}
		if err := tx.validateCollName(coll); err != nil {
			return nil, err
		}
		hashed, err := tx.inv.State.GetPrivateDataHash(tx.ns, coll, hashKey(req.GetKey()))
		if err != nil {
			return nil, fmt.Errorf("read private data hash %s/%s: %w", coll, req.GetKey(), err)
		}
		tx.rw.addHashedRead(tx.ns, coll, req.GetKey(), toVersion(hashed))
		vv = hashed
	} else {
		v, err := tx.getPublic(req.GetKey())
		if err != nil {
			return nil, err
		}
		vv = v
	}
	var raw []byte
	if vv != nil {
		raw = vv.Metadata
	}
	md, err := decodeMetadata(raw)
	if err != nil {
		return nil, err
	}
	result := &peer.StateMetadataResult{}
	for _, name := range sortedKeys(md) {
		result.Entries = append(result.Entries, &peer.StateMetadata{Metakey: name, Value: md[name]})
	}
	out, err := proto.Marshal(result)
	if err != nil {
		return nil, fmt.Errorf("marshal failed: %w", err)
	}
	return out, nil
}

// putState records a write (value nil or empty: a delete) of a public or private key.
func (tx *txContext) putState(coll, key string, value []byte) error {
	if coll != "" {
		return tx.putPrivate(coll, key, value, false)
	}
	if err := tx.checkWritePrecondition(); err != nil {
		return err
	}
	tx.rw.addWrite(tx.ns, key, value)
	return tx.noteWrittenPublicKey(key)
}

func (tx *txContext) purgePrivateData(coll, key string) error {
	if coll == "" {
		return errors.New("only applicable for private data")
	}
	return tx.putPrivate(coll, key, nil, true)
}

// putPrivate records a private write, delete or purge after the checks a peer makes for any
// private write: the creator's write permission, the collection, and the read-only rules.
func (tx *txContext) putPrivate(coll, key string, value []byte, purge bool) error {
	if err := tx.checkWritePermission(coll); err != nil {
		return err
	}
	if err := tx.validateCollName(coll); err != nil {
		return err
	}
	if err := tx.checkWritePrecondition(); err != nil {
		return err
	}
	tx.rw.addPvtWrite(tx.ns, coll, key, value, purge)
	return tx.noteWrittenPrivateKey(coll, key)
}

func (tx *txContext) putStateMetadata(coll, key string, entry *peer.StateMetadata) error {
	if entry == nil {
		return errors.New("state metadata entry must not be nil")
	}
	md := map[string][]byte{entry.GetMetakey(): entry.GetValue()}
	if coll != "" {
		if err := tx.checkWritePermission(coll); err != nil {
			return err
		}
		if err := tx.validateCollName(coll); err != nil {
			return err
		}
		if err := tx.checkWritePrecondition(); err != nil {
			return err
		}
		tx.rw.addPvtMetadataWrite(tx.ns, coll, key, md)
		return tx.noteWrittenPrivateKey(coll, key)
	}
	if err := tx.checkWritePrecondition(); err != nil {
		return err
	}
	tx.rw.addMetadataWrite(tx.ns, key, md)
	return tx.noteWrittenPublicKey(key)
}

func (tx *txContext) handleWriteBatch(p []byte) error {
	batch := &peer.WriteBatchState{}
	if err := proto.Unmarshal(p, batch); err != nil {
		return fmt.Errorf("unmarshal failed: %w", err)
	}
	for _, rec := range batch.GetRec() {
		var err error
		switch rec.GetType() {
		case peer.WriteRecord_PUT_STATE:
			err = tx.putState(rec.GetCollection(), rec.GetKey(), rec.GetValue())
		case peer.WriteRecord_DEL_STATE:
			err = tx.putState(rec.GetCollection(), rec.GetKey(), nil)
		case peer.WriteRecord_PURGE_PRIVATE_DATA:
			err = tx.purgePrivateData(rec.GetCollection(), rec.GetKey())
		case peer.WriteRecord_PUT_STATE_METADATA:
			err = tx.putStateMetadata(rec.GetCollection(), rec.GetKey(), rec.GetMetadata())
		default:
			err = errors.New("unknown operation type")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkWritePrecondition mirrors Fabric's transaction simulator: a transaction that ran a
// query on private data or a paginated query is read-only.
func (tx *txContext) checkWritePrecondition() error {
	if tx.pvtQueriesPerformed {
		return fmt.Errorf("txid [%s]: unsuppored transaction. Transaction has already performed queries on pvt data. Writes are not allowed", tx.inv.TxID)
	}
	if tx.paginatedQueriesPerformed {
		return fmt.Errorf("txid [%s]: unsuppored transaction. Transaction has already performed a paginated query. Writes are not allowed", tx.inv.TxID)
	}
	tx.writePerformed = true
	return nil
}

func (tx *txContext) checkBeforePvtdataQueries() error {
	if tx.writePerformed {
		return fmt.Errorf("txid [%s]: unsuppored transaction. Queries on pvt data is supported only in a read-only transaction", tx.inv.TxID)
	}
	tx.pvtQueriesPerformed = true
	return nil
}

func (tx *txContext) checkBeforePaginatedQueries() error {
	if tx.writePerformed {
		return fmt.Errorf("txid [%s]: unsuppored transaction. Paginated queries are supported only in a read-only transaction", tx.inv.TxID)
	}
	tx.paginatedQueriesPerformed = true
	return nil
}

// noteWrittenPublicKey records the committed metadata of a written public key (Fabric's
// writeset metadata, used for the key-level endorsement policies of the chaincode interest).
func (tx *txContext) noteWrittenPublicKey(key string) error {
	vv, err := tx.inv.State.GetState(tx.ns, key)
	if err != nil {
		return fmt.Errorf("read state metadata %s: %w", key, err)
	}
	return tx.noteWritten("", key, vv)
}

func (tx *txContext) noteWrittenPrivateKey(coll, key string) error {
	vv, err := tx.inv.State.GetPrivateDataHash(tx.ns, coll, hashKey(key))
	if err != nil {
		return fmt.Errorf("read private data metadata %s/%s: %w", coll, key, err)
	}
	return tx.noteWritten(coll, key, vv)
}

func (tx *txContext) noteWritten(coll, key string, vv *ledgerValue) error {
	var raw []byte
	if vv != nil {
		raw = vv.Metadata
	}
	md, err := decodeMetadata(raw)
	if err != nil {
		return err
	}
	keys, ok := tx.written[coll]
	if !ok {
		keys = map[string]map[string][]byte{}
		tx.written[coll] = keys
	}
	keys[key] = md
	return nil
}

// creatorMSPID returns the MSP ID of the proposal's creator ("" without a proposal).
func (tx *txContext) creatorMSPID() (string, error) {
	if tx.creatorParsed {
		return tx.creatorMSP, tx.creatorErr
	}
	tx.creatorParsed = true
	tx.creatorMSP, tx.creatorErr = creatorOf(tx.inv.Signed)
	return tx.creatorMSP, tx.creatorErr
}

func creatorOf(sp *peer.SignedProposal) (string, error) {
	if sp == nil {
		return "", nil
	}
	prop := &peer.Proposal{}
	if err := proto.Unmarshal(sp.GetProposalBytes(), prop); err != nil {
		return "", fmt.Errorf("unmarshal proposal: %w", err)
	}
	hdr := &common.Header{}
	if err := proto.Unmarshal(prop.GetHeader(), hdr); err != nil {
		return "", fmt.Errorf("unmarshal proposal header: %w", err)
	}
	shdr := &common.SignatureHeader{}
	if err := proto.Unmarshal(hdr.GetSignatureHeader(), shdr); err != nil {
		return "", fmt.Errorf("unmarshal signature header: %w", err)
	}
	id := &msp.SerializedIdentity{}
	if err := proto.Unmarshal(shdr.GetCreator(), id); err != nil {
		return "", fmt.Errorf("unmarshal creator identity: %w", err)
	}
	return id.GetMspid(), nil
}

func (tx *txContext) newQueryID() string {
	tx.nextQueryID++
	return strconv.Itoa(tx.nextQueryID)
}
