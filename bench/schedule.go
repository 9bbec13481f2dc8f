package bench

import (
	"math"
	"time"
)

// ScheduleOffset is when operation i of a fixed-rate round is due, from the start of the
// round: operations are spaced exactly 1/rate apart, the first at 0.
func ScheduleOffset(rate float64, i int) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(math.Round(float64(i) / rate * float64(time.Second)))
}

// ScheduledCount is how many operations a fixed-rate round sends: count when count > 0,
// otherwise every operation due strictly before duration.
func ScheduledCount(rate float64, count int, duration time.Duration) int {
	if count > 0 {
		return count
	}
	if rate <= 0 || duration <= 0 {
		return 0
	}
	n := int(math.Ceil(duration.Seconds() * rate))
	// Guard the float rounding at the boundary: offset n-1 must be before duration.
	for n > 0 && ScheduleOffset(rate, n-1) >= duration {
		n--
	}
	for ScheduleOffset(rate, n) < duration {
		n++
	}
	return n
}
