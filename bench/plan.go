package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RoundSpec is one round of a plan, before it is bound to a target.
type RoundSpec struct {
	// Workload is one of WorkloadNames.
	Workload string
	// Targets are the driver names to run the round against, in order (empty: every target
	// of the plan).
	Targets []string
	// Workers, Rate, Count and Duration are as in Round.
	Workers  int
	Rate     float64
	Count    int
	Duration time.Duration
	// LedgerSize and PageSize parameterise the list workload.
	LedgerSize int
	PageSize   int
	// Label overrides the round's label (the target is appended).
	Label string
}

// ParseRoundSpec parses "key=value,..." with keys workload (or w), target (rest, sdk or
// rest+sdk), workers, rate (ops/s, 0 = max), count, duration (Go duration), ledger (list:
// seeded orders), page (list: page size) and label. Example:
// "workload=create,workers=16,duration=20s,target=rest+sdk".
func ParseRoundSpec(s string) (RoundSpec, error) {
	var r RoundSpec
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return r, fmt.Errorf("round %q: %q is not key=value", s, kv)
		}
		if err := r.set(k, v); err != nil {
			return r, fmt.Errorf("round %q: %w", s, err)
		}
	}
	if r.Workload == "" {
		return r, fmt.Errorf("round %q: workload is required", s)
	}
	if r.Count == 0 && r.Duration == 0 {
		return r, fmt.Errorf("round %q: count or duration is required", s)
	}
	if r.Workers == 0 {
		r.Workers = 1
	}
	return r, nil
}

// set sets the key k of a round spec to v.
func (r *RoundSpec) set(k, v string) error {
	var err error
	switch k {
	case "workload", "w":
		if !slices.Contains(WorkloadNames, v) {
			return fmt.Errorf("unknown workload %q (one of %s)", v, strings.Join(WorkloadNames, ", "))
		}
		r.Workload = v
	case "target":
		for _, t := range strings.Split(v, "+") {
			if t != "rest" && t != "sdk" {
				return fmt.Errorf("unknown target %q (rest or sdk)", t)
			}
			r.Targets = append(r.Targets, t)
		}
	case "workers":
		r.Workers, err = positiveInt(v)
	case "rate":
		r.Rate, err = nonNegativeFloat(v)
	case "count":
		r.Count, err = positiveInt(v)
	case "duration":
		r.Duration, err = positiveDuration(v)
	case "ledger":
		r.LedgerSize, err = positiveInt(v)
	case "page":
		r.PageSize, err = positiveInt(v)
	case "label":
		r.Label = v
	default:
		return fmt.Errorf("unknown key %q", k)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", k, err)
	}
	return nil
}

func nonNegativeFloat(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("not a number: %w", err)
	}
	if f < 0 {
		return 0, errors.New("must not be negative")
	}
	return f, nil
}

func positiveDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("not a duration: %w", err)
	}
	if d <= 0 {
		return 0, errors.New("must be positive")
	}
	return d, nil
}

func positiveInt(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("not an integer: %w", err)
	}
	if n <= 0 {
		return 0, fmt.Errorf("must be positive, got %d", n)
	}
	return n, nil
}

// Plan is a sequence of rounds against one or more targets.
type Plan struct {
	// Rounds run in order; each against its targets in order.
	Rounds []RoundSpec
	// Targets are the drivers by name ("rest", "sdk"), and Order the default target order.
	Targets map[string]Driver
	Order   []string
	// RunID makes order IDs unique across runs on the same ledger.
	RunID string
	// Seeder seeds the ledger for list rounds (shared, so ledger sizes grow incrementally).
	Seeder *Seeder
	// PrepWorkers bounds preparation concurrency.
	PrepWorkers int
	// Progress receives live progress lines (nil: none); Log receives one line per round.
	Progress io.Writer
	Log      io.Writer
}

// RunPlan runs every round of p and collects the results into rep (appending notes about
// seeding). It stops at the first round that cannot run.
func RunPlan(ctx context.Context, p Plan, rep *Report) error {
	for i, rs := range p.Rounds {
		for _, t := range p.targetsOf(i, rs) {
			res, err := p.runRound(ctx, i, rs, t, rep)
			if err != nil {
				return err
			}
			rep.Results = append(rep.Results, res)
			if p.Log != nil {
				l := res.Stats.Latency
				fmt.Fprintf(p.Log, "%-28s ok %-6d failed %-4d %8.1f op/s %8.1f tx/s  p50 %s ms  p95 %s ms  p99 %s ms\n", res.Label,
					res.Stats.Succeeded, res.Stats.Failed, res.Stats.Throughput, res.TxThroughput, ms(l.P50), ms(l.P95), ms(l.P99))
			}
		}
	}
	rep.Comparisons = Compare(rep.Results)
	rep.Memory = ReadMemory()
	return nil
}

