package fabric

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strconv"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/gateway"
)

var _ gateway.ChannelExplorer = (*Client)(nil)

// ChainHeight implements gateway.ChannelExplorer with qscc GetChainInfo on the caller's peer.
func (c *Client) ChainHeight(ctx context.Context, caller gateway.Caller) (uint64, error) {
	out, err := c.qscc(ctx, caller.MSPID, "GetChainInfo", c.opts.Channel)
	if err != nil {
		return 0, mapError(err, "")
	}
	var info common.BlockchainInfo
	if err := proto.Unmarshal(out, &info); err != nil {
		return 0, &gateway.Error{Code: gateway.CodeInternal, Message: "peer returned an unreadable chain info", Err: err}
	}
	return info.GetHeight(), nil
}

// Block implements gateway.ChannelExplorer with qscc GetBlockByNumber on the caller's peer.
// A number at or beyond the chain's height is NOT_FOUND.
func (c *Client) Block(ctx context.Context, caller gateway.Caller, number uint64) (*gateway.Block, error) {
	height, err := c.ChainHeight(ctx, caller)
	if err != nil {
		return nil, err
	}
	if number >= height {
		return nil, gateway.Errorf(gateway.CodeNotFound, "block %d does not exist yet: the chain has %d blocks", number, height)
	}
	out, err := c.qscc(ctx, caller.MSPID, "GetBlockByNumber", c.opts.Channel, strconv.FormatUint(number, 10))
	if err != nil {
		return nil, mapError(err, "")
	}
	var block common.Block
	if err := proto.Unmarshal(out, &block); err != nil {
		return nil, &gateway.Error{Code: gateway.CodeInternal, Message: "peer returned an unreadable block", Err: err}
	}
	return DescribeBlock(&block)
}

// DescribeBlock summarises a Fabric block: its header, and for each transaction its ID, type,
// time, creator, endorsers, chaincode function, event and validation code.
func DescribeBlock(block *common.Block) (*gateway.Block, error) {
	h := block.GetHeader()
	out := &gateway.Block{
		Number:       h.GetNumber(),
		Hash:         hex.EncodeToString(blockHeaderHash(h)),
		PreviousHash: hex.EncodeToString(h.GetPreviousHash()),
		DataHash:     hex.EncodeToString(h.GetDataHash()),
	}
	var filter []byte
	if md := block.GetMetadata().GetMetadata(); len(md) > int(common.BlockMetadataIndex_TRANSACTIONS_FILTER) {
		filter = md[common.BlockMetadataIndex_TRANSACTIONS_FILTER]
	}
	for i, env := range block.GetData().GetData() {
		tx, err := describeTransaction(env)
		if err != nil {
			return nil, &gateway.Error{Code: gateway.CodeInternal,
				Message: fmt.Sprintf("block %d holds an unreadable transaction at index %d", out.Number, i), Err: err}
		}
		tx.Index = i
		code := peer.TxValidationCode_NOT_VALIDATED
		if i < len(filter) {
			code = peer.TxValidationCode(filter[i])
		}
		tx.ValidationCode, tx.Valid = code.String(), code == peer.TxValidationCode_VALID
		if tx.Valid {
			out.ValidCount++
		}
		if tx.Timestamp.After(out.Timestamp) {
			out.Timestamp = tx.Timestamp
		}
		out.Transactions = append(out.Transactions, *tx)
	}
	out.TxCount = len(out.Transactions)
	return out, nil
}

// blockHeaderHash is Fabric's block hash: SHA-256 of the ASN.1 DER encoding of the header's
// number, previous hash and data hash.
func blockHeaderHash(h *common.BlockHeader) []byte {
	der, err := asn1.Marshal(struct {
		Number       *big.Int
		PreviousHash []byte
		DataHash     []byte
	}{new(big.Int).SetUint64(h.GetNumber()), h.GetPreviousHash(), h.GetDataHash()})
	if err != nil {
		// Marshalling a big.Int and two byte strings cannot fail.
		panic(fmt.Sprintf("encode block header: %v", err))
	}
	sum := sha256.Sum256(der)
	return sum[:]
}

