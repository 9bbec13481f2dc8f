package validator

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/txutil"
)

// CodeError is an error that carries the Fabric validation code a committing peer assigns to a
// transaction that fails in this way.
type CodeError struct {
	Code peer.TxValidationCode
	Err  error
}

// Error implements error.
func (e *CodeError) Error() string {
	return fmt.Sprintf("%s: %v", e.Code, e.Err)
}

// Unwrap returns the underlying error.
func (e *CodeError) Unwrap() error {
	return e.Err
}

func codeErr(code peer.TxValidationCode, format string, args ...any) *CodeError {
	return &CodeError{Code: code, Err: fmt.Errorf(format, args...)}
}

// CodeOf returns the validation code carried by err (a *CodeError somewhere in its chain), or
// INVALID_OTHER_REASON if it carries none, or VALID for a nil error.
func CodeOf(err error) peer.TxValidationCode {
	if err == nil {
		return peer.TxValidationCode_VALID
	}
	var ce *CodeError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return peer.TxValidationCode_INVALID_OTHER_REASON
}

// Header is the parsed common header of an envelope.
type Header struct {
	Payload         *common.Payload
	ChannelHeader   *common.ChannelHeader
	SignatureHeader *common.SignatureHeader
}

// UnpackHeader parses an envelope's payload, channel header and signature header with Fabric's
// well-formedness checks (header type ENDORSER_TRANSACTION, CONFIG or CONFIG_UPDATE, epoch 0,
// non-empty nonce and creator). Errors carry NIL_ENVELOPE, BAD_PAYLOAD or BAD_COMMON_HEADER.
func UnpackHeader(env *common.Envelope) (*Header, error) {
	if env == nil {
		return nil, codeErr(peer.TxValidationCode_NIL_ENVELOPE, "nil envelope")
	}
	payload := &common.Payload{}
	if err := proto.Unmarshal(env.Payload, payload); err != nil {
		return nil, &CodeError{Code: peer.TxValidationCode_BAD_PAYLOAD, Err: fmt.Errorf("unmarshal payload: %w", err)}
	}
	if payload.Header == nil {
		return nil, codeErr(peer.TxValidationCode_BAD_COMMON_HEADER, "nil header")
	}
	chdr := &common.ChannelHeader{}
	if err := proto.Unmarshal(payload.Header.ChannelHeader, chdr); err != nil {
		return nil, &CodeError{Code: peer.TxValidationCode_BAD_COMMON_HEADER, Err: fmt.Errorf("unmarshal channel header: %w", err)}
	}
	shdr := &common.SignatureHeader{}
	if err := proto.Unmarshal(payload.Header.SignatureHeader, shdr); err != nil {
		return nil, &CodeError{Code: peer.TxValidationCode_BAD_COMMON_HEADER, Err: fmt.Errorf("unmarshal signature header: %w", err)}
	}
	return &Header{Payload: payload, ChannelHeader: chdr, SignatureHeader: shdr}, nil
}

func checkCommonHeader(h *Header) error {
	switch common.HeaderType(h.ChannelHeader.Type) {
	case common.HeaderType_ENDORSER_TRANSACTION, common.HeaderType_CONFIG_UPDATE, common.HeaderType_CONFIG:
	default:
		return codeErr(peer.TxValidationCode_BAD_COMMON_HEADER, "invalid header type %s", common.HeaderType(h.ChannelHeader.Type))
	}
	if h.ChannelHeader.Epoch != 0 {
		return codeErr(peer.TxValidationCode_BAD_COMMON_HEADER, "invalid Epoch in ChannelHeader. Expected 0, got [%d]", h.ChannelHeader.Epoch)
	}
	return checkSignatureHeader(h.SignatureHeader, peer.TxValidationCode_BAD_COMMON_HEADER)
}

func checkSignatureHeader(s *common.SignatureHeader, code peer.TxValidationCode) error {
	if len(s.GetNonce()) == 0 {
		return codeErr(code, "invalid nonce specified in the header")
	}
	if len(s.GetCreator()) == 0 {
		return codeErr(code, "invalid creator specified in the header")
	}
	return nil
}

