package bench

import (
	"math"
	"slices"
	"time"
)

// Sample is one measured operation of a round.
type Sample struct {
	// Start is when the operation was sent, from the start of the round.
	Start time.Duration
	// Latency is how long it took until it was committed (writes) or answered (reads), or failed.
	Latency time.Duration
	// Reason is empty for a success and the failure's classifier otherwise.
	Reason string
}

// LatencyStats are latency figures of the successful operations of a round, exact (computed
// from every sample, nearest-rank percentiles).
type LatencyStats struct {
	Min time.Duration `json:"minNs"`
	Avg time.Duration `json:"avgNs"`
	P50 time.Duration `json:"p50Ns"`
	P95 time.Duration `json:"p95Ns"`
	P99 time.Duration `json:"p99Ns"`
	Max time.Duration `json:"maxNs"`
}

// Stats summarise a round's samples in Caliper's terms.
type Stats struct {
	// Succeeded and Failed count operations; FailedBy splits the failures by reason.
	Succeeded int            `json:"succeeded"`
	Failed    int            `json:"failed"`
	FailedBy  map[string]int `json:"failedBy,omitempty"`
	// SendRate is the operations sent per second between the first and the last send.
	SendRate float64 `json:"sendRate"`
	// Throughput is the successful operations per second between the first send and the last
	// completion.
	Throughput float64 `json:"throughput"`
	// Elapsed is the time from the first send to the last completion.
	Elapsed time.Duration `json:"elapsedNs"`
	// Latency is over successful operations (zero when none succeeded).
	Latency LatencyStats `json:"latency"`
}

// Summarize computes the statistics of samples (in any order).
func Summarize(samples []Sample) Stats {
	var st Stats
	if len(samples) == 0 {
		return st
	}
	firstSend, lastSend := samples[0].Start, samples[0].Start
	lastDone := samples[0].Start + samples[0].Latency
	ok := make([]time.Duration, 0, len(samples))
	for _, s := range samples {
		firstSend = min(firstSend, s.Start)
		lastSend = max(lastSend, s.Start)
		lastDone = max(lastDone, s.Start+s.Latency)
		if s.Reason == "" {
			ok = append(ok, s.Latency)
			continue
		}
		if st.FailedBy == nil {
			st.FailedBy = map[string]int{}
		}
		st.FailedBy[s.Reason]++
		st.Failed++
	}
	st.Succeeded = len(ok)
	if span := lastSend - firstSend; span > 0 && len(samples) > 1 {
		// n sends span n-1 intervals.
		st.SendRate = float64(len(samples)-1) / span.Seconds()
	}
	st.Elapsed = lastDone - firstSend
	if st.Elapsed > 0 {
		st.Throughput = float64(st.Succeeded) / st.Elapsed.Seconds()
	}
	st.Latency = Latencies(ok)
	return st
}

// Latencies computes the latency figures of d (sorted in place).
func Latencies(d []time.Duration) LatencyStats {
	if len(d) == 0 {
		return LatencyStats{}
	}
	slices.Sort(d)
	var sum float64
	for _, v := range d {
		sum += float64(v)
	}
	return LatencyStats{
		Min: d[0],
		Avg: time.Duration(math.Round(sum / float64(len(d)))),
		P50: Percentile(d, 50),
		P95: Percentile(d, 95),
		P99: Percentile(d, 99),
		Max: d[len(d)-1],
	}
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of sorted: the smallest
// value such that at least p percent of the values are less than or equal to it.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Bucket is one time slice of a round for the latency-over-time chart.
type Bucket struct {
	// Start is the start of the slice from the start of the round.
	Start time.Duration `json:"startNs"`
	// Succeeded and Failed count the operations sent in the slice.
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// P50, P95 and Max are latencies of the successful operations sent in the slice.
	P50 time.Duration `json:"p50Ns"`
	P95 time.Duration `json:"p95Ns"`
	Max time.Duration `json:"maxNs"`
}

// Buckets slices samples by send time into n equal slices covering the round.
func Buckets(samples []Sample, n int) []Bucket {
	if len(samples) == 0 || n < 1 {
		return nil
	}
	var end time.Duration
	for _, s := range samples {
		end = max(end, s.Start)
	}
	width := end/time.Duration(n) + 1
	lat := make([][]time.Duration, n)
	out := make([]Bucket, n)
	for i := range out {
		out[i].Start = time.Duration(i) * width
	}
	for _, s := range samples {
		i := min(int(s.Start/width), n-1)
		if s.Reason != "" {
			out[i].Failed++
			continue
		}
		out[i].Succeeded++
		lat[i] = append(lat[i], s.Latency)
	}
	for i := range out {
		if len(lat[i]) == 0 {
			continue
		}
		slices.Sort(lat[i])
		out[i].P50 = Percentile(lat[i], 50)
		out[i].P95 = Percentile(lat[i], 95)
		out[i].Max = lat[i][len(lat[i])-1]
	}
	return out
}
