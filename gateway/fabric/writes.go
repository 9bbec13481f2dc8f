package fabric

import (
	"sync"
	"time"
)

// orderWrite is the last committed write of an order the client knows of.
type orderWrite struct {
	// block is the block the write committed in.
	block uint64
	// at is when the client learnt of it.
	at time.Time
}

// orderWrites remembers the block of the last committed write of each order the client saw:
// its own writes (from their commit status) and everyone's (from the chaincode-event feed).
// An entry matters only while some peer may not have committed its block yet, so entries are
// dropped once they are older than retain.
type orderWrites struct {
	mu      sync.Mutex
	byOrder map[string]orderWrite
	// latest is the newest block one of the client's own writes committed in: calls about no
	// order in particular (lists, reports) wait for it.
	latest    uint64
	retain    time.Duration
	now       func() time.Time
	lastPrune time.Time
}

func newOrderWrites(retain time.Duration, now func() time.Time) *orderWrites {
	return &orderWrites{byOrder: map[string]orderWrite{}, retain: retain, now: now, lastPrune: now()}
}

// note records that orderID was written in block (a later block than the one known, or a
// first one). An empty orderID is ignored.
func (w *orderWrites) note(orderID string, block uint64) {
	if orderID == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if old, ok := w.byOrder[orderID]; !ok || block >= old.block {
		w.byOrder[orderID] = orderWrite{block: block, at: now}
	}
	if now.Sub(w.lastPrune) >= w.retain {
		w.prune(now)
	}
}

// noteOwn records that one of the client's own writes committed in block.
func (w *orderWrites) noteOwn(block uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.latest = max(w.latest, block)
}

// latestOwn returns the newest block one of the client's own writes committed in, and whether
// there was one.
func (w *orderWrites) latestOwn() (uint64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latest, w.latest > 0
}

// prune drops the entries older than retain.
func (w *orderWrites) prune(now time.Time) {
	for id, e := range w.byOrder {
		if now.Sub(e.at) >= w.retain {
			delete(w.byOrder, id)
		}
	}
	w.lastPrune = now
}

// last returns the last write of orderID the client knows of, if it is recent enough to be
// kept.
func (w *orderWrites) last(orderID string) (orderWrite, bool) {
	if orderID == "" {
		return orderWrite{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.byOrder[orderID]
	if !ok || w.now().Sub(e.at) >= w.retain {
		return orderWrite{}, false
	}
	return e, true
}

// size returns the number of entries kept (for tests).
func (w *orderWrites) size() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.byOrder)
}
