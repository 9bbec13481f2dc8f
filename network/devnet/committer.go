package devnet

import (
	"fmt"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/validator"
)

// commitControl is what tests and tools control of a peer's committer: a commit delay and a
// pause. It also tells the committer to stop.
type commitControl struct {
	// hold is held while a block is committed: pause takes it, so that no commit is in
	// progress once pause returns.
	hold sync.Mutex

	mu       sync.Mutex
	delay    time.Duration
	paused   bool
	draining bool          // the network is closing: commit what is ordered, without delay, and stop
	started  bool          // the committer goroutine was started
	wake     chan struct{} // closed and replaced when any of the above changes
	done     chan struct{} // closed when the committer returned
	err      error         // the failure that stopped the committer
}

func newCommitControl(delay time.Duration) *commitControl {
	return &commitControl{delay: delay, wake: make(chan struct{}), done: make(chan struct{})}
}

// changed wakes the committer; c.mu must be held.
func (c *commitControl) changed() {
	close(c.wake)
	c.wake = make(chan struct{})
}

func (c *commitControl) setDelay(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.delay = d
	c.changed()
}

// pause returns once no commit is in progress and none will start until resume.
func (c *commitControl) pause() {
	c.hold.Lock()
	defer c.hold.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = true
	c.changed()
}

func (c *commitControl) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paused = false
	c.changed()
}

// state returns the control's settings and the channel that is closed when they change.
func (c *commitControl) state() (delay time.Duration, paused, draining bool, wake <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.delay, c.paused, c.draining, c.wake
}

// failure returns the error that stopped the committer, if any.
func (c *commitControl) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// startCommitter starts the goroutine that commits the ordering service's blocks to the
// peer's ledger, in order, as they are ordered.
func (p *peerNode) startCommitter() {
	p.commits.mu.Lock()
	p.commits.started = true
	p.commits.mu.Unlock()
	go p.runCommitter()
}

// stopCommitter lets the committer commit what is ordered (without delay, unless the peer is
// paused), stops it and returns the failure that stopped it, if any.
func (p *peerNode) stopCommitter() error {
	c := p.commits
	c.mu.Lock()
	c.draining = true
	c.changed()
	started := c.started
	c.mu.Unlock()
	if !started {
		return nil
	}
	<-c.done
	return c.failure()
}

