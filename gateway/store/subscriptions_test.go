package store

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway"
)

// gcmSealer seals with AES-256-GCM under one key, as a store keyring does.
type gcmSealer struct{ aead cipher.AEAD }

func newGCMSealer(t *testing.T, key byte) *gcmSealer {
	t.Helper()
	block, err := aes.NewCipher(bytes.Repeat([]byte{key}, 32))
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	return &gcmSealer{aead: aead}
}

func (g *gcmSealer) Seal(plain, aad []byte) ([]byte, error) {
	nonce := make([]byte, g.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return g.aead.Seal(nonce, nonce, plain, aad), nil
}

func (g *gcmSealer) Open(sealed, aad []byte) ([]byte, error) {
	n := g.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("short")
	}
	return g.aead.Open(nil, sealed[:n], sealed[n:], aad)
}

func testSubscription(id, org string) gateway.Subscription {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	return gateway.Subscription{ID: id, Org: org, CreatedBy: "k-" + org, URL: "http://127.0.0.1:9/hooks",
		Events: []string{"OrderCreated"}, State: gateway.SubscriptionActive, CreatedAt: now, UpdatedAt: now}
}

func TestSubscriptions(t *testing.T) {
	t.Run("create, read, update, delete, and kept across reopening", func(t *testing.T) {
		s, path := openTemp(t)
		subs, err := s.SubscriptionStore()
		require.NoError(t, err)
		a := testSubscription("sub_a", "MerchantMSP")
		require.NoError(t, subs.CreateSubscription(a, []byte("secret-a")))
		require.Equal(t, gateway.CodeConflict, gateway.ErrorCode(subs.CreateSubscription(a, []byte("x"))))
		require.NoError(t, subs.CreateSubscription(testSubscription("sub_b", "BankMSP"), []byte("secret-b")))

		got, err := subs.Subscription("sub_a")
		require.NoError(t, err)
		require.Equal(t, a, got)
		_, err = subs.Subscription("sub_x")
		require.Equal(t, gateway.CodeNotFound, gateway.ErrorCode(err))

		updated, err := subs.UpdateSubscription("sub_a", func(sub *gateway.Subscription) error {
			sub.Checkpoint = gateway.EventID{Block: 7, Index: 1}
			sub.LagBlocks = 99
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, gateway.EventID{Block: 7, Index: 1}, updated.Checkpoint)
		_, err = subs.UpdateSubscription("sub_a", func(sub *gateway.Subscription) error {
			sub.URL = "changed"
			return gateway.Errorf(gateway.CodeInvalidArgument, "no")
		})
		require.Equal(t, gateway.CodeInvalidArgument, gateway.ErrorCode(err))

		require.NoError(t, s.Close())
		s, err = Open(path)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		subs, err = s.SubscriptionStore()
		require.NoError(t, err)
		all, err := subs.Subscriptions()
		require.NoError(t, err)
		require.Len(t, all, 2)
		require.Equal(t, "sub_a", all[0].ID)
		require.Equal(t, "http://127.0.0.1:9/hooks", all[0].URL, "a failed change wrote nothing")
		require.Equal(t, gateway.EventID{Block: 7, Index: 1}, all[0].Checkpoint)
		require.Zero(t, all[0].LagBlocks, "lag is computed when read, never stored")
		secret, err := subs.SubscriptionSecret("sub_b")
		require.NoError(t, err)
		require.Equal(t, []byte("secret-b"), secret)

		require.NoError(t, subs.DeleteSubscription("sub_a"))
		require.Equal(t, gateway.CodeNotFound, gateway.ErrorCode(subs.DeleteSubscription("sub_a")))
		_, err = subs.SubscriptionSecret("sub_a")
		require.Equal(t, gateway.CodeNotFound, gateway.ErrorCode(err))
		_, err = subs.Deliveries("sub_a", 10)
		require.Equal(t, gateway.CodeNotFound, gateway.ErrorCode(err))
	})

	t.Run("the delivery log is bounded, newest first, and goes with its subscription", func(t *testing.T) {
		s, _ := openTemp(t)
		subs, err := s.SubscriptionStore(WithDeliveryHistory(5))
		require.NoError(t, err)
		require.NoError(t, subs.CreateSubscription(testSubscription("sub_a", "MerchantMSP"), []byte("s")))
		for i := range 12 {
			sub, err := subs.RecordDelivery("sub_a", gateway.Delivery{EventID: gateway.EventID{Block: uint64(i + 1)}, Outcome: gateway.DeliverySucceeded},
				func(sub *gateway.Subscription) error {
					sub.Checkpoint = gateway.EventID{Block: uint64(i + 1)}
					return nil
				})
			require.NoError(t, err)
			require.Equal(t, uint64(i+1), sub.Checkpoint.Block)
		}
		log, err := subs.Deliveries("sub_a", 100)
		require.NoError(t, err)
		require.Len(t, log, 5)
		for i, d := range log {
			require.Equal(t, uint64(12-i), d.Seq)
			require.Equal(t, uint64(12-i), d.EventID.Block)
		}
		log, err = subs.Deliveries("sub_a", 2)
		require.NoError(t, err)
		require.Len(t, log, 2)

		_, err = subs.RecordDelivery("sub_x", gateway.Delivery{}, nil)
		require.Equal(t, gateway.CodeNotFound, gateway.ErrorCode(err), "no log for a deleted subscription")
		require.NoError(t, subs.DeleteSubscription("sub_a"))
		require.NoError(t, subs.CreateSubscription(testSubscription("sub_a", "MerchantMSP"), []byte("s")))
		log, err = subs.Deliveries("sub_a", 100)
		require.NoError(t, err)
		require.Empty(t, log, "a new subscription with the ID of a deleted one starts a new log")
	})

	t.Run("secrets are sealed with a sealer, including those stored before it", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "gateway.db")
		s, err := Open(path)
		require.NoError(t, err)
		subs, err := s.SubscriptionStore()
		require.NoError(t, err)
		clearSecret := []byte("whsec_stored-before-the-sealer-0123456789")
		require.NoError(t, subs.CreateSubscription(testSubscription("sub_old", "MerchantMSP"), clearSecret))
		require.NoError(t, s.Close())
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		require.True(t, bytes.Contains(raw, clearSecret), "control: without a sealer the secret is in the file")

		s, err = Open(path)
		require.NoError(t, err)
		sealer := newGCMSealer(t, 1)
		subs, err = s.SubscriptionStore(WithSecretSealer(sealer))
		require.NoError(t, err)
		newSecret := []byte("whsec_stored-with-the-sealer-9876543210")
		require.NoError(t, subs.CreateSubscription(testSubscription("sub_new", "MerchantMSP"), newSecret))
		rotated := []byte("whsec_rotated-with-the-sealer-555555555")
		require.NoError(t, subs.SetSubscriptionSecret("sub_old", rotated))
		require.Equal(t, gateway.CodeNotFound, gateway.ErrorCode(subs.SetSubscriptionSecret("sub_x", rotated)))
		for id, want := range map[string][]byte{"sub_old": rotated, "sub_new": newSecret} {
			got, err := subs.SubscriptionSecret(id)
			require.NoError(t, err)
			require.Equal(t, want, got)
		}
		require.NoError(t, s.Close())
		raw, err = os.ReadFile(path)
		require.NoError(t, err)
		for _, secret := range [][]byte{newSecret, rotated} {
			require.False(t, bytes.Contains(raw, secret), "%s is in the file in clear", secret)
		}

		s, err = Open(path)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		_, err = s.SubscriptionStore()
		require.ErrorContains(t, err, "is sealed", "without the sealer the gateway could not sign: it says so at start")
		subs, err = s.SubscriptionStore(WithSecretSealer(newGCMSealer(t, 2)))
		require.NoError(t, err)
		_, err = subs.SubscriptionSecret("sub_new")
		require.Error(t, err, "another key does not open the secret")
	})
}
