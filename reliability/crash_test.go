package reliability_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/testkit"
)

// crashWrite is one write of the crash load, kept until it is acknowledged.
type crashWrite struct {
	OrderID, Op string
	Org, Path   string
	Body        any
	Key         string
}

// crashLoad creates and pays orders from concurrent clients, with an Idempotency-Key on every
// write, until the gateway dies.
type crashLoad struct {
	c *testkit.Client

	mu       sync.Mutex
	acked    map[string]ack        // by idempotency key
	pending  []crashWrite          // sent, never answered (the process died) or refused with 5xx
	outage   []reply               // 5xx answers
	answers  map[string]reply      // first 2xx answers by idempotency key (when not nil)
	sent     map[string]crashWrite // acknowledged writes by idempotency key
	failures []string
}

// acknowledge records a 2xx answer to w; l.mu is held.
func (l *crashLoad) acknowledge(w crashWrite, r reply) {
	l.acked[w.Key] = ack{OrderID: w.OrderID, Op: w.Op, TxID: r.TxID()}
	if l.answers != nil {
		if _, ok := l.answers[w.Key]; !ok {
			l.answers[w.Key] = r
		}
	}
	if l.sent == nil {
		l.sent = map[string]crashWrite{}
	}
	l.sent[w.Key] = w
}

func (l *crashLoad) send(w crashWrite) bool {
	r, err := l.c.Do(context.Background(), w.Org, "POST", w.Path, w.Body, "Idempotency-Key", w.Key)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil:
		l.pending = append(l.pending, w)
		return false
	case r.OK():
		l.acknowledge(w, r)
		return true
	case r.Status == http.StatusServiceUnavailable || r.Status == http.StatusBadGateway || r.Status == http.StatusGatewayTimeout:
		// The gateway or the chaincode is down: not acknowledged, may be retried.
		l.pending = append(l.pending, w)
		l.outage = append(l.outage, r)
		if r.Header.Get("Content-Type") != "application/problem+json" {
			l.failures = append(l.failures, fmt.Sprintf("%s %s: 5xx is not problem+json: %s", w.OrderID, w.Op, r))
		}
		return false
	default:
		l.failures = append(l.failures, fmt.Sprintf("%s %s: %s", w.OrderID, w.Op, r))
		return false
	}
}

// run writes until a transport error; client g of round.
func (l *crashLoad) run(round, g int) { l.runTagged(fmt.Sprintf("crash-%d-%d", round, g), nil) }

// runTagged creates and pays orders named after tag until a write is not acknowledged or stop
// (if not nil) is set.
func (l *crashLoad) runTagged(tag string, stop *atomic.Bool) {
	for n := 0; stop == nil || !stop.Load(); n++ {
		spec := newOrderSpec(fmt.Sprintf("%s-%04d", tag, n), "crash-m", 1+int64(n%3), 1999, 500)
		create := crashWrite{OrderID: spec.ID, Op: "create", Org: merchant, Path: "/api/v1/orders", Body: spec.CreateBody(), Key: "c-" + spec.ID}
		if !l.send(create) {
			return
		}
		pay := crashWrite{OrderID: spec.ID, Op: "pay", Org: bank, Path: "/api/v1/orders/" + spec.ID + "/payment", Body: spec.PaymentBody("p-" + spec.ID), Key: "p-" + spec.ID}
		if !l.send(pay) {
			return
		}
	}
}

// verifyAcked checks that every acknowledged write is a VALID transaction and visible in its
// order's state.
func (l *crashLoad) verifyAcked(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	acks := make([]ack, 0, len(l.acked))
	for _, a := range l.acked {
		acks = append(acks, a)
	}
	l.mu.Unlock()
	for _, a := range acks {
		tx := mustObject(t, l.c, http.StatusOK, customs, "GET", "/api/v1/transactions/"+a.TxID, nil)
		require.Equal(t, true, tx["valid"], "acknowledged %s %s lost: %v", a.OrderID, a.Op, tx)
		o := mustObject(t, l.c, http.StatusOK, customs, "GET", "/api/v1/orders/"+a.OrderID, nil)
		if a.Op == "pay" {
			require.Equal(t, "PAID", o["status"], "order %s", a.OrderID)
		}
	}
}

