package devnet

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/txutil"
	"github.com/xborder/xborder/network/devnet/validator"
)

// errNotOrdering is returned by order once the network stopped ordering after a failed commit.
var errNotOrdering = errors.New("the ordering service stopped after a failed commit")

// order hands a marshalled, checked envelope to the ordering service.
func (n *Network) order(ctx context.Context, env []byte) error {
	if err := n.commitFailure(); err != nil {
		return fmt.Errorf("%w: %w", errNotOrdering, err)
	}
	if err := n.cutter.Order(ctx, env); err != nil {
		return fmt.Errorf("order transaction: %w", err)
	}
	return nil
}

// commitBatch is the orderer's callback: it turns a batch of envelopes into the next block,
// signs it as the ordering node, validates every transaction, commits the block with the
// private data held for its transactions, and so wakes commit-status waiters and event
// streams (they wait on the ledger).
func (n *Network) commitBatch(envs [][]byte) {
	if len(envs) == 0 {
		return
	}
	n.commitMu.Lock()
	defer n.commitMu.Unlock()
	if n.commitFailure() != nil {
		return
	}
	if err := n.commitBlock(envs); err != nil {
		n.logger.Error("commit failed; the devnet stops ordering", "error", err)
		n.setCommitErr(err)
	}
}

func (n *Network) commitBlock(envs [][]byte) error {
	info, err := n.ledger.ChainInfo()
	if err != nil {
		return fmt.Errorf("read chain info: %w", err)
	}
	block := ledger.NewBlock(info.GetHeight(), info.GetCurrentBlockHash(), envs)
	if err := n.signBlock(block); err != nil {
		return err
	}
	txIDs, codes, err := n.validateBlock(block)
	if err != nil {
		return err
	}
	pvt := map[uint64]*rwset.TxPvtReadWriteSet{}
	for i := range envs {
		// Private write sets of invalid transactions are dropped with them.
		if p := n.transient.take(txIDs[i]); p != nil && codes[i] == peer.TxValidationCode_VALID {
			pvt[uint64(i)] = p
		}
	}
	// Store the private data for delivery first, so that it is there once the block is
	// visible; the store matches it to the committed block by data hash.
	if err := n.pvtBlocks.put(block, pvt); err != nil {
		return err
	}
	final, err := n.ledger.Commit(block, codes, pvt)
	if err != nil {
		return fmt.Errorf("commit block %d: %w", block.GetHeader().GetNumber(), err)
	}
	n.logger.Debug("block committed", "number", block.GetHeader().GetNumber(), "txs", len(envs), "codes", final)
	return nil
}

// validateBlock validates every transaction of block against the committed state: key-level
// endorsement policies are read from a snapshot of the ledger as the previous block left it
// (blocks are validated and committed one at a time). A state that cannot be read fails the
// block, as it halts a Fabric peer's channel.
func (n *Network) validateBlock(block *common.Block) ([]string, []peer.TxValidationCode, error) {
	snap, err := n.ledger.NewSnapshot()
	if err != nil {
		return nil, nil, fmt.Errorf("validate block %d: %w", block.GetHeader().GetNumber(), err)
	}
	defer snap.Release()
	res, err := n.validator.ValidateBlockWithState(block, validator.MetadataFuncs{
		Public: func(ns, key string) ([]byte, error) {
			return metadataOf(snap.GetState(ns, key))
		},
		Private: func(ns, coll string, keyHash []byte) ([]byte, error) {
			return metadataOf(snap.GetPrivateDataHash(ns, coll, keyHash))
		},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("validate block %d: %w", block.GetHeader().GetNumber(), err)
	}
	return res.TxIDs, res.Codes, nil
}

// metadataOf returns the metadata of a state entry read from the ledger (nil if it is absent).
func metadataOf(vv *ledger.VersionedValue, err error) ([]byte, error) {
	if err != nil || vv == nil {
		return nil, err
	}
	return vv.Metadata, nil
}

// signBlock fills the block's SIGNATURES metadata as a Raft ordering node does: an
// OrdererBlockMetadata naming the last config block, signed over value || signature header ||
// block header bytes by the orderer organisation's node identity.
func (n *Network) signBlock(block *common.Block) error {
	signer := n.ordOrg.Node.Signer
	value, err := txutil.Marshal(&common.OrdererBlockMetadata{LastConfig: &common.LastConfig{Index: n.ledger.LastConfigIndex()}})
	if err != nil {
		return err
	}
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("block nonce: %w", err)
	}
	sh, err := txutil.Marshal(&common.SignatureHeader{Creator: signer.Serialize(), Nonce: nonce})
	if err != nil {
		return err
	}
	msg := make([]byte, 0, len(value)+len(sh)+128)
	msg = append(msg, value...)
	msg = append(msg, sh...)
	msg = append(msg, ledger.BlockHeaderBytes(block.GetHeader())...)
	sig, err := signer.Sign(msg)
	if err != nil {
		return fmt.Errorf("sign block %d: %w", block.GetHeader().GetNumber(), err)
	}
	md, err := txutil.Marshal(&common.Metadata{
		Value:      value,
		Signatures: []*common.MetadataSignature{{SignatureHeader: sh, Signature: sig}},
	})
	if err != nil {
		return err
	}
	block.Metadata.Metadata[common.BlockMetadataIndex_SIGNATURES] = md
	return nil
}
