package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/gateway"
)

var (
	bucketSubscriptions = []byte("subscriptions")
	// bucketSubscriptionSecrets holds each subscription's signing secret, apart from the
	// subscription so that reading a subscription never touches it.
	bucketSubscriptionSecrets = []byte("subscriptionSecrets")
	// bucketSubscriptionDeliveries holds one nested bucket per subscription: its delivery log,
	// keyed by sequence number.
	bucketSubscriptionDeliveries = []byte("subscriptionDeliveries")
)

// DefaultDeliveryHistory is how many delivery attempts a subscription's log keeps.
const DefaultDeliveryHistory = 200

// secretClear and secretSealed tag a stored signing secret: kept as it is, or sealed with the
// SecretSealer.
const (
	secretClear  byte = 0
	secretSealed byte = 1
)

// SecretSealer protects the webhook signing secrets at rest. The gateway must keep each secret
// to sign deliveries with it, so a secret cannot be hashed: with a sealer it is stored encrypted
// and bound to its subscription (aad), without one it is stored as it is (the file is 0600 and
// lives in the gateway's data directory). An AES-GCM keyring with Seal and Open of these
// signatures satisfies it.
type SecretSealer interface {
	// Seal encrypts plaintext, binding it to aad.
	Seal(plaintext, aad []byte) ([]byte, error)
	// Open decrypts a value Seal returned for the same aad.
	Open(sealed, aad []byte) ([]byte, error)
}

// Subscriptions is the part of the store that keeps webhook subscriptions, their signing
// secrets, checkpoints and delivery logs. It implements gateway.SubscriptionStore; get it with
// Store.SubscriptionStore.
type Subscriptions struct {
	s       *Store
	sealer  SecretSealer
	history int
}

var _ gateway.SubscriptionStore = (*Subscriptions)(nil)

// SubscriptionsOption configures Store.SubscriptionStore.
type SubscriptionsOption func(*Subscriptions)

// WithSecretSealer seals signing secrets with sealer. Secrets stored in clear earlier are sealed
// when the subscription store is opened with it.
func WithSecretSealer(sealer SecretSealer) SubscriptionsOption {
	return func(x *Subscriptions) { x.sealer = sealer }
}

// WithDeliveryHistory keeps the last n delivery attempts of each subscription
// (DefaultDeliveryHistory when n < 1).
func WithDeliveryHistory(n int) SubscriptionsOption {
	return func(x *Subscriptions) { x.history = n }
}

// SubscriptionStore returns the store's webhook subscriptions, creating their buckets if needed.
// With a sealer, secrets stored in clear are sealed now; without one, sealed secrets are an
// error (the gateway could not sign with them).
func (s *Store) SubscriptionStore(opts ...SubscriptionsOption) (*Subscriptions, error) {
	x := &Subscriptions{s: s}
	for _, o := range opts {
		o(x)
	}
	if x.history < 1 {
		x.history = DefaultDeliveryHistory
	}
	err := x.update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSubscriptions, bucketSubscriptionSecrets, bucketSubscriptionDeliveries} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return x.sealClearSecrets(tx)
	})
	if err != nil {
		return nil, fmt.Errorf("open subscription store: %w", err)
	}
	return x, nil
}

// update and view run fn in a bbolt transaction of the store.
func (x *Subscriptions) update(fn func(*bolt.Tx) error) error { return x.s.db.Update(fn) }
func (x *Subscriptions) view(fn func(*bolt.Tx) error) error   { return x.s.db.View(fn) }

