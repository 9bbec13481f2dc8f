package service

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/store"
)

// statusLedger answers TransactionStatus from a set of committed transactions; the
// housekeeper asks nothing else. (A fake at the ledger seam: the devnet runs in
// internal/devapp's tests and in reliability/, where the whole path is exercised.)
type statusLedger struct {
	gateway.Ledger
	committed map[string]bool
}

func (l statusLedger) TransactionStatus(_ context.Context, _ gateway.Caller, txID string) (*gateway.TxStatus, error) {
	if !l.committed[txID] {
		return nil, gateway.Errorf(gateway.CodeNotFound, "transaction %s is not on the ledger", txID)
	}
	return &gateway.TxStatus{TxID: txID, ValidationCode: "VALID", Valid: true}, nil
}

func TestHousekeeping(t *testing.T) {
	ctx := context.Background()
	keys, err := store.NewKeyring(store.Key{ID: "k1", Secret: bytes.Repeat([]byte{3}, store.KeySize)})
	require.NoError(t, err)
	st, err := store.Open(filepath.Join(t.TempDir(), "gateway.db"), store.WithKeyring(keys))
	require.NoError(t, err)
	defer st.Close()
	for _, key := range []string{"committed", "pending"} {
		_, release, err := st.Begin(ctx, "k-merchant", key, "fp")
		require.NoError(t, err)
		require.NoError(t, st.Prepare("k-merchant", key, "fp", gateway.PreparedTx{TxID: "tx-" + key, Bytes: []byte("env"), Proposal: []byte("private")}))
		require.NoError(t, release(nil))
	}
	var logs bytes.Buffer
	h := &housekeeper{store: st, ledger: statusLedger{committed: map[string]bool{"tx-committed": true}},
		caller: gateway.Caller{MSPID: "MerchantMSP"}, retention: time.Hour, abandonAfter: time.Hour,
		log: slog.New(slog.NewTextHandler(&logs, nil)), m: newStoreMetrics(prometheus.NewRegistry())}

	h.sweep(ctx)
	held, err := st.HeldProposals()
	require.NoError(t, err)
	require.Len(t, held, 1, "the committed transaction's proposal is dropped")
	require.Equal(t, "tx-pending", held[0].TxID)
	require.InDelta(t, 1, value(t, h.m.dropped.WithLabelValues("committed")), 0)
	require.InDelta(t, 1, value(t, h.m.held.WithLabelValues("k1")), 0)

	h.abandonAfter = time.Nanosecond
	h.sweep(ctx)
	held, err = st.HeldProposals()
	require.NoError(t, err)
	require.Empty(t, held, "an abandoned transaction's proposal is dropped")
	require.InDelta(t, 1, value(t, h.m.dropped.WithLabelValues("abandoned")), 0)
	require.Contains(t, logs.String(), "reason=abandoned")
	rec, release, err := st.Begin(ctx, "k-merchant", "pending", "fp")
	require.NoError(t, err)
	require.Equal(t, []byte("env"), rec.Prepared.Bytes, "the transaction stays for a retry to resubmit")
	require.NoError(t, release(nil))

	h.retention = time.Nanosecond
	h.sweep(ctx)
	require.InDelta(t, 2, value(t, h.m.purged), 0, "expired records are purged while running")
	h.compact()
	require.InDelta(t, 1, value(t, h.m.compaction), 0)
	stats, err := st.Stats()
	require.NoError(t, err)
	require.InDelta(t, float64(stats.FileBytes), value(t, h.m.fileBytes), 0)
}

// value reads the value of a counter or gauge.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
