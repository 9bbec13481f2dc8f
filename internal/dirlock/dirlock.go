// Package dirlock marks a data directory in use by one process: an exclusive advisory lock on
// a file in it that holds the process's ID, so that a second process on the same directory
// fails at once and can name the holder. The devnet and `xborder dev` lock their data
// directories with it.
package dirlock

import (
	"fmt"
	"os"
)

// Lock is a held lock on a data directory. The kernel drops it when the process ends,
// however it ends, so a stale lock file never blocks a later start.
type Lock struct {
	f *os.File
}

// InUseError reports a data directory that another process holds.
type InUseError struct {
	// Dir is the data directory.
	Dir string
	// PID is the holder's process ID (0: unknown).
	PID int
}

// Error names the directory and the holder, e.g. "data directory ./xborder-data is in use
// by PID 4242".
func (e *InUseError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = fmt.Sprintf("PID %d", e.PID)
	}
	return fmt.Sprintf("data directory %s is in use by %s", e.Dir, holder)
}
