package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fixedResult builds a result from samples as Run does.
func fixedResult(label, workload, target string, workers int, samples []Sample) *Result {
	r := &Result{Label: label, Workload: workload, Target: target, Workers: workers, Count: len(samples), TxPerOp: 1,
		Started: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), Samples: samples}
	r.Stats = Summarize(samples)
	r.TxThroughput = r.Stats.Throughput
	r.Buckets = Buckets(samples, 4)
	r.Memory = Memory{HeapAllocMiB: 10, SysMiB: 20, RSSMiB: 30, PeakRSSMiB: 40, NumGC: 3}
	return r
}

func testReport() *Report {
	var rest, sdk []Sample
	for i := range 20 {
		start := time.Duration(i) * 100 * time.Millisecond
		rest = append(rest, Sample{Start: start, Latency: 50 * time.Millisecond})
		sdk = append(sdk, Sample{Start: start, Latency: 45 * time.Millisecond})
	}
	rest[3].Reason = "MVCC_READ_CONFLICT"
	rest[7].Reason = "TIMEOUT"
	rest[8].Reason = "TIMEOUT"
	results := []*Result{
		fixedResult("create-w4-rest", "create", "rest", 4, rest),
		fixedResult("create-w4-sdk", "create", "sdk", 4, sdk),
		fixedResult("a|b", "read", "sdk", 1, sdk[:5]),
	}
	results[1].Retries = map[string]int64{"stale_not_found": 4, "endorsement_mismatch": 1}
	return &Report{Title: "test run", Command: "xborder-bench --embedded", Started: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		Machine: Machine{CPUModel: "Test CPU", NumCPU: 2, LoadAvg: "1.00 2.00 3.00", GoVersion: "go1.26.8", OS: "linux", Arch: "amd64"},
		Notes:   []string{"note one"}, Results: results, Comparisons: Compare(results)}
}

func TestCompare(t *testing.T) {
	rep := testReport()
	// A round of another size does not pair with the SDK round.
	other := *rep.Results[0]
	other.Label = "create-w4-big-rest"
	require.Len(t, Compare(append(rep.Results, &other)), 1)
	require.Len(t, rep.Comparisons, 1)
	c := rep.Comparisons[0]
	require.Equal(t, "create-w4-rest", c.REST)
	require.Equal(t, "create-w4-sdk", c.SDK)
	require.InDelta(t, 50.0/45.0-1, c.LatencyOverhead, 1e-9)
	require.InDelta(t, 17.0/20.0, c.ThroughputRatio, 1e-2)
	require.True(t, c.LatencyOverhead <= 0.15, "REST is within the latency budget")
	require.False(t, c.WithinBudget, "but keeps less than 85% of the SDK's throughput")
}

func TestWriteMarkdown(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteMarkdown(&buf, testReport(), "charts"))
	md := buf.String()
	lines := strings.Split(md, "\n")
	require.Equal(t, "# test run", lines[0])
	for _, want := range []string{
		"Test CPU (2 CPUs, load average 1.00 2.00 3.00 at start)",
		"```sh\nxborder-bench --embedded\n```",
		"- note one",
		"| create-w4-rest | create | rest | 4 | max | 20 ops | 17 | 3 |",
		"| create-w4-sdk | create | sdk | 4 | max | 20 ops | 20 | 0 |",
		"| a\\|b | read | sdk |",
		"| create-w4-rest | MVCC_READ_CONFLICT | 1 |",
		"| create-w4-rest | TIMEOUT | 2 |",
		"| create-w4-sdk | endorsement_mismatch | 1 |\n| create-w4-sdk | stale_not_found | 4 |",
		"| create-w4 | create-w4-rest | create-w4-sdk | +11.1% |",
		"| create-w4-rest | 0.0 | 10 | 20 | 30 | 0 | 0 | 40 | 3 |",
		"- [create-w4-sdk](charts/create-w4-sdk.svg)",
		"- [a|b](charts/a_b.svg)",
	} {
		require.Contains(t, md, want)
	}
	// Every table row has as many cells as its header.
	var header int
	for _, l := range lines {
		if !strings.HasPrefix(l, "|") {
			header = 0
			continue
		}
		cells := len(strings.Split(strings.ReplaceAll(l, "\\|", ""), "|")) - 2
		if header == 0 {
			header = cells
			continue
		}
		require.Equal(t, header, cells, "row %q", l)
	}
}

