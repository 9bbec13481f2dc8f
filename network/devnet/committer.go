package devnet

import (
	"context"
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

// maxCommitGroup bounds how many blocks a peer that is behind commits in one ledger
// transaction, and how far its validation runs ahead of its commits.
const maxCommitGroup = 8

// runCommitter commits the ordered blocks in order until the network closes or a commit fails
// (which stops this peer's channel, as it halts a Fabric peer's). Blocks are validated ahead,
// in a goroutine of their own (runValidation), so that the validation of a block overlaps the
// commit of the ones before, as a Fabric peer's committer pipelines them. A peer that is
// behind commits the blocks that are validated and due in one ledger transaction (one fsync),
// each block still atomic.
func (p *peerNode) runCommitter() {
	c := p.commits
	defer close(c.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan *validatedBlock, maxCommitGroup)
	go p.runValidation(ctx, p.ledger.Height(), ready)
	var pending []*validatedBlock
	for {
		num := p.ledger.Height()
		if !p.awaitBlock(num) {
			return
		}
		pending = collectValidated(pending, ready)
		c.hold.Lock()
		_, paused, _, _ := c.state()
		var err error
		if !paused {
			var n int
			n, err = p.commitGroup(pending)
			pending = pending[n:]
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

// collectValidated returns pending extended with the blocks whose validation is done: it waits
// for one when pending is empty, then takes those already there, up to maxCommitGroup.
func collectValidated(pending []*validatedBlock, ready <-chan *validatedBlock) []*validatedBlock {
	if len(pending) == 0 {
		pending = append(pending, <-ready)
	}
	for len(pending) < maxCommitGroup && pending[len(pending)-1].err == nil {
		select {
		case v := <-ready:
			pending = append(pending, v)
		default:
			return pending
		}
	}
	return pending
}

// commitGroup commits the first of pending (awaitBlock found it due) and the blocks after it
// that are due too, in one ledger transaction, and returns how many it committed. A block
// whose validation failed ends the group; as the first, its error is returned.
func (p *peerNode) commitGroup(pending []*validatedBlock) (int, error) {
	if pending[0].err != nil {
		return 0, pending[0].err
	}
	group := pending[:1]
	for _, v := range pending[1:] {
		if v.err != nil || !p.due(v.block.GetHeader().GetNumber()) {
			break
		}
		group = pending[:len(group)+1]
	}
	commits := make([]ledger.BlockCommit, len(group))
	var held []string // the transactions whose private data the transient store gave
	for i, v := range group {
		pvt, txIDs := p.privateDataOf(v.block, v.res)
		commits[i] = ledger.BlockCommit{Block: v.block, PreCodes: v.res.Codes, Pvt: pvt, Parsed: v.shared.parsedTxs()}
		held = append(held, txIDs...)
	}
	first := group[0].block.GetHeader().GetNumber()
	codes, err := p.ledger.CommitBlocks(commits)
	if err != nil {
		return 0, fmt.Errorf("commit blocks %d to %d: %w", first, first+uint64(len(group))-1, err)
	}
	p.net.logger.Debug("blocks committed", "peer", p.org.Node.Name, "first", first, "blocks", len(group), "codes", codes)
	// The cutter may be holding a batch until a peer commits (see Network.expectingMore).
	p.net.orderer.cutter.Nudge()
	if err := p.transient.purge(held); err != nil {
		// The entries expire with the retention instead.
		p.net.logger.Warn("transient store not purged", "peer", p.org.Node.Name, "first", first, "error", err)
	}
	return len(group), nil
}

// due reports whether block num may be committed now: its commit delay has passed (or the
// network is closing).
func (p *peerNode) due(num uint64) bool {
	delay, _, draining, _ := p.commits.state()
	return p.delayLeft(num, delay, draining) <= 0
}

// validatedBlock is a block pulled from the ordering service and validated against the peer's
// state, ready to commit (or the error that stopped it).
type validatedBlock struct {
	shared *orderedBlock // what the peers share of the block
	block  *common.Block // the peer's own copy, which its ledger completes at commit
	res    *validator.BlockResult
	err    error
}

// runValidation pulls the ordered blocks from block from on and validates them, one ahead of
// the commits, sending each to out in order until ctx is done or a block fails. Validation
// reads key-level endorsement policies from the committed state, so a block is validated only
// once every block before it that may change a key's policy (with a metadata write or a
// delete) is committed; the other blocks before it do not change what it is validated against.
func (p *peerNode) runValidation(ctx context.Context, from uint64, out chan<- *validatedBlock) {
	ordered := p.net.orderer
	var policyBarrier uint64 // the ledger height validation must wait for
	for num := from; ; num++ {
		if ordered.store.WaitForHeight(ctx, num+1) != nil {
			return
		}
		v := &validatedBlock{}
		if v.shared, v.err = ordered.blocks.get(num); v.err == nil {
			v.block = v.shared.forPeer()
		}
		if v.err == nil && p.ledger.Height() < policyBarrier {
			if p.ledger.WaitForHeight(ctx, policyBarrier) != nil {
				return
			}
		}
		if v.err == nil {
			v.res, v.err = p.validateBlock(v.shared)
		}
		select {
		case out <- v:
		case <-ctx.Done():
			return
		}
		if v.err != nil {
			return
		}
		if mayChangeKeyPolicies(v.res) {
			policyBarrier = num + 1
		}
	}
}

// mayChangeKeyPolicies reports whether committing a validated block may change a key-level
// endorsement policy: a transaction valid so far writes key metadata, or deletes a key (and
// with it its metadata), public or private.
func mayChangeKeyPolicies(res *validator.BlockResult) bool {
	for i, tx := range res.Txs {
		if tx == nil || res.Codes[i] != peer.TxValidationCode_VALID {
			continue
		}
		for _, ns := range tx.NsRWSets {
			if nsMayChangeKeyPolicies(ns) {
				return true
			}
		}
	}
	return false
}

// nsMayChangeKeyPolicies applies mayChangeKeyPolicies to one namespace's writes.
func nsMayChangeKeyPolicies(ns *validator.NsRWSet) bool {
	if len(ns.KV.GetMetadataWrites()) > 0 {
		return true
	}
	for _, w := range ns.KV.GetWrites() {
		if w.GetIsDelete() || len(w.GetValue()) == 0 {
			return true
		}
	}
	for _, c := range ns.Collections {
		if len(c.Hashed.GetMetadataWrites()) > 0 {
			return true
		}
		for _, w := range c.Hashed.GetHashedWrites() {
			if w.GetIsDelete() || w.GetIsPurge() || len(w.GetValueHash()) == 0 {
				return true
			}
		}
	}
	return false
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

// validateBlock validates every transaction of block against the peer's committed state:
// key-level endorsement policies are read from a snapshot of the ledger as the previous block
// left it. Another peer's validation of the block is taken when it read the same from its
// state (orderedBlock.validate). A state that cannot be read fails the block, as it halts a
// Fabric peer's channel.
func (p *peerNode) validateBlock(ob *orderedBlock) (*validator.BlockResult, error) {
	block := ob.block
	snap, err := p.ledger.NewSnapshot()
	if err != nil {
		return nil, fmt.Errorf("validate block %d: %w", block.GetHeader().GetNumber(), err)
	}
	defer snap.Release()
	res, err := ob.validate(p.net.validator, p.net.mgr.Generation(), validator.MetadataFuncs{
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
// held names the transactions the transient store had data for, to purge after the commit.
func (p *peerNode) privateDataOf(block *common.Block, res *validator.BlockResult) (pvt map[uint64]*rwset.TxPvtReadWriteSet, held []string) {
	pvt = map[uint64]*rwset.TxPvtReadWriteSet{}
	var pulled map[string]map[uint64]*rwset.TxPvtReadWriteSet // by peer, fetched once
	for i, txID := range res.TxIDs {
		own := p.transient.get(txID)
		if own != nil {
			held = append(held, txID)
		}
		if res.Codes[i] != peer.TxValidationCode_VALID || res.Txs[i] == nil {
			continue // private write sets of invalid transactions are dropped with them
		}
		want := p.eligibleCollections(res.Txs[i])
		if len(want) == 0 {
			continue
		}
		got := selectCollections(own, want)
		for _, missing := range missingCollections(got, want) {
			got = mergePrivate(got, p.pullPrivateData(block, uint64(i), missing, &pulled))
		}
		if got != nil {
			pvt[uint64(i)] = got
		}
	}
	return pvt, held
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
func (p *peerNode) pullPrivateData(block *common.Block, txNum uint64, c collRef, pulled *map[string]map[uint64]*rwset.TxPvtReadWriteSet) *rwset.TxPvtReadWriteSet {
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
			if stored, err = q.ledger.PrivateWriteSets(num); err != nil {
				// As a peer whose pull request goes unanswered: try the next member.
				p.net.logger.Warn("pulling private data failed", "peer", p.org.Node.Name, "from", q.org.Node.Name, "block", num, "error", err)
			}
			(*pulled)[q.mspID()] = stored
		}
		if got := selectCollections(stored[txNum], []collRef{c}); got != nil {
			p.net.logger.Debug("private data pulled from a member peer", "peer", p.org.Node.Name, "from", q.org.Node.Name, "block", num, "tx", txNum)
			return got
		}
	}
	return nil
}