// ComputeTxID returns Fabric's transaction ID: the hex SHA-256 of nonce || creator (as
// txutil.ComputeTxID, which builders of transactions use).
func ComputeTxID(nonce, creator []byte) string {
	return txutil.ComputeTxID(nonce, creator)
}

// ProposalHash returns the hash an endorser records in ProposalResponsePayload.ProposalHash:
// SHA-256 over the channel header bytes, the signature header bytes and the
// ChaincodeProposalPayload bytes (with the transient map already removed).
func ProposalHash(channelHeader, signatureHeader, chaincodeProposalPayload []byte) []byte {
	h := sha256.New()
	h.Write(channelHeader)
	h.Write(signatureHeader)
	h.Write(chaincodeProposalPayload)
	return h.Sum(nil)
}

// CollHashedRWSet is the hashed read-write set of one private data collection.
type CollHashedRWSet struct {
	Name         string
	Hashed       *kvrwset.HashedRWSet
	PvtRWSetHash []byte
}

// NsRWSet is the parsed read-write set of one namespace.
type NsRWSet struct {
	Namespace   string
	KV          *kvrwset.KVRWSet
	Collections []*CollHashedRWSet
}

// Writes reports whether the namespace read-write set writes anything: public writes or
// metadata writes, or hashed writes or metadata writes in any collection.
func (ns *NsRWSet) Writes() bool {
	if len(ns.KV.GetWrites()) > 0 || len(ns.KV.GetMetadataWrites()) > 0 {
		return true
	}
	for _, c := range ns.Collections {
		if c.Writes() {
			return true
		}
	}
	return false
}

// eachWrittenKey calls fn for every key the namespace read-write set writes or writes
// metadata of, in order: public writes, public metadata writes, then for each collection its
// hashed writes and hashed metadata writes (coll is "" for public keys; for private keys key
// is the key hash). It stops at, and returns, the first error of fn.
func (ns *NsRWSet) eachWrittenKey(fn func(coll, key string) error) error {
	for _, w := range ns.KV.GetWrites() {
		if err := fn("", w.GetKey()); err != nil {
			return err
		}
	}
	for _, mw := range ns.KV.GetMetadataWrites() {
		if err := fn("", mw.GetKey()); err != nil {
			return err
		}
	}
	for _, c := range ns.Collections {
		for _, w := range c.Hashed.GetHashedWrites() {
			if err := fn(c.Name, string(w.GetKeyHash())); err != nil {
				return err
			}
		}
		for _, mw := range c.Hashed.GetMetadataWrites() {
			if err := fn(c.Name, string(mw.GetKeyHash())); err != nil {
				return err
			}
		}
	}
	return nil
}

// Writes reports whether the collection read-write set has hashed writes or metadata writes.
func (c *CollHashedRWSet) Writes() bool {
	return len(c.Hashed.GetHashedWrites()) > 0 || len(c.Hashed.GetMetadataWrites()) > 0
}

// ParseRWSet unmarshals a marshalled rwset.TxReadWriteSet and every namespace's KVRWSet and
// collection HashedRWSet. Errors carry BAD_RWSET.
func ParseRWSet(b []byte) (*rwset.TxReadWriteSet, []*NsRWSet, error) {
	txrw := &rwset.TxReadWriteSet{}
	if err := proto.Unmarshal(b, txrw); err != nil {
		return nil, nil, &CodeError{Code: peer.TxValidationCode_BAD_RWSET, Err: fmt.Errorf("unmarshal TxReadWriteSet: %w", err)}
	}
	out := make([]*NsRWSet, 0, len(txrw.NsRwset))
	for _, ns := range txrw.NsRwset {
		kv := &kvrwset.KVRWSet{}
		if err := proto.Unmarshal(ns.Rwset, kv); err != nil {
			return nil, nil, &CodeError{Code: peer.TxValidationCode_BAD_RWSET, Err: fmt.Errorf("unmarshal KVRWSet of %s: %w", ns.Namespace, err)}
		}
		n := &NsRWSet{Namespace: ns.Namespace, KV: kv}
		for _, c := range ns.CollectionHashedRwset {
			h := &kvrwset.HashedRWSet{}
			if err := proto.Unmarshal(c.HashedRwset, h); err != nil {
				return nil, nil, &CodeError{Code: peer.TxValidationCode_BAD_RWSET,
					Err: fmt.Errorf("unmarshal HashedRWSet of %s/%s: %w", ns.Namespace, c.CollectionName, err)}
			}
			n.Collections = append(n.Collections, &CollHashedRWSet{Name: c.CollectionName, Hashed: h, PvtRWSetHash: c.PvtRwsetHash})
		}
		out = append(out, n)
	}
	return txrw, out, nil
}

