package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/gateway"
)

var (
	// bucketAPIKeys holds managed API keys by ID (JSON of apiKeyRecord: never the key, only
	// its SHA-256); bucketAPIKeyHashes maps each key's SHA-256 (hex) to its ID.
	bucketAPIKeys      = []byte("apiKeys")
	bucketAPIKeyHashes = []byte("apiKeyHashes")
	// bucketWallet holds the Fabric identities of managed keys by enrolment ID.
	bucketWallet = []byte("wallet")
)

// apiKeyRecord is a stored managed key: the key's fields and its hash.
type apiKeyRecord struct {
	gateway.APIKey
	SHA256 string `json:"sha256"`
}

// walletRecord is a stored identity; its secrets (walletSecrets as JSON) are sealed with the
// store's keyring when it has one (Sealed).
type walletRecord struct {
	MSPID          string `json:"mspId"`
	CertificatePEM []byte `json:"certificate"`
	Secrets        []byte `json:"secrets"`
	Sealed         bool   `json:"sealed"`
}

// walletSecrets are the secret parts of a wallet identity.
type walletSecrets struct {
	PrivateKeyPEM []byte `json:"privateKey"`
	Secret        string `json:"secret"`
}

// CreateAPIKey stores a new managed key (with its SHA256 set). It fails with CONFLICT when its
// ID or hash is taken.
func (s *Store) CreateAPIKey(k gateway.APIKey) error {
	if k.ID == "" || len(k.SHA256) != 64 {
		return &gateway.Error{Code: gateway.CodeInternal, Message: "an API key needs an ID and a SHA-256"}
	}
	v, err := json.Marshal(apiKeyRecord{APIKey: k, SHA256: k.SHA256})
	if err != nil {
		return fmt.Errorf("encode api key: %w", err)
	}
	return s.update(func(tx *bolt.Tx) error {
		keys, hashes, err := apiKeyBuckets(tx)
		if err != nil {
			return err
		}
		if keys.Get([]byte(k.ID)) != nil || hashes.Get([]byte(k.SHA256)) != nil {
			return gateway.Errorf(gateway.CodeConflict, "API key %s exists already", k.ID)
		}
		if err := keys.Put([]byte(k.ID), v); err != nil {
			return fmt.Errorf("store api key: %w", err)
		}
		return hashes.Put([]byte(k.SHA256), []byte(k.ID))
	})
}

func apiKeyBuckets(tx *bolt.Tx) (keys, hashes *bolt.Bucket, err error) {
	if keys, err = tx.CreateBucketIfNotExists(bucketAPIKeys); err != nil {
		return nil, nil, fmt.Errorf("create bucket: %w", err)
	}
	if hashes, err = tx.CreateBucketIfNotExists(bucketAPIKeyHashes); err != nil {
		return nil, nil, fmt.Errorf("create bucket: %w", err)
	}
	return keys, hashes, nil
}

// APIKeyByHash returns the managed key whose SHA-256 (hex) is hash, revoked or not; found is
// false when there is none.
func (s *Store) APIKeyByHash(hash string) (k gateway.APIKey, found bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		hashes := tx.Bucket(bucketAPIKeyHashes)
		if hashes == nil {
			return nil
		}
		id := hashes.Get([]byte(hash))
		if id == nil {
			return nil
		}
		k, found, err = getAPIKey(tx, string(id))
		return err
	})
	return k, found, err
}

// APIKey returns the managed key id (NOT_FOUND when there is none).
func (s *Store) APIKey(id string) (gateway.APIKey, error) {
	var k gateway.APIKey
	err := s.view(func(tx *bolt.Tx) error {
		var found bool
		var err error
		if k, found, err = getAPIKey(tx, id); err == nil && !found {
			err = gateway.Errorf(gateway.CodeNotFound, "no API key %s", id)
		}
		return err
	})
	return k, err
}

func getAPIKey(tx *bolt.Tx, id string) (gateway.APIKey, bool, error) {
	b := tx.Bucket(bucketAPIKeys)
	if b == nil {
		return gateway.APIKey{}, false, nil
	}
	v := b.Get([]byte(id))
	if v == nil {
		return gateway.APIKey{}, false, nil
	}
	var rec apiKeyRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return gateway.APIKey{}, false, fmt.Errorf("decode api key %s: %w", id, err)
	}
	rec.APIKey.SHA256 = rec.SHA256
	return rec.APIKey, true, nil
}

