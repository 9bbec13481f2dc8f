package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Machine describes where a benchmark ran.
type Machine struct {
	// CPUModel is the "model name" of /proc/cpuinfo.
	CPUModel string `json:"cpuModel"`
	// NumCPU is the CPUs usable by the process (runtime.NumCPU, as nproc).
	NumCPU int `json:"numCpu"`
	// LoadAvg is /proc/loadavg's 1, 5 and 15 minute load at the start.
	LoadAvg   string `json:"loadAvg,omitempty"`
	GoVersion string `json:"goVersion"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

// ReadMachine describes this machine.
func ReadMachine() Machine {
	m := Machine{NumCPU: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return m
}

// Report is the outcome of a benchmark run: the rounds in the order they ran.
type Report struct {
	// Title heads the Markdown report.
	Title string `json:"title"`
	// Command is the command line that produced the report.
	Command string    `json:"command,omitempty"`
	Started time.Time `json:"started"`
	Machine Machine   `json:"machine"`
	// Notes are free-form lines (target, devnet settings, ...).
	Notes   []string  `json:"notes,omitempty"`
	Results []*Result `json:"results"`
	// Comparisons pair REST and SDK rounds of the same workload and workers.
	Comparisons []Comparison `json:"comparisons,omitempty"`
	// Memory is sampled at the end of the run.
	Memory Memory `json:"memory"`
}

// Comparison sets a REST round against the SDK round of the same workload and workers
// (issue 4's budget: REST adds at most 15% to the median latency and keeps at least 85% of the
// SDK's throughput).
type Comparison struct {
	Label   string `json:"label"`
	REST    string `json:"rest"`
	SDK     string `json:"sdk"`
	Workers int    `json:"workers"`
	// LatencyOverhead is REST p50 / SDK p50 - 1.
	LatencyOverhead float64 `json:"latencyOverhead"`
	// ThroughputRatio is REST throughput / SDK throughput.
	ThroughputRatio float64 `json:"throughputRatio"`
	// WithinBudget is LatencyOverhead <= 0.15 and ThroughputRatio >= 0.85.
	WithinBudget bool `json:"withinBudget"`
}

// Compare pairs every REST result with the SDK result of the same round: the same label
// once the target suffix is removed (so the same workload, workers, rate and ledger size).
func Compare(results []*Result) []Comparison {
	var out []Comparison
	for _, r := range results {
		if r.Target != "rest" {
			continue
		}
		base := strings.TrimSuffix(r.Label, "-rest")
		for _, s := range results {
			if s.Target != "sdk" || strings.TrimSuffix(s.Label, "-sdk") != base || s.Workload != r.Workload || s.Workers != r.Workers {
				continue
			}
			if s.Stats.Latency.P50 == 0 || s.Stats.Throughput == 0 {
				continue
			}
			c := Comparison{Label: base, REST: r.Label, SDK: s.Label, Workers: r.Workers,
				LatencyOverhead: float64(r.Stats.Latency.P50)/float64(s.Stats.Latency.P50) - 1,
				ThroughputRatio: r.Stats.Throughput / s.Stats.Throughput}
			c.WithinBudget = c.LatencyOverhead <= 0.15 && c.ThroughputRatio >= 0.85
			out = append(out, c)
			break
		}
	}
	return out
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return nil
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
}

func rateText(r float64) string {
	if r <= 0 {
		return "max"
	}
	return fmt.Sprintf("%g/s", r)
}

func endText(r *Result) string {
	if r.Count > 0 {
		return fmt.Sprintf("%d ops", r.Count)
	}
	return r.Duration.String()
}

// WriteMarkdown writes the report as Markdown: machine, per-round table, failures, memory,
// REST-versus-SDK comparison and links to the charts (chartDir relative paths; "" omits them).
func WriteMarkdown(w io.Writer, rep *Report, chartDir string) error {
	m := markdown{bufio.NewWriter(w)}
	m.header(rep)
	m.rounds(rep)
	m.failures(rep)
	m.retries(rep)
	m.comparisons(rep)
	m.memory(rep)
	m.cpu(rep)
	if chartDir != "" {
		m.p("Latency over time:\n\n")
		for _, r := range rep.Results {
			m.p("- [%s](%s)\n", r.Label, filepath.ToSlash(filepath.Join(chartDir, ChartFileName(r))))
		}
		m.p("\n")
	}
	if err := m.Flush(); err != nil {
		return fmt.Errorf("write Markdown report: %w", err)
	}
	return nil
}

// markdown writes the sections of a Markdown report.
type markdown struct{ *bufio.Writer }

func (m markdown) p(format string, a ...any) { fmt.Fprintf(m, format, a...) }

// header writes the title, the machine, the command and the notes.
func (m markdown) header(rep *Report) {
	m.p("# %s\n\n", rep.Title)
	m.p("Started %s on %s (%d CPUs", rep.Started.UTC().Format(time.RFC3339), nonEmpty(rep.Machine.CPUModel, "unknown CPU"), rep.Machine.NumCPU)
	if rep.Machine.LoadAvg != "" {
		m.p(", load average %s at start", rep.Machine.LoadAvg)
	}
	m.p("), %s %s/%s.\n\n", rep.Machine.GoVersion, rep.Machine.OS, rep.Machine.Arch)
	if rep.Command != "" {
		m.p("```sh\n%s\n```\n\n", rep.Command)
	}
	for _, n := range rep.Notes {
		m.p("- %s\n", n)
	}
	if len(rep.Notes) > 0 {
		m.p("\n")
	}
}

// rounds writes one row per round.
func (m markdown) rounds(rep *Report) {
	m.p("| round | workload | target | workers | rate | end | succeeded | failed | send rate (op/s) | throughput (op/s) | tx/s | min ms | avg ms | p50 ms | p95 ms | p99 ms | max ms |\n")
	m.p("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rep.Results {
		l := r.Stats.Latency
		m.p("| %s | %s | %s | %d | %s | %s | %d | %d | %.1f | %.1f | %.1f | %s | %s | %s | %s | %s | %s |\n",
			mdCell(r.Label), r.Workload, r.Target, r.Workers, rateText(r.Rate), endText(r), r.Stats.Succeeded, r.Stats.Failed,
			r.Stats.SendRate, r.Stats.Throughput, r.TxThroughput, ms(l.Min), ms(l.Avg), ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max))
	}
	m.p("\n")
	m.p("Latency of the single requests (each REST call or SDK transaction) of the successful operations:\n\n")
	m.p("| round | requests | avg ms | p50 ms | p95 ms | p99 ms | max ms |\n")
	m.p("|---|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rep.Results {
		l := r.Requests
		m.p("| %s | %d | %s | %s | %s | %s | %s |\n", mdCell(r.Label), r.RequestCount, ms(l.Avg), ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max))
	}
	m.p("\n")
}

// failures writes the failed operations by round and reason.
func (m markdown) failures(rep *Report) {
	var failures []string
	for _, r := range rep.Results {
		reasons := make([]string, 0, len(r.Stats.FailedBy))
		for k := range r.Stats.FailedBy {
			reasons = append(reasons, k)
		}
		slices.Sort(reasons)
		for _, k := range reasons {
			failures = append(failures, fmt.Sprintf("| %s | %s | %d |", mdCell(r.Label), k, r.Stats.FailedBy[k]))
		}
	}
	if len(failures) == 0 {
		m.p("No operation failed.\n\n")
		return
	}
	m.p("Failures by reason:\n\n| round | reason | count |\n|---|---|--:|\n%s\n\n", strings.Join(failures, "\n"))
}

// retries writes the operations sent again, by round and reason.
func (m markdown) retries(rep *Report) {
	var rows []string
	for _, r := range rep.Results {
		reasons := make([]string, 0, len(r.Retries))
		for k := range r.Retries {
			reasons = append(reasons, k)
		}
		slices.Sort(reasons)
		for _, k := range reasons {
			rows = append(rows, fmt.Sprintf("| %s | %s | %d |", mdCell(r.Label), k, r.Retries[k]))
		}
	}
	if len(rows) == 0 {
		return
	}
	m.p("Retries by reason (REST: counted by the gateway, xborder_fabric_retries_total; SDK: by the driver):\n\n")
	m.p("| round | reason | count |\n|---|---|--:|\n%s\n\n", strings.Join(rows, "\n"))
}

// comparisons writes the REST-against-SDK table.
func (m markdown) comparisons(rep *Report) {
	if len(rep.Comparisons) == 0 {
		return
	}
	m.p("REST against SDK (budget: REST adds at most 15%% to the median latency and keeps at least 85%% of the SDK's throughput):\n\n")
	m.p("| round | REST round | SDK round | p50 overhead | throughput ratio | within budget |\n|---|---|---|--:|--:|---|\n")
	for _, c := range rep.Comparisons {
		yes := "no"
		if c.WithinBudget {
			yes = "yes"
		}
		m.p("| %s | %s | %s | %+.1f%% | %.1f%% | %s |\n", c.Label, mdCell(c.REST), mdCell(c.SDK), 100*c.LatencyOverhead, 100*c.ThroughputRatio, yes)
	}
	m.p("\n")
}

// memory writes the memory use after each round.
func (m markdown) memory(rep *Report) {
	m.p("Memory after each round (the whole process; file-backed RSS is mostly the memory-mapped ledger and stores):\n\n")
	m.p("| round | prepare s | heap MiB | Go sys MiB | RSS MiB | anon RSS MiB | file RSS MiB | peak RSS MiB | GCs |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rep.Results {
		mem := r.Memory
		m.p("| %s | %.1f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %d |\n", mdCell(r.Label), r.Prepare.Seconds(), mem.HeapAllocMiB, mem.SysMiB,
			mem.RSSMiB, mem.RSSAnonMiB, mem.RSSFileMiB, mem.PeakRSSMiB, mem.NumGC)
	}
	m.p("\n")
}

// cpu writes the processor time of each round's measured phase.
func (m markdown) cpu(rep *Report) {
	m.p("CPU during each round (machine: every process, from /proc/stat; process: this one, user + system):\n\n")
	m.p("| round | machine busy | busy cores | process CPU s | process cores |\n|---|--:|--:|--:|--:|\n")
	for _, r := range rep.Results {
		cores := 0.0
		if d := r.Stats.Elapsed.Seconds(); d > 0 {
			cores = r.CPU.ProcessSeconds / d
		}
		m.p("| %s | %.0f %% | %.2f | %.1f | %.2f |\n", mdCell(r.Label), 100*r.CPU.MachineBusy, r.CPU.MachineCores, r.CPU.ProcessSeconds, cores)
	}
	m.p("\n")
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// ChartFileName is the file name of r's latency chart.
func ChartFileName(r *Result) string {
	return unsafeFileChars.ReplaceAllString(r.Label, "_") + ".svg"
}

// WriteFiles writes report.md, report.json and one SVG chart per round into dir.
func WriteFiles(dir string, rep *Report) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create report directory: %w", err)
	}
	write := func(name string, f func(io.Writer) error) error {
		path := filepath.Join(dir, name)
		out, err := os.Create(path) // #nosec G304 -- the operator names the directory
		if err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
		if err := f(out); err != nil {
			_ = out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return fmt.Errorf("close %s: %w", path, err)
		}
		return nil
	}
	if err := write("report.md", func(w io.Writer) error { return WriteMarkdown(w, rep, ".") }); err != nil {
		return err
	}
	if err := write("report.json", func(w io.Writer) error { return WriteJSON(w, rep) }); err != nil {
		return err
	}
	for _, r := range rep.Results {
		if err := write(ChartFileName(r), func(w io.Writer) error { return WriteSVG(w, r) }); err != nil {
			return err
		}
	}
	return nil
}