// EndorserTx is a fully unpacked endorser transaction.
type EndorserTx struct {
	Envelope        *common.Envelope
	Payload         *common.Payload
	ChannelHeader   *common.ChannelHeader
	SignatureHeader *common.SignatureHeader
	// HeaderExtension is the ChaincodeHeaderExtension of the channel header (chaincode invoked).
	HeaderExtension *peer.ChaincodeHeaderExtension
	Transaction     *peer.Transaction
	// ActionHeader is the signature header of the (single) transaction action.
	ActionHeader  *common.SignatureHeader
	ActionPayload *peer.ChaincodeActionPayload
	// ProposalPayload is the ChaincodeProposalPayload (input, without transient data).
	ProposalPayload *peer.ChaincodeProposalPayload
	// ResponsePayloadBytes are the marshalled ProposalResponsePayload the endorsers signed.
	ResponsePayloadBytes []byte
	ResponsePayload      *peer.ProposalResponsePayload
	Action               *peer.ChaincodeAction
	// Event is the chaincode event, nil if the transaction set none.
	Event        *peer.ChaincodeEvent
	RWSet        *rwset.TxReadWriteSet
	NsRWSets     []*NsRWSet
	Endorsements []*peer.Endorsement
}

// TxID returns the transaction ID from the channel header.
func (tx *EndorserTx) TxID() string {
	return tx.ChannelHeader.GetTxId()
}

// Chaincode returns the name of the invoked chaincode.
func (tx *EndorserTx) Chaincode() string {
	return tx.HeaderExtension.GetChaincodeId().GetName()
}

// Input returns the chaincode invocation input (arguments), or nil.
func (tx *EndorserTx) Input() *peer.ChaincodeInput {
	spec := &peer.ChaincodeInvocationSpec{}
	if proto.Unmarshal(tx.ProposalPayload.GetInput(), spec) != nil {
		return nil
	}
	return spec.GetChaincodeSpec().GetInput()
}

// UnpackEndorserTx parses every layer of an endorser transaction envelope. It checks structure
// only (no signatures, no policies); errors are *CodeError values with the code Fabric's
// committer assigns to that malformation.
func UnpackEndorserTx(env *common.Envelope) (*EndorserTx, error) {
	h, err := UnpackHeader(env)
	if err != nil {
		return nil, err
	}
	if t := common.HeaderType(h.ChannelHeader.Type); t != common.HeaderType_ENDORSER_TRANSACTION {
		return nil, codeErr(peer.TxValidationCode_UNSUPPORTED_TX_PAYLOAD, "header type %s is not ENDORSER_TRANSACTION", t)
	}
	tx, err := unpackTransaction(env, h)
	if err != nil {
		return nil, err
	}
	if err := tx.unpackAction(); err != nil {
		return nil, err
	}
	if err := tx.unpackEvent(); err != nil {
		return nil, err
	}
	return tx, nil
}

