//go:build !unix

package devnet

import (
	"fmt"
	"os"
)

// lockDataDir creates dir. Without flock, a second devnet on the same data directory is
// stopped by the ledgers' own file locks instead (after their timeout).
func lockDataDir(dir string) (*dirLock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("devnet: create data dir: %w", err)
	}
	return nil, nil
}

// release does nothing: there is no lock.
func (l *dirLock) release() error { return nil }
