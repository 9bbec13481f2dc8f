package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/xborder/xborder/gateway"
)

const (
	// page is how many events of the log a worker reads at once.
	page = 256
	// storeRetry is the wait before trying again after the store failed.
	storeRetry = time.Second
	// maxAnswer is how much of a receiver's answer is read (and discarded).
	maxAnswer = 64 << 10
	// userAgent names the sender.
	userAgent = "xborder-webhooks/1"
)

// Event is the JSON body of a delivery: one chaincode event of the gateway's log, as
// GET /api/v1/events streams it, with its ID and the subscription's.
type Event struct {
	// ID is the event's ID, "<block>-<index>" (also in EventIDHeader): receivers dedupe by it.
	ID string `json:"id"`
	// SubscriptionID is the subscription delivering it.
	SubscriptionID string `json:"subscriptionId"`
	// Name is the chaincode event name, e.g. "OrderCreated".
	Name string `json:"name"`
	// TxID is the transaction that emitted the event, BlockNumber the block it committed in.
	TxID        string `json:"txId"`
	BlockNumber uint64 `json:"blockNumber"`
	// OrderID is the order the event is about ("" if none).
	OrderID string `json:"orderId,omitempty"`
	// Payload is the chaincode event payload (JSON; never private data).
	Payload json.RawMessage `json:"payload"`
	// Received is when the gateway stored the event.
	Received time.Time `json:"received"`
}

// worker delivers the events of one ACTIVE subscription, one at a time, in the log's order.
type worker struct {
	d      *Dispatcher
	id     string
	cancel context.CancelFunc
	done   chan struct{}
}

// target is where a subscription delivers, as the worker uses it.
type target struct {
	sub    gateway.Subscription
	secret []byte
	log    *slog.Logger
}

