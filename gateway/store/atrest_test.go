package store

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/internal/testkit"
)

// buyerPII are private values as a signed proposal carries them in its transient map.
var buyerPII = []string{"Ada Lovelace", "12 Crypt Lane, London", "+44 20 7946 0958"}

func proposalWithPII(tag string) []byte {
	var b bytes.Buffer
	b.WriteString("\x0a\x10signed-proposal-" + tag)
	for _, s := range buyerPII {
		b.WriteString("\x12" + s + "/" + tag)
	}
	return b.Bytes()
}

// requireNoPII fails when any buyer value appears in the raw bytes of the file at path.
func requireNoPII(t *testing.T, path, when string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, s := range buyerPII {
		require.False(t, testkit.ContainsSecret(raw, s), "%s: %q is in %s in clear", when, s, filepath.Base(path))
	}
}

func TestNoPrivateDataAtRest(t *testing.T) {
	ctx := context.Background()
	t.Run("claims, answers and freed pages hold no proposal in clear", func(t *testing.T) {
		s, path := openTemp(t)
		for i := range 50 {
			key := "idem-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			_, release, err := s.Begin(ctx, "k-merchant", key, "fp")
			require.NoError(t, err)
			ptx := gateway.PreparedTx{TxID: "tx-" + key, Bytes: []byte("envelope"), Proposal: proposalWithPII(key)}
			require.NoError(t, s.Prepare("k-merchant", key, "fp", ptx))
			requireNoPII(t, path, "after Prepare")
			final := &gateway.IdempotencyRecord{Status: 201, Body: []byte(`{}`), TxID: ptx.TxID}
			if i%2 == 0 {
				final.Status, final.Prepared = 202, &ptx
			}
			require.NoError(t, release(final))
		}
		requireNoPII(t, path, "after the answers")
		before, after, err := s.Compact()
		require.NoError(t, err)
		require.Positive(t, before.FreePages, "the updates freed pages")
		require.Less(t, after.FreePages, before.FreePages)
		requireNoPII(t, path, "after compaction")

		rec, release, err := s.Begin(ctx, "k-merchant", "idem-aa", "fp")
		require.NoError(t, err)
		require.NotNil(t, release, "a 202 is resumable")
		require.Equal(t, proposalWithPII("idem-aa"), rec.Prepared.Proposal, "the sealed proposal opens")
		require.NoError(t, release(nil))
	})
	t.Run("without a keyring no proposal is kept", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "gateway.db")
		s, err := Open(path)
		require.NoError(t, err)
		defer s.Close()
		_, release, err := s.Begin(ctx, "k", "idem", "fp")
		require.NoError(t, err)
		require.NoError(t, s.Prepare("k", "idem", "fp", gateway.PreparedTx{TxID: "tx", Bytes: []byte("env"), Proposal: proposalWithPII("x")}))
		require.NoError(t, release(nil))
		requireNoPII(t, path, "after Prepare")
		rec, release, err := s.Begin(ctx, "k", "idem", "fp")
		require.NoError(t, err)
		require.Equal(t, "tx", rec.Prepared.TxID)
		require.Equal(t, []byte("env"), rec.Prepared.Bytes, "the transaction can still be resubmitted")
		require.Nil(t, rec.Prepared.Proposal)
		require.NoError(t, release(nil))
	})
	t.Run("proposals an earlier version kept in clear are sealed at open and gone after compaction", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "gateway.db")
		writeLegacyClaim(t, path, "k", "idem", proposalWithPII("legacy"))
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		require.True(t, testkit.ContainsSecret(raw, buyerPII[0]), "control: the legacy record holds the name in clear")

		s, err := Open(path, WithKeyring(testKeyring(t)))
		require.NoError(t, err)
		defer s.Close()
		_, _, err = s.Compact()
		require.NoError(t, err)
		requireNoPII(t, path, "after open and compaction")
		rec, release, err := s.Begin(ctx, "k", "idem", "fp")
		require.NoError(t, err)
		require.Equal(t, proposalWithPII("legacy"), rec.Prepared.Proposal)
		require.NoError(t, release(nil))
	})
	t.Run("a rotated keyring reads old records and seals new ones with the newest key", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "gateway.db")
		keyA := Key{ID: "a", Secret: bytes.Repeat([]byte{1}, KeySize)}
		keyB := Key{ID: "b", Secret: bytes.Repeat([]byte{2}, KeySize)}
		ringA, _ := NewKeyring(keyA)
		s, err := Open(path, WithKeyring(ringA))
		require.NoError(t, err)
		prepareClaim(t, s, "old", proposalWithPII("old"))
		require.NoError(t, s.Close())

		ringAB, _ := NewKeyring(keyA, keyB)
		s, err = Open(path, WithKeyring(ringAB))
		require.NoError(t, err)
		prepareClaim(t, s, "new", proposalWithPII("new"))
		held, err := s.HeldProposals()
		require.NoError(t, err)
		byKey := map[string]string{}
		for _, h := range held {
			byKey[h.Key] = h.KeyID
		}
		require.Equal(t, map[string]string{"old": "a", "new": "b"}, byKey)
		rec, release, err := s.Begin(ctx, "k", "old", "fp")
		require.NoError(t, err)
		require.Equal(t, proposalWithPII("old"), rec.Prepared.Proposal)
		require.NoError(t, release(nil))
		require.NoError(t, s.Close())

		ringB, _ := NewKeyring(keyB)
		s, err = Open(path, WithKeyring(ringB))
		require.NoError(t, err)
		defer s.Close()
		_, _, err = s.Begin(ctx, "k", "old", "fp")
		require.ErrorContains(t, err, `key "a" is not in the keyring`, "a record of a retired key says which key it needs")
	})
}

