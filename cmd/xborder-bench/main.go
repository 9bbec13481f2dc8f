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

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("xborder-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	embedded := fs.Bool("embedded", false, "start the dev system (devnet, chaincode, REST gateway) in this process and measure it")
	data := fs.String("data", "", "data directory of the embedded dev system (default: a temporary directory, removed afterwards)")
	targets := fs.String("target", "", "targets, comma-separated: rest, sdk (default with --embedded: rest,sdk)")
	url := fs.String("url", "http://127.0.0.1:8080", "REST gateway base URL (--target rest)")
	creds := fs.String("credentials", "", "dev-credentials.json with one API key per organisation (--target rest)")
	devnetData := fs.String("devnet-data", "", "data directory of `xborder devnet`, holding connection.json (--target sdk)")
	var rounds roundList
	fs.Var(&rounds, "round", "a round, repeatable: workload=create|lifecycle|read|list|hot-merchant,workers=N,rate=R,count=N|duration=D[,target=rest+sdk][,ledger=N][,page=N]")
	preset := fs.String("preset", "", "a named plan: "+strings.Join(presetNames(), ", "))
	out := fs.String("out", "", "report directory (default ./bench-results/<run id>)")
	runID := fs.String("run-id", "", "prefix of the order IDs this run creates (default: b + the start time in base 36)")
	prepWorkers := fs.Int("prep-workers", 32, "concurrency of round preparation")
	seedWorkers := fs.Int("seed-workers", 64, "concurrency of ledger seeding for list rounds")
	progress := fs.String("progress", "auto", "live progress line: auto (when stdout is a terminal), on, off")
	verbose := fs.Bool("v", false, "log the dev system's messages to stderr")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (embedded: the whole system) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if *preset != "" {
		p, ok := bench.Presets[*preset]
		if !ok {
			return fmt.Errorf("unknown preset %q (one of %s)", *preset, strings.Join(presetNames(), ", "))
		}
		rounds = append(slices.Clone(p), rounds...)
	}
	if len(rounds) == 0 {
		return errors.New("no rounds: give --preset or --round")
	}
	var specs []bench.RoundSpec
	maxWorkers := 1
	for _, r := range rounds {
		s, err := bench.ParseRoundSpec(r)
		if err != nil {
			return err
		}
		specs = append(specs, s)
		maxWorkers = max(maxWorkers, s.Workers, *prepWorkers, *seedWorkers)
	}
	order := splitList(*targets)
	if len(order) == 0 && *embedded {
		order = []string{"rest", "sdk"}
	}
	if len(order) == 0 {
		return errors.New("no target: give --target rest and/or sdk, or --embedded")
	}
	if *runID == "" {
		*runID = "b" + strconv.FormatInt(time.Now().Unix(), 36)
	}
	if *out == "" {
		*out = filepath.Join("bench-results", *runID)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}

	rep := &bench.Report{Title: "xborder benchmark " + *runID, Command: "xborder-bench " + strings.Join(args, " "),
		Started: time.Now(), Machine: bench.ReadMachine()}
	drivers := map[string]bench.Driver{}
	defer func() {
		for _, d := range drivers {
			_ = d.Close()
		}
	}()
	if *embedded {
		start := time.Now()
		sys, err := bench.StartEmbedded(ctx, *data, maxWorkers, logger)
		if err != nil {
			return err
		}
		defer func() {
			if err := sys.Close(); err != nil {
				fmt.Fprintln(stderr, "xborder-bench:", err)
			}
		}()
		drivers["rest"], drivers["sdk"] = sys.REST, sys.SDK
		// Closed with the system.
		defer func() { delete(drivers, "rest"); delete(drivers, "sdk") }()
		rep.Notes = append(rep.Notes, fmt.Sprintf("embedded dev system (devnet + chaincode + REST gateway in this process; devnet batch timeout %s, at most %d transactions per block; REST rate limit %.0f/s), started in %.1f s",
			devnet.DefaultBatchTimeout, devnet.DefaultMaxBatch, bench.EmbeddedRateLimit, time.Since(start).Seconds()))
		fmt.Fprintf(stderr, "embedded dev system ready at %s (data %s)\n", sys.App.URL, sys.Dir)
	}
	for _, t := range order {
		if drivers[t] != nil {
			continue
		}
		switch t {
		case "rest":
			if *creds == "" {
				return errors.New("--target rest needs --credentials (or --embedded)")
			}
			keys, err := bench.LoadCredentials(*creds)
			if err != nil {
				return err
			}
			d, err := bench.NewRESTDriver(*url, keys, maxWorkers)
			if err != nil {
				return err
			}
			drivers["rest"] = d
			rep.Notes = append(rep.Notes, "REST target "+*url)
		case "sdk":
			if *devnetData == "" {
				return errors.New("--target sdk needs --devnet-data (or --embedded)")
			}
			d, err := bench.DialDevnet(*devnetData)
			if err != nil {
				return err
			}
			drivers["sdk"] = d
			rep.Notes = append(rep.Notes, "SDK target from "+filepath.Join(*devnetData, bench.ConnectionFile))
		default:
			return fmt.Errorf("unknown target %q (rest or sdk)", t)
		}
	}
	// Seeding goes through the SDK when it is available: it is the quickest path.
	seedDriver := drivers[order[0]]
	if d, ok := drivers["sdk"]; ok {
		seedDriver = d
	}
	plan := bench.Plan{Rounds: specs, Targets: drivers, Order: order, RunID: *runID,
		Seeder: bench.NewSeeder(seedDriver, *seedWorkers), PrepWorkers: *prepWorkers, Log: stdout}
	if useProgress(*progress, stdout) {
		plan.Progress = stdout
		plan.Seeder.Progress = stdout
	}
	runErr := bench.RunPlan(ctx, plan, rep)
	if len(rep.Results) > 0 {
		if err := bench.WriteFiles(*out, rep); err != nil {
			return errors.Join(runErr, err)
		}
		fmt.Fprintf(stdout, "report: %s\n", filepath.Join(*out, "report.md"))
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
