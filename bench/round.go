package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultOpTimeout bounds one operation of a round when Round.OpTimeout is zero.
const DefaultOpTimeout = 2 * time.Minute

// Round is one Caliper-style round: a workload driven against a target by Workers concurrent
// workers, at a fixed Rate or as fast as they can, until Count operations were sent or
// Duration elapsed (whichever is set; Count wins when both are).
type Round struct {
	// Label names the round in reports (default "<workload>-<target>-w<workers>").
	Label string
	// Workload and Driver say what to do and against which target.
	Workload Workload
	Driver   Driver
	// Workers is the number of concurrent workers (default 1).
	Workers int
	// Rate is the fixed send rate in operations per second; 0 sends at the maximum rate.
	Rate float64
	// Count and Duration end the round.
	Count    int
	Duration time.Duration
	// OpTimeout bounds each operation (default DefaultOpTimeout).
	OpTimeout time.Duration
	// Progress, when set, receives a live progress line every ProgressEvery (default 1 s),
	// rewritten in place with a carriage return (for terminals).
	Progress      io.Writer
	ProgressEvery time.Duration
	// Buckets is the number of time slices of the latency-over-time chart (default 60).
	Buckets int
}

// Result is the outcome of a round.
type Result struct {
	Label    string `json:"label"`
	Workload string `json:"workload"`
	Target   string `json:"target"`
	Workers  int    `json:"workers"`
	// Rate is the configured fixed rate (0: maximum rate).
	Rate     float64       `json:"rate"`
	Count    int           `json:"count,omitempty"`
	Duration time.Duration `json:"durationNs,omitempty"`
	// TxPerOp is the ledger transactions per operation; TxThroughput is Throughput × TxPerOp.
	TxPerOp      int     `json:"txPerOp"`
	TxThroughput float64 `json:"txThroughput"`
	// Started is the wall-clock start of the measured phase.
	Started time.Time `json:"started"`
	// Prepare is how long the unmeasured preparation took.
	Prepare time.Duration `json:"prepareNs"`
	Stats   Stats         `json:"stats"`
	// Buckets are the latencies over time, for the chart.
	Buckets []Bucket `json:"buckets"`
	// Memory is sampled right after the round.
	Memory Memory `json:"memory"`
	// CPU is the processor time the measured phase used.
	CPU CPU `json:"cpu"`
	// Requests are the latencies of the single requests (REST calls or SDK transactions) of the
	// round's successful operations (for a lifecycle, each of its writes); RequestCount is how
	// many there were.
	Requests     LatencyStats `json:"requests"`
	RequestCount int          `json:"requestCount"`
	// Retries are the operations sent again during the round, by reason, as the driver (or the
	// gateway behind it) counts them; nil when it does not count them.
	Retries map[string]int64 `json:"retries,omitempty"`
	// Samples are every operation's measurements (not written to JSON).
	Samples []Sample `json:"-"`
}

// Validate checks r and fills in defaults.
func (r *Round) Validate() error {
	if r.Workload == nil || r.Driver == nil {
		return errors.New("round: a workload and a driver are required")
	}
	if r.Workers <= 0 {
		r.Workers = 1
	}
	if r.Rate < 0 {
		return fmt.Errorf("round: negative rate %v", r.Rate)
	}
	if r.Count < 0 || r.Duration < 0 {
		return errors.New("round: negative count or duration")
	}
	if r.Count == 0 && r.Duration == 0 {
		return errors.New("round: a count or a duration is required")
	}
	if r.OpTimeout <= 0 {
		r.OpTimeout = DefaultOpTimeout
	}
	if r.ProgressEvery <= 0 {
		r.ProgressEvery = time.Second
	}
	if r.Buckets <= 0 {
		r.Buckets = 60
	}
	if r.Label == "" {
		r.Label = fmt.Sprintf("%s-%s-w%d", r.Workload.Name(), r.Driver.Name(), r.Workers)
	}
	return nil
}

// progress counts operations for the live progress line.
type progress struct {
	sent, ok, failed atomic.Int64
}