func prepareClaim(t *testing.T, s *Store, key string, proposal []byte) {
	t.Helper()
	_, release, err := s.Begin(context.Background(), "k", key, "fp")
	require.NoError(t, err)
	require.NoError(t, s.Prepare("k", key, "fp", gateway.PreparedTx{TxID: "tx-" + key, Bytes: []byte("env"), Proposal: proposal}))
	require.NoError(t, release(nil))
}

// writeLegacyClaim writes a claim as versions before sealing did: the proposal in clear.
func writeLegacyClaim(t *testing.T, path, scope, key string, proposal []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	v, err := json.Marshal(gateway.IdempotencyRecord{Fingerprint: "fp", Created: time.Now().UTC(),
		Prepared: &gateway.PreparedTx{TxID: "tx-legacy", Bytes: []byte("env"), Proposal: proposal}})
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketIdempotency)
		if err != nil {
			return err
		}
		return b.Put(idemKey(scope, key), v)
	}))
}

func TestHeldProposals(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	prepareClaim(t, s, "done", proposalWithPII("done"))
	_, busyRelease, err := s.Begin(ctx, "k", "busy", "fp")
	require.NoError(t, err)
	require.NoError(t, s.Prepare("k", "busy", "fp", gateway.PreparedTx{TxID: "tx-busy", Proposal: []byte("p")}))

	held, err := s.HeldProposals()
	require.NoError(t, err)
	require.Len(t, held, 1, "a record a request is working on is not listed")
	require.Equal(t, HeldProposal{Scope: "k", Key: "done", TxID: "tx-done", Created: held[0].Created, KeyID: "test-1"}, held[0])

	dropped, err := s.DropProposal("k", "busy", "tx-busy")
	require.NoError(t, err)
	require.False(t, dropped, "not while a request holds the claim")
	dropped, err = s.DropProposal("k", "done", "tx-other")
	require.NoError(t, err)
	require.False(t, dropped, "not for another transaction")
	dropped, err = s.DropProposal("k", "done", "tx-done")
	require.NoError(t, err)
	require.True(t, dropped)

	rec, release, err := s.Begin(ctx, "k", "done", "fp")
	require.NoError(t, err)
	require.NotNil(t, release, "the transaction itself is kept: a retry still finishes it")
	require.Equal(t, []byte("env"), rec.Prepared.Bytes)
	require.Nil(t, rec.Prepared.Proposal)
	require.NoError(t, release(nil))
	require.NoError(t, busyRelease(nil))
	held, err = s.HeldProposals()
	require.NoError(t, err)
	require.Len(t, held, 1)
	require.Equal(t, "busy", held[0].Key)
}

func TestCompactKeepsLiveData(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	for i := range 20 {
		_, _, err := s.AppendEvent(event(uint64(i+1), "tx"))
		require.NoError(t, err)
	}
	_, release, err := s.Begin(ctx, "k", "idem", "fp")
	require.NoError(t, err)
	require.NoError(t, release(&gateway.IdempotencyRecord{Status: 201, Body: []byte(`{"ok":true}`), TxID: "tx1"}))
	_, err = s.PurgeIdempotency(time.Now().Add(time.Hour))
	require.NoError(t, err)
	_, release, err = s.Begin(ctx, "k", "idem2", "fp")
	require.NoError(t, err)
	require.NoError(t, release(&gateway.IdempotencyRecord{Status: 200, TxID: "tx2", Created: time.Now().UTC()}))

	before, after, err := s.Compact()
	require.NoError(t, err)
	require.Less(t, after.FreePages, before.FreePages)
	_, err = os.Stat(path + ".compact")
	require.ErrorIs(t, err, os.ErrNotExist, "no copy left behind")
	events, err := s.EventsAfter(gateway.EventID{}, 100)
	require.NoError(t, err)
	require.Len(t, events, 20)
	rec, _, err := s.Begin(ctx, "k", "idem2", "fp")
	require.NoError(t, err)
	require.Equal(t, "tx2", rec.TxID)
	block, txID, err := s.EventCheckpoint()
	require.NoError(t, err)
	require.Equal(t, uint64(20), block)
	require.Equal(t, "tx", txID)
}
