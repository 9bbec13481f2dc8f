package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xborder/xborder/internal/testkit"
)

// Workload decides what one measured operation of a round does.
type Workload interface {
	// Name is the workload's name ("create", "lifecycle", ...).
	Name() string
	// TxPerOp is the number of ledger transactions one operation makes (11 for a lifecycle).
	TxPerOp() int
	// Prepare readies the ledger for a round of n operations (0: a duration round of unknown
	// length). It is not measured.
	Prepare(ctx context.Context, d Driver, n int) error
	// Op performs operation i (0, 1, 2, ...) of the round.
	Op(ctx context.Context, d Driver, i int) error
}

// WorkloadNames lists the workloads NewWorkload knows.
var WorkloadNames = []string{"lifecycle", "create", "read", "list", "hot-merchant"}

// WorkloadOptions parameterise NewWorkload.
type WorkloadOptions struct {
	// Prefix makes the round's order IDs unique in the ledger (letters, digits, '-'; short).
	Prefix string
	// PrepWorkers bounds the concurrency of Prepare (default 32).
	PrepWorkers int
	// ReadPool is how many orders the read workload creates and reads in turn (default 100,
	// at most the round's count).
	ReadPool int
	// LedgerSize is the number of seeded orders the list workload lists from (default 1000).
	LedgerSize int
	// PageSize is the list workload's page size (default 20).
	PageSize int
	// Seeder seeds the ledger for the list workload; nil seeds with the round's driver.
	Seeder *Seeder
}

// NewWorkload returns the named workload.
func NewWorkload(name string, o WorkloadOptions) (Workload, error) {
	if o.Prefix == "" {
		return nil, errors.New("workload: a prefix for order IDs is required")
	}
	if o.PrepWorkers <= 0 {
		o.PrepWorkers = 32
	}
	if o.ReadPool <= 0 {
		o.ReadPool = 100
	}
	if o.LedgerSize <= 0 {
		o.LedgerSize = DefaultLedgerSize
	}
	if o.PageSize <= 0 {
		o.PageSize = 20
	}
	switch name {
	case "lifecycle":
		return &lifecycleWorkload{o: o}, nil
	case "create":
		return &createWorkload{o: o}, nil
	case "read":
		return &readWorkload{o: o}, nil
	case "list":
		return &listWorkload{o: o}, nil
	case "hot-merchant":
		return &hotMerchantWorkload{o: o}, nil
	}
	return nil, fmt.Errorf("workload: unknown workload %q (one of %s)", name, strings.Join(WorkloadNames, ", "))
}

// OrderBody is the REST body of a CreateOrder for order id of merchant: the suites' order
// (testkit.NewOrder), 2 × 1250 + 500 = 3000 USD cents, paid as 2760 EUR cents at 0.92.
func OrderBody(id, merchant string) map[string]any {
	return lifecycleOrder(id, merchant).CreateBody()
}

func lifecycleOrder(id, merchant string) testkit.Order {
	o := testkit.NewOrder(id)
	o.MerchantID = merchant
	return o
}

// LifecycleSteps returns the requests that take order id of merchant from nothing to
// DELIVERED (create → pay → waybill → declare → clear → 5 checkpoints); ConfirmRequest
// completes it.
func LifecycleSteps(id, merchant string) []Request {
	o := lifecycleOrder(id, merchant)
	steps := []Request{
		{Op: OpCreateOrder, OrderID: id, Body: o.CreateBody()},
		{Op: OpEscrowPayment, OrderID: id, Body: o.PaymentBody("pay-" + id)},
		{Op: OpRegisterWaybill, OrderID: id, Body: o.WaybillBody()},
		{Op: OpDeclareCustoms, OrderID: id, Body: o.DeclarationBody()},
		{Op: OpDecideCustoms, OrderID: id, Body: testkit.ClearedDecision()},
	}
	for _, code := range testkit.Checkpoints {
		steps = append(steps, Request{Op: OpRecordCheckpoint, OrderID: id, Body: testkit.CheckpointBody(code)})
	}
	return steps
}

// ConfirmRequest is the bank's delivery confirmation of order id, which releases the escrow.
func ConfirmRequest(id string) Request {
	return Request{Op: OpConfirmDelivery, OrderID: id, Body: map[string]any{}}
}

