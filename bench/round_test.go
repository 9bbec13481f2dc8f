package bench

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// localDriver is a driver without a target, for testing the engine's bookkeeping.
type localDriver struct{}

func (localDriver) Name() string                      { return "local" }
func (localDriver) Do(context.Context, Request) error { return nil }
func (localDriver) Close() error                      { return nil }

// recordingWorkload records which operations ran and fails every failEvery-th one.
type recordingWorkload struct {
	mu        sync.Mutex
	ran       []int
	prepared  int
	failEvery int
}

func (w *recordingWorkload) Name() string { return "recording" }
func (w *recordingWorkload) TxPerOp() int { return 2 }
func (w *recordingWorkload) Prepare(_ context.Context, _ Driver, n int) error {
	w.prepared = n
	return nil
}
func (w *recordingWorkload) Op(ctx context.Context, d Driver, i int) error {
	// Two requests per operation, as TxPerOp says; a failed operation's are not counted.
	for range 2 {
		if err := d.Do(ctx, Request{Op: OpGetOrder}); err != nil {
			return err
		}
	}
	w.mu.Lock()
	w.ran = append(w.ran, i)
	w.mu.Unlock()
	if w.failEvery > 0 && i%w.failEvery == w.failEvery-1 {
		return &CallError{Op: OpGetOrder, Reason: "NOT_FOUND", Err: errors.New("no such order")}
	}
	return nil
}

func TestRunRounds(t *testing.T) {
	for _, tc := range []struct {
		name     string
		round    Round
		wantOps  int
		prepared int
	}{
		{"count at max rate", Round{Workers: 4, Count: 100}, 100, 100},
		{"count at a fixed rate", Round{Workers: 3, Rate: 2000, Count: 40}, 40, 40},
		{"fixed rate for a duration", Round{Workers: 2, Rate: 1000, Duration: 30 * time.Millisecond}, 30, 30},
		{"one worker", Round{Count: 7}, 7, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &recordingWorkload{failEvery: 5}
			r := tc.round
			r.Workload, r.Driver = w, localDriver{}
			res, err := Run(context.Background(), r)
			require.NoError(t, err)
			require.Equal(t, tc.prepared, w.prepared)
			slices.Sort(w.ran)
			want := make([]int, tc.wantOps)
			for i := range want {
				want[i] = i
			}
			require.Equal(t, want, w.ran, "every operation runs exactly once")
			require.Len(t, res.Samples, tc.wantOps)
			require.Equal(t, tc.wantOps/5, res.Stats.Failed)
			require.Equal(t, map[string]int{"NOT_FOUND": tc.wantOps / 5}, res.Stats.FailedBy)
			require.Equal(t, tc.wantOps-tc.wantOps/5, res.Stats.Succeeded)
			require.Equal(t, 2*res.Stats.Succeeded, res.RequestCount, "the requests of the successful operations are timed")
			require.Positive(t, res.Requests.Max)
			require.Equal(t, 2, res.TxPerOp)
			require.InDelta(t, 2*res.Stats.Throughput, res.TxThroughput, 1e-9)
			require.Equal(t, "local", res.Target)
			require.NotEmpty(t, res.Buckets)
		})
	}
}

func TestRunDurationAtMaxRate(t *testing.T) {
	w := &recordingWorkload{}
	res, err := Run(context.Background(), Round{Workload: w, Driver: localDriver{}, Workers: 2, Duration: 20 * time.Millisecond})
	require.NoError(t, err)
	require.Zero(t, w.prepared, "a duration round at max rate has no planned count")
	require.NotEmpty(t, res.Samples)
	require.Equal(t, len(res.Samples), res.Stats.Succeeded)
}

func TestRunValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		round Round
		want  string
	}{
		{"no workload", Round{Driver: localDriver{}, Count: 1}, "workload and a driver"},
		{"no end", Round{Workload: &recordingWorkload{}, Driver: localDriver{}}, "count or a duration"},
		{"negative rate", Round{Workload: &recordingWorkload{}, Driver: localDriver{}, Count: 1, Rate: -1}, "negative rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), tc.round)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestRunProgressAndLabel(t *testing.T) {
	var buf bytes.Buffer
	res, err := Run(context.Background(), Round{Workload: &recordingWorkload{}, Driver: localDriver{}, Workers: 2, Count: 10,
		Progress: &buf, ProgressEvery: time.Hour})
	require.NoError(t, err)
	require.Equal(t, "recording-local-w2", res.Label)
	out := buf.String()
	require.True(t, strings.HasPrefix(out, "\rrecording-local-w2"), "progress line %q", out)
	require.Contains(t, out, "sent 10")
	require.Contains(t, out, "ok 10")
	require.True(t, strings.HasSuffix(out, "\n"))
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Round{Workload: &recordingWorkload{}, Driver: localDriver{}, Rate: 10, Count: 5})
	require.ErrorIs(t, err, context.Canceled)
}
