//go:build !unix

package bench

import "time"

// processCPU is zero where getrusage is not available: reports then show no process CPU.
func processCPU() time.Duration { return 0 }