// verifyReplays repeats every acknowledged write with its Idempotency-Key: the answer must be
// the first one (status, body, txId), marked Idempotent-Replayed, also after kill -9.
func (l *crashLoad) verifyReplays(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	writes := slices.Collect(maps.Values(l.sent))
	l.mu.Unlock()
	for _, w := range writes {
		r, err := l.c.Do(context.Background(), w.Org, "POST", w.Path, w.Body, "Idempotency-Key", w.Key)
		require.NoError(t, err)
		first := l.answers[w.Key]
		require.Equal(t, first.Status, r.Status, "replay of %s %s: %s", w.OrderID, w.Op, r)
		require.Equal(t, string(first.Body), string(r.Body), "replay of %s %s", w.OrderID, w.Op)
		require.Equal(t, first.TxID(), r.TxID(), "replay of %s %s", w.OrderID, w.Op)
		require.Equal(t, "true", r.Header.Get("Idempotent-Replayed"), "replay of %s %s", w.OrderID, w.Op)
	}
}

// retryPending repeats every unanswered write with its Idempotency-Key. It returns how many
// retries were refused as duplicates because the first attempt had committed although its
// answer was never recorded.
func (l *crashLoad) retryPending(t *testing.T) (lostAnswers int) {
	t.Helper()
	l.mu.Lock()
	pending := l.pending
	l.pending = nil
	l.mu.Unlock()
	for _, w := range pending {
		r, err := l.c.Do(context.Background(), w.Org, "POST", w.Path, w.Body, "Idempotency-Key", w.Key)
		require.NoError(t, err)
		switch {
		case r.OK():
			l.mu.Lock()
			l.acknowledge(w, r)
			l.mu.Unlock()
		case r.Status == http.StatusConflict:
			// The write committed before the kill but the gateway had not stored its answer:
			// the retry makes no second transaction (the chaincode refuses it), but the client
			// does not get the first answer back.
			requireProblem(t, r, http.StatusConflict, "CONFLICT", "")
			lostAnswers++
		default:
			t.Fatalf("retry of %s %s after restart: %s", w.OrderID, w.Op, r)
		}
	}
	return lostAnswers
}

