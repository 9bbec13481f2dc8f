package devnet

import (
	"fmt"
	"strconv"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/txutil"
)

// qsccName is the name of Fabric's query system chaincode.
const qsccName = "qscc"

// The functions of Fabric's query system chaincode (qscc).
const (
	qsccGetChainInfo       = "GetChainInfo"
	qsccGetBlockByNumber   = "GetBlockByNumber"
	qsccGetBlockByHash     = "GetBlockByHash"
	qsccGetTransactionByID = "GetTransactionByID"
	qsccGetBlockByTxID     = "GetBlockByTxID"
)

// evaluateQSCC runs a proposal for the query system chaincode as a peer does: the proposal is
// validated like any other, then answered from the ledger. Errors are chaincode responses with
// status 500 and Fabric's messages.
func (p *peerNode) evaluateQSCC(prop *txutil.Proposal) (*peer.Response, *peerFailure) {
	if f := p.checkProposal(prop); f != nil {
		return nil, f
	}
	resp := p.qscc(prop.Input().GetArgs())
	if resp.GetStatus() >= 400 {
		return nil, &peerFailure{codes.Unknown, fmt.Sprintf("chaincode response %d, %s", resp.GetStatus(), resp.GetMessage())}
	}
	return resp, nil
}

func qsccError(msg string) *peer.Response { return &peer.Response{Status: 500, Message: msg} }

func qsccSuccess(m proto.Message) *peer.Response {
	b, err := proto.Marshal(m)
	if err != nil {
		return qsccError(err.Error())
	}
	return &peer.Response{Status: 200, Payload: b}
}

// qscc answers a query system chaincode call from the peer's ledger.
func (p *peerNode) qscc(args [][]byte) *peer.Response {
	if len(args) < 2 {
		return qsccError(fmt.Sprintf("Incorrect number of arguments, %d", len(args)))
	}
	fname, cid := string(args[0]), string(args[1])
	if fname != qsccGetChainInfo && len(args) < 3 {
		return qsccError(fmt.Sprintf("missing 3rd argument for %s", fname))
	}
	if cid != p.net.cfg.Channel {
		return qsccError(fmt.Sprintf("Invalid chain ID, %s", cid))
	}
	switch fname {
	case qsccGetChainInfo:
		info, err := p.ledger.ChainInfo()
		if err != nil {
			return qsccError(fmt.Sprintf("Failed to get block info with error %s", err))
		}
		return qsccSuccess(info)
	case qsccGetBlockByNumber:
		num, err := strconv.ParseUint(string(args[2]), 10, 64)
		if err != nil {
			return qsccError(fmt.Sprintf("Failed to parse block number with error %s", err))
		}
		b, err := p.ledger.Block(num)
		if err != nil {
			return qsccError(fmt.Sprintf("Failed to get block number %d, error %s", num, err))
		}
		return qsccSuccess(b)
	case qsccGetBlockByHash:
		b, err := p.blockByHash(args[2])
		if err != nil {
			return qsccError(fmt.Sprintf("Failed to get block hash %s, error %s", string(args[2]), err))
		}
		return qsccSuccess(b)
	case qsccGetTransactionByID:
		rec, err := p.ledger.TxByID(string(args[2]))
		if err != nil {
			return qsccError(fmt.Sprintf("Failed to get transaction with id %s, error %s", string(args[2]), err))
		}
		return qsccSuccess(&peer.ProcessedTransaction{TransactionEnvelope: rec.Envelope, ValidationCode: int32(rec.Code)})
	case qsccGetBlockByTxID:
		rec, err := p.ledger.TxStatus(string(args[2]))
		if err != nil {
			return qsccError(fmt.Sprintf("Failed to get block for txID %s, error %s", string(args[2]), err))
		}
		b, err := p.ledger.Block(rec.BlockNum)
		if err != nil {
			return qsccError(fmt.Sprintf("Failed to get block for txID %s, error %s", string(args[2]), err))
		}
		return qsccSuccess(b)
	}
	return qsccError(fmt.Sprintf("Requested function %s not found.", fname))
}

// blockByHash returns the block whose header hash is hash.
func (p *peerNode) blockByHash(hash []byte) (*common.Block, error) {
	b, err := p.ledger.BlockByHash(hash)
	if err != nil {
		return nil, fmt.Errorf("no such block hash [%x] in index: %w", hash, err)
	}
	return b, nil
}
