package devnet

import (
	"bytes"
	"sync"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/txutil"
	"github.com/xborder/xborder/network/devnet/validator"
)

// maxSharedBlocks bounds how many recently ordered blocks orderedBlocks keeps.
const maxSharedBlocks = 16

// orderedBlocks holds the recently ordered blocks with the work every peer would otherwise
// repeat on the same bytes: unmarshalling the block, decoding its transactions for the
// ledger, validating it and building its filtered form for delivery. Each peer still
// validates and commits against its own ledger: a validation is shared only with a peer whose
// state gives the same answers to every read it made (see orderedBlock.validate), so a peer
// whose state differed would validate on its own, as a Fabric peer does. A peer far behind
// (more than maxSharedBlocks) loads and parses on its own.
type orderedBlocks struct {
	store *ledger.BlockStore

	mu     sync.Mutex
	blocks map[uint64]*orderedBlock
}

func newOrderedBlocks(store *ledger.BlockStore) *orderedBlocks {
	return &orderedBlocks{store: store, blocks: map[uint64]*orderedBlock{}}
}

// get returns ordered block num, loading it from the block store the first time.
func (c *orderedBlocks) get(num uint64) (*orderedBlock, error) {
	c.mu.Lock()
	b, ok := c.blocks[num]
	if !ok {
		b = &orderedBlock{loaded: make(chan struct{})}
		c.blocks[num] = b
		c.evict()
	}
	c.mu.Unlock()
	if ok {
		<-b.loaded
	} else {
		b.block, b.err = c.store.Block(num)
		close(b.loaded)
	}
	if b.err != nil {
		c.mu.Lock()
		if c.blocks[num] == b {
			delete(c.blocks, num) // let a later call try again
		}
		c.mu.Unlock()
		return nil, b.err
	}
	return b, nil
}

// peek returns ordered block num if it is held and loaded, else nil.
func (c *orderedBlocks) peek(num uint64) *orderedBlock {
	c.mu.Lock()
	b := c.blocks[num]
	c.mu.Unlock()
	if b == nil {
		return nil
	}
	select {
	case <-b.loaded:
		if b.err != nil {
			return nil
		}
		return b
	default:
		return nil
	}
}

// evict drops the lowest-numbered blocks beyond maxSharedBlocks; c.mu must be held.
func (c *orderedBlocks) evict() {
	for len(c.blocks) > maxSharedBlocks {
		lowest, first := uint64(0), true
		for n := range c.blocks {
			if first || n < lowest {
				lowest, first = n, false
			}
		}
		delete(c.blocks, lowest)
	}
}

// orderedBlock is one ordered block and what the peers share of it. Nothing reachable from
// it is modified after it is built.
type orderedBlock struct {
	loaded chan struct{} // closed once block or err is set
	block  *common.Block
	err    error

	parseOnce sync.Once
	parsed    *ledger.ParsedBlock

	mu         sync.Mutex // held while validating, so that peers wait for one validation
	validation *sharedValidation

	filteredMu sync.Mutex
	filtered   map[string]*peer.FilteredBlock // by TRANSACTIONS_FILTER
}

// forPeer returns the block for one peer's committer: its own common.Block sharing the header
// and data (the ledger sets the committed metadata on it).
func (b *orderedBlock) forPeer() *common.Block {
	return &common.Block{Header: b.block.GetHeader(), Data: b.block.GetData(), Metadata: b.block.GetMetadata()}
}

// parsedTxs returns the block's transactions decoded for the ledger's commit.
func (b *orderedBlock) parsedTxs() *ledger.ParsedBlock {
	b.parseOnce.Do(func() { b.parsed = ledger.ParseBlock(b.block) })
	return b.parsed
}

// sharedValidation is a validation of the block and what it read of the validating peer's
// state; it stands for another peer's validation while the MSP's trust is unchanged and that
// peer's state answers every read the same.
type sharedValidation struct {
	generation uint64
	res        *validator.BlockResult
	reads      []metadataRead
}

// validate returns the validation of the block against st: the shared one if it holds for st,
// else a new one (which is then shared).
func (b *orderedBlock) validate(v *validator.Validator, generation uint64, st validator.StateMetadata) (*validator.BlockResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.validation; s != nil && s.generation == generation && readsHold(s.reads, st) {
		return s.res, nil
	}
	rec := &recordingState{st: st}
	res, err := v.ValidateBlockWithState(b.block, rec)
	if err != nil {
		return res, err
	}
	b.validation = &sharedValidation{generation: generation, res: res, reads: rec.reads}
	return res, nil
}

// filteredBlock returns the filtered form of committed, the block as a peer committed it,
// built once for every peer that committed it with the same validation codes.
func (b *orderedBlock) filteredBlock(channel string, committed *common.Block) (*peer.FilteredBlock, error) {
	key := string(committed.GetMetadata().GetMetadata()[common.BlockMetadataIndex_TRANSACTIONS_FILTER])
	b.filteredMu.Lock()
	defer b.filteredMu.Unlock()
	if fb, ok := b.filtered[key]; ok {
		return fb, nil
	}
	fb, err := txutil.FilteredBlock(channel, committed)
	if err != nil {
		return nil, err
	}
	if b.filtered == nil {
		b.filtered = map[string]*peer.FilteredBlock{}
	}
	b.filtered[key] = fb
	return fb, nil
}

// metadataRead is one read of key metadata a validation made, with its answer.
type metadataRead struct {
	private  bool
	ns, coll string
	key      string // the public key, or the private key's hash
	value    []byte
}

// readsHold reports whether st answers every read as it was answered.
func readsHold(reads []metadataRead, st validator.StateMetadata) bool {
	for _, r := range reads {
		var v []byte
		var err error
		if r.private {
			v, err = st.PrivateMetadata(r.ns, r.coll, []byte(r.key))
		} else {
			v, err = st.PublicMetadata(r.ns, r.key)
		}
		if err != nil || !bytes.Equal(v, r.value) {
			return false
		}
	}
	return true
}

// recordingState is a validator.StateMetadata that records the reads answered; the validator
// reads from several goroutines.
type recordingState struct {
	st    validator.StateMetadata
	mu    sync.Mutex
	reads []metadataRead
}

// PublicMetadata implements validator.StateMetadata.
func (r *recordingState) PublicMetadata(ns, key string) ([]byte, error) {
	v, err := r.st.PublicMetadata(ns, key)
	if err == nil {
		r.record(metadataRead{ns: ns, key: key, value: v})
	}
	return v, err
}

// PrivateMetadata implements validator.StateMetadata.
func (r *recordingState) PrivateMetadata(ns, coll string, keyHash []byte) ([]byte, error) {
	v, err := r.st.PrivateMetadata(ns, coll, keyHash)
	if err == nil {
		r.record(metadataRead{private: true, ns: ns, coll: coll, key: string(keyHash), value: v})
	}
	return v, err
}

func (r *recordingState) record(m metadataRead) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads = append(r.reads, m)
}
