package reliability_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/devapp"
	"github.com/xborder/xborder/internal/testkit"
)

// ack is one acknowledged (2xx) write.
type ack struct {
	OrderID, Op, TxID string
}

// soakOrder is what the clients know about one order: the successful steps decide the expected
// final state.
type soakOrder struct {
	spec      testkit.Order
	paid      bool
	final     string // "" while open
	released  int64
	refunded  int64
	lastState string
}

// soakRun drives orders through random lifecycles and records every acknowledged write.
type soakRun struct {
	c    *testkit.Client
	seed uint64

	mu       sync.Mutex
	acks     []ack
	seenTx   map[string]bool
	failures []string
	orders   map[string]*soakOrder
}

func (s *soakRun) failf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, fmt.Sprintf(format, args...))
}

// write sends one write; a 2xx is recorded as acknowledged. allowed lists the non-2xx statuses
// that are a legitimate loss of a race (anything else is a failure).
func (s *soakRun) write(o *soakOrder, op, org, method, path string, body any, idemKey string, allowed ...int) (reply, bool) {
	var headers []string
	if idemKey != "" {
		headers = []string{"Idempotency-Key", idemKey}
	}
	r, err := s.c.Do(context.Background(), org, method, path, body, headers...)
	if err != nil {
		s.failf("%s %s: %v", o.spec.ID, op, err)
		return r, false
	}
	if !r.OK() {
		if !slices.Contains(allowed, r.Status) {
			s.failf("%s %s as %s: unexpected %s", o.spec.ID, op, org, r)
		} else if r.Header.Get("Content-Type") != "application/problem+json" {
			s.failf("%s %s: refusal is not problem+json: %s", o.spec.ID, op, r)
		}
		return r, false
	}
	tx := r.TxID()
	if tx == "" {
		s.failf("%s %s: 2xx without txId: %s", o.spec.ID, op, r)
		return r, true
	}
	s.mu.Lock()
	if !s.seenTx[tx] {
		s.seenTx[tx] = true
		s.acks = append(s.acks, ack{OrderID: o.spec.ID, Op: op, TxID: tx})
	}
	s.mu.Unlock()
	return r, true
}