func TestWriteMarkdownWithoutFailures(t *testing.T) {
	rep := testReport()
	rep.Results = rep.Results[1:2]
	rep.Comparisons = nil
	var buf bytes.Buffer
	require.NoError(t, WriteMarkdown(&buf, rep, ""))
	require.Contains(t, buf.String(), "No operation failed.")
	require.Contains(t, buf.String(), "Retries by reason")
	require.NotContains(t, buf.String(), "Latency over time")
	require.NotContains(t, buf.String(), "REST against SDK")
}

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, testReport()))
	var back Report
	require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
	require.Len(t, back.Results, 3)
	require.Equal(t, 17, back.Results[0].Stats.Succeeded)
	require.Equal(t, map[string]int{"MVCC_READ_CONFLICT": 1, "TIMEOUT": 2}, back.Results[0].Stats.FailedBy)
	require.Equal(t, 50*time.Millisecond, back.Results[0].Stats.Latency.P99)
	require.Nil(t, back.Results[0].Samples, "raw samples stay out of the JSON")
	require.Len(t, back.Results[0].Buckets, 4)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &raw))
	lat := raw["results"].([]any)[0].(map[string]any)["stats"].(map[string]any)["latency"].(map[string]any)
	require.Contains(t, lat, "p95Ns", "durations carry their unit")
}

func TestWriteSVG(t *testing.T) {
	for _, tc := range []struct {
		name      string
		result    *Result
		polylines int
		failed    int
	}{
		{"with failures", testReport().Results[0], 3, 2},
		{"clean", testReport().Results[1], 3, 0},
		{"empty round", &Result{Label: "<empty & odd>"}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, WriteSVG(&buf, tc.result))
			var svg struct {
				XMLName xml.Name
			}
			require.NoError(t, xml.Unmarshal(buf.Bytes(), &svg), "well-formed XML")
			require.Equal(t, "svg", svg.XMLName.Local)
			dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
			var polylines, failed, texts int
			for {
				tok, err := dec.Token()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				if se, ok := tok.(xml.StartElement); ok {
					switch se.Name.Local {
					case "polyline":
						polylines++
					case "text":
						texts++
					case "line":
						for _, a := range se.Attr {
							if a.Name.Local == "class" && a.Value == "failed" {
								failed++
							}
						}
					}
				}
			}
			require.Equal(t, tc.polylines, polylines)
			require.Equal(t, tc.failed, failed)
			require.Greater(t, texts, 5, "title, axes and legend")
		})
	}
}

func TestNiceStep(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{{0.3, 0.5}, {1, 1}, {1.1, 2}, {3, 5}, {7, 10}, {42, 50}, {0, 1}} {
		require.InDelta(t, tc.want, niceStep(tc.in), 1e-12, "niceStep(%v)", tc.in)
	}
}

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	rep := testReport()
	require.NoError(t, WriteFiles(dir, rep))
	for _, name := range []string{"report.md", "report.json", "create-w4-rest.svg", "create-w4-sdk.svg", "a_b.svg"} {
		st, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, name)
		require.Positive(t, st.Size(), name)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "(create-w4-rest.svg)")
}

func TestProcRSS(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status")
	require.NoError(t, os.WriteFile(path, []byte("Name:\tx\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n"), 0o600))
	st, err := procStatus(path)
	require.NoError(t, err)
	require.Equal(t, map[string]float64{"VmRSS": 100, "VmHWM": 200}, st)
	_, err = procStatus(filepath.Join(t.TempDir(), "missing"))
	require.Error(t, err)
	m := ReadMemory()
	require.Positive(t, m.SysMiB)
}
