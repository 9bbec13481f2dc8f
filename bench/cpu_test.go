package bench

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCPUSince(t *testing.T) {
	cases := []struct {
		name     string
		from, to cpuSample
		want     CPU
	}{
		{"half the machine busy", cpuSample{busy: 100, total: 1000, cpus: 2}, cpuSample{busy: 600, total: 2000, cpus: 2, process: 3 * time.Second},
			CPU{MachineBusy: 0.5, MachineCores: 1, ProcessSeconds: 3}},
		{"no /proc/stat", cpuSample{}, cpuSample{process: time.Second}, CPU{ProcessSeconds: 1}},
		{"counters went back", cpuSample{busy: 10, total: 100, cpus: 2}, cpuSample{busy: 5, total: 200, cpus: 2}, CPU{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, cpuSince(tc.from, tc.to))
		})
	}
}

// TestReadCPU spins for a while and finds the time spent in both counters.
func TestReadCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/stat is Linux's")
	}
	from := readCPU()
	require.Positive(t, from.cpus)
	deadline := time.Now().Add(200 * time.Millisecond)
	for n := 0; time.Now().Before(deadline); n++ {
		_ = n * n
	}
	c := cpuSince(from, readCPU())
	require.Positive(t, c.ProcessSeconds)
	require.Positive(t, c.MachineBusy)
	require.LessOrEqual(t, c.MachineBusy, 1.0)
}