// targetsOf returns the targets of round i in the order they run.
func (p Plan) targetsOf(i int, rs RoundSpec) []string {
	if len(rs.Targets) > 0 {
		return rs.Targets
	}
	// Alternate which target goes first, so neither always meets the younger ledger.
	targets := slices.Clone(p.Order)
	if i%2 == 1 {
		slices.Reverse(targets)
	}
	return targets
}

// runRound runs round i of the plan against target t, seeding the ledger first for a list
// round.
func (p Plan) runRound(ctx context.Context, i int, rs RoundSpec, t string, rep *Report) (*Result, error) {
	d, ok := p.Targets[t]
	if !ok {
		return nil, fmt.Errorf("round %d (%s): target %q is not available", i+1, rs.Workload, t)
	}
	ledger := rs.LedgerSize
	if ledger == 0 {
		ledger = DefaultLedgerSize
	}
	if rs.Workload == "list" && p.Seeder != nil {
		if err := p.seed(ctx, ledger, rep); err != nil {
			return nil, fmt.Errorf("round %d: seed the ledger: %w", i+1, err)
		}
	}
	w, err := NewWorkload(rs.Workload, WorkloadOptions{
		Prefix:      fmt.Sprintf("%s-%02d%s", p.RunID, i+1, t[:1]),
		PrepWorkers: p.PrepWorkers,
		LedgerSize:  ledger,
		PageSize:    rs.PageSize,
		Seeder:      p.Seeder,
	})
	if err != nil {
		return nil, err
	}
	return Run(ctx, Round{Label: rs.label(ledger) + "-" + t, Workload: w, Driver: d, Workers: rs.Workers, Rate: rs.Rate,
		Count: rs.Count, Duration: rs.Duration, Progress: p.Progress})
}

// seed grows the ledger to size orders, noting in rep what it created.
func (p Plan) seed(ctx context.Context, size int, rep *Report) error {
	before := p.Seeder.Seeded()
	start := time.Now()
	n, err := p.Seeder.SeedTo(ctx, size)
	if err != nil {
		return err
	}
	if el := time.Since(start); n > 0 || p.Seeder.Seeded() > before {
		rep.Notes = append(rep.Notes, fmt.Sprintf("seeded orders %d..%d (%d created) in %.1f s through %s: %.0f orders/s",
			before, p.Seeder.Seeded()-1, n, el.Seconds(), p.Seeder.d.Name(), float64(p.Seeder.Seeded()-before)/el.Seconds()))
	}
	return nil
}

// label is the round's label without its target: the given one, else workload, ledger size
// (list), workers and rate.
func (r RoundSpec) label(ledger int) string {
	if r.Label != "" {
		return r.Label
	}
	label := fmt.Sprintf("%s-w%d", r.Workload, r.Workers)
	if r.Workload == "list" {
		label = fmt.Sprintf("list-%s-w%d", sizeText(ledger), r.Workers)
	}
	if r.Rate > 0 {
		label += fmt.Sprintf("-r%g", r.Rate)
	}
	return label
}

// DefaultLedgerSize is the list workload's ledger size when a round does not set one.
const DefaultLedgerSize = 1000

// sizeText renders n as 500, 1k, 100k, 1M.
func sizeText(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

// Presets are named plans for --preset: "smoke" checks that everything works in about a
// minute; "issue6" is the comparison and scaling run of docs/benchmarks.md; "throughput" is
// submits (CreateOrder) and reads (GetOrder) at 1, 16 and 64 clients, 400 operations each, the
// REST gateway against the SDK on the same devnet.
var Presets = map[string][]string{
	"smoke": {
		"workload=create,workers=4,count=40",
		"workload=lifecycle,workers=4,count=8",
		"workload=read,workers=4,count=100",
		"workload=list,workers=2,count=40,ledger=200",
		"workload=hot-merchant,workers=8,count=24",
	},
	"issue6": {
		"workload=create,workers=1,duration=20s",
		"workload=create,workers=16,duration=20s",
		"workload=create,workers=64,duration=20s",
		"workload=create,workers=64,rate=100,duration=20s",
		"workload=lifecycle,workers=16,duration=30s",
		"workload=read,workers=16,duration=15s",
		"workload=list,workers=8,duration=15s,ledger=1000",
		"workload=hot-merchant,workers=32,count=400",
	},
	"throughput": {
		"workload=create,workers=1,count=400",
		"workload=create,workers=16,count=400",
		"workload=create,workers=64,count=400",
		"workload=read,workers=1,count=400",
		"workload=read,workers=16,count=400",
		"workload=read,workers=64,count=400",
	},
}
