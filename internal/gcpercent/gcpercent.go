// Package gcpercent sets the garbage collector's target of xborder's commands.
//
// Go's default (GOGC=100) starts a collection whenever the heap has doubled since the last
// one. xborder's processes allocate quickly while transactions flow (protobuf messages,
// signatures, JSON) and run hundreds of goroutines (gRPC streams, clients, peers) whose stacks
// every collection scans. Measured with xborder-bench (docs/benchmarks.md), GOGC=400 gave the
// dev system 1.4 to 1.6 times the lifecycle throughput at 64 clients, for about four times the
// memory under that load (the whole dev system's anonymous memory about 520 MiB instead of
// 134 MiB). GOGC, or GOMEMLIMIT, in the environment overrides it.
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
