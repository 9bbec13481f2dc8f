package fabric

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Fabric-side Prometheus metrics of the gateway.
type Metrics struct {
	outcomes *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	events   prometheus.Counter
	retries  *prometheus.CounterVec
	waits    *prometheus.HistogramVec
	heights  *prometheus.GaugeVec
}

// NewMetrics creates the Fabric metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "xborder", Subsystem: "fabric", Name: "transactions_total",
			Help: "Submitted transactions by chaincode transaction and outcome (a Fabric validation code such as VALID or MVCC_READ_CONFLICT, or a gateway error code).",
		}, []string{"transaction", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "xborder", Subsystem: "fabric", Name: "phase_duration_seconds",
			Help:    "Latency of Fabric calls by phase (evaluate, endorse, submit, commit).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"phase"}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "xborder", Subsystem: "fabric", Name: "chaincode_events_total",
			Help: "Chaincode events stored in the gateway's event log.",
		}),
	}
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "xborder", Subsystem: "fabric", Name: "retries_total",
		Help: "Fresh proposals made after a failed attempt, by chaincode transaction and reason (mvcc_read_conflict, phantom_read_conflict, endorsement_mismatch, stale_not_found, stale_failed_precondition, stale_version_mismatch).",
	}, []string{"transaction", "reason"})
	m.waits = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "xborder", Subsystem: "fabric", Name: "consistency_wait_seconds",
		Help:    "Time spent waiting for lagging peers to commit the block a call needs (read-your-writes), by outcome (reached, timeout).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"outcome"})
	m.heights = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "xborder", Subsystem: "fabric", Name: "peer_height",
		Help: "Blocks committed by each organisation's peer, as last observed (0 while its block stream is down).",
	}, []string{"msp"})
	reg.MustRegister(m.outcomes, m.latency, m.events, m.retries, m.waits, m.heights)
	return m
}

func (m *Metrics) outcome(tx, outcome string) {
	if m != nil {
		m.outcomes.WithLabelValues(tx, outcome).Inc()
	}
}

func (m *Metrics) phase(name string, start time.Time) {
	if m != nil {
		m.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
	}
}

func (m *Metrics) event() {
	if m != nil {
		m.events.Inc()
	}
}

func (m *Metrics) retry(tx, reason string) {
	if m != nil {
		m.retries.WithLabelValues(tx, reason).Inc()
	}
}

func (m *Metrics) consistencyWait(start time.Time, reached bool) {
	if m != nil {
		outcome := "reached"
		if !reached {
			outcome = "timeout"
		}
		m.waits.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	}
}

func (m *Metrics) peerHeight(mspID string, height uint64) {
	if m != nil {
		m.heights.WithLabelValues(mspID).Set(float64(height))
	}
}
