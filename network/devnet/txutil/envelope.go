package txutil

import (
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// Transaction is a transaction envelope unpacked into its parts. The endorser-transaction
// fields (Action onwards) are set only for HeaderType ENDORSER_TRANSACTION envelopes.
type Transaction struct {
	// Envelope is the envelope as stored or received.
	Envelope *common.Envelope
	// Payload is the unmarshalled Envelope.Payload.
	Payload *common.Payload
	// ChannelHeader is the unmarshalled Payload.Header.ChannelHeader.
	ChannelHeader *common.ChannelHeader
	// SignatureHeader is the unmarshalled Payload.Header.SignatureHeader.
	SignatureHeader *common.SignatureHeader
	// ActionPayload is the first action's ChaincodeActionPayload.
	ActionPayload *peer.ChaincodeActionPayload
	// ResponsePayload is the endorsed ProposalResponsePayload.
	ResponsePayload *peer.ProposalResponsePayload
	// Action is the endorsed ChaincodeAction (results, events, response, chaincode ID).
	Action *peer.ChaincodeAction
	// Event is the chaincode event of the transaction, nil if none.
	Event *peer.ChaincodeEvent
}

// HeaderType returns the envelope's header type.
func (t *Transaction) HeaderType() common.HeaderType {
	return common.HeaderType(t.ChannelHeader.GetType())
}

// TxID returns the envelope's transaction ID.
func (t *Transaction) TxID() string { return t.ChannelHeader.GetTxId() }

// ChaincodeName returns the name of the chaincode the endorsed action belongs to ("" if none).
func (t *Transaction) ChaincodeName() string { return t.Action.GetChaincodeId().GetName() }

// RWSet unmarshals the endorsed read-write set.
func (t *Transaction) RWSet() (*rwset.TxReadWriteSet, error) {
	rws := &rwset.TxReadWriteSet{}
	if err := proto.Unmarshal(t.Action.GetResults(), rws); err != nil {
		return nil, fmt.Errorf("%w: error unmarshalling read-write set: %w", ErrMalformed, err)
	}
	return rws, nil
}

// UnpackEnvelopeBytes unmarshals and unpacks a marshalled envelope (a block's data entry).
func UnpackEnvelopeBytes(b []byte) (*Transaction, error) {
	env := &common.Envelope{}
	if err := proto.Unmarshal(b, env); err != nil {
		return nil, fmt.Errorf("%w: error unmarshalling envelope: %w", ErrMalformed, err)
	}
	return UnpackEnvelope(env)
}

// UnpackEnvelope parses a transaction envelope. Endorser transactions must carry exactly the
// structure Fabric's gateway assembles; other header types are returned with the headers only.
func UnpackEnvelope(env *common.Envelope) (*Transaction, error) {
	t := &Transaction{
		Envelope:        env,
		Payload:         &common.Payload{},
		ChannelHeader:   &common.ChannelHeader{},
		SignatureHeader: &common.SignatureHeader{},
	}
	if err := proto.Unmarshal(env.GetPayload(), t.Payload); err != nil {
		return nil, fmt.Errorf("%w: error unmarshalling payload: %w", ErrMalformed, err)
	}
	if t.Payload.GetHeader() == nil {
		return nil, fmt.Errorf("%w: payload has no header", ErrMalformed)
	}
	if err := proto.Unmarshal(t.Payload.GetHeader().GetChannelHeader(), t.ChannelHeader); err != nil {
		return nil, fmt.Errorf("%w: error unmarshalling channel header: %w", ErrMalformed, err)
	}
	if err := proto.Unmarshal(t.Payload.GetHeader().GetSignatureHeader(), t.SignatureHeader); err != nil {
		return nil, fmt.Errorf("%w: error unmarshalling signature header: %w", ErrMalformed, err)
	}
	if t.HeaderType() != common.HeaderType_ENDORSER_TRANSACTION {
		return t, nil
	}
	tx := &peer.Transaction{}
	if err := proto.Unmarshal(t.Payload.GetData(), tx); err != nil {
		return nil, fmt.Errorf("%w: error unmarshalling transaction: %w", ErrMalformed, err)
	}
	if len(tx.GetActions()) != 1 {
		return nil, fmt.Errorf("%w: transaction has %d actions, expected 1", ErrMalformed, len(tx.GetActions()))
	}
	t.ActionPayload = &peer.ChaincodeActionPayload{}
	if err := proto.Unmarshal(tx.GetActions()[0].GetPayload(), t.ActionPayload); err != nil {
		return nil, fmt.Errorf("%w: error unmarshalling chaincode action payload: %w", ErrMalformed, err)
	}
	if t.ActionPayload.GetAction() == nil {
		return nil, fmt.Errorf("%w: chaincode action payload has no endorsed action", ErrMalformed)
	}
	t.ResponsePayload = &peer.ProposalResponsePayload{}
	if err := proto.Unmarshal(t.ActionPayload.GetAction().GetProposalResponsePayload(), t.ResponsePayload); err != nil {
		return nil, fmt.Errorf("%w: error unmarshalling proposal response payload: %w", ErrMalformed, err)
	}
	t.Action = &peer.ChaincodeAction{}
	if err := proto.Unmarshal(t.ResponsePayload.GetExtension(), t.Action); err != nil {
		return nil, fmt.Errorf("%w: error unmarshalling chaincode action: %w", ErrMalformed, err)
	}
	if len(t.Action.GetEvents()) > 0 {
		t.Event = &peer.ChaincodeEvent{}
		if err := proto.Unmarshal(t.Action.GetEvents(), t.Event); err != nil {
			return nil, fmt.Errorf("%w: error unmarshalling chaincode event: %w", ErrMalformed, err)
		}
	}
	return t, nil
}

// TxValidationCodes returns the validation codes stored in a committed block's
// TRANSACTIONS_FILTER metadata. A block without the filter yields codes of
// NOT_VALIDATED.
func TxValidationCodes(block *common.Block) []peer.TxValidationCode {
	n := len(block.GetData().GetData())
	codes := make([]peer.TxValidationCode, n)
	var filter []byte
	if md := block.GetMetadata().GetMetadata(); len(md) > int(common.BlockMetadataIndex_TRANSACTIONS_FILTER) {
		filter = md[common.BlockMetadataIndex_TRANSACTIONS_FILTER]
	}
	for i := range codes {
		if i < len(filter) {
			codes[i] = peer.TxValidationCode(filter[i])
		} else {
			codes[i] = peer.TxValidationCode_NOT_VALIDATED
		}
	}
	return codes
}

// FilteredBlock converts a committed block to the FilteredBlock Fabric's DeliverFiltered
// service sends: per transaction its ID, header type and validation code, and for endorser
// transactions the chaincode event without its payload.
func FilteredBlock(channel string, block *common.Block) (*peer.FilteredBlock, error) {
	codes := TxValidationCodes(block)
	fb := &peer.FilteredBlock{ChannelId: channel, Number: block.GetHeader().GetNumber()}
	for i, data := range block.GetData().GetData() {
		t, err := UnpackEnvelopeBytes(data)
		if err != nil {
			return nil, fmt.Errorf("block %d transaction %d: %w", fb.Number, i, err)
		}
		ft := &peer.FilteredTransaction{
			Txid:             t.TxID(),
			Type:             t.HeaderType(),
			TxValidationCode: codes[i],
		}
		if t.HeaderType() == common.HeaderType_ENDORSER_TRANSACTION {
			actions := &peer.FilteredTransactionActions{}
			if t.Event.GetChaincodeId() != "" {
				actions.ChaincodeActions = append(actions.ChaincodeActions, &peer.FilteredChaincodeAction{
					ChaincodeEvent: &peer.ChaincodeEvent{
						ChaincodeId: t.Event.GetChaincodeId(),
						TxId:        t.Event.GetTxId(),
						EventName:   t.Event.GetEventName(),
					},
				})
			}
			ft.Data = &peer.FilteredTransaction_TransactionActions{TransactionActions: actions}
		}
		fb.FilteredTransactions = append(fb.FilteredTransactions, ft)
	}
	return fb, nil
}

// ChaincodeEvents returns the chaincode events of chaincode from the VALID transactions of a
// committed block, in block order, each with its transaction index.
func ChaincodeEvents(block *common.Block, chaincode string) ([]IndexedEvent, error) {
	codes := TxValidationCodes(block)
	var out []IndexedEvent
	for i, data := range block.GetData().GetData() {
		if codes[i] != peer.TxValidationCode_VALID {
			continue
		}
		t, err := UnpackEnvelopeBytes(data)
		if err != nil {
			return nil, fmt.Errorf("block %d transaction %d: %w", block.GetHeader().GetNumber(), i, err)
		}
		if t.Event == nil || t.Event.GetChaincodeId() != chaincode {
			continue
		}
		out = append(out, IndexedEvent{TxNum: uint64(i), TxID: t.TxID(), Event: t.Event})
	}
	return out, nil
}

// IndexedEvent is a chaincode event with the position of its transaction in its block.
type IndexedEvent struct {
	// TxNum is the transaction's index in the block.
	TxNum uint64
	// TxID is the transaction's ID.
	TxID string
	// Event is the chaincode event.
	Event *peer.ChaincodeEvent
}
