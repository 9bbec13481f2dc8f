package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Memory is the benchmark process's memory at a point in time. In embedded mode the process
// also runs the devnet, the chaincode and the REST gateway, so these are the whole system's.
type Memory struct {
	// HeapAllocMiB is live heap (runtime.MemStats.HeapAlloc).
	HeapAllocMiB float64 `json:"heapAllocMiB"`
	// SysMiB is memory obtained from the OS by the Go runtime (runtime.MemStats.Sys).
	SysMiB float64 `json:"sysMiB"`
	// NumGC is the number of completed GC cycles.
	NumGC uint32 `json:"numGC"`
	// RSSMiB and PeakRSSMiB are the resident set size now and at its peak (VmRSS and VmHWM
	// from /proc/self/status; zero where /proc is not available).
	RSSMiB     float64 `json:"rssMiB"`
	PeakRSSMiB float64 `json:"peakRssMiB"`
	// RSSAnonMiB and RSSFileMiB split RSS into anonymous memory (heaps, stacks) and
	// file-backed pages (memory-mapped databases such as bbolt, binaries).
	RSSAnonMiB float64 `json:"rssAnonMiB"`
	RSSFileMiB float64 `json:"rssFileMiB"`
}

// ReadMemory samples the process's memory.
func ReadMemory() Memory {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := Memory{HeapAllocMiB: mib(ms.HeapAlloc), SysMiB: mib(ms.Sys), NumGC: ms.NumGC}
	if st, err := procStatus("/proc/self/status"); err == nil {
		m.RSSMiB, m.PeakRSSMiB, m.RSSAnonMiB, m.RSSFileMiB = st["VmRSS"], st["VmHWM"], st["RssAnon"], st["RssFile"]
	}
	return m
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// procStatus reads the memory sizes (kB lines: VmRSS, VmHWM, RssAnon, RssFile, ...) of a
// /proc/<pid>/status file, in MiB.
func procStatus(path string) (map[string]float64, error) {
	f, err := os.Open(path) // #nosec G304 -- a /proc path
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("parse %s in %s: %w", key, path, err)
		}
		out[key] = kb / 1024
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}