// APIKeys returns the managed keys of organisation mspID (every organisation's when empty),
// oldest first.
func (s *Store) APIKeys(mspID string) ([]gateway.APIKey, error) {
	out := []gateway.APIKey{}
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAPIKeys)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			key, _, err := getAPIKey(tx, string(k))
			if err == nil && (mspID == "" || key.MSPID == mspID) {
				out = append(out, key)
			}
			return err
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, err
}

// UpdateAPIKey changes the managed key id with fn (which may not change its ID or hash) and
// returns it as stored. NOT_FOUND when there is none; fn's error leaves it unchanged.
func (s *Store) UpdateAPIKey(id string, fn func(*gateway.APIKey) error) (gateway.APIKey, error) {
	var out gateway.APIKey
	err := s.update(func(tx *bolt.Tx) error {
		k, found, err := getAPIKey(tx, id)
		if err != nil {
			return err
		}
		if !found {
			return gateway.Errorf(gateway.CodeNotFound, "no API key %s", id)
		}
		hash := k.SHA256
		if err := fn(&k); err != nil {
			return err
		}
		k.ID, k.SHA256 = id, hash
		v, err := json.Marshal(apiKeyRecord{APIKey: k, SHA256: hash})
		if err != nil {
			return fmt.Errorf("encode api key: %w", err)
		}
		out = k
		return tx.Bucket(bucketAPIKeys).Put([]byte(id), v)
	})
	return out, err
}

// walletAAD binds a sealed private key to its enrolment ID.
func walletAAD(id string) []byte { return []byte("wallet/" + id) }

// PutWalletIdentity stores (or replaces) an identity; its private key is sealed with the
// store's keyring when it has one.
func (s *Store) PutWalletIdentity(id gateway.WalletIdentity) error {
	// #nosec G117 -- the secrets are sealed with the keyring just below when the store has one
	secrets, err := json.Marshal(walletSecrets{PrivateKeyPEM: id.PrivateKeyPEM, Secret: id.Secret})
	if err != nil {
		return fmt.Errorf("encode wallet identity: %w", err)
	}
	rec := walletRecord{MSPID: id.MSPID, CertificatePEM: id.CertificatePEM, Secrets: secrets}
	if s.keys != nil {
		sealed, err := s.keys.Seal(secrets, walletAAD(id.ID))
		if err != nil {
			return fmt.Errorf("seal wallet identity %s: %w", id.ID, err)
		}
		rec.Secrets, rec.Sealed = sealed, true
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode wallet identity: %w", err)
	}
	return s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketWallet)
		if err != nil {
			return fmt.Errorf("create bucket: %w", err)
		}
		return b.Put([]byte(id.ID), v)
	})
}

// WalletIdentity implements gateway.Wallet.
func (s *Store) WalletIdentity(id string) (gateway.WalletIdentity, error) {
	var rec walletRecord
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketWallet)
		var v []byte
		if b != nil {
			v = b.Get([]byte(id))
		}
		if v == nil {
			return gateway.Errorf(gateway.CodeNotFound, "no identity %s in the wallet", id)
		}
		return json.Unmarshal(v, &rec)
	})
	if err != nil {
		return gateway.WalletIdentity{}, err
	}
	raw := rec.Secrets
	if rec.Sealed {
		if s.keys == nil {
			return gateway.WalletIdentity{}, errors.New("the wallet identity " + id + " is sealed and the store has no keys")
		}
		if raw, err = s.keys.Open(rec.Secrets, walletAAD(id)); err != nil {
			return gateway.WalletIdentity{}, fmt.Errorf("open wallet identity %s: %w", id, err)
		}
	}
	var sec walletSecrets
	if err := json.Unmarshal(raw, &sec); err != nil {
		return gateway.WalletIdentity{}, fmt.Errorf("decode wallet identity %s: %w", id, err)
	}
	return gateway.WalletIdentity{ID: id, MSPID: rec.MSPID, CertificatePEM: rec.CertificatePEM, PrivateKeyPEM: sec.PrivateKeyPEM, Secret: sec.Secret}, nil
}

// DeleteWalletIdentity removes an identity (nothing when there is none).
func (s *Store) DeleteWalletIdentity(id string) error {
	return s.update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketWallet); b != nil {
			return b.Delete([]byte(id))
		}
		return nil
	})
}

var _ gateway.Wallet = (*Store)(nil)
