package reliability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/xborder/xborder/gateway/store"
	"github.com/xborder/xborder/internal/devapp"
	"github.com/xborder/xborder/internal/testkit"
)

// piiLoad creates orders (and pays those created synchronously) with an Idempotency-Key on
// every write, half of them asking for 202 Accepted, until stop is set or a write fails. It
// keeps every private value it sent.
type piiLoad struct {
	c       *testkit.Client
	mu      sync.Mutex
	private []string
	writes  int
}

func (l *piiLoad) run(g int, stop *atomic.Bool) {
	ctx := context.Background()
	for n := 0; !stop.Load(); n++ {
		spec := newOrderSpec(fmt.Sprintf("pii-%d-%04d", g, n), "pii-m", 1, 1999, 0)
		l.mu.Lock()
		l.private = append(l.private, spec.PrivateStrings()...)
		l.mu.Unlock()
		async := n%2 == 0
		headers := []string{"Idempotency-Key", "c-" + spec.ID}
		if async {
			headers = append(headers, "Prefer", "respond-async")
		}
		r, err := l.c.Do(ctx, merchant, "POST", "/api/v1/orders", spec.CreateBody(), headers...)
		if err != nil || !r.OK() {
			return
		}
		l.count()
		if async {
			continue
		}
		r, err = l.c.Do(ctx, bank, "POST", "/api/v1/orders/"+spec.ID+"/payment", spec.PaymentBody("p-"+spec.ID),
			"Idempotency-Key", "p-"+spec.ID, "Prefer", "respond-async")
		if err != nil || !r.OK() {
			return
		}
		l.count()
	}
}

func (l *piiLoad) count() {
	l.mu.Lock()
	l.writes++
	l.mu.Unlock()
}

// requireNoPrivateData fails when any of private is in the raw bytes of the file at path, in
// clear or base64-encoded.
func requireNoPrivateData(t *testing.T, path string, private []string, when string) {
	t.Helper()
	raw, err := os.ReadFile(path) // #nosec G304 -- the test's data dir
	require.NoError(t, err)
	for _, s := range private {
		require.False(t, testkit.ContainsSecret(raw, s), "%s: private value %q is in %s", when, s, filepath.Base(path))
	}
}

// sealedClaims lists the (scope, key, fingerprint) of the idempotency records of the store at
// path that hold a sealed proposal, read with bbolt directly (the gateway is not running).
func sealedClaims(t *testing.T, path string) [][3]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	require.NoError(t, err)
	defer db.Close()
	var out [][3]string
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("idempotency")).ForEach(func(k, v []byte) error {
			var rec struct {
				Fingerprint string `json:"fingerprint"`
				Prepared    *struct {
					Sealed []byte `json:"sealedProposal"`
				} `json:"prepared"`
			}
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			if rec.Prepared != nil && len(rec.Prepared.Sealed) > 0 {
				scope, key, _ := strings.Cut(string(k), "\x00")
				out = append(out, [3]string{scope, key, rec.Fingerprint})
			}
			return nil
		})
	}))
	return out
}

// TestNoPrivateDataAtRest kills `xborder dev` with SIGKILL while clients write orders and
// payments with Idempotency-Keys (half of them answered 202, whose records keep the signed
// proposal, with the buyer's and payer's private values, until the transaction is known to be
// on the ledger), then scans the raw bytes of gateway.db for every private value sent: none may
// be there, in clear or base64-encoded, not even in freed pages. The sealed proposals in the
// file open with the key in the data directory and do hold such values, so the scan looks
// where they would be. After a restart (which compacts the file) the scan finds none either.
func TestNoPrivateDataAtRest(t *testing.T) {
	skipShort(t)
	bin := buildBinary(t, "cmd/xborder")
	dataDir := t.TempDir()
	dbPath := filepath.Join(dataDir, "gateway.db")
	out := &testkit.SyncBuffer{}
	proc := startDev(t, bin, dataDir, out)
	load := &piiLoad{c: newRESTClient(proc.url, proc.creds)}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); load.run(g, &stop) }()
	}
	require.Eventually(t, func() bool {
		load.mu.Lock()
		defer load.mu.Unlock()
		return load.writes >= 40
	}, 2*time.Minute, 50*time.Millisecond, "writes")
	proc.kill(t) // mid-write: the clients are still sending
	stop.Store(true)
	wg.Wait()
	t.Logf("%d writes answered before the kill, %d private values sent", load.writes, len(load.private))

	requireNoPrivateData(t, dbPath, load.private, "after kill -9")

	t.Run("control: the sealed proposals in the file hold private values", func(t *testing.T) {
		claims := sealedClaims(t, dbPath)
		require.NotEmpty(t, claims, "202 answers keep their sealed proposal")
		keys, err := store.LoadKeyringFile(filepath.Join(dataDir, devapp.StoreKeyFile))
		require.NoError(t, err)
		st, err := store.Open(dbPath, store.WithKeyring(keys))
		require.NoError(t, err)
		defer st.Close()
		found := 0
		for _, c := range claims {
			rec, release, err := st.Begin(context.Background(), c[0], c[1], c[2])
			require.NoError(t, err)
			require.NotNil(t, rec.Prepared)
			for _, s := range load.private {
				if testkit.ContainsSecret(rec.Prepared.Proposal, s) {
					found++
					break
				}
			}
			if release != nil {
				require.NoError(t, release(nil))
			}
		}
		require.Positive(t, found, "no sealed proposal holds a private value: the scan would prove nothing")
	})

	proc = startDev(t, bin, dataDir, out)
	require.Contains(t, out.String(), "compacted the store")
	proc.kill(t)
	requireNoPrivateData(t, dbPath, load.private, "after a restart and compaction")
}
