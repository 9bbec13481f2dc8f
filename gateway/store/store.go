// Package store is the gateway's durable state in one bbolt file: first answers to writes with
// an Idempotency-Key, and the ordered copy of the channel's chaincode events with the Fabric
// event checkpoint that feeds it. Everything the gateway must remember across restarts lives
// here; the ledger itself stays on the peers.
package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/gateway"
)

var (
	bucketIdempotency = []byte("idempotency")
	bucketEvents      = []byte("events")
	bucketMeta        = []byte("meta")
	keyCheckpoint     = []byte("eventCheckpoint")
)

// Store is the gateway's bbolt database. It implements gateway.IdempotencyStore and
// gateway.EventLog. It is safe for concurrent use.
//
// Private data never reaches the file in clear: the signed proposal of a write with transient
// data, which a claim keeps so that the write can be finished after a crash, is sealed with
// the store's Keyring (AES-256-GCM) and dropped as soon as it is not needed (DropProposal);
// without a keyring it is not kept at all.
type Store struct {
	// dbMu guards db: every use holds it for reading (view, update), Compact for writing
	// while it replaces the file.
	dbMu sync.RWMutex
	db   *bolt.DB
	path string
	keys *Keyring

	// group shares commits among the writes of idempotency records and events (see write).
	group groupCommit

	mu      sync.Mutex
	flights map[string]*flight
	changed chan struct{}
}

// Option configures Open.
type Option func(*Store)

// WithKeyring seals the private data the store keeps with k. Without it, signed proposals
// holding transient data are not kept (a write with private data then cannot be endorsed again
// after a crash, only resubmitted).
func WithKeyring(k *Keyring) Option {
	return func(s *Store) { s.keys = k }
}

type flight struct {
	fingerprint string
	done        chan struct{}
}

var (
	_ gateway.IdempotencyStore = (*Store)(nil)
	_ gateway.EventLog         = (*Store)(nil)
)

// Open opens (creating if needed) the bbolt database at path. Proposals kept in clear by
// earlier versions are sealed (or dropped without a keyring) at once; Compact then removes
// their old pages from the file.
func Open(path string, opts ...Option) (*Store, error) {
	db, err := openBolt(path)
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketIdempotency, bucketEvents, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initialise gateway store %s: %w", path, err)
	}
	s := &Store{db: db, path: path, flights: map[string]*flight{}, changed: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	if err := s.sealPlaintextProposals(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initialise gateway store %s: %w", path, err)
	}
	return s, nil
}

func openBolt(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open gateway store %s: %w", path, err)
	}
	return db, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.dbMu.Lock()
	defer s.dbMu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return fmt.Errorf("close gateway store: %w", err)
	}
	return nil
}

// errClosed is returned by every use of a closed store.
var errClosed = errors.New("gateway store is closed")

// view runs fn in a read-only bbolt transaction.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.db == nil {
		return errClosed
	}
	return s.db.View(fn)
}

// update runs fn in a read-write bbolt transaction (synced to disk before it returns).
func (s *Store) update(fn func(*bolt.Tx) error) error {
	s.dbMu.RLock()
	defer s.dbMu.RUnlock()
	if s.db == nil {
		return errClosed
	}
	return s.db.Update(fn)
}

// ---- idempotency ----

func idemKey(scope, key string) []byte {
	return []byte(scope + "\x00" + key)
}

// Begin implements gateway.IdempotencyStore.
func (s *Store) Begin(ctx context.Context, scope, key, fingerprint string) (*gateway.IdempotencyRecord, func(*gateway.IdempotencyRecord) error, error) {
	for {
		rec, release, inFlight, err := s.claim(scope, key, fingerprint)
		if err != nil || inFlight == nil {
			return rec, release, err
		}
		select {
		case <-inFlight:
		case <-ctx.Done():
			return nil, nil, &gateway.Error{Code: gateway.CodeConflict,
				Message: "a request with this Idempotency-Key is still in progress", Err: ctx.Err()}
		}
	}
}

// claim makes one attempt at Begin: it returns the stored final answer, or the claim of the key
// (with the stored record of a transaction to resume, if any, and the release function), or the
// done channel of a request holding the claim, to wait for before trying again.
func (s *Store) claim(scope, key, fingerprint string) (*gateway.IdempotencyRecord, func(*gateway.IdempotencyRecord) error, <-chan struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.idempotencyRecord(scope, key)
	if err != nil {
		return nil, nil, nil, err
	}
	if rec != nil {
		if rec.Fingerprint != fingerprint {
			return nil, nil, nil, reusedKey(key)
		}
		if !resumable(rec) {
			return rec, nil, nil, nil
		}
	}
	k := string(idemKey(scope, key))
	if f, ok := s.flights[k]; ok {
		if f.fingerprint != fingerprint {
			return nil, nil, nil, reusedKey(key)
		}
		return nil, nil, f.done, nil
	}
	f := &flight{fingerprint: fingerprint, done: make(chan struct{})}
	s.flights[k] = f
	var once sync.Once
	release := func(r *gateway.IdempotencyRecord) error {
		var err error
		once.Do(func() {
			if r != nil {
				r.Fingerprint = fingerprint
				err = s.putIdempotencyRecord(scope, key, r)
			}
			s.mu.Lock()
			delete(s.flights, k)
			s.mu.Unlock()
			close(f.done)
		})
		return err
	}
	return rec, release, nil, nil
}

