package devnet

import (
	"fmt"

	"github.com/xborder/xborder/internal/dirlock"
)

// lockFileName is the file, in the data directory, whose lock marks the directory in use.
const lockFileName = "devnet.lock"

// lockDataDir creates dir and locks it (dirlock), so that a second devnet on the same data
// directory fails at once with the ID of the process that holds it.
func lockDataDir(dir string) (*dirlock.Lock, error) {
	l, err := dirlock.Acquire(dir, lockFileName)
	if err != nil {
		return nil, fmt.Errorf("devnet: %w", err)
	}
	return l, nil
}
