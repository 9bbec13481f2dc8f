package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/store"
)

var (
	merchant = gateway.Caller{KeyID: "k-merchant", MSPID: "MerchantMSP", User: "ops"}
	bank     = gateway.Caller{KeyID: "k-bank", MSPID: "BankMSP", User: "hub"}
)

// received is one request a receiver got.
type received struct {
	ID, Name, Subscription, Signature string
	Attempt                           int
	Body                              []byte
}

// receiver is a webhook endpoint on loopback that records every request and answers what
// respond says (200 when nil).
type receiver struct {
	srv *httptest.Server

	mu      sync.Mutex
	got     []received
	respond func(r received, n int) int
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		attempt, _ := strconv.Atoi(r.Header.Get(AttemptHeader))
		got := received{ID: r.Header.Get(EventIDHeader), Name: r.Header.Get(EventNameHeader),
			Subscription: r.Header.Get(SubscriptionIDHeader), Signature: r.Header.Get(SignatureHeader), Attempt: attempt, Body: body}
		rc.mu.Lock()
		rc.got = append(rc.got, got)
		n, respond := len(rc.got), rc.respond
		rc.mu.Unlock()
		status := http.StatusOK
		if respond != nil {
			status = respond(got, n)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) url(path string) string { return rc.srv.URL + path }

func (rc *receiver) setRespond(f func(r received, n int) int) {
	rc.mu.Lock()
	rc.respond = f
	rc.mu.Unlock()
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// ids are the event IDs of the requests, in arrival order.
func (rc *receiver) ids() []string {
	var out []string
	for _, r := range rc.requests() {
		out = append(out, r.ID)
	}
	return out
}

// fixture is a dispatcher on a real bbolt store, with the store's event log fed by emit.
type fixture struct {
	t        *testing.T
	path     string
	cfg      Config
	opts     []Option
	st       *store.Store
	subs     *store.Subscriptions
	d        *Dispatcher
	reg      *prometheus.Registry
	cancel   context.CancelFunc
	done     chan error
	block    uint64
	resolver *fakeResolver
}

func newFixture(t *testing.T, cfg Config, opts ...Option) *fixture {
	t.Helper()
	if cfg.AllowedTargets == nil {
		cfg.AllowedTargets = LoopbackTargets
	}
	if cfg.BackoffBase == 0 {
		cfg.BackoffBase, cfg.BackoffMax = 2*time.Millisecond, 20*time.Millisecond
	}
	f := &fixture{t: t, path: filepath.Join(t.TempDir(), "gateway.db"), cfg: cfg, opts: opts,
		resolver: newFakeResolver(map[string][]string{"localhost": {"127.0.0.1"}})}
	if f.cfg.Resolver == nil {
		f.cfg.Resolver = f.resolver
	}
	f.open()
	t.Cleanup(f.close)
	return f
}

// open opens the store and starts a dispatcher on it.
func (f *fixture) open() {
	f.t.Helper()
	var err error
	f.st, err = store.Open(f.path)
	require.NoError(f.t, err)
	f.subs, err = f.st.SubscriptionStore(store.WithDeliveryHistory(50))
	require.NoError(f.t, err)
	f.reg = prometheus.NewRegistry()
	f.d, err = New(f.subs, f.st, f.cfg, append([]Option{WithRegisterer(f.reg)}, f.opts...)...)
	require.NoError(f.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan error, 1)
	go func() { f.done <- f.d.Run(ctx) }()
}

// close stops the dispatcher and closes the store.
func (f *fixture) close() {
	if f.st == nil {
		return
	}
	f.cancel()
	require.NoError(f.t, <-f.done)
	require.NoError(f.t, f.st.Close())
	f.st = nil
}

func (f *fixture) restart() {
	f.close()
	f.open()
}

// emit appends an order event in a new block and returns its ID.
func (f *fixture) emit(name, orderID, merchantID, status string) gateway.EventID {
	f.t.Helper()
	f.block++
	payload, _ := json.Marshal(map[string]string{"orderId": orderID, "merchantId": merchantID, "status": status})
	ev, stored, err := f.st.AppendEvent(gateway.Event{Name: name, TxID: fmt.Sprintf("tx-%d", f.block), BlockNumber: f.block,
		OrderID: orderID, Payload: payload, Received: time.Now().UTC()})
	require.NoError(f.t, err)
	require.True(f.t, stored)
	return ev.ID
}

func (f *fixture) create(caller gateway.Caller, req gateway.SubscriptionRequest) (gateway.Subscription, string) {
	f.t.Helper()
	sub, secret, err := f.d.CreateSubscription(context.Background(), caller, req)
	require.NoError(f.t, err)
	return sub, secret
}

func (f *fixture) get(id string) gateway.Subscription {
	f.t.Helper()
	sub, err := f.d.GetSubscription(context.Background(), merchant, id)
	require.NoError(f.t, err)
	return sub
}

// waitFor waits until the receiver got n requests (a generous bound: this is not a timing test).
func waitFor(t *testing.T, rc *receiver, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(rc.requests()) >= n }, 20*time.Second, time.Millisecond,
		"want %d requests, got %v", n, rc.ids())
}

