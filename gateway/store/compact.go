package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// compactTxSize bounds the size of one transaction while copying (bbolt commits every so
// many bytes, so that a large event log does not need one huge transaction).
const compactTxSize = 16 << 20

// Stats describe the file of the store.
type Stats struct {
	// FileBytes is the size of gateway.db.
	FileBytes int64
	// FreePages counts the pages bbolt freed and keeps for reuse (free and pending): their
	// old contents stay in the file until they are reused or the file is compacted.
	FreePages int
}

// Stats returns the size of the file and its count of freed pages.
func (s *Store) Stats() (Stats, error) {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.db == nil {
		return Stats{}, errClosed
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return Stats{}, fmt.Errorf("gateway store stats: %w", err)
	}
	st := s.db.Stats()
	return Stats{FileBytes: fi.Size(), FreePages: st.FreePageN + st.PendingPageN}, nil
}

// Compact rewrites the file with its live data only: bbolt keeps the pages it frees (with
// whatever they held) for reuse, and only a copy leaves them behind. The copy is synced and
// renamed over the file; requests wait while it runs. It returns the stats before and after.
func (s *Store) Compact() (before, after Stats, err error) {
	if before, err = s.Stats(); err != nil {
		return before, after, err
	}
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	if s.db == nil {
		return before, after, errClosed
	}
	tmp := s.path + ".compact"
	if err := copyLive(s.db, tmp); err != nil {
		return before, after, err
	}
	if err := s.db.Close(); err != nil {
		_ = os.Remove(tmp)
		s.db, _ = openBolt(s.path)
		return before, after, fmt.Errorf("compact gateway store: close: %w", err)
	}
	renameErr := os.Rename(tmp, s.path)
	if renameErr == nil {
		renameErr = syncDir(filepath.Dir(s.path))
	} else {
		_ = os.Remove(tmp)
	}
	db, openErr := openBolt(s.path)
	s.db = db // nil when the file cannot be opened again: every later use fails with errClosed
	if err := errors.Join(renameErr, openErr); err != nil {
		return before, after, fmt.Errorf("compact gateway store: %w", err)
	}
	st := db.Stats()
	fi, err := os.Stat(s.path)
	if err != nil {
		return before, after, fmt.Errorf("compact gateway store: %w", err)
	}
	return before, Stats{FileBytes: fi.Size(), FreePages: st.FreePageN + st.PendingPageN}, nil
}

// copyLive copies the live data of src into a new file at path (removed on failure).
func copyLive(src *bolt.DB, path string) (err error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("compact gateway store: %w", err)
	}
	dst, err := openBolt(path)
	if err != nil {
		return fmt.Errorf("compact gateway store: %w", err)
	}
	defer func() {
		err = errors.Join(err, dst.Close())
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	if err := bolt.Compact(dst, src, compactTxSize); err != nil {
		return fmt.Errorf("compact gateway store: copy: %w", err)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}
