package webhook

import (
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xborder/xborder/gateway"
)

// metrics are the dispatcher's Prometheus metrics, labelled by subscription and organisation:
// attempts by outcome and their latency (counted as they happen), and the lag, state and
// consecutive failures of each subscription (read from the store at every scrape).
type metrics struct {
	d        *Dispatcher
	attempts *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	lag      *prometheus.Desc
	state    *prometheus.Desc
	failures *prometheus.Desc
}

func newMetrics(d *Dispatcher) *metrics {
	labels := []string{"subscription", "org"}
	return &metrics{
		d: d,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "xborder", Subsystem: "webhook", Name: "deliveries_total",
			Help: "Webhook delivery attempts by subscription and outcome (succeeded, http_error, network_error, refused).",
		}, append(labels, "outcome")),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "xborder", Subsystem: "webhook", Name: "attempt_duration_seconds",
			Help:    "Duration of webhook delivery attempts by subscription.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, labels),
		lag: prometheus.NewDesc("xborder_webhook_lag_blocks",
			"Blocks between the newest event of the gateway's event log and the subscription's checkpoint.", labels, nil),
		state: prometheus.NewDesc("xborder_webhook_subscription_state",
			"1 for the subscription's current state (ACTIVE, PAUSED, DEAD_LETTER), 0 for the others.", append(labels, "state"), nil),
		failures: prometheus.NewDesc("xborder_webhook_consecutive_failures",
			"Failed attempts in a row at the subscription's next event (it is dead-lettered at the configured maximum).", labels, nil),
	}
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.attempts, m.latency, m} {
		if err := r.Register(c); err != nil {
			return fmt.Errorf("webhook: register metrics: %w", err)
		}
	}
	return nil
}

// observe counts an attempt.
func (m *metrics) observe(sub gateway.Subscription, d gateway.Delivery) {
	m.attempts.WithLabelValues(sub.ID, sub.Org, strings.ToLower(string(d.Outcome))).Inc()
	m.latency.WithLabelValues(sub.ID, sub.Org).Observe(float64(d.LatencyMillis) / 1000)
}

// forget drops the series of a deleted subscription.
func (m *metrics) forget(id string) {
	m.attempts.DeletePartialMatch(prometheus.Labels{"subscription": id})
	m.latency.DeletePartialMatch(prometheus.Labels{"subscription": id})
}

// Describe implements prometheus.Collector for the gauges read at scrape time.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.lag
	ch <- m.state
	ch <- m.failures
}

// Collect implements prometheus.Collector: the lag, state and failures of every subscription.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	subs, err := m.d.store.Subscriptions()
	if err != nil {
		m.d.log.Error("webhook metrics: cannot read the subscriptions", "error", err)
		return
	}
	for _, s := range subs {
		s = m.d.withLag(s)
		ch <- prometheus.MustNewConstMetric(m.lag, prometheus.GaugeValue, float64(s.LagBlocks), s.ID, s.Org)
		ch <- prometheus.MustNewConstMetric(m.failures, prometheus.GaugeValue, float64(s.ConsecutiveFailures), s.ID, s.Org)
		for _, st := range gateway.SubscriptionStates() {
			v := 0.0
			if s.State == st {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(m.state, prometheus.GaugeValue, v, s.ID, s.Org, string(st))
		}
	}
}
