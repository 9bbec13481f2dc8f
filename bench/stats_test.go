package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func msd(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	oneToHundred := make([]int, 100)
	for i := range oneToHundred {
		oneToHundred[i] = i + 1
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single", msd(7), 99, 7 * time.Millisecond},
		{"median of odd count", msd(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"median of even count is the lower middle", msd(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p95 of 1..100", msd(oneToHundred...), 95, 95 * time.Millisecond},
		{"p99 of 1..100", msd(oneToHundred...), 99, 99 * time.Millisecond},
		{"p100 is the max", msd(oneToHundred...), 100, 100 * time.Millisecond},
		{"p95 of 10 values rounds the rank up", msd(10, 20, 30, 40, 50, 60, 70, 80, 90, 100), 95, 100 * time.Millisecond},
		{"p1 of 10 values is the min", msd(10, 20, 30, 40, 50, 60, 70, 80, 90, 100), 1, 10 * time.Millisecond},
		{"tiny p is the min", msd(5, 6), 0.001, 5 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Percentile(tc.sorted, tc.p))
		})
	}
}

func TestLatencies(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want LatencyStats
	}{
		{"none", nil, LatencyStats{}},
		{"unsorted input", msd(40, 10, 30, 20), LatencyStats{Min: 10 * time.Millisecond, Avg: 25 * time.Millisecond,
			P50: 20 * time.Millisecond, P95: 40 * time.Millisecond, P99: 40 * time.Millisecond, Max: 40 * time.Millisecond}},
		{"average rounds to the nanosecond", []time.Duration{1, 2}, LatencyStats{Min: 1, Avg: 2, P50: 1, P95: 2, P99: 2, Max: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Latencies(tc.in))
		})
	}
}

func TestSummarize(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		require.Equal(t, Stats{}, Summarize(nil))
	})
	t.Run("successes and failures", func(t *testing.T) {
		// Five sends one second apart (0..4 s); the last completes at 6 s.
		samples := []Sample{
			{Start: 0, Latency: 100 * time.Millisecond},
			{Start: time.Second, Latency: 200 * time.Millisecond},
			{Start: 2 * time.Second, Latency: 50 * time.Millisecond, Reason: "CONFLICT"},
			{Start: 3 * time.Second, Latency: 300 * time.Millisecond, Reason: "TIMEOUT"},
			{Start: 4 * time.Second, Latency: 2 * time.Second},
			{Start: 2 * time.Second, Latency: 10 * time.Millisecond, Reason: "CONFLICT"},
		}
		st := Summarize(samples)
		require.Equal(t, 3, st.Succeeded)
		require.Equal(t, 3, st.Failed)
		require.Equal(t, map[string]int{"CONFLICT": 2, "TIMEOUT": 1}, st.FailedBy)
		require.InDelta(t, 5.0/4.0, st.SendRate, 1e-9)
		require.Equal(t, 6*time.Second, st.Elapsed)
		require.InDelta(t, 3.0/6.0, st.Throughput, 1e-9)
		require.Equal(t, 100*time.Millisecond, st.Latency.Min)
		require.Equal(t, 200*time.Millisecond, st.Latency.P50)
		require.Equal(t, 2*time.Second, st.Latency.Max)
	})
	t.Run("all failed", func(t *testing.T) {
		st := Summarize([]Sample{{Start: 0, Latency: time.Second, Reason: "UNAVAILABLE"}})
		require.Zero(t, st.Succeeded)
		require.Zero(t, st.Throughput)
		require.Zero(t, st.SendRate)
		require.Equal(t, LatencyStats{}, st.Latency)
	})
}

func TestBuckets(t *testing.T) {
	var samples []Sample
	for i := range 10 {
		s := Sample{Start: time.Duration(i) * time.Second, Latency: time.Duration(i+1) * time.Millisecond}
		if i == 9 {
			s.Reason = "TIMEOUT"
		}
		samples = append(samples, s)
	}
	for _, tc := range []struct {
		name  string
		n     int
		check func(t *testing.T, b []Bucket)
	}{
		{"none", 0, func(t *testing.T, b []Bucket) { require.Nil(t, b) }},
		{"one slice holds everything", 1, func(t *testing.T, b []Bucket) {
			require.Len(t, b, 1)
			require.Equal(t, 9, b[0].Succeeded)
			require.Equal(t, 1, b[0].Failed)
			require.Equal(t, 5*time.Millisecond, b[0].P50)
			require.Equal(t, 9*time.Millisecond, b[0].Max)
		}},
		{"five slices of two", 5, func(t *testing.T, b []Bucket) {
			require.Len(t, b, 5)
			total := 0
			for i, x := range b {
				total += x.Succeeded + x.Failed
				require.Equal(t, 2, x.Succeeded+x.Failed, "slice %d", i)
				if i > 0 {
					require.Greater(t, x.Start, b[i-1].Start)
				}
			}
			require.Equal(t, 10, total)
			require.Equal(t, 1, b[4].Failed)
			require.Equal(t, 9*time.Millisecond, b[4].Max)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, Buckets(samples, tc.n))
		})
	}
	require.Nil(t, Buckets(nil, 5))
}

// BenchmarkSummarize measures the statistics of a 100k-operation round.
func BenchmarkSummarize(b *testing.B) {
	samples := make([]Sample, 100_000)
	for i := range samples {
		samples[i] = Sample{Start: time.Duration(i) * time.Millisecond, Latency: time.Duration((i*7919)%1000+1) * time.Millisecond}
	}
	b.ReportAllocs()
	for b.Loop() {
		st := Summarize(samples)
		if st.Succeeded != len(samples) {
			b.Fatal("lost samples")
		}
		Buckets(samples, 60)
	}
}
