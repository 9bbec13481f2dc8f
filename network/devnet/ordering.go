package devnet

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/orderer"
	"github.com/xborder/xborder/network/devnet/txutil"
)

// ordererDir is the directory, inside the data directory, of the ordering service's block
// store.
const ordererDir = "orderer"

// errNotOrdering is returned by order once the ordering service stopped after a failure.
var errNotOrdering = errors.New("the ordering service stopped after a failure")

// orderingService is the devnet's ordering node. Broadcast envelopes (checked by the gateway's
// Submit) are cut into batches by the block cutter; each batch becomes the next block, signed
// by the orderer organisation's node and appended, fsync'd, to the service's own hash-chained
// block store, as Fabric's orderer writes its ledger. Peers pull the blocks from that store in
// order, as their deliver clients pull them from a Fabric orderer; the service knows nothing
// of the peers.
type orderingService struct {
	net    *Network
	store  *ledger.BlockStore
	blocks *orderedBlocks // the recent blocks as the peers share them
	cutter *orderer.Cutter

	mu            sync.Mutex
	lastConfigNum uint64 // number of the last config block
	// orderedAt holds when each block numbered firstTimed or above was appended, for the
	// peers' commit delays; blocks from an earlier run have no time (no delay applies).
	orderedAt  []time.Time
	firstTimed uint64
	err        error // set when appending failed; the service stops ordering
}

// openOrderingService opens the ordering service's block store, appending the channel's
// genesis block on first run, and starts the block cutter.
func openOrderingService(n *Network) (*orderingService, error) {
	store, err := ledger.OpenBlockStore(filepath.Join(n.cfg.DataDir, ordererDir))
	if err != nil {
		return nil, fmt.Errorf("devnet: ordering service: %w", err)
	}
	// Blocks ordered before the cutter runs (the genesis block, earlier runs) have no time.
	o := &orderingService{net: n, store: store, blocks: newOrderedBlocks(store), firstTimed: math.MaxUint64}
	if store.Height() == 0 {
		if err := o.appendGenesis(); err != nil {
			_ = store.Close()
			return nil, err
		}
	} else if err := o.loadLastConfig(); err != nil {
		_ = store.Close()
		return nil, err
	} else if err := o.updateChannelOrgs(); err != nil {
		_ = store.Close()
		return nil, err
	}
	o.firstTimed = store.Height()
	cfg := orderer.Config{
		BatchTimeout:      n.cfg.BatchTimeout,
		MaxMessageCount:   n.cfg.MaxBatch,
		PreferredMaxBytes: preferredMaxBytes,
		AbsoluteMaxBytes:  absoluteMaxBytes,
		CutWhenIdle:       n.cfg.CutWhenIdle,
	}
	if n.cfg.CutWhenIdle {
		// Hold a batch while an endorsed transaction is not submitted yet or no peer has
		// committed the last block (Network.expectingMore).
		cfg.Expecting = n.expectingMore
	}
	o.cutter = orderer.New(cfg, o.cutBlock)
	return o, nil
}

// loadLastConfig reads the last config block's number from the last block's signature
// metadata.
func (o *orderingService) loadLastConfig() error {
	last, err := o.store.Block(o.store.Height() - 1)
	if err != nil {
		return fmt.Errorf("devnet: ordering service: %w", err)
	}
	md := &common.Metadata{}
	if err := proto.Unmarshal(last.GetMetadata().GetMetadata()[common.BlockMetadataIndex_SIGNATURES], md); err != nil {
		return fmt.Errorf("devnet: ordering service: block %d signatures: %w", last.GetHeader().GetNumber(), err)
	}
	obm := &common.OrdererBlockMetadata{}
	if err := proto.Unmarshal(md.GetValue(), obm); err != nil {
		return fmt.Errorf("devnet: ordering service: block %d orderer metadata: %w", last.GetHeader().GetNumber(), err)
	}
	o.lastConfigNum = obm.GetLastConfig().GetIndex()
	return nil
}

// height returns the number of blocks ordered.
func (o *orderingService) height() uint64 { return o.store.Height() }

// order hands a marshalled, checked envelope to the block cutter.
func (o *orderingService) order(ctx context.Context, env []byte) error {
	if err := o.failure(); err != nil {
		return fmt.Errorf("%w: %w", errNotOrdering, err)
	}
	if err := o.cutter.Order(ctx, env); err != nil {
		return fmt.Errorf("order transaction: %w", err)
	}
	return nil
}

// cutBlock is the block cutter's callback: the batch becomes the next block, signed and
// appended to the block store.
func (o *orderingService) cutBlock(envs [][]byte) {
	if len(envs) == 0 || o.failure() != nil {
		return
	}
	height, lastHash := o.store.ChainInfo()
	block := ledger.NewBlock(height, lastHash, envs)
	if err := o.appendBlock(block, false); err != nil {
		o.net.logger.Error("ordering failed; the devnet stops ordering", "block", height, "error", err)
		o.mu.Lock()
		o.err = err
		o.mu.Unlock()
		return
	}
	o.net.logger.Debug("block ordered", "number", height, "txs", len(envs))
}

// appendBlock signs block as the ordering node (config marks a config block, which becomes
// the last config) and appends it to the block store.
func (o *orderingService) appendBlock(block *common.Block, config bool) error {
	o.mu.Lock()
	lastConfig := o.lastConfigNum
	o.mu.Unlock()
	if config {
		lastConfig = block.GetHeader().GetNumber()
	}
	if err := o.signBlock(block, lastConfig); err != nil {
		return err
	}
	// The time is known before the block is: a peer that sees the block appended must find
	// when, or it would take a commit delay as already passed.
	num := block.GetHeader().GetNumber()
	timed := num >= o.firstTimed
	if timed {
		o.mu.Lock()
		o.orderedAt = append(o.orderedAt, time.Now())
		o.mu.Unlock()
	}
	if err := o.store.Append(block); err != nil {
		if timed {
			o.mu.Lock()
			o.orderedAt = o.orderedAt[:len(o.orderedAt)-1]
			o.mu.Unlock()
		}
		return fmt.Errorf("append block %d: %w", num, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lastConfigNum = lastConfig
	return nil
}

// orderedTime returns when block num was appended in this run (zero for earlier runs).
func (o *orderingService) orderedTime(num uint64) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	if num < o.firstTimed || num-o.firstTimed >= uint64(len(o.orderedAt)) {
		return time.Time{}
	}
	return o.orderedAt[num-o.firstTimed]
}

// signBlock fills the block's SIGNATURES metadata as a Raft ordering node does: an
// OrdererBlockMetadata naming the last config block, signed over value || signature header ||
// block header bytes by the orderer organisation's node identity.
func (o *orderingService) signBlock(block *common.Block, lastConfig uint64) error {
	signer := o.net.ordOrg.Node.Signer
	value, err := txutil.Marshal(&common.OrdererBlockMetadata{LastConfig: &common.LastConfig{Index: lastConfig}})
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

// failure returns the error that stopped the ordering service, if any.
func (o *orderingService) failure() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// stopCutting stops accepting transactions and orders those already accepted.
func (o *orderingService) stopCutting() {
	if o.cutter != nil {
		o.cutter.Close()
	}
}

// close closes the block store; stopCutting must have returned.
func (o *orderingService) close() error {
	if err := o.store.Close(); err != nil {
		return fmt.Errorf("devnet: close the ordering service's block store: %w", err)
	}
	return nil
}