// resumable reports whether rec's transaction may still have to be finished by the next
// request with its key: a claim whose answer was never stored, or a 202 answer (the
// transaction may never have reached the ledger).
func resumable(rec *gateway.IdempotencyRecord) bool {
	return rec.Prepared != nil && (!rec.Answered() || rec.Status == http.StatusAccepted)
}

// Prepare implements gateway.IdempotencyStore. The record is synced to the file before Prepare
// returns (see write; a batch may run the function more than once, which writes the same
// record). A proposal with private data is sealed before it is written (see Store).
func (s *Store) Prepare(scope, key, fingerprint string, tx gateway.PreparedTx) error {
	err := s.write(func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketIdempotency)
		rec := &storedRecord{Fingerprint: fingerprint, Created: time.Now().UTC()}
		if v := b.Get(idemKey(scope, key)); v != nil {
			var err error
			if rec, err = decodeStored(v); err != nil {
				return err
			}
			if rec.Fingerprint != fingerprint {
				return reusedKey(key)
			}
		}
		var err error
		if rec.Prepared, err = s.sealPrepared(scope, key, &tx); err != nil {
			return err
		}
		v, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("encode idempotency record: %w", err)
		}
		return b.Put(idemKey(scope, key), v)
	})
	if err != nil {
		return fmt.Errorf("record prepared transaction %s: %w", tx.TxID, err)
	}
	return nil
}

func reusedKey(key string) error {
	return &gateway.Error{Code: gateway.CodeIdempotencyMismatch,
		Message: fmt.Sprintf("Idempotency-Key %q was already used for a different request", key)}
}

func (s *Store) idempotencyRecord(scope, key string) (*gateway.IdempotencyRecord, error) {
	var rec *gateway.IdempotencyRecord
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketIdempotency).Get(idemKey(scope, key))
		if v == nil {
			return nil
		}
		stored, err := decodeStored(v)
		if err != nil {
			return err
		}
		rec, err = s.recordOf(scope, key, stored)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read idempotency record: %w", err)
	}
	return rec, nil
}

func (s *Store) putIdempotencyRecord(scope, key string, rec *gateway.IdempotencyRecord) error {
	stored, err := s.storedOf(scope, key, rec)
	if err != nil {
		return fmt.Errorf("store idempotency record: %w", err)
	}
	v, err := json.Marshal(stored)
	if err != nil {
		return fmt.Errorf("encode idempotency record: %w", err)
	}
	err = s.write(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIdempotency).Put(idemKey(scope, key), v)
	})
	if err != nil {
		return fmt.Errorf("store idempotency record: %w", err)
	}
	return nil
}

// PurgeIdempotency deletes idempotency records created before cutoff and returns how many.
func (s *Store) PurgeIdempotency(cutoff time.Time) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIdempotency)
		var stale [][]byte
		err := b.ForEach(func(k, v []byte) error {
			rec, err := decodeStored(v)
			if err != nil {
				return err
			}
			if rec.Created.Before(cutoff) {
				stale = append(stale, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return fmt.Errorf("delete idempotency record: %w", err)
			}
		}
		n = len(stale)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge idempotency records: %w", err)
	}
	return n, nil
}

// ---- events ----

func eventKey(id gateway.EventID) []byte {
	k := make([]byte, 12)
	binary.BigEndian.PutUint64(k, id.Block)
	binary.BigEndian.PutUint32(k[8:], id.Index)
	return k
}

func eventIDFromKey(k []byte) gateway.EventID {
	return gateway.EventID{Block: binary.BigEndian.Uint64(k), Index: binary.BigEndian.Uint32(k[8:])}
}

// checkpoint is the persisted position of the Fabric chaincode-event stream: the block in
// which the next event is expected and the last transaction already stored from it.
type checkpoint struct {
	Block uint64 `json:"block"`
	TxID  string `json:"txId"`
}

// EventCheckpoint returns the block to resume the chaincode-event stream at and the ID of the
// last transaction of that block already stored ("" if none). With no checkpoint it returns
// block 0.
func (s *Store) EventCheckpoint() (uint64, string, error) {
	var cp checkpoint
	err := s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyCheckpoint)
		if v == nil {
			return nil
		}
		return json.Unmarshal(v, &cp)
	})
	if err != nil {
		return 0, "", fmt.Errorf("read event checkpoint: %w", err)
	}
	return cp.Block, cp.TxID, nil
}