func waitState(t *testing.T, f *fixture, id string, state gateway.SubscriptionState) gateway.Subscription {
	t.Helper()
	var sub gateway.Subscription
	require.Eventually(t, func() bool { sub = f.get(id); return sub.State == state }, 20*time.Second, time.Millisecond)
	return sub
}

// waitCheckpoint waits until the subscription is done with event id.
func waitCheckpoint(t *testing.T, f *fixture, sub string, id gateway.EventID) {
	t.Helper()
	require.Eventually(t, func() bool { return !f.get(sub).Checkpoint.Less(id) }, 20*time.Second, time.Millisecond)
}

func from(id gateway.EventID) *gateway.EventID { return &id }

func TestDeliveryInOrderWithFilters(t *testing.T) {
	f := newFixture(t, Config{})
	rc := newReceiver(t)
	first := f.emit("OrderCreated", "o-0", "m-1", "CREATED") // before the subscription: not delivered
	sub, secret := f.create(merchant, gateway.SubscriptionRequest{URL: rc.url("/hooks?token=abc"),
		Events: []string{"OrderCreated", "PaymentEscrowed"}, Filter: gateway.EventFilter{MerchantID: "m-1"}})
	require.Equal(t, first, sub.Checkpoint, "a subscription starts after the newest event")
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	require.Regexp(t, `^sub_[0-9a-f]{24}$`, sub.ID)

	var want []string
	for i := range 30 {
		id := fmt.Sprintf("o-%d", i+1)
		want = append(want, f.emit("OrderCreated", id, "m-1", "CREATED").String())
		f.emit("OrderCreated", id+"-other", "m-2", "CREATED") // another merchant
		f.emit("WaybillRegistered", id, "m-1", "PAID")        // another event name
		want = append(want, f.emit("PaymentEscrowed", id, "m-1", "PAID").String())
	}
	waitFor(t, rc, len(want))
	got := rc.requests()
	require.Equal(t, want, rc.ids(), "every matching event, once, in the log's order")
	for _, r := range got {
		require.NoError(t, Verify([]byte(secret), r.Signature, r.Body, time.Now(), 0))
		require.Equal(t, sub.ID, r.Subscription)
		require.Equal(t, 1, r.Attempt)
		var ev Event
		require.NoError(t, json.Unmarshal(r.Body, &ev))
		require.Equal(t, r.ID, ev.ID)
		require.Equal(t, r.Name, ev.Name)
		require.Equal(t, sub.ID, ev.SubscriptionID)
		require.Contains(t, string(ev.Payload), `"merchantId":"m-1"`)
	}
	last := f.emit("OrderCancelled", "o-9", "m-1", "CANCELLED") // not wanted: the checkpoint passes it
	require.Eventually(t, func() bool { return f.get(sub.ID).Checkpoint == last }, 20*time.Second, time.Millisecond)
	s := f.get(sub.ID)
	require.Zero(t, s.LagBlocks)
	log, err := f.d.SubscriptionDeliveries(context.Background(), merchant, sub.ID, 5)
	require.NoError(t, err)
	require.Len(t, log, 5)
	require.Equal(t, want[len(want)-1], log[0].EventID.String(), "newest first")
	require.Equal(t, gateway.DeliverySucceeded, log[0].Outcome)
	require.Equal(t, 200, log[0].StatusCode)
}

