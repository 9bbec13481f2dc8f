// Command xborder-bench runs Caliper-style benchmark rounds against xborder: through the REST
// gateway, directly through the Fabric Gateway SDK, or both side by side on an embedded dev
// system, and writes the results as Markdown, JSON and SVG latency charts.
//
//	xborder-bench --embedded --preset issue6
//	xborder-bench --embedded --round workload=create,workers=16,duration=20s --round workload=read,workers=16,count=2000
//	xborder-bench --target rest --url http://127.0.0.1:8080 --credentials ./xborder-data/dev-credentials.json --preset smoke
//	xborder-bench --target sdk --devnet-data ./xborder-data --preset smoke
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/xborder/xborder/bench"
	"github.com/xborder/xborder/network/devnet"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "xborder-bench:", err)
		os.Exit(2)
	}
}

// roundList collects repeated --round flags.
type roundList []string

func (r *roundList) String() string     { return strings.Join(*r, " ") }
func (r *roundList) Set(v string) error { *r = append(*r, v); return nil }

// options are the command line of xborder-bench.
type options struct {
	embedded                 bool
	data                     string
	targets                  string
	url, creds, devnetData   string
	rounds                   roundList
	preset, out, runID       string
	prepWorkers, seedWorkers int
	progress                 string
	verbose                  bool
	cpuProfile               string
}

// parseFlags reads the command line.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("xborder-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.embedded, "embedded", false, "start the dev system (devnet, chaincode, REST gateway) in this process and measure it")
	fs.StringVar(&o.data, "data", "", "data directory of the embedded dev system (default: a temporary directory, removed afterwards)")
	fs.StringVar(&o.targets, "target", "", "targets, comma-separated: rest, sdk (default with --embedded: rest,sdk)")
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "REST gateway base URL (--target rest)")
	fs.StringVar(&o.creds, "credentials", "", "dev-credentials.json with one API key per organisation (--target rest)")
	fs.StringVar(&o.devnetData, "devnet-data", "", "data directory of `xborder devnet`, holding connection.json (--target sdk)")
	fs.Var(&o.rounds, "round", "a round, repeatable: workload=create|lifecycle|read|list|hot-merchant,workers=N,rate=R,count=N|duration=D[,target=rest+sdk][,ledger=N][,page=N]")
	fs.StringVar(&o.preset, "preset", "", "a named plan: "+strings.Join(presetNames(), ", "))
	fs.StringVar(&o.out, "out", "", "report directory (default ./bench-results/<run id>)")
	fs.StringVar(&o.runID, "run-id", "", "prefix of the order IDs this run creates (default: b + the start time in base 36)")
	fs.IntVar(&o.prepWorkers, "prep-workers", 32, "concurrency of round preparation")
	fs.IntVar(&o.seedWorkers, "seed-workers", 64, "concurrency of ledger seeding for list rounds")
	fs.StringVar(&o.progress, "progress", "auto", "live progress line: auto (when stdout is a terminal), on, off")
	fs.BoolVar(&o.verbose, "v", false, "log the dev system's messages to stderr")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (embedded: the whole system) to this file")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.runID == "" {
		o.runID = "b" + strconv.FormatInt(time.Now().Unix(), 36)
	}
	if o.out == "" {
		o.out = filepath.Join("bench-results", o.runID)
	}
	return o, nil
}

// roundSpecs parses the preset's rounds and then the --round flags, and returns the largest
// concurrency the run needs.
func (o *options) roundSpecs() ([]bench.RoundSpec, int, error) {
	rounds := o.rounds
	if o.preset != "" {
		p, ok := bench.Presets[o.preset]
		if !ok {
			return nil, 0, fmt.Errorf("unknown preset %q (one of %s)", o.preset, strings.Join(presetNames(), ", "))
		}
		rounds = append(slices.Clone(p), rounds...)
	}
	if len(rounds) == 0 {
		return nil, 0, errors.New("no rounds: give --preset or --round")
	}
	var specs []bench.RoundSpec
	maxWorkers := max(1, o.prepWorkers, o.seedWorkers)
	for _, r := range rounds {
		s, err := bench.ParseRoundSpec(r)
		if err != nil {
			return nil, 0, err
		}
		specs = append(specs, s)
		maxWorkers = max(maxWorkers, s.Workers)
	}
	return specs, maxWorkers, nil
}

// targetOrder is the default order of the targets.
func (o *options) targetOrder() ([]string, error) {
	order := splitList(o.targets)
	if len(order) == 0 && o.embedded {
		order = []string{"rest", "sdk"}
	}
	if len(order) == 0 {
		return nil, errors.New("no target: give --target rest and/or sdk, or --embedded")
	}
	return order, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	specs, maxWorkers, err := o.roundSpecs()
	if err != nil {
		return err
	}
	order, err := o.targetOrder()
	if err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	logger := slog.New(slog.DiscardHandler)
	if o.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	rep := &bench.Report{Title: "xborder benchmark " + o.runID, Command: "xborder-bench " + strings.Join(args, " "),
		Started: time.Now(), Machine: bench.ReadMachine()}
	t := &targets{drivers: map[string]bench.Driver{}}
	defer t.close(stderr)
	if o.embedded {
		if err := t.startEmbedded(ctx, o, maxWorkers, logger, rep, stderr); err != nil {
			return err
		}
	}
	if err := t.open(o, order, maxWorkers, rep); err != nil {
		return err
	}
	return runPlan(ctx, o, bench.Plan{Rounds: specs, Targets: t.drivers, Order: order, RunID: o.runID,
		Seeder: bench.NewSeeder(t.seedDriver(order), o.seedWorkers), PrepWorkers: o.prepWorkers, Log: stdout}, rep, stdout)
}

