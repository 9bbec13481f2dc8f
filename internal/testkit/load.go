package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Load configures RunLifecycles.
type Load struct {
	// Clients is the number of concurrent clients (default 1).
	Clients int
	// Duration is how long clients start new orders; an order in progress is finished.
	Duration time.Duration
	// Prefix makes the run's order IDs and merchant unique in the ledger.
	Prefix string
	// KeepFailures bounds how many failures are kept with their answer (default 20).
	KeepFailures int
}

// LoadResult is what a RunLifecycles run did.
type LoadResult struct {
	// Requests counts the requests sent; Failed those that did not answer 2xx.
	Requests, Failed int
	// FailedByStatus counts the failures by HTTP status (0: no answer).
	FailedByStatus map[int]int
	// Failures describe the first failures (step, order and answer).
	Failures []string
	// Completed are the orders taken to COMPLETED; Abandoned those a failure stopped.
	Completed, Abandoned []string
	// Elapsed is the run's wall-clock time.
	Elapsed time.Duration
}

// Merchant is the merchant of the run's orders.
func (l Load) Merchant() string { return "merchant-" + l.Prefix }

// String summarises the result.
func (r LoadResult) String() string {
	rate := 0.0
	if r.Elapsed > 0 {
		rate = float64(r.Requests-r.Failed) / r.Elapsed.Seconds()
	}
	return fmt.Sprintf("%d requests, %d failed (%.1f %%) %v; %d orders completed, %d abandoned; %.1f successful requests/s over %s",
		r.Requests, r.Failed, 100*float64(r.Failed)/float64(max(1, r.Requests)), r.FailedByStatus, len(r.Completed), len(r.Abandoned),
		rate, r.Elapsed.Round(time.Millisecond))
}

// RunLifecycles has l.Clients concurrent clients each take their own orders, one after the
// other, through the whole lifecycle (create, pay, declare, waybill, clear, five checkpoints,
// confirm delivery), as a careful real client would: each step is sent only after the previous
// one answered 2xx, with a fresh Idempotency-Key, and with If-Match naming the ETag of the
// previous answer when there was one. A step that fails abandons its order. Clients start new
// orders until l.Duration has passed or ctx ends.
func (c *Client) RunLifecycles(ctx context.Context, l Load) LoadResult {
	l.Clients = max(1, l.Clients)
	if l.KeepFailures <= 0 {
		l.KeepFailures = 20
	}
	run := &loadRun{c: c, l: l, res: LoadResult{FailedByStatus: map[int]int{}}}
	start := time.Now()
	deadline := start.Add(l.Duration)
	var wg sync.WaitGroup
	for w := range l.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil && time.Now().Before(deadline); n++ {
				run.lifecycle(ctx, fmt.Sprintf("%s-%03d-%05d", l.Prefix, w, n))
			}
		}()
	}
	wg.Wait()
	run.res.Elapsed = time.Since(start)
	sort.Strings(run.res.Completed)
	sort.Strings(run.res.Abandoned)
	return run.res
}

// loadRun is one RunLifecycles run.
type loadRun struct {
	c   *Client
	l   Load
	mu  sync.Mutex
	res LoadResult
}

// loadStep is one request of a lifecycle.
type loadStep struct {
	org, path string
	body      any
	status    int
}

// lifecycleSteps are the requests that take order o from nothing to COMPLETED.
func lifecycleSteps(o Order) []loadStep {
	base := "/api/v1/orders/" + o.ID
	steps := []loadStep{
		{MerchantMSP, "/api/v1/orders", o.CreateBody(), http.StatusCreated},
		{BankMSP, base + "/payment", o.PaymentBody("pay-" + o.ID), http.StatusOK},
		{MerchantMSP, base + "/customs/declaration", o.DeclarationBody(), http.StatusOK},
		{CarrierMSP, base + "/waybill", o.WaybillBody(), http.StatusOK},
		{CustomsMSP, base + "/customs/decision", ClearedDecision(), http.StatusOK},
	}
	for _, code := range Checkpoints {
		steps = append(steps, loadStep{CarrierMSP, base + "/checkpoints", CheckpointBody(code), http.StatusOK})
	}
	return append(steps, loadStep{BankMSP, base + "/delivery-confirmation", map[string]any{}, http.StatusOK})
}