func doAll(ctx context.Context, d Driver, reqs []Request) error {
	for _, r := range reqs {
		if err := d.Do(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// parallel runs f(0..n-1) on at most workers goroutines and returns the first error (the
// others stop taking work).
func parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

type lifecycleWorkload struct{ o WorkloadOptions }

func (w *lifecycleWorkload) Name() string { return "lifecycle" }
func (w *lifecycleWorkload) TxPerOp() int { return len(testkit.Checkpoints) + 6 }
func (w *lifecycleWorkload) Prepare(context.Context, Driver, int) error {
	return nil
}
func (w *lifecycleWorkload) Op(ctx context.Context, d Driver, i int) error {
	id := fmt.Sprintf("%s-l%07d", w.o.Prefix, i)
	return doAll(ctx, d, append(LifecycleSteps(id, "merchant-"+w.o.Prefix), ConfirmRequest(id)))
}

type createWorkload struct{ o WorkloadOptions }

func (w *createWorkload) Name() string                               { return "create" }
func (w *createWorkload) TxPerOp() int                               { return 1 }
func (w *createWorkload) Prepare(context.Context, Driver, int) error { return nil }
func (w *createWorkload) Op(ctx context.Context, d Driver, i int) error {
	id := fmt.Sprintf("%s-c%07d", w.o.Prefix, i)
	// Spread the orders over 100 merchants, as a marketplace's would be.
	return d.Do(ctx, Request{Op: OpCreateOrder, OrderID: id, Body: OrderBody(id, fmt.Sprintf("merchant-%s-%02d", w.o.Prefix, i%100))})
}

type readWorkload struct {
	o   WorkloadOptions
	ids []string
}

func (w *readWorkload) Name() string { return "read" }
func (w *readWorkload) TxPerOp() int { return 1 }
func (w *readWorkload) Prepare(ctx context.Context, d Driver, n int) error {
	pool := w.o.ReadPool
	if n > 0 {
		pool = min(pool, n)
	}
	w.ids = make([]string, pool)
	for i := range w.ids {
		w.ids[i] = fmt.Sprintf("%s-r%05d", w.o.Prefix, i)
	}
	err := parallel(ctx, len(w.ids), w.o.PrepWorkers, func(ctx context.Context, i int) error {
		return d.Do(ctx, Request{Op: OpCreateOrder, OrderID: w.ids[i], Body: OrderBody(w.ids[i], "merchant-"+w.o.Prefix)})
	})
	if err != nil {
		return fmt.Errorf("read workload: create the orders to read: %w", err)
	}
	return nil
}
func (w *readWorkload) Op(ctx context.Context, d Driver, i int) error {
	return d.Do(ctx, Request{Op: OpGetOrder, OrderID: w.ids[i%len(w.ids)]})
}

type listWorkload struct{ o WorkloadOptions }

func (w *listWorkload) Name() string { return "list" }
func (w *listWorkload) TxPerOp() int { return 1 }
func (w *listWorkload) Prepare(ctx context.Context, d Driver, _ int) error {
	s := w.o.Seeder
	if s == nil {
		s = NewSeeder(d, w.o.PrepWorkers)
	}
	if _, err := s.SeedTo(ctx, w.o.LedgerSize); err != nil {
		return fmt.Errorf("list workload: %w", err)
	}
	return nil
}
func (w *listWorkload) Op(ctx context.Context, d Driver, i int) error {
	// Walk the first merchants in turn; each holds SeedOrdersPerMerchant orders, so the page
	// cost is the same at every ledger size.
	merchants := max(1, min(10, w.o.LedgerSize/SeedOrdersPerMerchant))
	return d.Do(ctx, Request{Op: OpListOrders, MerchantID: SeedMerchant(i % merchants), PageSize: w.o.PageSize})
}

type hotMerchantWorkload struct {
	o   WorkloadOptions
	ids []string
}

func (w *hotMerchantWorkload) Name() string { return "hot-merchant" }
func (w *hotMerchantWorkload) TxPerOp() int { return 1 }

// Prepare takes n orders of one merchant to DELIVERED; the round then confirms them all
// concurrently, so every operation settles (releases escrow to) the same merchant.
func (w *hotMerchantWorkload) Prepare(ctx context.Context, d Driver, n int) error {
	if n <= 0 {
		return errors.New("hot-merchant workload: needs a count of operations (each settles one prepared order)")
	}
	w.ids = make([]string, n)
	for i := range w.ids {
		w.ids[i] = fmt.Sprintf("%s-h%07d", w.o.Prefix, i)
	}
	merchant := "hot-" + w.o.Prefix
	err := parallel(ctx, n, w.o.PrepWorkers, func(ctx context.Context, i int) error {
		return doAll(ctx, d, LifecycleSteps(w.ids[i], merchant))
	})
	if err != nil {
		return fmt.Errorf("hot-merchant workload: deliver the orders to settle: %w", err)
	}
	return nil
}
func (w *hotMerchantWorkload) Op(ctx context.Context, d Driver, i int) error {
	if i >= len(w.ids) {
		return &CallError{Op: OpConfirmDelivery, Reason: "NO_PREPARED_ORDER", Err: fmt.Errorf("operation %d of %d prepared", i, len(w.ids))}
	}
	return d.Do(ctx, ConfirmRequest(w.ids[i]))
}

// SeedOrdersPerMerchant is how many consecutive seed orders belong to one seed merchant.
const SeedOrdersPerMerchant = 100

// SeedMerchant is the merchant of seed merchant index m.
func SeedMerchant(m int) string { return fmt.Sprintf("seed-m%05d", m) }

// SeedOrderID is the ID of seed order i.
func SeedOrderID(i int) string { return fmt.Sprintf("seed-%08d", i) }

// Seeder fills the ledger with seed orders seed-00000000, seed-00000001, ... (merchant
// seed-m<i/100>) through a driver with bounded concurrency. It remembers how far it got, so
// growing the ledger from 1k to 100k creates only the new orders; an order already in the
// ledger (CONFLICT, from an earlier run) counts as seeded.
type Seeder struct {
	// Progress, when set, receives a live "seeding i/n" line every second (for terminals).
	Progress io.Writer

	d       Driver
	workers int
	mu      sync.Mutex
	done    int
}

// NewSeeder returns a seeder creating orders through d with at most workers in flight.
func NewSeeder(d Driver, workers int) *Seeder {
	return &Seeder{d: d, workers: max(1, workers)}
}

// SeedTo makes sure seed orders 0..n-1 exist and returns how many it created.
func (s *Seeder) SeedTo(ctx context.Context, n int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= s.done {
		return 0, nil
	}
	from := s.done
	var created, attempted atomic.Int64
	if s.Progress != nil {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-stop:
					fmt.Fprintf(s.Progress, "\rseeding %d/%d orders\n", from+int(attempted.Load()), n)
					return
				case <-t.C:
					fmt.Fprintf(s.Progress, "\rseeding %d/%d orders ", from+int(attempted.Load()), n)
				}
			}
		}()
		defer func() { close(stop); wg.Wait() }()
	}
	var mu sync.Mutex
	var failed []int
	err := parallel(ctx, n-from, s.workers, func(ctx context.Context, k int) error {
		defer attempted.Add(1)
		i := from + k
		id := SeedOrderID(i)
		err := s.d.Do(ctx, Request{Op: OpCreateOrder, OrderID: id, Body: OrderBody(id, SeedMerchant(i/SeedOrdersPerMerchant))})
		switch ReasonOf(err) {
		case "":
			created.Add(1)
		case "CONFLICT":
		default:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			mu.Lock()
			failed = append(failed, i)
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return int(created.Load()), fmt.Errorf("seed orders %d..%d: %w", from, n-1, err)
	}
	// Transient failures (a timeout under load) get one sequential retry each.
	slices.Sort(failed)
	for _, i := range failed {
		id := SeedOrderID(i)
		err := s.d.Do(ctx, Request{Op: OpCreateOrder, OrderID: id, Body: OrderBody(id, SeedMerchant(i/SeedOrdersPerMerchant))})
		switch ReasonOf(err) {
		case "":
			created.Add(1)
		case "CONFLICT":
		default:
			return int(created.Load()), fmt.Errorf("seed order %s: %w", id, err)
		}
	}
	s.done = n
	return int(created.Load()), nil
}

// Seeded returns how many seed orders are known to exist.
func (s *Seeder) Seeded() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}