// describeTransaction reads one envelope of a block.
func describeTransaction(raw []byte) (*gateway.BlockTransaction, error) {
	var env common.Envelope
	if err := proto.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	var payload common.Payload
	if err := proto.Unmarshal(env.GetPayload(), &payload); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	var ch common.ChannelHeader
	if err := proto.Unmarshal(payload.GetHeader().GetChannelHeader(), &ch); err != nil {
		return nil, fmt.Errorf("channel header: %w", err)
	}
	var sh common.SignatureHeader
	if err := proto.Unmarshal(payload.GetHeader().GetSignatureHeader(), &sh); err != nil {
		return nil, fmt.Errorf("signature header: %w", err)
	}
	tx := &gateway.BlockTransaction{
		TxID:    ch.GetTxId(),
		Type:    common.HeaderType(ch.GetType()).String(),
		Creator: shortIdentity(sh.GetCreator()),
	}
	if ts := ch.GetTimestamp(); ts != nil {
		tx.Timestamp = ts.AsTime().UTC()
	}
	if common.HeaderType(ch.GetType()) == common.HeaderType_ENDORSER_TRANSACTION {
		if err := describeEndorserTransaction(payload.GetData(), tx); err != nil {
			return nil, err
		}
	}
	return tx, nil
}

// describeEndorserTransaction fills the chaincode, function, event and endorsers of tx from an
// endorser transaction's data.
func describeEndorserTransaction(data []byte, tx *gateway.BlockTransaction) error {
	var t peer.Transaction
	if err := proto.Unmarshal(data, &t); err != nil {
		return fmt.Errorf("transaction: %w", err)
	}
	if len(t.GetActions()) == 0 {
		return nil
	}
	var ccPayload peer.ChaincodeActionPayload
	if err := proto.Unmarshal(t.GetActions()[0].GetPayload(), &ccPayload); err != nil {
		return fmt.Errorf("chaincode action payload: %w", err)
	}
	var cpp peer.ChaincodeProposalPayload
	if err := proto.Unmarshal(ccPayload.GetChaincodeProposalPayload(), &cpp); err != nil {
		return fmt.Errorf("chaincode proposal payload: %w", err)
	}
	var spec peer.ChaincodeInvocationSpec
	if err := proto.Unmarshal(cpp.GetInput(), &spec); err != nil {
		return fmt.Errorf("chaincode invocation spec: %w", err)
	}
	tx.Chaincode = spec.GetChaincodeSpec().GetChaincodeId().GetName()
	if args := spec.GetChaincodeSpec().GetInput().GetArgs(); len(args) > 0 {
		tx.Function = string(args[0])
	}
	for _, e := range ccPayload.GetAction().GetEndorsements() {
		tx.Endorsers = append(tx.Endorsers, shortIdentity(e.GetEndorser()))
	}
	var prp peer.ProposalResponsePayload
	if err := proto.Unmarshal(ccPayload.GetAction().GetProposalResponsePayload(), &prp); err != nil {
		return fmt.Errorf("proposal response payload: %w", err)
	}
	var action peer.ChaincodeAction
	if err := proto.Unmarshal(prp.GetExtension(), &action); err != nil {
		return fmt.Errorf("chaincode action: %w", err)
	}
	if tx.Chaincode == "" {
		tx.Chaincode = action.GetChaincodeId().GetName()
	}
	if len(action.GetEvents()) > 0 {
		var ev peer.ChaincodeEvent
		if err := proto.Unmarshal(action.GetEvents(), &ev); err != nil {
			return fmt.Errorf("chaincode event: %w", err)
		}
		tx.Event = ev.GetEventName()
	}
	return nil
}

// shortIdentity renders a serialized identity as its MSP ID and certificate common name. An
// identity whose certificate cannot be read keeps its MSP ID only.
func shortIdentity(serialized []byte) gateway.Identity {
	var sid msp.SerializedIdentity
	if err := proto.Unmarshal(serialized, &sid); err != nil {
		return gateway.Identity{}
	}
	id := gateway.Identity{MSPID: sid.GetMspid()}
	if block, _ := pem.Decode(sid.GetIdBytes()); block != nil {
		if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
			id.Name = cert.Subject.CommonName
		}
	}
	return id
}
