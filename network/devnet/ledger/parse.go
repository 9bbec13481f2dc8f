package ledger

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// ParsedTx holds the decoded layers of a transaction envelope. The endorser-transaction
// fields are nil for other header types.
type ParsedTx struct {
	Envelope        *common.Envelope
	Payload         *common.Payload
	ChannelHeader   *common.ChannelHeader
	SignatureHeader *common.SignatureHeader

	Transaction     *peer.Transaction             // ENDORSER_TRANSACTION only
	ActionPayload   *peer.ChaincodeActionPayload  // actions[0]
	ResponsePayload *peer.ProposalResponsePayload // of the endorsed action
	Action          *peer.ChaincodeAction         // results, events, response, chaincode ID
	RWSet           *rwset.TxReadWriteSet         // unmarshalled Action.Results (empty if none)
	Event           *peer.ChaincodeEvent          // unmarshalled Action.Events, nil if none
}

// HeaderType returns the channel header type of the transaction.
func (p *ParsedTx) HeaderType() common.HeaderType {
	return common.HeaderType(p.ChannelHeader.GetType())
}

// TxID returns the transaction ID from the channel header.
func (p *ParsedTx) TxID() string { return p.ChannelHeader.GetTxId() }

// errParse marks envelope decoding failures; ParseTx returns it with a validation code.
var errParse = errors.New("malformed transaction")

// ParseTx decodes a marshalled common.Envelope down to the read-write set and chaincode
// event for endorser transactions. On failure it returns the Fabric validation code that fits
// the broken layer (NIL_ENVELOPE, BAD_PAYLOAD, BAD_COMMON_HEADER, BAD_CHANNEL_HEADER,
// NIL_TXACTION, BAD_RESPONSE_PAYLOAD, BAD_RWSET) and an error; on success the code is VALID.
// Only the first action of a transaction is read, as Fabric does.
func ParseTx(envBytes []byte) (*ParsedTx, peer.TxValidationCode, error) {
	if len(envBytes) == 0 {
		return nil, peer.TxValidationCode_NIL_ENVELOPE, fmt.Errorf("empty envelope: %w", errParse)
	}
	p := &ParsedTx{Envelope: &common.Envelope{}}
	if err := proto.Unmarshal(envBytes, p.Envelope); err != nil {
		return nil, peer.TxValidationCode_NIL_ENVELOPE, fmt.Errorf("unmarshal envelope: %w: %w", errParse, err)
	}
	p.Payload = &common.Payload{}
	if err := proto.Unmarshal(p.Envelope.GetPayload(), p.Payload); err != nil {
		return nil, peer.TxValidationCode_BAD_PAYLOAD, fmt.Errorf("unmarshal payload: %w: %w", errParse, err)
	}
	if p.Payload.GetHeader() == nil {
		return nil, peer.TxValidationCode_BAD_COMMON_HEADER, fmt.Errorf("payload without header: %w", errParse)
	}
	p.ChannelHeader = &common.ChannelHeader{}
	if err := proto.Unmarshal(p.Payload.GetHeader().GetChannelHeader(), p.ChannelHeader); err != nil {
		return nil, peer.TxValidationCode_BAD_CHANNEL_HEADER, fmt.Errorf("unmarshal channel header: %w: %w", errParse, err)
	}
	p.SignatureHeader = &common.SignatureHeader{}
	if err := proto.Unmarshal(p.Payload.GetHeader().GetSignatureHeader(), p.SignatureHeader); err != nil {
		return nil, peer.TxValidationCode_BAD_COMMON_HEADER, fmt.Errorf("unmarshal signature header: %w: %w", errParse, err)
	}
	if p.HeaderType() != common.HeaderType_ENDORSER_TRANSACTION {
		return p, peer.TxValidationCode_VALID, nil
	}
	p.Transaction = &peer.Transaction{}
	if err := proto.Unmarshal(p.Payload.GetData(), p.Transaction); err != nil {
		return nil, peer.TxValidationCode_BAD_PAYLOAD, fmt.Errorf("unmarshal transaction: %w: %w", errParse, err)
	}
	if len(p.Transaction.GetActions()) == 0 {
		return nil, peer.TxValidationCode_NIL_TXACTION, fmt.Errorf("transaction without actions: %w", errParse)
	}
	p.ActionPayload = &peer.ChaincodeActionPayload{}
	if err := proto.Unmarshal(p.Transaction.GetActions()[0].GetPayload(), p.ActionPayload); err != nil {
		return nil, peer.TxValidationCode_BAD_PAYLOAD, fmt.Errorf("unmarshal chaincode action payload: %w: %w", errParse, err)
	}
	if p.ActionPayload.GetAction() == nil {
		return nil, peer.TxValidationCode_NIL_TXACTION, fmt.Errorf("chaincode action payload without endorsed action: %w", errParse)
	}
	p.ResponsePayload = &peer.ProposalResponsePayload{}
	if err := proto.Unmarshal(p.ActionPayload.GetAction().GetProposalResponsePayload(), p.ResponsePayload); err != nil {
		return nil, peer.TxValidationCode_BAD_RESPONSE_PAYLOAD, fmt.Errorf("unmarshal proposal response payload: %w: %w", errParse, err)
	}
	p.Action = &peer.ChaincodeAction{}
	if err := proto.Unmarshal(p.ResponsePayload.GetExtension(), p.Action); err != nil {
		return nil, peer.TxValidationCode_BAD_RESPONSE_PAYLOAD, fmt.Errorf("unmarshal chaincode action: %w: %w", errParse, err)
	}
	p.RWSet = &rwset.TxReadWriteSet{}
	if err := proto.Unmarshal(p.Action.GetResults(), p.RWSet); err != nil {
		return nil, peer.TxValidationCode_BAD_RWSET, fmt.Errorf("unmarshal read-write set: %w: %w", errParse, err)
	}
	if len(p.Action.GetEvents()) > 0 {
		p.Event = &peer.ChaincodeEvent{}
		if err := proto.Unmarshal(p.Action.GetEvents(), p.Event); err != nil {
			return nil, peer.TxValidationCode_BAD_RESPONSE_PAYLOAD, fmt.Errorf("unmarshal chaincode event: %w: %w", errParse, err)
		}
	}
	return p, peer.TxValidationCode_VALID, nil
}