// parallel runs fns concurrently and waits for all of them.
func parallel(fns ...func()) {
	var wg sync.WaitGroup
	for _, f := range fns {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	wg.Wait()
}

const (
	conflict     = http.StatusConflict
	precondition = http.StatusPreconditionFailed
)

// lifecycle runs order i through a random path chosen by its own seeded generator.
func (s *soakRun) lifecycle(i int, batch int) {
	rng := rand.New(rand.NewPCG(s.seed, uint64(batch)<<32|uint64(i)))
	id := fmt.Sprintf("soak-%d-%03d", batch, i)
	spec := newOrderSpec(id, fmt.Sprintf("soak-m%d", i%3), 1+rng.Int64N(5), 100+rng.Int64N(99900), rng.Int64N(2000))
	o := &soakOrder{spec: spec}
	s.mu.Lock()
	s.orders[id] = o
	s.mu.Unlock()
	base := "/api/v1/orders/" + id

	// Create, twice with one Idempotency-Key concurrently: one transaction, the same answer.
	var r1, r2 reply
	var ok1, ok2 bool
	key := "create-" + id
	parallel(
		func() { r1, ok1 = s.write(o, "create", merchant, "POST", "/api/v1/orders", spec.CreateBody(), key) },
		func() { r2, ok2 = s.write(o, "create", merchant, "POST", "/api/v1/orders", spec.CreateBody(), key) },
	)
	if !ok1 || !ok2 {
		return
	}
	if r1.Status != r2.Status || r1.TxID() != r2.TxID() || string(r1.Body) != string(r2.Body) {
		s.failf("%s: idempotent duplicates answered differently: %s / %s", id, r1, r2)
	}
	o.lastState = "CREATED"

	path := rng.IntN(100)
	if path >= 85 { // cancel before payment; a payment afterwards is refused
		if _, ok := s.write(o, "cancel", merchant, "POST", base+"/cancellation", map[string]any{"reason": "buyer changed mind"}, ""); ok {
			o.final, o.lastState = "CANCELLED", "CANCELLED"
		}
		s.write(o, "pay-after-cancel", bank, "POST", base+"/payment", spec.PaymentBody("pay-"+id), "", precondition)
		return
	}

	// Pay: the same key twice and a second payment with another ID, all at once. Exactly one
	// escrow may exist.
	var pa, pb, pc reply
	var oka, okb, okc bool
	pkey := "pay-" + id
	parallel(
		func() {
			pa, oka = s.write(o, "pay", bank, "POST", base+"/payment", spec.PaymentBody("pay-"+id), pkey, conflict)
		},
		func() {
			pb, okb = s.write(o, "pay", bank, "POST", base+"/payment", spec.PaymentBody("pay-"+id), pkey, conflict)
		},
		func() {
			pc, okc = s.write(o, "pay-dup", bank, "POST", base+"/payment", spec.PaymentBody("pay2-"+id), "", conflict)
		},
	)
	if pa.Status != pb.Status || pa.TxID() != pb.TxID() {
		s.failf("%s: idempotent payments answered differently: %s / %s", id, pa, pb)
	}
	if oka == okc {
		s.failf("%s: want exactly one payment to succeed, got %s and %s", id, pa, pc)
	}
	_ = okb
	if !oka && !okc {
		return
	}
	o.paid, o.lastState = true, "PAID"

	switch {
	case path < 15: // abandoned after payment: open, money escrowed
		return
	case path < 30: // both parties cancel at once: one refund
		var ca, cb bool
		parallel(
			func() {
				_, ca = s.write(o, "cancel", merchant, "POST", base+"/cancellation", nil, "", conflict, precondition)
			},
			func() {
				_, cb = s.write(o, "cancel", bank, "POST", base+"/cancellation", map[string]any{"reason": "buyer request"}, "", conflict, precondition)
			},
		)
		if ca == cb {
			s.failf("%s: want exactly one cancellation to succeed (merchant %v, bank %v)", id, ca, cb)
		}
		if ca || cb {
			o.final, o.lastState, o.refunded = "CANCELLED", "CANCELLED", spec.Total()
		}
		return
	case path < 45: // dispute right after payment: before delivery only a full refund
		s.dispute(o, rng, false)
		return
	}

	// Documents in any order, concurrently.
	var dok, wok bool
	parallel(
		func() {
			_, dok = s.write(o, "declare", merchant, "POST", base+"/customs/declaration", spec.DeclarationBody(), "")
		},
		func() { _, wok = s.write(o, "waybill", carrier, "POST", base+"/waybill", spec.WaybillBody(), "") },
	)
	if !dok || !wok {
		return
	}
	if path < 58 { // customs rejection refunds in full
		if _, ok := s.write(o, "reject", customs, "POST", base+"/customs/decision", map[string]any{"decision": "REJECTED", "reason": "prohibited goods"}, ""); ok {
			o.final, o.lastState, o.refunded = "REJECTED", "REJECTED", spec.Total()
		}
		return
	}
	if rng.IntN(3) == 0 { // held first, decided again later
		if _, ok := s.write(o, "hold", customs, "POST", base+"/customs/decision", map[string]any{"decision": "HELD", "reason": "inspection"}, ""); !ok {
			return
		}
	}
	if _, ok := s.write(o, "clear", customs, "POST", base+"/customs/decision", map[string]any{"decision": "CLEARED", "dutyAmount": 100, "taxAmount": 50}, ""); !ok {
		return
	}
	o.lastState = "CLEARED"
	for _, code := range []string{"PICKED_UP", "DEPARTED", "ARRIVED", "OUT_FOR_DELIVERY", "DELIVERED"} {
		ck := "ck-" + code + "-" + id
		var a, b bool
		// The same checkpoint twice with one key: one transaction.
		parallel(
			func() {
				_, a = s.write(o, "checkpoint", carrier, "POST", base+"/checkpoints", map[string]any{"code": code, "location": "Hub " + code}, ck)
			},
			func() {
				_, b = s.write(o, "checkpoint", carrier, "POST", base+"/checkpoints", map[string]any{"code": code, "location": "Hub " + code}, ck)
			},
		)
		if !a || !b {
			return
		}
	}
	if path < 72 { // dispute after delivery
		s.dispute(o, rng, true)
		return
	}
	// Delivery confirmation, duplicated, racing a dispute: either the release or the dispute
	// wins, never both.
	var conf, disp bool
	ckey := "confirm-" + id
	parallel(
		func() {
			_, conf = s.write(o, "confirm", bank, "POST", base+"/delivery-confirmation", nil, ckey, precondition, conflict)
		},
		func() {
			_, _ = s.write(o, "confirm", bank, "POST", base+"/delivery-confirmation", nil, ckey, precondition, conflict)
		},
		func() {
			if rng.IntN(2) == 0 {
				_, disp = s.write(o, "dispute-race", bank, "POST", base+"/disputes", map[string]any{"reason": "late"}, "", precondition, conflict)
			}
		},
	)
	switch {
	case conf && disp:
		s.failf("%s: release and dispute both succeeded", id)
	case conf:
		o.final, o.lastState, o.released = "COMPLETED", "COMPLETED", spec.Total()
	case disp:
		s.resolve(o, rng, true)
	default:
		s.failf("%s: neither the release nor the dispute succeeded", id)
	}
}

// dispute opens a dispute and resolves it.
func (s *soakRun) dispute(o *soakOrder, rng *rand.Rand, delivered bool) {
	if _, ok := s.write(o, "dispute", bank, "POST", "/api/v1/orders/"+o.spec.ID+"/disputes", map[string]any{"reason": "item damaged"}, ""); !ok {
		return
	}
	o.lastState = "DISPUTED"
	s.resolve(o, rng, delivered)
}

// resolve resolves an open dispute with a random refund (sometimes none, sometimes all; always
// all before delivery), twice at once with different keys: exactly one resolution.
func (s *soakRun) resolve(o *soakOrder, rng *rand.Rand, delivered bool) {
	o.lastState = "DISPUTED"
	var refund int64
	switch rng.IntN(5) {
	case 0: // nothing refunded: all released
	case 1: // refunded in full: REFUNDED
		refund = o.spec.Total()
	default:
		refund = rng.Int64N(o.spec.Total() + 1)
	}
	if !delivered {
		refund = o.spec.Total()
	}
	body := map[string]any{"refundAmount": refund, "resolution": "settled"}
	var a, b bool
	parallel(
		func() {
			_, a = s.write(o, "resolve", bank, "POST", "/api/v1/orders/"+o.spec.ID+"/disputes/resolution", body, "", precondition, conflict)
		},
		func() {
			_, b = s.write(o, "resolve", bank, "POST", "/api/v1/orders/"+o.spec.ID+"/disputes/resolution", body, "", precondition, conflict)
		},
	)
	if a == b {
		s.failf("%s: want exactly one dispute resolution to succeed, got %v and %v", o.spec.ID, a, b)
	}
	if a || b {
		o.final, o.lastState = "COMPLETED", "COMPLETED"
		o.refunded, o.released = refund, o.spec.Total()-refund
		if refund == o.spec.Total() {
			o.final, o.lastState = "REFUNDED", "REFUNDED"
		}
	}
}

// TestSoakInvariants runs many orders through random lifecycles from concurrent clients, with
// duplicate and concurrent submissions of the same step, then checks money conservation per
// order, the agreement of settlements and merchant credit with the orders, that every
// acknowledged write is a VALID transaction on the ledger with exactly one event, and that no
// secret or private value reached the logs.
func TestSoakInvariants(t *testing.T) {
	skipShort(t)
	logs := &testkit.SyncBuffer{}
	app, err := devapp.Start(context.Background(), devapp.Config{
		DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", Logger: captureLogger(logs), CommitTimeout: 30 * time.Second,
		RateLimit: 10000, Burst: 10000,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, app.Close()) })
	c := newRESTClient(app.URL, app.Credentials)
	events := openEventStream(t, c, "0-0")

	s := &soakRun{c: c, seed: *relSeed, seenTx: map[string]bool{}, orders: map[string]*soakOrder{}}
	n := soakOrderCount()
	start := time.Now()
	for batch := 0; batch == 0 || time.Since(start) < *soakDuration; batch++ {
		work := make(chan int)
		var wg sync.WaitGroup
		for range max(1, *soakClients) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					s.lifecycle(i, batch)
				}
			}()
		}
		for i := range n {
			work <- i
		}
		close(work)
		wg.Wait()
	}
	t.Logf("soak: %d orders, %d acknowledged writes in %s (seed %d)", len(s.orders), len(s.acks), time.Since(start).Round(time.Millisecond), s.seed)
	require.Empty(t, s.failures, "lifecycle failures")
	states := map[string]int{}
	for _, o := range s.orders {
		states[o.lastState]++
	}
	t.Logf("soak: final states %v; %d bytes of logs", states, len(logs.String()))

	t.Run("money conserved per order", func(t *testing.T) {
		for id, o := range s.orders {
			got := mustObject(t, c, http.StatusOK, customs, "GET", "/api/v1/orders/"+id, nil)
			amount, released, refunded := mustNum(t, got, "escrow.amount"), mustNum(t, got, "escrow.released"), mustNum(t, got, "escrow.refunded")
			require.Equal(t, o.lastState, got["status"], "order %s", id)
			require.Equal(t, o.spec.Total(), mustNum(t, got, "total"), "order %s: total computed by the chaincode", id)
			require.GreaterOrEqual(t, amount, int64(0))
			require.GreaterOrEqual(t, released, int64(0))
			require.GreaterOrEqual(t, refunded, int64(0))
			require.LessOrEqual(t, released+refunded, amount, "order %s: paid out more than escrowed", id)
			if o.paid {
				require.Equal(t, o.spec.Total(), amount, "order %s", id)
			} else {
				require.Zero(t, amount, "order %s: escrow without payment", id)
			}
			require.Equal(t, o.released, released, "order %s released", id)
			require.Equal(t, o.refunded, refunded, "order %s refunded", id)
			if o.final != "" && o.paid {
				require.Equal(t, amount, released+refunded, "order %s is final: escrowed = released + refunded", id)
			}
		}
	})

	t.Run("every acknowledged write is on the ledger", func(t *testing.T) {
		for _, a := range s.acks {
			tx := mustObject(t, c, http.StatusOK, customs, "GET", "/api/v1/transactions/"+a.TxID, nil)
			require.Equal(t, true, tx["valid"], "%s %s: %v", a.OrderID, a.Op, tx)
			require.Equal(t, "VALID", tx["validationCode"])
		}
	})

	t.Run("one event per acknowledged write, one escrow and at most one release per order, no private data in events", func(t *testing.T) {
		want := map[string]bool{}
		for _, a := range s.acks {
			want[a.TxID] = true
		}
		got := events.waitFor(t, want, 60*time.Second)
		perTx := map[string]int{}
		escrowed, releasedEv := map[string]int{}, map[string]int{}
		for _, ev := range got {
			perTx[ev.TxID()]++
			switch ev.Name {
			case "PaymentEscrowed":
				escrowed[ev.OrderID()]++
			case "PaymentReleased":
				releasedEv[ev.OrderID()]++
			}
		}
		for tx := range want {
			require.Equal(t, 1, perTx[tx], "events of tx %s", tx)
		}
		requireOrderedUnique(t, got)
		var private []string
		for _, o := range s.orders {
			private = append(private, o.spec.PrivateStrings()...)
		}
		requireNoSecrets(t, events.rawData(), private)
		for id, o := range s.orders {
			if o.paid {
				require.Equal(t, 1, escrowed[id], "PaymentEscrowed events of %s", id)
			} else {
				require.Zero(t, escrowed[id], "PaymentEscrowed events of %s", id)
			}
			require.LessOrEqual(t, releasedEv[id], 1, "PaymentReleased events of %s", id)
		}
	})

	t.Run("settlements and merchant credit agree with the orders", func(t *testing.T) {
		type sums struct{ orders, escrowed, released, refunded, completed int64 }
		per := map[string]*sums{}
		for id := range s.orders {
			got := mustObject(t, c, http.StatusOK, customs, "GET", "/api/v1/orders/"+id, nil)
			status, _ := got["status"].(string)
			if !slices.Contains([]string{"COMPLETED", "CANCELLED", "REJECTED", "REFUNDED"}, status) {
				continue
			}
			m, _ := got["merchantId"].(string)
			if per[m] == nil {
				per[m] = &sums{}
			}
			p := per[m]
			p.orders++
			p.escrowed += mustNum(t, got, "escrow.amount")
			p.released += mustNum(t, got, "escrow.released")
			p.refunded += mustNum(t, got, "escrow.refunded")
			if status == "COMPLETED" {
				p.completed++
			}
		}
		require.NotEmpty(t, per)
		day := time.Now().UTC()
		from, to := day.AddDate(0, 0, -1).Format(time.DateOnly), day.AddDate(0, 0, 1).Format(time.DateOnly)
		for m, want := range per {
			rep := mustObject(t, c, http.StatusOK, bank, "GET", "/api/v1/settlements?merchantId="+m+"&currency=USD&from="+from+"&to="+to, nil)
			totals, _ := rep["totals"].([]any)
			require.Len(t, totals, 1, "settlement report of %s: %v", m, rep)
			tot := totals[0].(map[string]any)
			require.Equal(t, want.orders, mustNum(t, tot, "orders"), "settled orders of %s", m)
			require.Equal(t, want.escrowed, mustNum(t, tot, "escrowed"), "escrowed of %s", m)
			require.Equal(t, want.released, mustNum(t, tot, "released"), "released of %s", m)
			require.Equal(t, want.refunded, mustNum(t, tot, "refunded"), "refunded of %s", m)
			require.Equal(t, want.completed, mustNum(t, tot, "completed"), "completed of %s", m)

			cr := mustObject(t, c, http.StatusOK, merchant, "GET", "/api/v1/merchants/"+m+"/credit", nil)
			require.Equal(t, want.orders, mustNum(t, cr, "orders"), "credit orders of %s", m)
			require.Equal(t, want.completed, mustNum(t, cr, "completed"), "credit completed of %s", m)
			vols, _ := cr["volumes"].([]any)
			require.Len(t, vols, 1, "credit volumes of %s: %v", m, cr)
			v := vols[0].(map[string]any)
			require.Equal(t, want.released, mustNum(t, v, "released"), "credit released of %s", m)
			require.Equal(t, want.refunded, mustNum(t, v, "refunded"), "credit refunded of %s", m)
		}
	})

	t.Run("no secrets or private data in the logs", func(t *testing.T) {
		secrets := slices.Collect(maps.Values(app.Credentials))
		secrets = append(secrets, privateKeys(t, app.Network.Peers())...)
		for _, o := range s.orders {
			secrets = append(secrets, o.spec.PrivateStrings()...)
		}
		logText := logs.String()
		require.True(t, strings.Contains(logText, "http request"), "the access log was captured")
		require.True(t, strings.Contains(logText, s.acks[0].TxID), "the scan sees request details (a txId) in the logs")
		requireNoSecrets(t, logText, secrets)
	})
}