// Run prepares and runs the round and summarises it. Failed operations are counted, not
// returned; Run fails only when the round cannot run (bad configuration, preparation failed,
// ctx cancelled).
func Run(ctx context.Context, r Round) (*Result, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	res := &Result{Label: r.Label, Workload: r.Workload.Name(), Target: r.Driver.Name(), Workers: r.Workers,
		Rate: r.Rate, Count: r.Count, Duration: r.Duration, TxPerOp: r.Workload.TxPerOp()}
	planned := r.Count
	if planned == 0 && r.Rate > 0 {
		planned = ScheduledCount(r.Rate, 0, r.Duration)
	}
	prepStart := time.Now()
	if err := r.Workload.Prepare(ctx, r.Driver, planned); err != nil {
		return nil, fmt.Errorf("round %s: prepare: %w", r.Label, err)
	}
	res.Prepare = time.Since(prepStart)

	retriesBefore := retriesOf(r.Driver)
	run := &roundRun{r: r, perWorker: make([][]Sample, r.Workers), drivers: make([]*timedDriver, r.Workers)}
	for w := range run.drivers {
		run.drivers[w] = &timedDriver{Driver: r.Driver}
	}
	stopProgress := func() {}
	if r.Progress != nil {
		stopProgress = startProgress(r, &run.pr)
	}
	cpuBefore := readCPU()
	run.start = time.Now()
	res.Started = run.start
	if r.Rate > 0 {
		run.fixedRate(ctx)
	} else {
		run.closedLoop(ctx)
	}
	res.CPU = cpuSince(cpuBefore, readCPU())
	stopProgress()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("round %s: %w", r.Label, err)
	}
	for _, s := range run.perWorker {
		res.Samples = append(res.Samples, s...)
	}
	res.Stats = Summarize(res.Samples)
	var requests []time.Duration
	for _, d := range run.drivers {
		requests = append(requests, d.ok...)
	}
	res.Requests, res.RequestCount = Latencies(requests), len(requests)
	res.TxThroughput = res.Stats.Throughput * float64(res.TxPerOp)
	// At least ten samples per slice on average, so every point of the chart means something.
	res.Buckets = Buckets(res.Samples, min(r.Buckets, max(1, len(res.Samples)/10)))
	res.Memory = ReadMemory()
	res.Retries = retriesSince(retriesBefore, retriesOf(r.Driver))
	return res, nil
}

// roundRun is the measured part of a round: its workers and their samples.
type roundRun struct {
	r         Round
	start     time.Time
	pr        progress
	perWorker [][]Sample     // one list per worker: no locking
	drivers   []*timedDriver // one per worker, timing its requests
}

// timedDriver is a worker's Driver: it records the latency of every request of the worker's
// successful operations (the requests of a failed one are dropped with it).
type timedDriver struct {
	Driver
	ok      []time.Duration // requests of the successful operations
	pending []time.Duration // requests of the operation in progress
}

// Do times the request.
func (d *timedDriver) Do(ctx context.Context, req Request) error {
	start := time.Now()
	err := d.Driver.Do(ctx, req)
	if err == nil {
		d.pending = append(d.pending, time.Since(start))
	}
	return err
}

// done ends the operation in progress, keeping its requests' latencies if it succeeded.
func (d *timedDriver) done(ok bool) {
	if ok {
		d.ok = append(d.ok, d.pending...)
	}
	d.pending = d.pending[:0]
}

// do performs operation i as worker w and records its sample.
func (run *roundRun) do(ctx context.Context, w, i int) {
	sent := time.Since(run.start)
	run.pr.sent.Add(1)
	octx, cancel := context.WithTimeout(ctx, run.r.OpTimeout)
	err := run.r.Workload.Op(octx, run.drivers[w], i)
	cancel()
	run.drivers[w].done(err == nil)
	s := Sample{Start: sent, Latency: time.Since(run.start) - sent}
	if err != nil {
		s.Reason = ReasonOf(err)
		run.pr.failed.Add(1)
	} else {
		run.pr.ok.Add(1)
	}
	run.perWorker[w] = append(run.perWorker[w], s)
}

// fixedRate has the workers take operations handed out at the round's rate.
func (run *roundRun) fixedRate(ctx context.Context) {
	var wg sync.WaitGroup
	work := make(chan int)
	for w := range run.r.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				run.do(ctx, w, i)
			}
		}()
	}
	dispatchFixedRate(ctx, run.r, run.start, work)
	close(work)
	wg.Wait()
}

// closedLoop has every worker start its next operation as soon as the last one ended, until
// the count is done or the duration is over.
func (run *roundRun) closedLoop(ctx context.Context) {
	var wg sync.WaitGroup
	var next atomic.Int64
	r := run.r
	for w := range r.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if r.Count == 0 && time.Since(run.start) >= r.Duration {
					return
				}
				i := int(next.Add(1) - 1)
				if r.Count > 0 && i >= r.Count {
					return
				}
				run.do(ctx, w, i)
			}
		}()
	}
	wg.Wait()
}

// dispatchFixedRate hands operation indexes to the workers at their scheduled times. When
// every worker is busy the hand-over waits, so the send rate falls below the target rate:
// the report's send rate shows it.
func dispatchFixedRate(ctx context.Context, r Round, start time.Time, work chan<- int) {
	n := ScheduledCount(r.Rate, r.Count, r.Duration)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i := range n {
		if wait := time.Until(start.Add(ScheduleOffset(r.Rate, i))); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		select {
		case <-ctx.Done():
			return
		case work <- i:
		}
	}
}

func startProgress(r Round, pr *progress) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	line := func() {
		el := time.Since(start)
		ok := pr.ok.Load()
		rate := 0.0
		if el > 0 {
			rate = float64(ok) / el.Seconds()
		}
		fmt.Fprintf(r.Progress, "\r%-28s %6.1fs  sent %-7d ok %-7d failed %-5d %8.1f op/s ", r.Label, el.Seconds(),
			pr.sent.Load(), ok, pr.failed.Load(), rate)
	}
	go func() {
		defer wg.Done()
		t := time.NewTicker(r.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				line()
				fmt.Fprintln(r.Progress)
				return
			case <-t.C:
				line()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