// lifecycle takes order id through its lifecycle, recording every request.
func (run *loadRun) lifecycle(ctx context.Context, id string) {
	o := NewOrder(id)
	o.MerchantID = run.l.Merchant()
	etag := ""
	for _, s := range lifecycleSteps(o) {
		headers := []string{"Idempotency-Key", newIdempotencyKey()}
		if etag != "" {
			headers = append(headers, "If-Match", etag)
		}
		r, err := run.c.Do(ctx, s.org, http.MethodPost, s.path, s.body, headers...)
		if err == nil && r.Status == s.status {
			run.record(nil, "")
			etag = r.Header.Get("ETag")
			continue
		}
		if ctx.Err() != nil {
			return
		}
		what := fmt.Sprintf("%s as %s", s.path, s.org)
		if err != nil {
			what += ": " + err.Error()
		} else {
			what += ": " + r.String()
		}
		run.record(&r, what)
		run.mu.Lock()
		run.res.Abandoned = append(run.res.Abandoned, id)
		run.mu.Unlock()
		return
	}
	run.mu.Lock()
	run.res.Completed = append(run.res.Completed, id)
	run.mu.Unlock()
}

// record counts one request; failed is its answer when it failed (a zero Reply when none came).
func (run *loadRun) record(failed *Reply, what string) {
	run.mu.Lock()
	defer run.mu.Unlock()
	run.res.Requests++
	if failed == nil {
		return
	}
	run.res.Failed++
	run.res.FailedByStatus[failed.Status]++
	if len(run.res.Failures) < run.l.KeepFailures {
		run.res.Failures = append(run.res.Failures, strings.TrimSpace(what))
	}
}

// newIdempotencyKey returns a fresh random Idempotency-Key, as a client makes one per request.
func newIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CheckSettled checks the money of a RunLifecycles run, reading as Customs: every completed
// order is COMPLETED with its whole escrow released to the merchant and nothing refunded; no
// abandoned order holds more released and refunded than escrowed; and the merchant's
// settlement report for the run's days adds up to exactly the completed orders.
func (c *Client) CheckSettled(t T, l Load, res LoadResult) {
	t.Helper()
	for _, id := range res.Completed {
		o := NewOrder(id)
		r := c.Must(t, http.StatusOK, CustomsMSP, http.MethodGet, "/api/v1/orders/"+id, nil)
		order := r.JSON(t)
		if order["status"] != "COMPLETED" {
			t.Fatalf("order %s: status %v after its delivery was confirmed", id, order["status"])
		}
		total := float64(o.Total())
		if got := Escrow(t, order); got[0] != total || got[1] != total || got[2] != 0 {
			t.Fatalf("order %s: escrow amount/released/refunded %v, want [%v %v 0]", id, got, total, total)
		}
	}
	for _, id := range res.Abandoned {
		r := c.Call(t, CustomsMSP, http.MethodGet, "/api/v1/orders/"+id, nil)
		if r.Status == http.StatusNotFound {
			continue
		}
		order := r.JSON(t)
		if esc, ok := order["escrow"].(map[string]any); ok {
			amount, _ := esc["amount"].(float64)
			released, _ := esc["released"].(float64)
			refunded, _ := esc["refunded"].(float64)
			if released < 0 || refunded < 0 || released+refunded > amount {
				t.Fatalf("abandoned order %s breaks conservation: %v", id, esc)
			}
		}
	}
	c.checkSettlement(t, l, res)
}

// checkSettlement checks that the merchant's settlement report covers exactly the completed
// orders of the run.
func (c *Client) checkSettlement(t T, l Load, res LoadResult) {
	t.Helper()
	day := time.Now().UTC()
	path := fmt.Sprintf("/api/v1/settlements?merchantId=%s&currency=USD&from=%s&to=%s", l.Merchant(),
		day.AddDate(0, 0, -1).Format(time.DateOnly), day.AddDate(0, 0, 1).Format(time.DateOnly))
	report := c.Must(t, http.StatusOK, CustomsMSP, http.MethodGet, path, nil).JSON(t)
	totals, _ := report["totals"].([]any)
	n := float64(len(res.Completed))
	total := float64(NewOrder("").Total())
	if n == 0 {
		if len(totals) != 0 {
			t.Fatalf("settlement report of %s without completed orders: %v", l.Merchant(), report)
		}
		return
	}
	if len(totals) != 1 {
		t.Fatalf("settlement report of %s: %v", l.Merchant(), report)
	}
	usd, _ := totals[0].(map[string]any)
	want := map[string]float64{"orders": n, "completed": n, "escrowed": n * total, "released": n * total, "refunded": 0}
	for k, v := range want {
		if usd[k] != v {
			t.Fatalf("settlement report of %s: %s is %v, want %v (report %v)", l.Merchant(), k, usd[k], v, report)
		}
	}
}