// TestCrashRecovery kills `xborder dev` with SIGKILL at random moments under load, several
// times. After each kill the devnet ledger's hash chain verifies; after each restart every
// acknowledged write is on the ledger, unanswered writes retried with their Idempotency-Key make
// no second transaction, and the event stream resumed with Last-Event-ID has no gap and no
// repeat: at the end it holds exactly one event for every valid transaction of the ledger.
func TestCrashRecovery(t *testing.T) {
	skipShort(t)
	bin := buildBinary(t, "cmd/xborder")
	dataDir := t.TempDir()
	out := &testkit.SyncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("xborder dev's log (tail):\n%s", tail(out.String(), 12000))
		}
	})
	rng := rand.New(rand.NewPCG(*relSeed, 0xC7A54))
	rounds := crashRoundCount()

	proc := startDev(t, bin, dataDir, out)
	c := newRESTClient(proc.url, proc.creds)
	load := &crashLoad{c: c, acked: map[string]ack{}, answers: map[string]reply{}}
	events := openEventStream(t, c, "0-0")
	lost := 0
	var lastHeight uint64
	for round := range rounds {
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() { defer wg.Done(); load.run(round, g) }()
		}
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		proc.kill(t)
		wg.Wait()
		require.Empty(t, load.failures)

		height, _ := inspectLedger(t, dataDir)
		require.GreaterOrEqual(t, height, lastHeight, "blocks disappeared")
		lastHeight = height

		proc = startDev(t, bin, dataDir, out)
		c.Retarget(proc.url, proc.creds)
		events.resume(t, 30*time.Second)
		load.mu.Lock()
		pending := len(load.pending)
		load.mu.Unlock()
		lostNow := load.retryPending(t)
		lost += lostNow
		load.verifyAcked(t)
		load.verifyReplays(t)
		t.Logf("round %d: height %d, %d acknowledged writes so far, %d unanswered writes retried (%d first answers lost)", round, height, len(load.acked), pending, lostNow)
	}

	// Every valid transaction of the ledger has exactly one event in the resumed stream.
	proc.kill(t)
	_, txs := inspectLedger(t, dataDir)
	proc = startDev(t, bin, dataDir, out)
	c.Retarget(proc.url, proc.creds)
	events.resume(t, 30*time.Second)
	load.verifyAcked(t)
	want := map[string]bool{}
	for _, tx := range txs {
		if tx.Type == common.HeaderType_ENDORSER_TRANSACTION && tx.Code == peer.TxValidationCode_VALID {
			want[tx.TxID] = true
		}
	}
	for _, a := range load.acked {
		require.True(t, want[a.TxID], "acknowledged %s %s is not a valid transaction of the ledger", a.OrderID, a.Op)
	}
	got := events.waitFor(t, want, 60*time.Second)
	requireOrderedUnique(t, got)
	for _, ev := range got {
		require.True(t, want[ev.TxID()], "event %s of tx %s that is not a valid transaction", ev.ID, ev.TxID())
	}
	require.Len(t, got, len(want), "one event per valid transaction")
	t.Logf("crash: %d rounds, %d valid transactions, %d events, %d retried writes whose first answer was lost", rounds, len(want), len(got), lost)

	t.Run("no secrets or private data in the process logs", func(t *testing.T) {
		secrets := slices.Collect(maps.Values(proc.creds))
		secrets = append(secrets, keyFiles(t, filepath.Join(dataDir, "devnet"))...)
		for _, a := range load.acked {
			secrets = append(secrets, newOrderSpec(a.OrderID, "crash-m", 1, 1, 0).PrivateStrings()...)
		}
		requireNoSecrets(t, out.String(), secrets)
	})
	proc.kill(t)
}

// TestIdempotentRetryAfterCrash checks docs/design.md §7's promise that a repeated write with the same
// Idempotency-Key returns the first answer, also after the gateway died with kill -9 at a
// random moment: after the transaction committed but before the answer was stored, or after
// the transaction was recorded but before it reached the orderer. The gateway records every
// endorsed transaction durably before submitting it (gateway/store Prepare, via httpapi's
// idempotencyMiddleware) and a retry finishes that same transaction, so no retry may get 409
// CONFLICT from the chaincode for its own committed write.
func TestIdempotentRetryAfterCrash(t *testing.T) {
	skipShort(t)
	bin := buildBinary(t, "cmd/xborder")
	dataDir := t.TempDir()
	out := &testkit.SyncBuffer{}
	rng := rand.New(rand.NewPCG(*relSeed, 0x1DE4))
	proc := startDev(t, bin, dataDir, out)
	c := newRESTClient(proc.url, proc.creds)
	load := &crashLoad{c: c, acked: map[string]ack{}}
	for round := range 10 {
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() { defer wg.Done(); load.run(round, g) }()
		}
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		proc.kill(t)
		wg.Wait()
		proc = startDev(t, bin, dataDir, out)
		c.Retarget(proc.url, proc.creds)
		load.mu.Lock()
		pending := len(load.pending)
		load.mu.Unlock()
		lost := load.retryPending(t)
		require.Zero(t, lost, "round %d: %d of %d retried writes got 409 instead of their first answer", round, lost, pending)
		t.Logf("round %d: %d unanswered writes retried, %d finished from their recorded transaction so far", round, pending,
			strings.Count(out.String(), "finishing the transaction recorded for this Idempotency-Key"))
	}
	proc.kill(t)
}
