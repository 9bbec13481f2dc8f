// Package gcpercent sets the garbage collector's target of xborder's commands.
//
// Go's default (GOGC=100) starts a collection whenever the heap has doubled since the last
// one. xborder's processes keep a small live heap (a few MiB) but allocate quickly while
// transactions flow (protobuf messages, signatures, JSON), so at the default they collect many
// times a second, each time scanning the stacks of hundreds of goroutines (gRPC streams,
// clients, peers). Measured with xborder-bench (docs/benchmarks.md), GOGC=400 gave the dev
// system about 1.4 times the lifecycle throughput for a heap that stays in the tens of MiB.
package gcpercent

import (
	"os"
	"runtime/debug"
)

// Default is the GC percent xborder's commands run with when GOGC is not set.
const Default = 400

// Apply sets the GC percent to Default unless the GOGC environment variable is set (the
// operator's choice wins). It reports whether it changed the setting.
func Apply() bool {
	if _, set := os.LookupEnv("GOGC"); set {
		return false
	}
	debug.SetGCPercent(Default)
	return true
}
