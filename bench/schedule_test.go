package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestScheduleOffset(t *testing.T) {
	for _, tc := range []struct {
		name string
		rate float64
		i    int
		want time.Duration
	}{
		{"first is at zero", 100, 0, 0},
		{"100/s spaces by 10 ms", 100, 7, 70 * time.Millisecond},
		{"3/s rounds to the nanosecond", 3, 1, 333333333},
		{"3/s third second", 3, 3, time.Second},
		{"fractional rate", 0.5, 2, 4 * time.Second},
		{"max rate has no schedule", 0, 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, ScheduleOffset(tc.rate, tc.i))
		})
	}
}

func TestScheduledCount(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rate     float64
		count    int
		duration time.Duration
		want     int
	}{
		{"count wins", 50, 123, time.Hour, 123},
		{"10/s for 1 s sends 0..900 ms", 10, 0, time.Second, 10},
		{"10/s for 1.05 s also sends at 1 s", 10, 0, 1050 * time.Millisecond, 11},
		{"3/s for 1 s", 3, 0, time.Second, 3},
		{"7/s for 2 s", 7, 0, 2 * time.Second, 14},
		{"fractional rate", 0.5, 0, 5 * time.Second, 3},
		{"no rate, no count", 0, 0, time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := ScheduledCount(tc.rate, tc.count, tc.duration)
			require.Equal(t, tc.want, n)
			if tc.count == 0 && n > 0 {
				// Every scheduled operation is due before the end, the next one is not.
				require.Less(t, ScheduleOffset(tc.rate, n-1), tc.duration)
				require.GreaterOrEqual(t, ScheduleOffset(tc.rate, n), tc.duration)
			}
		})
	}
}