// unpackTransaction performs the structural checks of Fabric's message validation
// (INVALID_ENDORSER_TRANSACTION).
func unpackTransaction(env *common.Envelope, h *Header) (*EndorserTx, error) {
	tx := &EndorserTx{Envelope: env, Payload: h.Payload, ChannelHeader: h.ChannelHeader, SignatureHeader: h.SignatureHeader}
	bad := func(format string, args ...any) error {
		return codeErr(peer.TxValidationCode_INVALID_ENDORSER_TRANSACTION, format, args...)
	}
	if h.Payload.Data == nil {
		return nil, bad("nil arguments")
	}
	tx.Transaction = &peer.Transaction{}
	if err := proto.Unmarshal(h.Payload.Data, tx.Transaction); err != nil {
		return nil, bad("unmarshal Transaction: %v", err)
	}
	if n := len(tx.Transaction.Actions); n != 1 {
		return nil, bad("only one action per transaction is supported, tx contains %d", n)
	}
	act := tx.Transaction.Actions[0]
	if act == nil {
		return nil, bad("nil action")
	}
	tx.ActionHeader = &common.SignatureHeader{}
	if err := proto.Unmarshal(act.Header, tx.ActionHeader); err != nil {
		return nil, bad("unmarshal action signature header: %v", err)
	}
	if err := checkSignatureHeader(tx.ActionHeader, peer.TxValidationCode_INVALID_ENDORSER_TRANSACTION); err != nil {
		return nil, err
	}
	tx.ActionPayload = &peer.ChaincodeActionPayload{}
	if err := proto.Unmarshal(act.Payload, tx.ActionPayload); err != nil {
		return nil, bad("unmarshal ChaincodeActionPayload: %v", err)
	}
	if tx.ActionPayload.Action == nil {
		return nil, bad("nil ChaincodeEndorsedAction")
	}
	tx.ResponsePayloadBytes = tx.ActionPayload.Action.ProposalResponsePayload
	tx.Endorsements = tx.ActionPayload.Action.Endorsements
	tx.ResponsePayload = &peer.ProposalResponsePayload{}
	if err := proto.Unmarshal(tx.ResponsePayloadBytes, tx.ResponsePayload); err != nil {
		return nil, bad("unmarshal ProposalResponsePayload: %v", err)
	}
	want := ProposalHash(h.Payload.Header.ChannelHeader, act.Header, tx.ActionPayload.ChaincodeProposalPayload)
	if string(want) != string(tx.ResponsePayload.ProposalHash) {
		return nil, bad("proposal hash does not match")
	}
	tx.ProposalPayload = &peer.ChaincodeProposalPayload{}
	if err := proto.Unmarshal(tx.ActionPayload.ChaincodeProposalPayload, tx.ProposalPayload); err != nil {
		return nil, bad("unmarshal ChaincodeProposalPayload: %v", err)
	}
	return tx, nil
}

// unpackAction parses the layers Fabric's validation dispatcher parses: the header extension,
// the chaincode action and its read-write set.
func (tx *EndorserTx) unpackAction() error {
	tx.HeaderExtension = &peer.ChaincodeHeaderExtension{}
	if err := proto.Unmarshal(tx.ChannelHeader.Extension, tx.HeaderExtension); err != nil {
		return &CodeError{Code: peer.TxValidationCode_BAD_HEADER_EXTENSION, Err: fmt.Errorf("unmarshal ChaincodeHeaderExtension: %w", err)}
	}
	if tx.ResponsePayload.Extension == nil {
		return codeErr(peer.TxValidationCode_BAD_RESPONSE_PAYLOAD, "nil ProposalResponsePayload extension")
	}
	tx.Action = &peer.ChaincodeAction{}
	if err := proto.Unmarshal(tx.ResponsePayload.Extension, tx.Action); err != nil {
		return &CodeError{Code: peer.TxValidationCode_BAD_RESPONSE_PAYLOAD, Err: fmt.Errorf("unmarshal ChaincodeAction: %w", err)}
	}
	var err error
	if tx.RWSet, tx.NsRWSets, err = ParseRWSet(tx.Action.Results); err != nil {
		return err
	}
	return nil
}

// unpackEvent parses the chaincode event, if any.
func (tx *EndorserTx) unpackEvent() error {
	if tx.Action.Events == nil {
		return nil
	}
	tx.Event = &peer.ChaincodeEvent{}
	if err := proto.Unmarshal(tx.Action.Events, tx.Event); err != nil {
		tx.Event = nil
		return codeErr(peer.TxValidationCode_INVALID_OTHER_REASON, "invalid chaincode event: %v", err)
	}
	return nil
}
