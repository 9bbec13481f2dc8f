package service

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/store"
)

// Housekeeping defaults (Options).
const (
	defaultSweepInterval   = 30 * time.Second
	defaultAbandonAfter    = time.Hour
	defaultCompactInterval = 24 * time.Hour
)

// housekeeper keeps the store small and free of private data while the gateway runs: it purges
// expired idempotency records, drops the signed proposals that are no longer needed, and
// compacts the file.
type housekeeper struct {
	store  *store.Store
	ledger gateway.Ledger
	// caller is the identity transaction statuses are asked with (any organisation of the
	// channel answers for every transaction).
	caller       gateway.Caller
	retention    time.Duration
	abandonAfter time.Duration
	log          *slog.Logger
	m            *storeMetrics
}

// storeMetrics are the store's gauges and counters (xborder_store_*).
type storeMetrics struct {
	held       *prometheus.GaugeVec
	dropped    *prometheus.CounterVec
	purged     prometheus.Counter
	fileBytes  prometheus.Gauge
	freePages  prometheus.Gauge
	compaction prometheus.Counter
}

func newStoreMetrics(reg *prometheus.Registry) *storeMetrics {
	m := &storeMetrics{
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "xborder", Subsystem: "store", Name: "held_proposals",
			Help: "Sealed signed proposals kept for unfinished writes, by the ID of the key that sealed them."}, []string{"key_id"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "xborder", Subsystem: "store", Name: "proposals_dropped_total",
			Help: "Signed proposals dropped: reason committed (the ledger knows the transaction) or abandoned."}, []string{"reason"}),
		purged: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "xborder", Subsystem: "store", Name: "idempotency_purged_total",
			Help: "Idempotency records purged after their retention."}),
		fileBytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "xborder", Subsystem: "store", Name: "file_bytes",
			Help: "Size of gateway.db."}),
		freePages: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "xborder", Subsystem: "store", Name: "free_pages",
			Help: "Pages of gateway.db freed and kept for reuse (their old contents stay until compaction)."}),
		compaction: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "xborder", Subsystem: "store", Name: "compactions_total",
			Help: "Compactions of gateway.db."}),
	}
	reg.MustRegister(m.held, m.dropped, m.purged, m.fileBytes, m.freePages, m.compaction)
	return m
}

// run sweeps every sweepEvery and compacts every compactEvery (never when not positive) until
// ctx ends.
func (h *housekeeper) run(ctx context.Context, sweepEvery, compactEvery time.Duration) {
	sweep := time.NewTicker(sweepEvery)
	defer sweep.Stop()
	var compact <-chan time.Time
	if compactEvery > 0 {
		t := time.NewTicker(compactEvery)
		defer t.Stop()
		compact = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			h.sweep(ctx)
		case <-compact:
			h.compact()
		}
	}
}

// sweep purges expired records and drops the proposals that are no longer needed.
func (h *housekeeper) sweep(ctx context.Context) {
	if err := h.purge(); err != nil {
		h.log.Error("cannot purge expired idempotency records", "error", err)
	}
	if err := h.dropSettled(ctx); err != nil {
		h.log.Error("cannot drop settled proposals", "error", err)
	}
	h.observeFile()
}

// purge removes the idempotency records older than the retention (none when it is 0).
func (h *housekeeper) purge() error {
	if h.retention <= 0 {
		return nil
	}
	n, err := h.store.PurgeIdempotency(time.Now().Add(-h.retention))
	if err != nil {
		return err
	}
	if n > 0 {
		h.m.purged.Add(float64(n))
		h.log.Info("purged expired idempotency records", "count", n)
	}
	return nil
}

// dropSettled drops the signed proposal of every record whose transaction the ledger knows
// (committed, valid or not: it will never be endorsed again) or that was abandoned (unknown to
// the ledger for longer than abandonAfter: a retry then resubmits the transaction as recorded,
// without endorsing it again).
func (h *housekeeper) dropSettled(ctx context.Context) error {
	held, err := h.store.HeldProposals()
	if err != nil {
		return err
	}
	h.m.held.Reset()
	for _, p := range held {
		reason := h.settled(ctx, p)
		if reason == "" {
			h.m.held.WithLabelValues(p.KeyID).Inc()
			continue
		}
		dropped, err := h.store.DropProposal(p.Scope, p.Key, p.TxID)
		if err != nil {
			return err
		}
		if dropped {
			h.m.dropped.WithLabelValues(reason).Inc()
			level := slog.LevelDebug
			if reason == "abandoned" {
				level = slog.LevelWarn
			}
			h.log.Log(ctx, level, "dropped the signed proposal of a write", "txId", p.TxID, "reason", reason, "age", time.Since(p.Created).Round(time.Second))
		}
	}
	return nil
}

// settled returns why p's proposal is no longer needed ("committed", "abandoned"), or "".
func (h *housekeeper) settled(ctx context.Context, p store.HeldProposal) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := h.ledger.TransactionStatus(ctx, h.caller, p.TxID)
	switch {
	case err == nil:
		return "committed"
	case gateway.ErrorCode(err) == gateway.CodeNotFound && time.Since(p.Created) > h.abandonAfter:
		return "abandoned"
	case gateway.ErrorCode(err) != gateway.CodeNotFound:
		h.log.Debug("cannot learn the status of a held transaction", "txId", p.TxID, "error", err)
	}
	return ""
}

// compact compacts the store when it has freed pages.
func (h *housekeeper) compact() {
	st, err := h.store.Stats()
	if err != nil {
		h.log.Error("cannot read the store's stats", "error", err)
		return
	}
	if st.FreePages == 0 {
		return
	}
	before, after, err := h.store.Compact()
	if err != nil {
		h.log.Error("cannot compact the store", "error", err)
		return
	}
	h.m.compaction.Inc()
	h.log.Info("compacted the store", "bytesBefore", before.FileBytes, "bytesAfter", after.FileBytes, "freePagesBefore", before.FreePages)
	h.observeFile()
}

func (h *housekeeper) observeFile() {
	if st, err := h.store.Stats(); err == nil {
		h.m.fileBytes.Set(float64(st.FileBytes))
		h.m.freePages.Set(float64(st.FreePages))
	}
}