// startCPUProfile starts a CPU profile into path ("" for none); stop ends it.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// targets are the drivers of a run by name, and the embedded system that owns some of them.
type targets struct {
	drivers map[string]bench.Driver
	sys     *bench.Embedded
}

// startEmbedded starts the embedded dev system and takes its two drivers.
func (t *targets) startEmbedded(ctx context.Context, o *options, maxWorkers int, logger *slog.Logger, rep *bench.Report, stderr io.Writer) error {
	start := time.Now()
	sys, err := bench.StartEmbedded(ctx, o.data, maxWorkers, logger)
	if err != nil {
		return err
	}
	t.sys = sys
	t.drivers["rest"], t.drivers["sdk"] = sys.REST, sys.SDK
	rep.Notes = append(rep.Notes, fmt.Sprintf("embedded dev system (devnet + chaincode + REST gateway in this process; devnet batch timeout %s, at most %d transactions per block; REST rate limit %.0f/s), started in %.1f s",
		devnet.DefaultBatchTimeout, devnet.DefaultMaxBatch, bench.EmbeddedRateLimit, time.Since(start).Seconds()))
	fmt.Fprintf(stderr, "embedded dev system ready at %s (data %s)\n", sys.App.URL, sys.Dir)
	return nil
}

// open connects the targets of order that the embedded system does not provide.
func (t *targets) open(o *options, order []string, maxWorkers int, rep *bench.Report) error {
	for _, name := range order {
		if t.drivers[name] != nil {
			continue
		}
		d, note, err := openTarget(o, name, maxWorkers)
		if err != nil {
			return err
		}
		t.drivers[name] = d
		rep.Notes = append(rep.Notes, note)
	}
	return nil
}

// openTarget connects the driver of an external target and describes it for the report.
func openTarget(o *options, name string, maxWorkers int) (bench.Driver, string, error) {
	switch name {
	case "rest":
		if o.creds == "" {
			return nil, "", errors.New("--target rest needs --credentials (or --embedded)")
		}
		keys, err := bench.LoadCredentials(o.creds)
		if err != nil {
			return nil, "", err
		}
		d, err := bench.NewRESTDriver(o.url, keys, maxWorkers)
		if err != nil {
			return nil, "", err
		}
		return d, "REST target " + o.url, nil
	case "sdk":
		if o.devnetData == "" {
			return nil, "", errors.New("--target sdk needs --devnet-data (or --embedded)")
		}
		d, err := bench.DialDevnet(o.devnetData)
		if err != nil {
			return nil, "", err
		}
		return d, "SDK target from " + filepath.Join(o.devnetData, bench.ConnectionFile), nil
	}
	return nil, "", fmt.Errorf("unknown target %q (rest or sdk)", name)
}

// seedDriver is the driver that seeds the ledger: the SDK when it is available, the quickest
// path.
func (t *targets) seedDriver(order []string) bench.Driver {
	if d, ok := t.drivers["sdk"]; ok {
		return d
	}
	return t.drivers[order[0]]
}

// close stops the embedded system (with its drivers) and closes the other drivers.
func (t *targets) close(stderr io.Writer) {
	if t.sys != nil {
		if err := t.sys.Close(); err != nil {
			fmt.Fprintln(stderr, "xborder-bench:", err)
		}
	}
	for _, d := range t.drivers {
		if t.sys == nil || (d != t.sys.REST && d != t.sys.SDK) {
			_ = d.Close()
		}
	}
}

// runPlan runs the plan and writes the report of the rounds that ran.
func runPlan(ctx context.Context, o *options, plan bench.Plan, rep *bench.Report, stdout io.Writer) error {
	if useProgress(o.progress, stdout) {
		plan.Progress = stdout
		plan.Seeder.Progress = stdout
	}
	runErr := bench.RunPlan(ctx, plan, rep)
	if len(rep.Results) > 0 {
		if err := bench.WriteFiles(o.out, rep); err != nil {
			return errors.Join(runErr, err)
		}
		fmt.Fprintf(stdout, "report: %s\n", filepath.Join(o.out, "report.md"))
	}
	return runErr
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func presetNames() []string {
	names := make([]string, 0, len(bench.Presets))
	for n := range bench.Presets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// useProgress decides whether to print the live progress line.
func useProgress(mode string, stdout io.Writer) bool {
	switch mode {
	case "on":
		return true
	case "off":
		return false
	}
	f, ok := stdout.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
