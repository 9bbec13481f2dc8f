package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/gateway"
)

// storedRecord is an idempotency record as the file holds it: gateway.IdempotencyRecord (same
// JSON names) with the signed proposal sealed.
type storedRecord struct {
	Fingerprint string          `json:"fingerprint"`
	Status      int             `json:"status"`
	ContentType string          `json:"contentType"`
	Body        []byte          `json:"body"`
	TxID        string          `json:"txId,omitempty"`
	Created     time.Time       `json:"created"`
	Prepared    *storedPrepared `json:"prepared,omitempty"`
}

// storedPrepared is a gateway.PreparedTx as the file holds it.
type storedPrepared struct {
	TxID  string `json:"txId"`
	Bytes []byte `json:"bytes"`
	// Proposal is a proposal in clear, as versions before sealing wrote it: read (and sealed
	// at Open), never written.
	Proposal []byte `json:"proposal,omitempty"`
	// Sealed is the signed proposal sealed with the keyring (Keyring.Seal), bound to the
	// record's scope, key and transaction ID.
	Sealed []byte `json:"sealedProposal,omitempty"`
}

func (p *storedPrepared) hasProposal() bool {
	return p != nil && (len(p.Sealed) > 0 || len(p.Proposal) > 0)
}

func decodeStored(v []byte) (*storedRecord, error) {
	rec := &storedRecord{}
	if err := json.Unmarshal(v, rec); err != nil {
		return nil, fmt.Errorf("decode idempotency record: %w", err)
	}
	return rec, nil
}

// proposalAAD binds a sealed proposal to its record and transaction, so that a sealed value
// copied into another record does not open.
func proposalAAD(scope, key, txID string) []byte {
	return []byte("xborder/proposal\x00" + scope + "\x00" + key + "\x00" + txID)
}

// sealPrepared is tx as the file keeps it: its proposal sealed, or dropped without a keyring.
func (s *Store) sealPrepared(scope, key string, tx *gateway.PreparedTx) (*storedPrepared, error) {
	if tx == nil {
		return nil, nil
	}
	p := &storedPrepared{TxID: tx.TxID, Bytes: bytes.Clone(tx.Bytes)}
	if len(tx.Proposal) == 0 || s.keys == nil {
		return p, nil
	}
	sealed, err := s.keys.Seal(tx.Proposal, proposalAAD(scope, key, tx.TxID))
	if err != nil {
		return nil, fmt.Errorf("seal the proposal of %s: %w", tx.TxID, err)
	}
	p.Sealed = sealed
	return p, nil
}

// storedOf is rec as the file keeps it.
func (s *Store) storedOf(scope, key string, rec *gateway.IdempotencyRecord) (*storedRecord, error) {
	out := &storedRecord{Fingerprint: rec.Fingerprint, Status: rec.Status, ContentType: rec.ContentType,
		Body: rec.Body, TxID: rec.TxID, Created: rec.Created}
	var err error
	out.Prepared, err = s.sealPrepared(scope, key, rec.Prepared)
	return out, err
}

// recordOf is the domain record of a stored one, its proposal opened.
func (s *Store) recordOf(scope, key string, stored *storedRecord) (*gateway.IdempotencyRecord, error) {
	rec := &gateway.IdempotencyRecord{Fingerprint: stored.Fingerprint, Status: stored.Status,
		ContentType: stored.ContentType, Body: stored.Body, TxID: stored.TxID, Created: stored.Created}
	p := stored.Prepared
	if p == nil {
		return rec, nil
	}
	rec.Prepared = &gateway.PreparedTx{TxID: p.TxID, Bytes: p.Bytes, Proposal: p.Proposal}
	if len(p.Sealed) == 0 {
		return rec, nil
	}
	if s.keys == nil {
		return nil, fmt.Errorf("the record of transaction %s holds a sealed proposal and the store has no keyring", p.TxID)
	}
	plain, err := s.keys.Open(p.Sealed, proposalAAD(scope, key, p.TxID))
	if err != nil {
		return nil, fmt.Errorf("the sealed proposal of transaction %s: %w", p.TxID, err)
	}
	rec.Prepared.Proposal = plain
	return rec, nil
}