// runCommitter commits the ordered blocks one after the other until the network closes or a
// commit fails (which stops this peer's channel, as it halts a Fabric peer's).
func (p *peerNode) runCommitter() {
	c := p.commits
	defer close(c.done)
	for {
		num := p.ledger.Height()
		if !p.awaitBlock(num) {
			return
		}
		c.hold.Lock()
		_, paused, _, _ := c.state()
		var err error
		if !paused {
			err = p.commitNext(num)
		}
		c.hold.Unlock()
		if err != nil {
			p.net.logger.Error("commit failed; the peer stops committing", "peer", p.org.Node.Name, "block", num, "error", err)
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
	}
}

// awaitBlock waits until block num is ordered, the peer is not paused and the block's commit
// delay has passed. It returns false when the committer must stop: the network is closing and
// the peer has committed what was ordered (or is paused).
func (p *peerNode) awaitBlock(num uint64) bool {
	for {
		delay, paused, draining, wake := p.commits.state()
		ordered, height, closed := p.net.orderer.store.Changed()
		if draining && (paused || num >= height || closed) {
			return false
		}
		wait := time.Duration(-1) // until something changes
		if !paused && num < height {
			wait = p.delayLeft(num, delay, draining)
			if wait <= 0 {
				return true
			}
		}
		waitChange(wait, wake, ordered)
	}
}

// delayLeft returns how long block num must still wait before the peer commits it.
func (p *peerNode) delayLeft(num uint64, delay time.Duration, draining bool) time.Duration {
	if draining || delay <= 0 {
		return 0
	}
	at := p.net.orderer.orderedTime(num)
	if at.IsZero() {
		return 0
	}
	return time.Until(at.Add(delay))
}

// waitChange waits until either channel is closed or, unless d is negative, d has passed.
func waitChange(d time.Duration, a, b <-chan struct{}) {
	if d < 0 {
		select {
		case <-a:
		case <-b:
		}
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-a:
	case <-b:
	case <-t.C:
	}
}

// commitNext commits block num of the ordering service to the peer's ledger: it validates
// every transaction against the peer's own state, gathers the private data the peer is
// eligible for, stores it and commits the block.
func (p *peerNode) commitNext(num uint64) error {
	block, err := p.net.orderer.store.Block(num)
	if err != nil {
		return fmt.Errorf("pull block %d from the ordering service: %w", num, err)
	}
	res, err := p.validateBlock(block)
	if err != nil {
		return err
	}
	pvt, err := p.privateDataOf(block, res)
	if err != nil {
		return err
	}
	// Store the private data for delivery first, so that it is there once the block is
	// visible; the store matches it to the committed block by data hash.
	if err := p.pvtBlocks.put(block, pvt); err != nil {
		return err
	}
	final, err := p.ledger.Commit(block, res.Codes, pvt)
	if err != nil {
		return fmt.Errorf("commit block %d: %w", num, err)
	}
	p.net.logger.Debug("block committed", "peer", p.org.Node.Name, "number", num, "txs", len(final), "codes", final)
	return nil
}

// validateBlock validates every transaction of block against the peer's committed state:
// key-level endorsement policies are read from a snapshot of the ledger as the previous block
// left it. A state that cannot be read fails the block, as it halts a Fabric peer's channel.
func (p *peerNode) validateBlock(block *common.Block) (*validator.BlockResult, error) {
	snap, err := p.ledger.NewSnapshot()
	if err != nil {
		return nil, fmt.Errorf("validate block %d: %w", block.GetHeader().GetNumber(), err)
	}
	defer snap.Release()
	res, err := p.net.validator.ValidateBlockWithState(block, validator.MetadataFuncs{
		Public: func(ns, key string) ([]byte, error) {
			return metadataOf(snap.GetState(ns, key))
		},
		Private: func(ns, coll string, keyHash []byte) ([]byte, error) {
			return metadataOf(snap.GetPrivateDataHash(ns, coll, keyHash))
		},
	})
	if err != nil {
		return nil, fmt.Errorf("validate block %d: %w", block.GetHeader().GetNumber(), err)
	}
	return res, nil
}

// metadataOf returns the metadata of a state entry read from the ledger (nil if it is absent).
func metadataOf(vv *ledger.VersionedValue, err error) ([]byte, error) {
	if err != nil || vv == nil {
		return nil, err
	}
	return vv.Metadata, nil
}

// privateDataOf gathers the private write sets of the block's valid transactions for the
// collections the peer's organisation is a member of, as Fabric's private data coordinator
// does at commit: from the peer's transient store (where the endorsing peers put them), and
// what is missing there from another member peer that has already committed the block with
// it (Fabric pulls it from other peers; here the peers share a process). What no member peer
// holds is committed as hashes only: reads of those keys report the private data unavailable.
func (p *peerNode) privateDataOf(block *common.Block, res *validator.BlockResult) (map[uint64]*rwset.TxPvtReadWriteSet, error) {
	pvt := map[uint64]*rwset.TxPvtReadWriteSet{}
	var pulled map[string]map[uint64]*rwset.TxPvtReadWriteSet // by peer, fetched once
	for i, txID := range res.TxIDs {
		own := p.transient.take(txID)
		if res.Codes[i] != peer.TxValidationCode_VALID || res.Txs[i] == nil {
			continue // private write sets of invalid transactions are dropped with them
		}
		want := p.eligibleCollections(res.Txs[i])
		if len(want) == 0 {
			continue
		}
		got := selectCollections(own, want)
		for _, missing := range missingCollections(got, want) {
			from, err := p.pullPrivateData(block, uint64(i), missing, &pulled)
			if err != nil {
				return nil, err
			}
			got = mergePrivate(got, from)
		}
		if got != nil {
			pvt[uint64(i)] = got
		}
	}
	return pvt, nil
}

// eligibleCollections returns the collections ("namespace/collection") tx wrote that the
// peer's organisation is a member of.
func (p *peerNode) eligibleCollections(tx *validator.EndorserTx) []collRef {
	var out []collRef
	for _, ns := range tx.NsRWSets {
		cc, ok := p.net.chaincodes[ns.Namespace]
		if !ok {
			continue
		}
		for _, c := range ns.Collections {
			if cc.isMember(c.Name, p.mspID()) {
				out = append(out, collRef{ns.Namespace, c.Name})
			}
		}
	}
	return out
}

// collRef names a collection of a namespace.
type collRef struct{ ns, coll string }

// selectCollections returns the write sets of pvt for the collections in want (nil if none).
func selectCollections(pvt *rwset.TxPvtReadWriteSet, want []collRef) *rwset.TxPvtReadWriteSet {
	var out *rwset.TxPvtReadWriteSet
	for _, ns := range pvt.GetNsPvtRwset() {
		var keep *rwset.NsPvtReadWriteSet
		for _, c := range ns.GetCollectionPvtRwset() {
			if !containsColl(want, collRef{ns.GetNamespace(), c.GetCollectionName()}) {
				continue
			}
			if keep == nil {
				keep = &rwset.NsPvtReadWriteSet{Namespace: ns.GetNamespace()}
			}
			keep.CollectionPvtRwset = append(keep.CollectionPvtRwset, c)
		}
		if keep != nil {
			if out == nil {
				out = &rwset.TxPvtReadWriteSet{DataModel: pvt.GetDataModel()}
			}
			out.NsPvtRwset = append(out.NsPvtRwset, keep)
		}
	}
	return out
}

func containsColl(set []collRef, c collRef) bool {
	for _, s := range set {
		if s == c {
			return true
		}
	}
	return false
}

// missingCollections returns the collections of want that have no write set in got.
func missingCollections(got *rwset.TxPvtReadWriteSet, want []collRef) []collRef {
	var out []collRef
	for _, w := range want {
		if selectCollections(got, []collRef{w}) == nil {
			out = append(out, w)
		}
	}
	return out
}

// mergePrivate adds the namespaces of b to a (either may be nil).
func mergePrivate(a, b *rwset.TxPvtReadWriteSet) *rwset.TxPvtReadWriteSet {
	switch {
	case b == nil:
		return a
	case a == nil:
		return b
	}
	a.NsPvtRwset = append(a.NsPvtRwset, b.GetNsPvtRwset()...)
	return a
}

// pullPrivateData returns the write set of collection c of transaction txNum of block from a
// peer of another member organisation that has committed the block with it, or nil. The
// blocks' private data read so far are kept in pulled.
func (p *peerNode) pullPrivateData(block *common.Block, txNum uint64, c collRef, pulled *map[string]map[uint64]*rwset.TxPvtReadWriteSet) (*rwset.TxPvtReadWriteSet, error) {
	num := block.GetHeader().GetNumber()
	for _, q := range p.net.peers {
		cc := p.net.chaincodes[c.ns]
		if q == p || !cc.isMember(c.coll, q.mspID()) || q.ledger.Height() <= num {
			continue
		}
		if *pulled == nil {
			*pulled = map[string]map[uint64]*rwset.TxPvtReadWriteSet{}
		}
		stored, ok := (*pulled)[q.mspID()]
		if !ok {
			var err error
			if stored, err = q.pvtBlocks.get(block.GetHeader()); err != nil {
				return nil, fmt.Errorf("pull private data of block %d from %s: %w", num, q.org.Node.Name, err)
			}
			(*pulled)[q.mspID()] = stored
		}
		if got := selectCollections(stored[txNum], []collRef{c}); got != nil {
			p.net.logger.Debug("private data pulled from a member peer", "peer", p.org.Node.Name, "from", q.org.Node.Name, "block", num, "tx", txNum)
			return got, nil
		}
	}
	return nil, nil
}