func TestFailuresBackOffThenSucceed(t *testing.T) {
	f := newFixture(t, Config{MaxFailures: 10})
	rc := newReceiver(t)
	sub, _ := f.create(merchant, gateway.SubscriptionRequest{URL: rc.url("/")})
	rc.setRespond(func(r received, n int) int {
		if n <= 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	a := f.emit("OrderCreated", "o-1", "m-1", "CREATED")
	b := f.emit("PaymentEscrowed", "o-1", "m-1", "PAID")
	waitFor(t, rc, 5)
	require.Equal(t, []string{a.String(), a.String(), a.String(), a.String(), b.String()}, rc.ids(),
		"the next event waits until the previous one succeeded")
	for i, r := range rc.requests()[:4] {
		require.Equal(t, i+1, r.Attempt)
	}
	require.Eventually(t, func() bool { return f.get(sub.ID).Checkpoint == b }, 20*time.Second, time.Millisecond)
	log, err := f.d.SubscriptionDeliveries(context.Background(), merchant, sub.ID, 10)
	require.NoError(t, err)
	require.Len(t, log, 5)
	slices.Reverse(log)
	for i, d := range log[:3] {
		require.Equal(t, gateway.DeliveryHTTPError, d.Outcome)
		require.Equal(t, 503, d.StatusCode)
		require.Equal(t, i+1, d.Attempt)
		require.Equal(t, uint64(i+1), d.Seq)
	}
	require.Equal(t, gateway.DeliverySucceeded, log[3].Outcome)
	require.Equal(t, 4, log[3].Attempt)
	s := f.get(sub.ID)
	require.Zero(t, s.ConsecutiveFailures)
	require.Empty(t, s.LastError)

	require.Equal(t, 3.0, attemptCount(t, f, sub.ID, "http_error"))
	require.Equal(t, 2.0, attemptCount(t, f, sub.ID, "succeeded"))

	t.Run("a receiver that does not answer is a network error", func(t *testing.T) {
		down := httptest.NewServer(http.NotFoundHandler())
		url := down.URL
		down.Close()
		s, _, err := f.d.UpdateSubscription(context.Background(), merchant, sub.ID, gateway.SubscriptionPatch{URL: &url})
		require.NoError(t, err)
		require.Equal(t, url, s.URL)
		f.emit("OrderCreated", "o-2", "m-1", "CREATED")
		require.Eventually(t, func() bool { return f.get(sub.ID).ConsecutiveFailures >= 2 }, 20*time.Second, time.Millisecond)
		log, err := f.d.SubscriptionDeliveries(context.Background(), merchant, sub.ID, 1)
		require.NoError(t, err)
		require.Equal(t, gateway.DeliveryNetworkError, log[0].Outcome)
		require.Contains(t, log[0].Error, "connection refused")
		require.NotContains(t, log[0].Error, url, "errors do not repeat the URL")
	})
}

func TestDeadLetterAndResume(t *testing.T) {
	f := newFixture(t, Config{MaxFailures: 3})
	rc := newReceiver(t)
	rc.setRespond(func(received, int) int { return http.StatusInternalServerError })
	sub, _ := f.create(merchant, gateway.SubscriptionRequest{URL: rc.url("/")})
	a := f.emit("OrderCreated", "o-1", "m-1", "CREATED")
	b := f.emit("PaymentEscrowed", "o-1", "m-1", "PAID")
	s := waitState(t, f, sub.ID, gateway.SubscriptionDeadLetter)
	require.Equal(t, a, s.FailedEvent)
	require.Equal(t, 3, s.ConsecutiveFailures)
	require.Contains(t, s.LastError, "answered 500")
	require.Equal(t, uint64(2), s.LagBlocks)
	require.Equal(t, []string{a.String(), a.String(), a.String()}, rc.ids(), "dead-lettered after 3 attempts; the next event waits")
	require.Equal(t, 1.0, stateGauge(t, f, sub.ID, gateway.SubscriptionDeadLetter))

	cancelled := f.emit("OrderCancelled", "o-2", "m-1", "CANCELLED")
	rc.setRespond(nil)
	s, err := f.d.ResumeSubscription(context.Background(), merchant, sub.ID)
	require.NoError(t, err)
	require.Equal(t, gateway.SubscriptionActive, s.State)
	require.Zero(t, s.ConsecutiveFailures)
	require.True(t, s.FailedEvent.IsZero())
	waitFor(t, rc, 6)
	require.Equal(t, []string{a.String(), b.String(), cancelled.String()}, rc.ids()[3:], "the failed event is delivered again first")
	require.Equal(t, 1, rc.requests()[3].Attempt, "a resume starts counting again")
	waitCheckpoint(t, f, sub.ID, cancelled)

	t.Run("the failure count survives a restart", func(t *testing.T) {
		f.cfg.BackoffBase, f.cfg.BackoffMax = time.Hour, time.Hour // one attempt, then a long wait
		f.restart()
		rc.setRespond(func(received, int) int { return http.StatusBadGateway })
		c := f.emit("OrderCreated", "o-3", "m-1", "CREATED")
		require.Eventually(t, func() bool { return f.get(sub.ID).ConsecutiveFailures == 1 }, 20*time.Second, time.Millisecond)
		f.cfg.BackoffBase, f.cfg.BackoffMax = 2*time.Millisecond, 20*time.Millisecond
		f.restart()
		s := waitState(t, f, sub.ID, gateway.SubscriptionDeadLetter)
		require.Equal(t, c, s.FailedEvent)
		require.Equal(t, 3, s.ConsecutiveFailures)
		var attempts []int
		for _, r := range rc.requests() {
			if r.ID == c.String() {
				attempts = append(attempts, r.Attempt)
			}
		}
		require.Equal(t, []int{1, 2, 3}, attempts, "one attempt before the restart, two after")
	})
}

func metricValue(t *testing.T, f *fixture, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := f.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			has := map[string]string{}
			for _, l := range m.GetLabel() {
				has[l.GetName()] = l.GetValue()
			}
			match := true
			for k, v := range labels {
				match = match && has[k] == v
			}
			if !match {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

func stateGauge(t *testing.T, f *fixture, id string, state gateway.SubscriptionState) float64 {
	t.Helper()
	v, ok := metricValue(t, f, "xborder_webhook_subscription_state", map[string]string{"subscription": id, "state": string(state)})
	require.True(t, ok, "no state gauge for %s %s", id, state)
	return v
}

func lagGauge(t *testing.T, f *fixture, id string) float64 {
	t.Helper()
	v, ok := metricValue(t, f, "xborder_webhook_lag_blocks", map[string]string{"subscription": id})
	require.True(t, ok, "no lag gauge for %s", id)
	return v
}

func attemptCount(t *testing.T, f *fixture, id, outcome string) float64 {
	t.Helper()
	v, _ := metricValue(t, f, "xborder_webhook_deliveries_total", map[string]string{"subscription": id, "outcome": outcome})
	return v
}

func TestPauseAndResume(t *testing.T) {
	f := newFixture(t, Config{})
	rc := newReceiver(t)
	sub, _ := f.create(merchant, gateway.SubscriptionRequest{URL: rc.url("/")})
	a := f.emit("OrderCreated", "o-1", "m-1", "CREATED")
	waitCheckpoint(t, f, sub.ID, a)
	s, err := f.d.PauseSubscription(context.Background(), merchant, sub.ID)
	require.NoError(t, err)
	require.Equal(t, gateway.SubscriptionPaused, s.State)
	var want []string
	for i := range 5 {
		want = append(want, f.emit("OrderCreated", fmt.Sprintf("p-%d", i), "m-1", "CREATED").String())
	}
	require.Equal(t, uint64(5), f.get(sub.ID).LagBlocks)
	require.Equal(t, 1.0, stateGauge(t, f, sub.ID, gateway.SubscriptionPaused))
	require.Equal(t, 5.0, lagGauge(t, f, sub.ID))
	f.restart()
	require.Equal(t, gateway.SubscriptionPaused, f.get(sub.ID).State, "paused across a restart")
	_, err = f.d.PauseSubscription(context.Background(), merchant, sub.ID)
	require.NoError(t, err, "pausing again changes nothing")
	require.Equal(t, []string{a.String()}, rc.ids(), "nothing is delivered while paused")

	_, err = f.d.ResumeSubscription(context.Background(), merchant, sub.ID)
	require.NoError(t, err)
	waitFor(t, rc, 6)
	require.Equal(t, append([]string{a.String()}, want...), rc.ids())
}

// TestRestartMidStream stops the dispatcher while events are being delivered, again and again,
// and checks that the receiver gets every event, in order, with at most repeats of events it
// had already got (at least once).
func TestRestartMidStream(t *testing.T) {
	f := newFixture(t, Config{})
	rc := newReceiver(t)
	rc.setRespond(func(received, int) int { time.Sleep(time.Millisecond); return http.StatusOK })
	sub, _ := f.create(merchant, gateway.SubscriptionRequest{URL: rc.url("/"), After: from(gateway.EventID{})})
	var want []string
	for round := range 5 {
		for i := range 20 {
			want = append(want, f.emit("OrderCreated", fmt.Sprintf("r%d-%d", round, i), "m-1", "CREATED").String())
		}
		f.restart()
	}
	require.Eventually(t, func() bool { return f.get(sub.ID).Checkpoint.String() == want[len(want)-1] }, 30*time.Second, time.Millisecond)
	requireInOrder(t, want, rc.ids())
}

// requireInOrder checks an at-least-once delivery of want: the first arrival of each ID comes in
// want's order, nothing is missing, and a repeat is only of an ID that arrived before.
func requireInOrder(t *testing.T, want, got []string) {
	t.Helper()
	seen := map[string]bool{}
	next := 0
	for i, id := range got {
		if seen[id] {
			continue
		}
		require.Less(t, next, len(want), "arrival %d: %s was never emitted", i, id)
		require.Equal(t, want[next], id, "arrival %d: skipped or reordered", i)
		seen[id] = true
		next++
	}
	require.Equal(t, len(want), next, "missing events")
}

func TestOrganisationsSeeOnlyTheirOwn(t *testing.T) {
	f := newFixture(t, Config{})
	rc := newReceiver(t)
	mine, _ := f.create(merchant, gateway.SubscriptionRequest{URL: rc.url("/m")})
	theirs, _ := f.create(bank, gateway.SubscriptionRequest{URL: rc.url("/b")})
	ctx := context.Background()
	list, err := f.d.ListSubscriptions(ctx, bank)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, theirs.ID, list[0].ID)
	require.Equal(t, "BankMSP", list[0].Org)

	url := rc.url("/stolen")
	for name, call := range map[string]func() error{
		"get": func() error { _, err := f.d.GetSubscription(ctx, bank, mine.ID); return err },
		"update": func() error {
			_, _, err := f.d.UpdateSubscription(ctx, bank, mine.ID, gateway.SubscriptionPatch{URL: &url})
			return err
		},
		"pause":      func() error { _, err := f.d.PauseSubscription(ctx, bank, mine.ID); return err },
		"resume":     func() error { _, err := f.d.ResumeSubscription(ctx, bank, mine.ID); return err },
		"deliveries": func() error { _, err := f.d.SubscriptionDeliveries(ctx, bank, mine.ID, 10); return err },
		"delete":     func() error { return f.d.DeleteSubscription(ctx, bank, mine.ID) },
	} {
		err := call()
		require.Equal(t, gateway.CodeNotFound, gateway.ErrorCode(err), name)
		require.Equal(t, fmt.Sprintf("subscription %s does not exist", mine.ID), gateway.AsError(err).Message,
			"%s: the same answer as for a missing subscription", name)
	}
	require.Equal(t, rc.url("/m"), f.get(mine.ID).URL)
	require.Equal(t, gateway.SubscriptionActive, f.get(mine.ID).State)

	require.NoError(t, f.d.DeleteSubscription(ctx, merchant, mine.ID))
	_, err = f.d.GetSubscription(ctx, merchant, mine.ID)
	require.Equal(t, gateway.CodeNotFound, gateway.ErrorCode(err))
}

func TestVisibility(t *testing.T) {
	f := newFixture(t, Config{}, WithVisibility(func(org string, ev gateway.Event) bool {
		return org == "BankMSP" || ev.Name != "ComplianceAlert"
	}))
	rc := newReceiver(t)
	f.create(merchant, gateway.SubscriptionRequest{URL: rc.url("/m")})
	a := f.emit("ComplianceAlert", "o-1", "m-1", "HELD")
	b := f.emit("OrderCreated", "o-2", "m-1", "CREATED")
	waitFor(t, rc, 1)
	require.Eventually(t, func() bool {
		subs, _ := f.d.ListSubscriptions(context.Background(), merchant)
		return subs[0].Checkpoint == b
	}, 20*time.Second, time.Millisecond)
	require.Equal(t, []string{b.String()}, rc.ids(), "%s is not for the merchant", a)
}

func TestTargetsOutsideTheAllowList(t *testing.T) {
	f := newFixture(t, Config{AllowedTargets: []string{"127.0.0.0/8", "hooks.partner.example"}})
	f.resolver.set("hooks.partner.example", "10.9.8.7")
	ctx := context.Background()
	for url, reason := range map[string]string{
		"http://10.0.0.1/hooks":              "10.0.0.1 (address 10.0.0.1) is not in the allow-list",
		"http://169.254.169.254/latest":      "is not in the allow-list",
		"http://hooks.partner.example/in":    "resolves to 10.9.8.7, which is not a public address",
		"http://unknown.example/in":          "cannot resolve unknown.example",
		"http://user:pw@127.0.0.1/":          "user information",
		"file:///etc/passwd":                 "scheme",
		"http://[::ffff:169.254.169.254]/in": "is not in the allow-list",
	} {
		_, _, err := f.d.CreateSubscription(ctx, merchant, gateway.SubscriptionRequest{URL: url})
		e := gateway.AsError(err)
		require.Equal(t, gateway.CodeInvalidArgument, e.Code, url)
		require.Equal(t, "url", e.Field)
		require.Contains(t, e.Message, reason, url)
	}
	list, err := f.d.ListSubscriptions(ctx, merchant)
	require.NoError(t, err)
	require.Empty(t, list, "a refusal changes nothing")

	t.Run("a name rebound to an internal address after registration", func(t *testing.T) {
		rc := newReceiver(t)
		port := strings.TrimPrefix(rc.srv.URL, "http://127.0.0.1")
		f.resolver.set("hooks.partner.example", "127.0.0.1") // allowed: in 127.0.0.0/8
		sub, _ := f.create(merchant, gateway.SubscriptionRequest{URL: "http://hooks.partner.example" + port + "/in"})
		a := f.emit("OrderCreated", "o-1", "m-1", "CREATED")
		waitFor(t, rc, 1)
		f.resolver.set("hooks.partner.example", "169.254.169.254")
		b := f.emit("OrderCreated", "o-2", "m-1", "CREATED")
		require.Eventually(t, func() bool { return f.get(sub.ID).ConsecutiveFailures >= 2 }, 20*time.Second, time.Millisecond)
		log, err := f.d.SubscriptionDeliveries(ctx, merchant, sub.ID, 1)
		require.NoError(t, err)
		require.Equal(t, gateway.DeliveryRefused, log[0].Outcome)
		require.Equal(t, b, log[0].EventID)
		require.Contains(t, log[0].Error, "169.254.169.254")
		require.Equal(t, []string{a.String()}, rc.ids(), "nothing is sent to a refused address")
		require.Positive(t, attemptCount(t, f, sub.ID, "refused"))
	})
	t.Run("a gateway without an allow-list refuses every target", func(t *testing.T) {
		st, err := store.Open(filepath.Join(t.TempDir(), "gateway.db"))
		require.NoError(t, err)
		defer st.Close()
		subs, err := st.SubscriptionStore()
		require.NoError(t, err)
		d, err := New(subs, st, Config{AllowedTargets: []string{}})
		require.NoError(t, err)
		_, _, err = d.CreateSubscription(ctx, merchant, gateway.SubscriptionRequest{URL: "http://127.0.0.1:1/"})
		require.ErrorContains(t, err, "webhooks.allowedTargets")
	})
}

func TestUpdateAndSecrets(t *testing.T) {
	f := newFixture(t, Config{MaxPerOrganization: 2})
	rc := newReceiver(t)
	ctx := context.Background()
	mine := strings.Repeat("s", 40)
	sub, secret := f.create(merchant, gateway.SubscriptionRequest{URL: rc.url("/"), Secret: mine, Description: "orders"})
	require.Equal(t, mine, secret, "a supplied secret is used as it is")
	a := f.emit("OrderCreated", "o-1", "m-1", "CREATED")
	waitCheckpoint(t, f, sub.ID, a)
	require.NoError(t, Verify([]byte(mine), rc.requests()[0].Signature, rc.requests()[0].Body, time.Now(), 0))

	s, rotated, err := f.d.UpdateSubscription(ctx, merchant, sub.ID, gateway.SubscriptionPatch{RotateSecret: true,
		Events: &[]string{"PaymentEscrowed"}, Filter: &gateway.EventFilter{Status: "PAID"}})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(rotated, "whsec_"))
	require.Equal(t, []string{"PaymentEscrowed"}, s.Events)
	require.Equal(t, "orders", s.Description, "fields not in the patch are kept")
	require.Equal(t, a, s.Checkpoint, "the checkpoint is kept")
	f.emit("OrderCreated", "o-2", "m-1", "CREATED")
	b := f.emit("PaymentEscrowed", "o-2", "m-1", "PAID")
	waitFor(t, rc, 2)
	r := rc.requests()[1]
	require.Equal(t, b.String(), r.ID)
	require.NoError(t, Verify([]byte(rotated), r.Signature, r.Body, time.Now(), 0))
	require.ErrorIs(t, Verify([]byte(mine), r.Signature, r.Body, time.Now(), 0), ErrSignatureMismatch)

	short := "short"
	for name, tc := range map[string]struct {
		patch gateway.SubscriptionPatch
		field string
	}{
		"short secret":        {gateway.SubscriptionPatch{Secret: &short}, "secret"},
		"secret and rotation": {gateway.SubscriptionPatch{Secret: &mine, RotateSecret: true}, "rotateSecret"},
		"duplicate events":    {gateway.SubscriptionPatch{Events: &[]string{"A", "A"}}, "events[1]"},
	} {
		_, _, err := f.d.UpdateSubscription(ctx, merchant, sub.ID, tc.patch)
		require.Equal(t, tc.field, gateway.AsError(err).Field, name)
	}
	_, _, err = f.d.CreateSubscription(ctx, merchant, gateway.SubscriptionRequest{URL: rc.url("/"), After: from(gateway.EventID{Block: 999})})
	require.Equal(t, "after", gateway.AsError(err).Field)
	f.create(merchant, gateway.SubscriptionRequest{URL: rc.url("/2")})
	_, _, err = f.d.CreateSubscription(ctx, merchant, gateway.SubscriptionRequest{URL: rc.url("/3")})
	require.Equal(t, gateway.CodeConflict, gateway.ErrorCode(err), "two per organisation in this test")
	f.create(bank, gateway.SubscriptionRequest{URL: rc.url("/bank")})
}

func TestMatches(t *testing.T) {
	ev := gateway.Event{Name: "PaymentEscrowed", OrderID: "o-1", Payload: json.RawMessage(`{"orderId":"o-1","merchantId":"m-1","status":"PAID"}`)}
	rules := gateway.Event{Name: "ComplianceRulesSet", Payload: json.RawMessage(`{"version":2,"status":"ACTIVE"}`)}
	for _, tc := range []struct {
		name string
		sub  gateway.Subscription
		ev   gateway.Event
		want bool
	}{
		{"everything", gateway.Subscription{}, ev, true},
		{"by name", gateway.Subscription{Events: []string{"OrderCreated", "PaymentEscrowed"}}, ev, true},
		{"other name", gateway.Subscription{Events: []string{"OrderCreated"}}, ev, false},
		{"by order", gateway.Subscription{Filter: gateway.EventFilter{OrderID: "o-1"}}, ev, true},
		{"other order", gateway.Subscription{Filter: gateway.EventFilter{OrderID: "o-2"}}, ev, false},
		{"by merchant and status", gateway.Subscription{Filter: gateway.EventFilter{MerchantID: "m-1", Status: "PAID"}}, ev, true},
		{"other status", gateway.Subscription{Filter: gateway.EventFilter{Status: "CREATED"}}, ev, false},
		{"no merchant in the payload", gateway.Subscription{Filter: gateway.EventFilter{MerchantID: "m-1"}}, rules, false},
		{"status of another kind of event", gateway.Subscription{Filter: gateway.EventFilter{Status: "ACTIVE"}}, rules, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.sub.Matches(tc.ev))
		})
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	f := newFixture(t, Config{MaxFailures: 1})
	elsewhere := newReceiver(t)
	redirecting := httptest.NewServer(http.RedirectHandler(elsewhere.url("/moved"), http.StatusTemporaryRedirect))
	defer redirecting.Close()
	sub, _ := f.create(merchant, gateway.SubscriptionRequest{URL: redirecting.URL + "/hooks"})
	f.emit("OrderCreated", "o-1", "m-1", "CREATED")
	s := waitState(t, f, sub.ID, gateway.SubscriptionDeadLetter)
	require.Contains(t, s.LastError, "answered 307")
	log, err := f.d.SubscriptionDeliveries(context.Background(), merchant, sub.ID, 1)
	require.NoError(t, err)
	require.Equal(t, gateway.DeliveryHTTPError, log[0].Outcome)
	require.Equal(t, http.StatusTemporaryRedirect, log[0].StatusCode)
	require.Empty(t, elsewhere.requests(), "the redirect's target is never called")
}