// sealClearSecrets seals the secrets stored in clear (with a sealer), or checks that none is
// sealed (without one).
func (x *Subscriptions) sealClearSecrets(tx *bolt.Tx) error {
	b := tx.Bucket(bucketSubscriptionSecrets)
	var clear [][]byte
	err := b.ForEach(func(k, v []byte) error {
		switch {
		case len(v) > 0 && v[0] == secretClear && x.sealer != nil:
			clear = append(clear, bytes.Clone(k))
		case len(v) > 0 && v[0] == secretSealed && x.sealer == nil:
			return fmt.Errorf("the signing secret of subscription %s is sealed: the store needs its key to open it", k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range clear {
		v := b.Get(k)
		sealed, err := x.encodeSecret(string(k), v[1:])
		if err != nil {
			return err
		}
		if err := b.Put(k, sealed); err != nil {
			return fmt.Errorf("seal the secret of subscription %s: %w", k, err)
		}
	}
	return nil
}

// secretAAD binds a sealed secret to its subscription, so that it cannot be moved to another.
func secretAAD(id string) []byte { return []byte("xborder webhook signing secret\x00" + id) }

func (x *Subscriptions) encodeSecret(id string, secret []byte) ([]byte, error) {
	if x.sealer == nil {
		return append([]byte{secretClear}, secret...), nil
	}
	sealed, err := x.sealer.Seal(secret, secretAAD(id))
	if err != nil {
		return nil, fmt.Errorf("seal the secret of subscription %s: %w", id, err)
	}
	return append([]byte{secretSealed}, sealed...), nil
}

func (x *Subscriptions) decodeSecret(id string, v []byte) ([]byte, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("the secret of subscription %s is empty", id)
	}
	switch {
	case v[0] == secretClear:
		return bytes.Clone(v[1:]), nil
	case v[0] == secretSealed && x.sealer != nil:
		plain, err := x.sealer.Open(v[1:], secretAAD(id))
		if err != nil {
			return nil, fmt.Errorf("open the secret of subscription %s: %w", id, err)
		}
		return plain, nil
	default:
		return nil, fmt.Errorf("the secret of subscription %s is sealed and the store has no key to open it", id)
	}
}

func notFound(id string) error {
	return gateway.Errorf(gateway.CodeNotFound, "subscription %s does not exist", id)
}

func getSubscription(tx *bolt.Tx, id string) (gateway.Subscription, error) {
	v := tx.Bucket(bucketSubscriptions).Get([]byte(id))
	if v == nil {
		return gateway.Subscription{}, notFound(id)
	}
	var sub gateway.Subscription
	if err := json.Unmarshal(v, &sub); err != nil {
		return gateway.Subscription{}, fmt.Errorf("decode subscription %s: %w", id, err)
	}
	return sub, nil
}

func putSubscription(tx *bolt.Tx, sub gateway.Subscription) error {
	sub.LagBlocks = 0 // computed when read
	v, err := json.Marshal(sub)
	if err != nil {
		return fmt.Errorf("encode subscription %s: %w", sub.ID, err)
	}
	if err := tx.Bucket(bucketSubscriptions).Put([]byte(sub.ID), v); err != nil {
		return fmt.Errorf("store subscription %s: %w", sub.ID, err)
	}
	return nil
}

// CreateSubscription implements gateway.SubscriptionStore. An existing ID is a CONFLICT.
func (x *Subscriptions) CreateSubscription(sub gateway.Subscription, secret []byte) error {
	enc, err := x.encodeSecret(sub.ID, secret)
	if err != nil {
		return err
	}
	err = x.update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSubscriptions).Get([]byte(sub.ID)) != nil {
			return gateway.Errorf(gateway.CodeConflict, "subscription %s already exists", sub.ID)
		}
		if err := putSubscription(tx, sub); err != nil {
			return err
		}
		return tx.Bucket(bucketSubscriptionSecrets).Put([]byte(sub.ID), enc)
	})
	if err != nil {
		return fmt.Errorf("create subscription: %w", err)
	}
	return nil
}

// Subscription implements gateway.SubscriptionStore.
func (x *Subscriptions) Subscription(id string) (gateway.Subscription, error) {
	var sub gateway.Subscription
	err := x.view(func(tx *bolt.Tx) error {
		var err error
		sub, err = getSubscription(tx, id)
		return err
	})
	if err != nil {
		return gateway.Subscription{}, fmt.Errorf("read subscription: %w", err)
	}
	return sub, nil
}

// Subscriptions implements gateway.SubscriptionStore.
func (x *Subscriptions) Subscriptions() ([]gateway.Subscription, error) {
	var out []gateway.Subscription
	err := x.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSubscriptions).ForEach(func(k, v []byte) error {
			var sub gateway.Subscription
			if err := json.Unmarshal(v, &sub); err != nil {
				return fmt.Errorf("decode subscription %s: %w", k, err)
			}
			out = append(out, sub)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read subscriptions: %w", err)
	}
	return out, nil
}

