// Command xborder-bench runs Caliper-style benchmark rounds against xborder: through the REST
// gateway, directly through the Fabric Gateway SDK, or both side by side on an embedded dev
// system or on a real Fabric network, and writes the results as Markdown, JSON and SVG latency
// charts. REST writes carry a fresh Idempotency-Key, as real clients send them
// (--idempotency-keys=false turns that off).
//
//	xborder-bench --embedded --preset issue6
//	xborder-bench --embedded --round workload=create,workers=16,duration=20s --round workload=read,workers=16,count=2000
//	xborder-bench --fabric-home ./fabric-data --round workload=lifecycle,workers=64,duration=30s
//	xborder-bench --target rest --url http://127.0.0.1:8080 --credentials ./xborder-data/dev-credentials.json --preset smoke
//	xborder-bench --target sdk --devnet-data ./xborder-data --preset smoke
//	xborder-bench --target sdk --gateway-config ./fabric-data/gateway.yaml --preset smoke
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
	"github.com/xborder/xborder/internal/gcpercent"
	"github.com/xborder/xborder/network/devnet"
)

func main() {
	// As cmd/xborder does, so that --embedded measures the dev system as xborder dev runs it.
	gcpercent.Apply()
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
	fabricHome               string
	targets                  string
	url, creds, devnetData   string
	gatewayConfig            string
	idempotencyKeys          bool
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
	fs.StringVar(&o.fabricHome, "fabric-home", "", "home of a real Fabric network (network/fabric/network.sh, holding gateway.yaml and credentials.json): run its REST gateway in this process and measure it and the SDK on the same peers")
	fs.StringVar(&o.targets, "target", "", "targets, comma-separated: rest, sdk (default with --embedded or --fabric-home: rest,sdk)")
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "REST gateway base URL (--target rest)")
	fs.StringVar(&o.creds, "credentials", "", "dev-credentials.json with one API key per organisation (--target rest)")
	fs.StringVar(&o.devnetData, "devnet-data", "", "data directory of `xborder devnet`, holding connection.json (--target sdk)")
	fs.StringVar(&o.gatewayConfig, "gateway-config", "", "gateway.yaml of a real Fabric network, as network.sh deploy writes it (--target sdk)")
	fs.BoolVar(&o.idempotencyKeys, "idempotency-keys", true, "send every REST write with a fresh Idempotency-Key, as real clients do")
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
	if o.embedded && o.fabricHome != "" {
		return nil, errors.New("--embedded and --fabric-home are two different systems: give one")
	}
	order := splitList(o.targets)
	if len(order) == 0 && (o.embedded || o.fabricHome != "") {
		order = []string{"rest", "sdk"}
	}
	if len(order) == 0 {
		return nil, errors.New("no target: give --target rest and/or sdk, --embedded or --fabric-home")
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
	if o.fabricHome != "" {
		if err := t.startFabric(ctx, o, maxWorkers, logger, rep, stderr); err != nil {
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

// targets are the drivers of a run by name, and the embedded system or in-process gateway that
// owns some of them.
type targets struct {
	drivers map[string]bench.Driver
	sys     *bench.Embedded
	fab     *bench.Fabric
}

// restOptions are the REST driver's options of the command line.
func (o *options) restOptions() []bench.RESTOption {
	if o.idempotencyKeys {
		return nil
	}
	return []bench.RESTOption{bench.WithoutIdempotencyKeys()}
}

// idempotencyNote says in the report whether REST writes carried Idempotency-Keys.
func (o *options) idempotencyNote() string {
	if o.idempotencyKeys {
		return "REST writes carry a fresh Idempotency-Key each (the gateway records every answer)"
	}
	return "REST writes carry no Idempotency-Key (--idempotency-keys=false)"
}

// startFabric starts the REST gateway of a real Fabric network in this process and takes its
// two drivers.
func (t *targets) startFabric(ctx context.Context, o *options, maxWorkers int, logger *slog.Logger, rep *bench.Report, stderr io.Writer) error {
	start := time.Now()
	f, err := bench.StartFabric(ctx, o.fabricHome, maxWorkers, logger, o.restOptions()...)
	if err != nil {
		return err
	}
	t.fab = f
	t.drivers["rest"], t.drivers["sdk"] = f.REST, f.SDK
	rep.Notes = append(rep.Notes, fmt.Sprintf("real Fabric network in %s: REST gateway from %s in this process (rate limit %.0f/s), SDK with the same identities and peers; started in %.1f s",
		o.fabricHome, bench.GatewayConfigFile, bench.FabricRateLimit, time.Since(start).Seconds()), o.idempotencyNote())
	fmt.Fprintf(stderr, "REST gateway of %s ready at %s\n", o.fabricHome, f.URL)
	return nil
}

// startEmbedded starts the embedded dev system and takes its two drivers.
func (t *targets) startEmbedded(ctx context.Context, o *options, maxWorkers int, logger *slog.Logger, rep *bench.Report, stderr io.Writer) error {
	start := time.Now()
	sys, err := bench.StartEmbedded(ctx, o.data, maxWorkers, logger, o.restOptions()...)
	if err != nil {
		return err
	}
	t.sys = sys
	t.drivers["rest"], t.drivers["sdk"] = sys.REST, sys.SDK
	rep.Notes = append(rep.Notes, fmt.Sprintf("embedded dev system (devnet + chaincode + REST gateway in this process; devnet batch timeout %s, at most %d transactions per block; REST rate limit %.0f/s), started in %.1f s",
		devnet.DefaultBatchTimeout, devnet.DefaultMaxBatch, bench.EmbeddedRateLimit, time.Since(start).Seconds()), o.idempotencyNote())
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
		d, err := bench.NewRESTDriver(o.url, keys, maxWorkers, o.restOptions()...)
		if err != nil {
			return nil, "", err
		}
		return d, "REST target " + o.url + "; " + o.idempotencyNote(), nil
	case "sdk":
		if o.gatewayConfig != "" {
			d, err := bench.DialGatewayConfig(o.gatewayConfig)
			if err != nil {
				return nil, "", err
			}
			return d, "SDK target from " + o.gatewayConfig, nil
		}
		if o.devnetData == "" {
			return nil, "", errors.New("--target sdk needs --devnet-data or --gateway-config (or --embedded, --fabric-home)")
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

// close stops the embedded system or the in-process gateway (with their drivers) and closes the
// other drivers.
func (t *targets) close(stderr io.Writer) {
	owned := map[bench.Driver]bool{}
	if t.sys != nil {
		owned[t.sys.REST], owned[t.sys.SDK] = true, true
		if err := t.sys.Close(); err != nil {
			fmt.Fprintln(stderr, "xborder-bench:", err)
		}
	}
	if t.fab != nil {
		owned[t.fab.REST], owned[t.fab.SDK] = true, true
		if err := t.fab.Close(); err != nil {
			fmt.Fprintln(stderr, "xborder-bench:", err)
		}
	}
	for _, d := range t.drivers {
		if !owned[d] {
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
