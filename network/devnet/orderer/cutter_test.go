package orderer

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type recorder struct {
	mu      sync.Mutex
	batches [][][]byte
	signal  chan struct{}
}

func newRecorder() *recorder {
	return &recorder{signal: make(chan struct{}, 1024)}
}

func (r *recorder) deliver(batch [][]byte) {
	r.mu.Lock()
	r.batches = append(r.batches, batch)
	r.mu.Unlock()
	r.signal <- struct{}{}
}

func (r *recorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int, len(r.batches))
	for i, b := range r.batches {
		out[i] = len(b)
	}
	return out
}

func (r *recorder) all() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out [][]byte
	for _, b := range r.batches {
		out = append(out, b...)
	}
	return out
}

func msg(i, size int) []byte {
	b := bytes.Repeat([]byte{'x'}, size)
	copy(b, fmt.Sprintf("%06d", i))
	return b
}

func TestCutByCountAndSize(t *testing.T) {
	hour := time.Hour
	tests := []struct {
		name  string
		cfg   Config
		sizes []int
		want  []int
	}{
		{"by count", Config{BatchTimeout: hour, MaxMessageCount: 3}, []int{10, 10, 10, 10, 10, 10, 10}, []int{3, 3, 1}},
		{"count of one", Config{BatchTimeout: hour, MaxMessageCount: 1}, []int{10, 10, 10}, []int{1, 1, 1}},
		{"by preferred bytes", Config{BatchTimeout: hour, MaxMessageCount: 100, PreferredMaxBytes: 100}, []int{40, 40, 40, 40, 10}, []int{2, 3}},
		{"oversized message alone", Config{BatchTimeout: hour, MaxMessageCount: 100, PreferredMaxBytes: 100}, []int{30, 150, 30, 30}, []int{1, 1, 2}},
		{"exactly preferred bytes", Config{BatchTimeout: hour, MaxMessageCount: 100, PreferredMaxBytes: 100}, []int{50, 50, 50}, []int{2, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			c := New(tc.cfg, rec.deliver)
			var sent [][]byte
			for i, s := range tc.sizes {
				m := msg(i, s)
				sent = append(sent, m)
				require.NoError(t, c.Order(context.Background(), m))
			}
			c.Close()
			require.Equal(t, tc.want, rec.sizes())
			require.Equal(t, sent, rec.all())
		})
	}
}

func TestCutByTimeout(t *testing.T) {
	rec := newRecorder()
	c := New(Config{BatchTimeout: time.Millisecond, MaxMessageCount: 1000}, rec.deliver)
	defer c.Close()
	for i := 0; i < 3; i++ {
		require.NoError(t, c.Order(context.Background(), msg(i, 8)))
	}
	// Nothing forces a cut but the timeout: wait for the deliveries without a deadline of our own.
	total := 0
	for total < 3 {
		<-rec.signal
		total = len(rec.all())
	}
	require.Equal(t, [][]byte{msg(0, 8), msg(1, 8), msg(2, 8)}, rec.all())
}

func TestOrderPreservedUnderLoad(t *testing.T) {
	rec := newRecorder()
	c := New(Config{MaxMessageCount: 7, QueueSize: 3}, rec.deliver)
	var sent [][]byte
	for i := 0; i < 2000; i++ {
		m := msg(i, 16)
		sent = append(sent, m)
		require.NoError(t, c.Order(context.Background(), m))
	}
	c.Close()
	require.Equal(t, sent, rec.all())
	for _, n := range rec.sizes() {
		require.LessOrEqual(t, n, 7)
		require.Positive(t, n)
	}
}

func TestCloseFlushesAndRejects(t *testing.T) {
	rec := newRecorder()
	c := New(Config{BatchTimeout: time.Hour, MaxMessageCount: 100}, rec.deliver)
	for i := 0; i < 5; i++ {
		require.NoError(t, c.Order(context.Background(), msg(i, 8)))
	}
	c.Close()
	require.Equal(t, []int{5}, rec.sizes())
	require.ErrorIs(t, c.Order(context.Background(), msg(9, 8)), ErrClosed)
	c.Close()
}

func TestBackpressureAndLimits(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	var mu sync.Mutex
	var got [][]byte
	c := New(Config{BatchTimeout: time.Hour, MaxMessageCount: 1, QueueSize: 1, AbsoluteMaxBytes: 64}, func(b [][]byte) {
		entered <- struct{}{}
		<-release
		mu.Lock()
		got = append(got, b...)
		mu.Unlock()
	})
	require.NoError(t, c.Order(context.Background(), msg(1, 8)))
	<-entered // message 1 is being delivered and blocks the cutter
	require.NoError(t, c.Order(context.Background(), msg(2, 8)))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Order(ctx, msg(3, 8))
	require.ErrorIs(t, err, context.Canceled)

	require.ErrorIs(t, c.Order(context.Background(), msg(4, 65)), ErrTooLarge)

	close(release)
	c.Close()
	require.Equal(t, [][]byte{msg(1, 8), msg(2, 8)}, got)
}

func TestDefaults(t *testing.T) {
	c := New(Config{}, func([][]byte) {})
	defer c.Close()
	cfg := c.Config()
	require.Equal(t, DefaultBatchTimeout, cfg.BatchTimeout)
	require.Equal(t, DefaultMaxMessageCount, cfg.MaxMessageCount)
	require.Equal(t, DefaultPreferredMaxBytes, cfg.PreferredMaxBytes)
	require.Equal(t, DefaultAbsoluteMaxBytes, cfg.AbsoluteMaxBytes)
	require.Equal(t, 4*DefaultMaxMessageCount, cfg.QueueSize)
}