// UpdateSubscription implements gateway.SubscriptionStore.
func (x *Subscriptions) UpdateSubscription(id string, change func(*gateway.Subscription) error) (gateway.Subscription, error) {
	var sub gateway.Subscription
	err := x.update(func(tx *bolt.Tx) error {
		var err error
		if sub, err = getSubscription(tx, id); err != nil {
			return err
		}
		if err := change(&sub); err != nil {
			return err
		}
		return putSubscription(tx, sub)
	})
	if err != nil {
		return gateway.Subscription{}, fmt.Errorf("update subscription: %w", err)
	}
	return sub, nil
}

// RecordDelivery implements gateway.SubscriptionStore.
func (x *Subscriptions) RecordDelivery(id string, d gateway.Delivery, change func(*gateway.Subscription) error) (gateway.Subscription, error) {
	var sub gateway.Subscription
	err := x.update(func(tx *bolt.Tx) error {
		var err error
		if sub, err = getSubscription(tx, id); err != nil {
			return err
		}
		if change != nil {
			if err := change(&sub); err != nil {
				return err
			}
		}
		if err := putSubscription(tx, sub); err != nil {
			return err
		}
		return x.appendDelivery(tx, id, d)
	})
	if err != nil {
		return gateway.Subscription{}, fmt.Errorf("record delivery: %w", err)
	}
	return sub, nil
}

// appendDelivery adds d to the log of subscription id and drops the entries beyond the history.
func (x *Subscriptions) appendDelivery(tx *bolt.Tx, id string, d gateway.Delivery) error {
	b, err := tx.Bucket(bucketSubscriptionDeliveries).CreateBucketIfNotExists([]byte(id))
	if err != nil {
		return fmt.Errorf("delivery log of %s: %w", id, err)
	}
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("delivery log of %s: %w", id, err)
	}
	d.Seq = seq
	v, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode delivery: %w", err)
	}
	if err := b.Put(seqKey(seq), v); err != nil {
		return fmt.Errorf("store delivery: %w", err)
	}
	if seq <= uint64(x.history) {
		return nil
	}
	keep := seq - uint64(x.history) + 1
	c := b.Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) < keep; k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return fmt.Errorf("trim delivery log: %w", err)
		}
	}
	return nil
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

// SubscriptionSecret implements gateway.SubscriptionStore.
func (x *Subscriptions) SubscriptionSecret(id string) ([]byte, error) {
	var secret []byte
	err := x.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSubscriptionSecrets).Get([]byte(id))
		if v == nil {
			return notFound(id)
		}
		var err error
		secret, err = x.decodeSecret(id, v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read subscription secret: %w", err)
	}
	return secret, nil
}

// SetSubscriptionSecret implements gateway.SubscriptionStore.
func (x *Subscriptions) SetSubscriptionSecret(id string, secret []byte) error {
	enc, err := x.encodeSecret(id, secret)
	if err != nil {
		return err
	}
	err = x.update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSubscriptions).Get([]byte(id)) == nil {
			return notFound(id)
		}
		return tx.Bucket(bucketSubscriptionSecrets).Put([]byte(id), enc)
	})
	if err != nil {
		return fmt.Errorf("replace subscription secret: %w", err)
	}
	return nil
}

// DeleteSubscription implements gateway.SubscriptionStore.
func (x *Subscriptions) DeleteSubscription(id string) error {
	err := x.update(func(tx *bolt.Tx) error {
		k := []byte(id)
		if tx.Bucket(bucketSubscriptions).Get(k) == nil {
			return notFound(id)
		}
		if err := tx.Bucket(bucketSubscriptions).Delete(k); err != nil {
			return fmt.Errorf("delete subscription: %w", err)
		}
		if err := tx.Bucket(bucketSubscriptionSecrets).Delete(k); err != nil {
			return fmt.Errorf("delete subscription secret: %w", err)
		}
		logs := tx.Bucket(bucketSubscriptionDeliveries)
		if logs.Bucket(k) == nil {
			return nil
		}
		if err := logs.DeleteBucket(k); err != nil {
			return fmt.Errorf("delete delivery log: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete subscription %s: %w", id, err)
	}
	return nil
}

// Deliveries implements gateway.SubscriptionStore.
func (x *Subscriptions) Deliveries(id string, limit int) ([]gateway.Delivery, error) {
	out := []gateway.Delivery{}
	err := x.view(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSubscriptions).Get([]byte(id)) == nil {
			return notFound(id)
		}
		b := tx.Bucket(bucketSubscriptionDeliveries).Bucket([]byte(id))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			var d gateway.Delivery
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("decode delivery: %w", err)
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read delivery log: %w", err)
	}
	return out, nil
}