// AppendEvent stores ev (ID assigned here: the next index within ev.BlockNumber) and moves the
// checkpoint past it, in one atomic commit. An event at or before the checkpoint (a replay after
// a reconnect) is ignored and reported with stored=false.
func (s *Store) AppendEvent(ev gateway.Event) (gateway.Event, bool, error) {
	out, fresh, err := s.AppendEvents([]gateway.Event{ev})
	if err != nil {
		return gateway.Event{}, false, err
	}
	return out[0], fresh[0], nil
}

// AppendEvents is AppendEvent for events in log order, all in one atomic commit (shared with
// concurrent writes, see write): it returns them with their IDs and, for each, whether it was
// stored (false for a replay).
func (s *Store) AppendEvents(evs []gateway.Event) ([]gateway.Event, []bool, error) {
	var out []gateway.Event
	var fresh []bool
	err := s.write(func(tx *bolt.Tx) error {
		// The function may run again (see write): it starts over each time.
		out, fresh = slices.Clone(evs), make([]bool, len(evs))
		for i := range out {
			id, ok, err := nextEventID(tx, out[i])
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			out[i].ID = id
			if err := putEvent(tx, out[i]); err != nil {
				return err
			}
			fresh[i] = true
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("append event: %w", err)
	}
	if slices.Contains(fresh, true) {
		s.mu.Lock()
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}
	return out, fresh, nil
}

// nextEventID returns the ID ev takes in the log: the next index within its block. fresh is
// false when the log already has it (at or before the checkpoint: a replay after a reconnect).
func nextEventID(tx *bolt.Tx, ev gateway.Event) (id gateway.EventID, fresh bool, err error) {
	id = gateway.EventID{Block: ev.BlockNumber}
	events := tx.Bucket(bucketEvents)
	k, _ := events.Cursor().Last()
	if k == nil {
		return id, true, nil
	}
	last := eventIDFromKey(k)
	switch {
	case ev.BlockNumber < last.Block:
		return id, false, nil
	case ev.BlockNumber > last.Block:
		return id, true, nil
	}
	var cp checkpoint
	if v := tx.Bucket(bucketMeta).Get(keyCheckpoint); v != nil {
		if err := json.Unmarshal(v, &cp); err != nil {
			return id, false, fmt.Errorf("decode event checkpoint: %w", err)
		}
	}
	if ev.TxID == cp.TxID && cp.Block == ev.BlockNumber {
		return id, false, nil
	}
	if seen, err := txInBlock(events, ev.BlockNumber, ev.TxID); err != nil || seen {
		return id, false, err
	}
	id.Index = last.Index + 1
	return id, true, nil
}

// putEvent stores ev under its ID and moves the checkpoint past it.
func putEvent(tx *bolt.Tx, ev gateway.Event) error {
	v, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if err := tx.Bucket(bucketEvents).Put(eventKey(ev.ID), v); err != nil {
		return fmt.Errorf("store event: %w", err)
	}
	cpv, err := json.Marshal(checkpoint{Block: ev.BlockNumber, TxID: ev.TxID})
	if err != nil {
		return fmt.Errorf("encode event checkpoint: %w", err)
	}
	if err := tx.Bucket(bucketMeta).Put(keyCheckpoint, cpv); err != nil {
		return fmt.Errorf("store event checkpoint: %w", err)
	}
	return nil
}

// txInBlock reports whether an event of txID is already stored for block.
func txInBlock(events *bolt.Bucket, block uint64, txID string) (bool, error) {
	c := events.Cursor()
	prefix := eventKey(gateway.EventID{Block: block})[:8]
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var e gateway.Event
		if err := json.Unmarshal(v, &e); err != nil {
			return false, fmt.Errorf("decode event: %w", err)
		}
		if e.TxID == txID {
			return true, nil
		}
	}
	return false, nil
}

// EventsAfter implements gateway.EventLog.
func (s *Store) EventsAfter(cursor gateway.EventID, limit int) ([]gateway.Event, error) {
	var out []gateway.Event
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		k, v := c.Seek(eventKey(cursor))
		if k != nil && !cursor.IsZero() && bytes.Equal(k, eventKey(cursor)) {
			k, v = c.Next()
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			var e gateway.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode event: %w", err)
			}
			e.ID = eventIDFromKey(k)
			if cursor.IsZero() || cursor.Less(e.ID) {
				out = append(out, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// LastEventID implements gateway.EventLog.
func (s *Store) LastEventID() (gateway.EventID, error) {
	var id gateway.EventID
	err := s.view(func(tx *bolt.Tx) error {
		if k, _ := tx.Bucket(bucketEvents).Cursor().Last(); k != nil {
			id = eventIDFromKey(k)
		}
		return nil
	})
	if err != nil {
		return gateway.EventID{}, fmt.Errorf("read last event: %w", err)
	}
	return id, nil
}

// Changed implements gateway.EventLog.
func (s *Store) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}