func BenchmarkOrder(b *testing.B) {
	c := New(Config{}, func([][]byte) {})
	m := msg(0, 3000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.Order(context.Background(), m); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
}

// TestCutWhenIdle checks the idle cut: a lone message is delivered without waiting for the
// (hour-long) batch timeout, while the messages that queued up behind a batch being delivered
// are batched as usual (by count here, or by the timeout) rather than cut one by one.
func TestCutWhenIdle(t *testing.T) {
	tests := []struct {
		name      string
		maxCount  int
		queued    int
		wantSizes []int
	}{
		{"one queued message is cut at once", 100, 1, []int{1, 1}},
		{"queued messages fill a batch", 3, 3, []int{1, 3}},
		{"count limit still applies", 2, 4, []int{1, 2, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			gate := make(chan struct{})
			entered := make(chan struct{}, 16)
			first := true
			c := New(Config{BatchTimeout: time.Hour, MaxMessageCount: tc.maxCount, CutWhenIdle: true}, func(b [][]byte) {
				if first {
					first = false
					entered <- struct{}{}
					<-gate
				}
				rec.deliver(b)
			})
			defer c.Close()
			// The first message alone is cut at once although the timeout is an hour.
			require.NoError(t, c.Order(context.Background(), msg(0, 8)))
			<-entered
			sent := [][]byte{msg(0, 8)}
			for i := 1; i <= tc.queued; i++ {
				m := msg(i, 8)
				sent = append(sent, m)
				require.NoError(t, c.Order(context.Background(), m))
			}
			close(gate)
			// Every expected batch is cut by the idle rule or by count, never by the timeout.
			for len(rec.all()) < len(sent) {
				<-rec.signal
			}
			require.Equal(t, sent, rec.all())
			require.Equal(t, tc.wantSizes, rec.sizes())
		})
	}
}

// TestCutWhenIdleFillsBatches checks that messages queued behind each other wait for more
// (here until Close flushes them) instead of being cut as soon as the queue is empty.
func TestCutWhenIdleFillsBatches(t *testing.T) {
	rec := newRecorder()
	gate := make(chan struct{})
	entered := make(chan struct{}, 1)
	first := true
	c := New(Config{BatchTimeout: time.Hour, MaxMessageCount: 100, CutWhenIdle: true}, func(b [][]byte) {
		if first {
			first = false
			entered <- struct{}{}
			<-gate
		}
		rec.deliver(b)
	})
	require.NoError(t, c.Order(context.Background(), msg(0, 8)))
	<-entered
	for i := 1; i <= 4; i++ {
		require.NoError(t, c.Order(context.Background(), msg(i, 8)))
	}
	close(gate)
	<-rec.signal
	c.Close()
	require.Equal(t, []int{1, 4}, rec.sizes())
}

// TestCutWhenIdleExpecting checks the Expecting refinement of the idle cut: a batch is held
// while more messages are expected and cut as soon as the last expected one arrives (whatever
// its size), a message nobody else is expected with is cut at once, and an expected message
// that never comes holds the batch only until the batch timeout.
func TestCutWhenIdleExpecting(t *testing.T) {
	tests := []struct {
		name      string
		expected  int // messages announced before the first is ordered
		send      int // messages ordered, one by one
		timeout   time.Duration
		wantSizes []int
	}{
		{"nothing expected: each message is cut at once", 0, 3, time.Hour, []int{1, 1, 1}},
		{"expected messages share one batch", 3, 3, time.Hour, []int{3}},
		{"a message that never comes holds the batch until the timeout", 3, 2, 50 * time.Millisecond, []int{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			expected := tc.expected
			rec := newRecorder()
			c := New(Config{BatchTimeout: tc.timeout, MaxMessageCount: 100, CutWhenIdle: true, Expecting: func() bool {
				mu.Lock()
				defer mu.Unlock()
				return expected > 0
			}}, rec.deliver)
			defer c.Close()
			for i := range tc.send {
				// The message stops being expected and is queued at once for Expecting, which
				// takes mu: it sees either both or neither.
				mu.Lock()
				if expected > 0 {
					expected--
				}
				err := c.Order(context.Background(), msg(i, 8))
				mu.Unlock()
				require.NoError(t, err)
				if tc.expected == 0 {
					<-rec.signal // cut at once, before the next is sent
				}
			}
			for len(rec.all()) < tc.send {
				<-rec.signal
			}
			require.Equal(t, tc.wantSizes, rec.sizes())
		})
	}
}

// TestNudge checks that a batch held by Expecting is cut when the cutter is nudged after
// Expecting turned false, without another message or the (hour-long) timeout.
func TestNudge(t *testing.T) {
	var mu sync.Mutex
	expecting := true
	rec := newRecorder()
	c := New(Config{BatchTimeout: time.Hour, CutWhenIdle: true, Expecting: func() bool {
		mu.Lock()
		defer mu.Unlock()
		return expecting
	}}, rec.deliver)
	defer c.Close()
	require.NoError(t, c.Order(context.Background(), msg(0, 8)))
	require.NoError(t, c.Order(context.Background(), msg(1, 8)))
	c.Nudge() // still expecting: held
	select {
	case <-rec.signal:
		t.Fatal("cut while more was expected")
	case <-time.After(100 * time.Millisecond):
	}
	mu.Lock()
	expecting = false
	mu.Unlock()
	c.Nudge()
	<-rec.signal
	require.Equal(t, []int{2}, rec.sizes())
}
