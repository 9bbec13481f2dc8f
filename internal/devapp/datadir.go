package devapp

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/xborder/xborder/internal/dirlock"
)

// checkListen checks that addr is a host:port that this process can listen on now, so that a
// busy or malformed address fails before anything is started or created. The probe listener
// is closed again at once; the gateway binds the address itself once the devnet is up.
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("devapp: HTTP address %q: %w", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("devapp: HTTP address %q: the port %q is not a number from 0 to 65535", addr, port)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("devapp: HTTP address %s is not available: %w", addr, err)
	}
	if err := l.Close(); err != nil {
		return fmt.Errorf("devapp: HTTP address %s: %w", addr, err)
	}
	return nil
}

// dataDir is a data directory claimed by this process: locked, and remembered as created by
// it when it did not exist before.
type dataDir struct {
	path string
	// created are the directories this process made, the data directory first, then the
	// parents it needed.
	created []string
	lock    *dirlock.Lock
}

// claimDataDir checks that path is a directory or does not exist yet, creates it (with its
// missing parents), and locks it: a second dev system on the same directory fails here at
// once with a *dirlock.InUseError naming the holder's process ID.
func claimDataDir(path string) (*dataDir, error) {
	info, err := os.Stat(path)
	switch {
	case err == nil && !info.IsDir():
		return nil, fmt.Errorf("devapp: data directory %s is not a directory", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("devapp: data directory: %w", err)
	}
	d := &dataDir{path: path}
	if err != nil { // it does not exist: make it, remembering what this process made
		if d.created, err = mkdirs(path); err != nil {
			d.abandon()
			return nil, fmt.Errorf("devapp: create data directory: %w", err)
		}
	}
	if d.lock, err = dirlock.Acquire(path, LockFile); err != nil {
		// Another process holds it: what looked new may be its directory, so remove nothing.
		d.created = nil
		return nil, fmt.Errorf("devapp: %w", err)
	}
	return d, nil
}

// mkdirs makes path and its missing parents and returns those it made, deepest first. A
// directory that appears meanwhile (made by another process) is not counted.
func mkdirs(path string) ([]string, error) {
	var missing []string
	for p := filepath.Clean(path); ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		missing = append(missing, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	var made []string
	for i := len(missing) - 1; i >= 0; i-- {
		err := os.Mkdir(missing[i], 0o750)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return made, err
		}
		made = append([]string{missing[i]}, made...)
	}
	return made, nil
}

// unlock releases the lock (nil: nothing to release).
func (d *dataDir) unlock() error {
	if d == nil {
		return nil
	}
	lock := d.lock
	d.lock = nil
	return lock.Release()
}

// abandon removes what this process created after a failed start: the data directory with
// everything written into it (keys, ledger) and the parents it made, when empty; then it
// unlocks, so no other process can have taken the directory meanwhile. A directory that
// existed before is left as it was.
func (d *dataDir) abandon() {
	if d == nil {
		return
	}
	defer func() { _ = d.unlock() }()
	for i, p := range d.created {
		if i == 0 && p == filepath.Clean(d.path) {
			_ = os.RemoveAll(p)
			continue
		}
		_ = os.Remove(p) // only when empty
	}
	d.created = nil
}
