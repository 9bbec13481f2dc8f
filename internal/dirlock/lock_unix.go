//go:build unix

package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Acquire creates dir if needed and takes an exclusive flock on dir/name, writing this
// process's ID into the file. When another process holds it, the error is an *InUseError
// naming that process.
func Acquire(dir, name string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- the lock file of the operator's data directory
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &InUseError{Dir: dir, PID: holder(path)}
		}
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("write lock file: %w", err)
		}
	}
	return &Lock{f: f}, nil
}

// holder is the process ID written in the lock file at path (0 when unreadable).
func holder(path string) int {
	b, err := os.ReadFile(path) // #nosec G304 -- the lock file of the operator's data directory
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

// Release unlocks the directory. A nil Lock releases nothing.
func (l *Lock) Release() error {
	if l == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	return l.f.Close() // closing the descriptor releases the flock
}
