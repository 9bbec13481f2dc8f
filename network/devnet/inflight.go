package devnet

import (
	"sync"
	"time"
)

// DefaultIdleBatchTimeout is the batch timeout xborder dev and xborder devnet use with
// Config.CutWhenIdle: how long a block may be held for the transactions the devnet expects.
// It only bounds the holding under load; a block is cut as soon as nothing is expected.
const DefaultIdleBatchTimeout = 100 * time.Millisecond

// inflight tracks the endorsed transactions whose submit has not arrived yet (for at most hold
// after their endorsement: a client may never submit one). With the commits in progress it
// tells the block cutter's idle cut whether more is coming (see Network.expectingMore).
type inflight struct {
	hold time.Duration

	mu       sync.Mutex
	endorsed map[string]time.Time // transaction ID -> when its endorsement was answered
}

func newInflight(hold time.Duration) *inflight {
	return &inflight{hold: hold, endorsed: map[string]time.Time{}}
}

// inflightPrune is the number of noted transactions beyond which endorsedTx forgets the
// expired ones (endorsements never submitted would otherwise pile up between two cuts).
const inflightPrune = 1024

// endorsedTx notes that a gateway answered the endorsement of the transaction: its submit is
// expected. A nil inflight (no idle cut) notes nothing.
func (f *inflight) endorsedTx(txID string) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if len(f.endorsed) >= inflightPrune {
		f.forgetExpired(now)
	}
	f.endorsed[txID] = now
}

// submitted notes that the transaction reached the ordering service.
func (f *inflight) submitted(txID string) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.endorsed, txID)
}

// expecting reports whether a transaction was endorsed within hold and not submitted; it
// forgets those endorsed longer ago.
func (f *inflight) expecting() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.forgetExpired(time.Now())
}

// forgetExpired drops the transactions endorsed hold or longer before now and reports whether
// any other is left; f.mu must be held.
func (f *inflight) forgetExpired(now time.Time) (left bool) {
	for id, at := range f.endorsed {
		if now.Sub(at) < f.hold {
			left = true
			continue
		}
		delete(f.endorsed, id)
	}
	return left
}

// expectingMore is the block cutter's Expecting with Config.CutWhenIdle: a batch is held while
// an endorsed transaction has not been submitted yet (its client is signing it) or while no
// peer has committed the last block cut. The second makes batches grow with the load: when
// the peers keep up, a transaction is cut at once; when they are busy committing, the
// transactions that arrive meanwhile share the next block, and every peer pays one commit
// (and its fsyncs) for all of them. The peers' commits nudge the cutter (see commitGroup).
func (n *Network) expectingMore() bool {
	return n.inflight.expecting() || n.lastBlockUncommitted()
}

// lastBlockUncommitted reports whether no peer has committed the last block ordered yet.
func (n *Network) lastBlockUncommitted() bool {
	h := n.orderer.height()
	for _, p := range n.peers {
		if p.ledger.Height() >= h {
			return false
		}
	}
	return true
}