// ParsedBlock is a block's transactions decoded once for Commit and CommitBlocks: what ParseTx
// returns for each envelope and the namespaces' read-write sets. Several ledgers that commit
// the same block (the devnet's peers) can share one; it is never modified after ParseBlock.
type ParsedBlock struct {
	header *common.BlockHeader
	txs    []parsedEnvelope
}

// parsedEnvelope is one envelope of a ParsedBlock.
type parsedEnvelope struct {
	tx     *ParsedTx             // nil when parsing failed
	code   peer.TxValidationCode // ParseTx's code: VALID, or the failure's code
	sets   []nsSets              // the endorser transaction's read-write sets
	setsOK bool                  // sets decoded (false: BAD_RWSET)
}

// ParseBlock decodes every envelope of block as ParseTx does, and the read-write sets of the
// endorser transactions.
func ParseBlock(block *common.Block) *ParsedBlock {
	envs := block.GetData().GetData()
	pb := &ParsedBlock{header: block.GetHeader(), txs: make([]parsedEnvelope, len(envs))}
	for i, env := range envs {
		pe := &pb.txs[i]
		pe.tx, pe.code, _ = ParseTx(env)
		if pe.tx != nil && pe.tx.HeaderType() == common.HeaderType_ENDORSER_TRANSACTION {
			pe.sets, pe.setsOK = decodeSets(pe.tx.RWSet)
		}
	}
	return pb
}

// fits reports whether pb was parsed from block (same number, data hash and number of
// envelopes; Commit has checked the data hash against the data).
func (pb *ParsedBlock) fits(block *common.Block) bool {
	h := block.GetHeader()
	return pb != nil && pb.header.GetNumber() == h.GetNumber() &&
		bytes.Equal(pb.header.GetDataHash(), h.GetDataHash()) && len(pb.txs) == len(block.GetData().GetData())
}
