package devnet

import (
	"sync"
	"time"
)

// inflight tracks the transactions on their way to the ordering service: proposals being
// endorsed through a gateway, and endorsed transactions whose submit has not arrived yet. The
// block cutter's idle cut (Config.CutWhenIdle) asks it whether to hold a batch for them, so
// that clients endorsing at the same time share a block while a lone client's transaction is
// cut at once. An endorsed transaction is expected for at most hold after its endorsement (a
// client may never submit it); the cutter's batch timeout bounds every wait anyway.
type inflight struct {
	hold time.Duration

	mu        sync.Mutex
	endorsing int
	endorsed  map[string]time.Time // transaction ID -> when its endorsement was answered
}

func newInflight(hold time.Duration) *inflight {
	return &inflight{hold: hold, endorsed: map[string]time.Time{}}
}

// endorseStarted counts an endorsement in progress; the returned function ends it, with the
// transaction's ID when it succeeded (its submit is then expected) or "" when it failed.
func (f *inflight) endorseStarted() (done func(txID string)) {
	f.mu.Lock()
	f.endorsing++
	f.mu.Unlock()
	return func(txID string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.endorsing--
		if txID != "" {
			f.endorsed[txID] = time.Now()
		}
	}
}

// submitted notes that the transaction reached the ordering service.
func (f *inflight) submitted(txID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.endorsed, txID)
}

// expecting reports whether a transaction is being endorsed or was endorsed within hold and
// not submitted; it forgets those endorsed longer ago.
func (f *inflight) expecting() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.endorsing > 0 {
		return true
	}
	now := time.Now()
	for id, at := range f.endorsed {
		if now.Sub(at) < f.hold {
			return true
		}
		delete(f.endorsed, id)
	}
	return false
}
