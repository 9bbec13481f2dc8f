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
	reg.MustRegister(m.outcomes, m.latency, m.events)
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