// sealPlaintextProposals seals the proposals that versions before sealing kept in clear (or
// drops them without a keyring).
func (s *Store) sealPlaintextProposals() error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIdempotency)
		updates := map[string][]byte{}
		err := b.ForEach(func(k, v []byte) error {
			rec, err := decodeStored(v)
			if err != nil || rec.Prepared == nil || len(rec.Prepared.Proposal) == 0 {
				return err
			}
			scope, key := splitIdemKey(k)
			p := rec.Prepared
			if rec.Prepared, err = s.sealPrepared(scope, key, &gateway.PreparedTx{TxID: p.TxID, Bytes: p.Bytes, Proposal: p.Proposal}); err != nil {
				return err
			}
			nv, err := json.Marshal(rec)
			if err != nil {
				return fmt.Errorf("encode idempotency record: %w", err)
			}
			updates[string(k)] = nv
			return nil
		})
		if err != nil {
			return err
		}
		for k, v := range updates {
			if err := b.Put([]byte(k), v); err != nil {
				return fmt.Errorf("seal a stored proposal: %w", err)
			}
		}
		return nil
	})
}

func splitIdemKey(k []byte) (scope, key string) {
	scope, key, _ = strings.Cut(string(k), "\x00")
	return scope, key
}

// HeldProposal is an idempotency record that holds the signed proposal of its transaction.
type HeldProposal struct {
	// Scope (the API key's ID) and Key (the Idempotency-Key) name the record.
	Scope, Key string
	// TxID is the transaction the proposal belongs to.
	TxID string
	// Created is when the record was made.
	Created time.Time
	// Answered is true for a stored answer (a 202), false for a claim without answer.
	Answered bool
	// KeyID is the ID of the key that sealed the proposal.
	KeyID string
}

// HeldProposals lists the records that hold a signed proposal and no request is working on.
func (s *Store) HeldProposals() ([]HeldProposal, error) {
	var out []HeldProposal
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIdempotency).ForEach(func(k, v []byte) error {
			rec, err := decodeStored(v)
			if err != nil || !rec.Prepared.hasProposal() {
				return err
			}
			scope, key := splitIdemKey(k)
			h := HeldProposal{Scope: scope, Key: key, TxID: rec.Prepared.TxID, Created: rec.Created, Answered: rec.Status != 0}
			if len(rec.Prepared.Sealed) > 0 {
				if h.KeyID, err = SealedKeyID(rec.Prepared.Sealed); err != nil {
					return fmt.Errorf("record of transaction %s: %w", h.TxID, err)
				}
			}
			out = append(out, h)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list held proposals: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	held := out[:0]
	for _, h := range out {
		if _, busy := s.flights[string(idemKey(h.Scope, h.Key))]; !busy {
			held = append(held, h)
		}
	}
	return held, nil
}

// DropProposal removes the signed proposal of transaction txID from the record (scope, key),
// keeping the rest (the transaction itself can still be resubmitted, the answer replayed). It
// reports false, changing nothing, when the record no longer holds that proposal or a request
// is working on it.
func (s *Store) DropProposal(scope, key, txID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, busy := s.flights[string(idemKey(scope, key))]; busy {
		return false, nil
	}
	dropped := false
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketIdempotency)
		v := b.Get(idemKey(scope, key))
		if v == nil {
			return nil
		}
		rec, err := decodeStored(v)
		if err != nil || !rec.Prepared.hasProposal() || rec.Prepared.TxID != txID {
			return err
		}
		rec.Prepared.Sealed, rec.Prepared.Proposal = nil, nil
		nv, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("encode idempotency record: %w", err)
		}
		dropped = true
		return b.Put(idemKey(scope, key), nv)
	})
	if err != nil {
		return false, fmt.Errorf("drop the proposal of %s: %w", txID, err)
	}
	return dropped, nil
}