// run delivers until ctx ends, the subscription leaves the ACTIVE state (dead letter) or is
// deleted.
func (w *worker) run(ctx context.Context) {
	defer close(w.done)
	t, ok := w.load(ctx)
	if !ok {
		return
	}
	cursor := t.sub.Checkpoint
	for {
		changed := w.d.events.Changed() // before reading: no append slips between
		evs, err := w.d.events.EventsAfter(cursor, page)
		if err != nil {
			t.log.Error("webhook: cannot read the event log", "error", err)
			if !sleep(ctx, storeRetry) {
				return
			}
			continue
		}
		var ok bool
		if cursor, ok = w.deliverPage(ctx, t, cursor, evs); !ok {
			return
		}
		if len(evs) == page {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// load reads the subscription and its secret; false when the worker has nothing to do.
func (w *worker) load(ctx context.Context) (*target, bool) {
	for {
		sub, err := w.d.store.Subscription(w.id)
		if gateway.ErrorCode(err) == gateway.CodeNotFound {
			return nil, false
		}
		var secret []byte
		if err == nil {
			secret, err = w.d.store.SubscriptionSecret(w.id)
		}
		if err == nil {
			if sub.State != gateway.SubscriptionActive {
				return nil, false
			}
			return &target{sub: sub, secret: secret, log: w.d.log.With("subscription", sub.ID, "org", sub.Org)}, true
		}
		w.d.log.Error("webhook: cannot load a subscription", "subscription", w.id, "error", err)
		if !sleep(ctx, storeRetry) {
			return nil, false
		}
	}
}

// deliverPage delivers the wanted events of evs in order and moves the checkpoint past the
// others; it returns the new cursor, and false when the worker must stop.
func (w *worker) deliverPage(ctx context.Context, t *target, cursor gateway.EventID, evs []gateway.Event) (gateway.EventID, bool) {
	passed := false
	for _, ev := range evs {
		if !w.d.visible(t.sub.Org, ev) || !t.sub.Matches(ev) {
			cursor, passed = ev.ID, true
			continue
		}
		if !w.deliver(ctx, t, ev) {
			return cursor, false
		}
		cursor, passed = ev.ID, false
	}
	if passed {
		return cursor, w.pass(ctx, t, cursor)
	}
	return cursor, true
}

// pass records that the subscription is done with the events up to cursor (none of them was
// for it); false when the worker must stop.
func (w *worker) pass(ctx context.Context, t *target, cursor gateway.EventID) bool {
	for {
		sub, err := w.d.store.UpdateSubscription(w.id, func(s *gateway.Subscription) error {
			if s.Checkpoint.Less(cursor) {
				s.Checkpoint = cursor
			}
			return nil
		})
		if err == nil {
			t.sub = sub
			return true
		}
		if gateway.ErrorCode(err) == gateway.CodeNotFound {
			return false
		}
		t.log.Error("webhook: cannot store a checkpoint", "error", err)
		if !sleep(ctx, storeRetry) {
			return false
		}
	}
}

// deliver delivers ev until it succeeds; false when the worker must stop (ctx ended, the
// subscription was dead-lettered or deleted). Each attempt is recorded with the subscription's
// checkpoint or failure count in one store transaction.
func (w *worker) deliver(ctx context.Context, t *target, ev gateway.Event) bool {
	body, err := json.Marshal(Event{ID: ev.ID.String(), SubscriptionID: t.sub.ID, Name: ev.Name, TxID: ev.TxID,
		BlockNumber: ev.BlockNumber, OrderID: ev.OrderID, Payload: ev.Payload, Received: ev.Received})
	if err != nil {
		t.log.Error("webhook: cannot encode an event", "event", ev.ID.String(), "error", err)
		return false
	}
	for {
		d := w.attempt(ctx, t, ev, body, t.sub.ConsecutiveFailures+1)
		if ctx.Err() != nil && d.Outcome != gateway.DeliverySucceeded {
			return false // stopped during the attempt: it is made again at the next start
		}
		w.d.metrics.observe(t.sub, d)
		sub, err := w.d.store.RecordDelivery(w.id, d, w.outcome(ev, d))
		switch {
		case gateway.ErrorCode(err) == gateway.CodeNotFound:
			return false
		case err != nil:
			t.log.Error("webhook: cannot record a delivery attempt", "event", ev.ID.String(), "error", err)
			if !sleep(ctx, storeRetry) {
				return false
			}
			continue
		}
		t.sub = sub
		if d.Outcome == gateway.DeliverySucceeded {
			t.log.Debug("webhook delivered", "event", ev.ID.String(), "name", ev.Name, "attempt", d.Attempt,
				"status", d.StatusCode, "latencyMs", d.LatencyMillis)
			return true
		}
		if sub.State != gateway.SubscriptionActive {
			t.log.Warn("webhook subscription dead-lettered", "event", ev.ID.String(), "failures", sub.ConsecutiveFailures,
				"outcome", string(d.Outcome), "status", d.StatusCode)
			return false
		}
		delay := Backoff(w.d.cfg.BackoffBase, w.d.cfg.BackoffMax, sub.ConsecutiveFailures, rand.Float64()) //nolint:gosec // jitter needs no cryptographic randomness
		t.log.Info("webhook delivery failed", "event", ev.ID.String(), "attempt", d.Attempt, "outcome", string(d.Outcome),
			"status", d.StatusCode, "error", d.Error, "retryIn", delay)
		if !sleep(ctx, delay) {
			return false
		}
	}
}

// outcome is the change an attempt makes to the subscription: a success moves the checkpoint
// to ev and clears the failures; a failure counts, and the MaxFailures-th dead-letters the
// subscription at ev.
func (w *worker) outcome(ev gateway.Event, d gateway.Delivery) func(*gateway.Subscription) error {
	return func(s *gateway.Subscription) error {
		if d.Outcome == gateway.DeliverySucceeded {
			if s.Checkpoint.Less(ev.ID) {
				s.Checkpoint = ev.ID
			}
			s.ConsecutiveFailures, s.LastError, s.FailedEvent = 0, "", gateway.EventID{}
			return nil
		}
		s.ConsecutiveFailures++
		s.LastError = describe(d)
		if s.ConsecutiveFailures >= w.d.cfg.MaxFailures && s.State == gateway.SubscriptionActive {
			s.State = gateway.SubscriptionDeadLetter
			s.FailedEvent = ev.ID
		}
		return nil
	}
}

// describe is a failed attempt in a few words, for the subscription's lastError.
func describe(d gateway.Delivery) string {
	switch d.Outcome {
	case gateway.DeliveryHTTPError:
		return fmt.Sprintf("event %s: the receiver answered %d", d.EventID, d.StatusCode)
	default:
		return fmt.Sprintf("event %s: %s", d.EventID, d.Error)
	}
}

// attempt makes one delivery attempt of ev and describes it. The target is checked against the
// allow-list first (resolving its name again: a name rebound to an internal address is refused
// without connecting), and the connection goes only to the addresses checked.
func (w *worker) attempt(ctx context.Context, t *target, ev gateway.Event, body []byte, n int) gateway.Delivery {
	start := w.d.now()
	d := gateway.Delivery{EventID: ev.ID, EventName: ev.Name, Attempt: n, Time: start.UTC()}
	finish := func(outcome gateway.DeliveryOutcome, status int, err error) gateway.Delivery {
		d.Outcome, d.StatusCode = outcome, status
		d.LatencyMillis = w.d.now().Sub(start).Milliseconds()
		if err != nil {
			d.Error = errorText(err)
		}
		return d
	}
	u, addrs, err := w.d.allow.Check(ctx, t.sub.URL, w.d.resolver)
	if err != nil {
		return finish(gateway.DeliveryRefused, 0, err)
	}
	actx, cancel := context.WithTimeout(withAddrs(ctx, addrs), w.d.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return finish(gateway.DeliveryRefused, 0, err)
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", userAgent)
	h.Set(EventIDHeader, ev.ID.String())
	h.Set(EventNameHeader, ev.Name)
	h.Set(SubscriptionIDHeader, t.sub.ID)
	h.Set(AttemptHeader, strconv.Itoa(n))
	h.Set(SignatureHeader, Sign(t.secret, w.d.now(), body))
	res, err := w.d.client.Do(req)
	if err != nil {
		return finish(gateway.DeliveryNetworkError, 0, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxAnswer))
	_ = res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return finish(gateway.DeliveryHTTPError, res.StatusCode, fmt.Errorf("the receiver answered %s", res.Status))
	}
	return finish(gateway.DeliverySucceeded, res.StatusCode, nil)
}

// errorText is an error without the URL the HTTP client puts in front of it (a URL may carry a
// receiver's token in its query).
func errorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer within the attempt timeout"
	}
	return err.Error()
}

// targetHost is the scheme and host of a URL, for logs.
func targetHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "?"
	}
	return u.Scheme + "://" + u.Host
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

type addrsKey struct{}

// withAddrs carries the addresses an attempt may connect to.
func withAddrs(ctx context.Context, addrs []netip.Addr) context.Context {
	return context.WithValue(ctx, addrsKey{}, addrs)
}

// newClient is the HTTP client of deliveries: no proxy, no redirects, and connections only to
// the addresses the attempt checked (see dialChecked).
func newClient(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialChecked,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// dialChecked connects to one of the addresses the attempt checked against the allow-list
// (carried by ctx), on the port of addr; it never resolves a name itself, so a name cannot be
// rebound between the check and the connection.
func dialChecked(ctx context.Context, network, addr string) (net.Conn, error) {
	addrs, _ := ctx.Value(addrsKey{}).([]netip.Addr)
	if len(addrs) == 0 {
		return nil, errors.New("webhook: no checked address to connect to")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("webhook: dial %s: %w", addr, err)
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	var errs []error
	for _, a := range addrs {
		conn, err := dialer.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
