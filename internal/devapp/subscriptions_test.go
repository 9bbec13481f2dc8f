package devapp_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/webhook"
	"github.com/xborder/xborder/internal/testkit"
)

// testResolver answers the test's own host names from a table and every other name from the
// system resolver: real DNS names cannot be made to resolve where a test wants, so this is the
// one seam faked (the allow-list decides for real).
type testResolver struct {
	mu    sync.Mutex
	names map[string]string
}

func (r *testResolver) set(host, addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.names[host] = addr
}

func (r *testResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	addr, ok := r.names[host]
	r.mu.Unlock()
	if ok {
		return []netip.Addr{netip.MustParseAddr(addr)}, nil
	}
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}

const hookSecret = "whsec_devapp-test-secret-0123456789abcdefghij"

// subscribe creates a subscription as org with the test's secret and returns the answer.
func (e *env) subscribe(org string, body map[string]any) map[string]any {
	e.t.Helper()
	body["secret"] = hookSecret
	return e.mustStatus(http.StatusCreated, org, "POST", "/api/v1/subscriptions", body).JSON(e.t)
}

// loggedEvents waits until the gateway's event log holds an event of every transaction in
// txIDs, and returns the events after `after` that match.
func (e *env) loggedEvents(after string, txIDs []string, match func(gateway.Event) bool) []string {
	e.t.Helper()
	cursor, err := gateway.ParseEventID(after)
	require.NoError(e.t, err)
	var ids []string
	require.Eventually(e.t, func() bool {
		events, err := e.app.Store.EventsAfter(cursor, 1<<20)
		require.NoError(e.t, err)
		logged := map[string]bool{}
		ids = ids[:0]
		for _, ev := range events {
			logged[ev.TxID] = true
			if match(ev) {
				ids = append(ids, ev.ID.String())
			}
		}
		for _, tx := range txIDs {
			if !logged[tx] {
				return false
			}
		}
		return true
	}, 30*time.Second, 5*time.Millisecond, "the event feed stores every committed transaction's event")
	return ids
}

// subscription reads a subscription as org.
func (e *env) subscription(org, id string) map[string]any {
	e.t.Helper()
	return e.mustStatus(http.StatusOK, org, "GET", "/api/v1/subscriptions/"+id, nil).JSON(e.t)
}

func (e *env) waitSubscription(org, id string, done func(map[string]any) bool) map[string]any {
	e.t.Helper()
	var s map[string]any
	require.Eventually(e.t, func() bool { s = e.subscription(org, id); return done(s) }, 30*time.Second, 10*time.Millisecond)
	return s
}

// orderWrites creates (and, with pay, pays) n orders of merchant hooks-m named prefix-i from
// clients concurrent clients, and returns the transaction IDs.
func (e *env) orderWrites(prefix string, n, clients int, pay bool) []string {
	e.t.Helper()
	var mu sync.Mutex
	var txIDs, failures []string
	var wg sync.WaitGroup
	for g := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += clients {
				o := testkit.NewOrder(fmt.Sprintf("%s-%d", prefix, i))
				o.MerchantID = "hooks-m"
				steps := []struct {
					org, path string
					body      any
				}{{merchant, "/api/v1/orders", o.CreateBody()}}
				if pay {
					steps = append(steps, struct {
						org, path string
						body      any
					}{bank, "/api/v1/orders/" + o.ID + "/payment", o.PaymentBody("pay-" + o.ID)})
				}
				for _, s := range steps {
					r, err := e.client.Do(context.Background(), s.org, "POST", s.path, s.body)
					mu.Lock()
					if err != nil || !r.OK() {
						failures = append(failures, fmt.Sprintf("%s: %v %s", s.path, err, r))
					} else {
						txIDs = append(txIDs, r.TxID())
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	require.Empty(e.t, failures)
	return txIDs
}

func byMerchant(merchantID string) func(gateway.Event) bool {
	return func(ev gateway.Event) bool {
		return strings.Contains(string(ev.Payload), `"merchantId":"`+merchantID+`"`)
	}
}

// TestSubscriptions runs webhook subscriptions end to end on the dev system over REST, with
// receivers on loopback: ordered at-least-once delivery under concurrent load and across a
// restart, failures with backoff, dead letter and resume, pause, allow-list refusals and the
// organisations' separation.
func TestSubscriptions(t *testing.T) {
	t.Parallel()
	resolver := &testResolver{names: map[string]string{"hooks.partner.test": "10.1.2.3", "rebind.partner.test": "127.0.0.1"}}
	env := startEnvWith(t, "", webhook.Config{MaxFailures: 4, BackoffBase: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		Resolver: resolver})
	e := env.with(t)

	fast := testkit.NewReceiver(hookSecret)
	defer fast.Close()
	flaky := testkit.NewReceiver(hookSecret)
	defer flaky.Close()
	flaky.Respond(func(h testkit.Hook) int {
		if len(flaky.Failed()) < 3 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	all := e.subscribe(merchant, map[string]any{"url": fast.URL("/merchant?token=t0k3n"), "filter": map[string]any{"merchantId": "hooks-m"}})
	payments := e.subscribe(bank, map[string]any{"url": flaky.URL("/bank"), "events": []string{"PaymentEscrowed"}})
	require.Equal(t, all["checkpoint"], payments["checkpoint"], "both start after the newest event")
	start := all["checkpoint"].(string)

	t.Run("ordered, at least once, under concurrent load", func(t *testing.T) {
		e := env.with(t)
		txIDs := e.orderWrites("hk", 16, 4, true)
		want := e.loggedEvents(start, txIDs, byMerchant("hooks-m"))
		require.Len(t, want, 32)
		hooks := fast.WaitForIDs(t, time.Minute, want)
		require.Empty(t, testkit.InOrder(want, fast.IDs()))
		order := testkit.NewOrder("x")
		for _, h := range hooks {
			require.Equal(t, all["id"], h.Subscription)
			require.Equal(t, h.ID, h.Event.ID)
			require.Contains(t, string(h.Event.Payload), `"merchantId":"hooks-m"`)
			for _, private := range order.PrivateStrings() {
				require.NotContains(t, string(h.Body), private, "a delivery carries no private data")
			}
		}
		require.Zero(t, fast.Refused())

		wantPaid := e.loggedEvents(start, txIDs, func(ev gateway.Event) bool { return ev.Name == "PaymentEscrowed" })
		flaky.WaitForIDs(t, time.Minute, wantPaid)
		require.Empty(t, testkit.InOrder(wantPaid, flaky.IDs()), "the failures delayed, never reordered")
		failed := flaky.Failed()
		require.Len(t, failed, 3)
		for i, h := range failed {
			require.Equal(t, wantPaid[0], h.ID, "the first event is retried")
			require.Equal(t, i+1, h.Attempt)
		}
		require.Equal(t, 4, flaky.Hooks()[0].Attempt)
		// The receiver has every event; the dispatcher records each attempt once its answer
		// arrived, so the last record may follow a moment later.
		var items []any
		require.Eventually(t, func() bool {
			log := e.mustStatus(http.StatusOK, bank, "GET", "/api/v1/subscriptions/"+payments["id"].(string)+"/deliveries?limit=1000", nil).JSON(t)
			items = log["items"].([]any)
			return len(items) >= len(wantPaid)+3
		}, 10*time.Second, 20*time.Millisecond)
		require.Len(t, items, len(wantPaid)+3)
		oldest := items[len(items)-4:]
		for i, outcome := range []string{"SUCCEEDED", "HTTP_ERROR", "HTTP_ERROR", "HTTP_ERROR"} {
			d := oldest[i].(map[string]any)
			require.Equal(t, outcome, d["outcome"], "attempt %v", d["attempt"])
			require.Equal(t, wantPaid[0], d["eventId"])
		}
		s := e.waitSubscription(bank, payments["id"].(string), func(s map[string]any) bool { return doneWith(s, wantPaid[len(wantPaid)-1]) })
		require.Equal(t, "ACTIVE", s["state"])
		require.Equal(t, 0.0, s["consecutiveFailures"])
	})

	t.Run("across a restart of the gateway", func(t *testing.T) {
		e := env.with(t)
		fast.Respond(func(testkit.Hook) int { time.Sleep(5 * time.Millisecond); return http.StatusNoContent })
		txIDs := e.orderWrites("rs", 12, 3, false)
		last := e.loggedEvents(start, txIDs, byMerchant("hooks-m"))
		env.restart() // graceful, while deliveries are in flight
		e = env.with(t)
		txIDs = append(txIDs, e.orderWrites("rs2", 4, 2, false)...)
		want := e.loggedEvents(start, txIDs, byMerchant("hooks-m"))
		require.Greater(t, len(want), len(last))
		fast.WaitForIDs(t, time.Minute, want)
		require.Empty(t, testkit.InOrder(want, fast.IDs()))
		fast.Respond(nil)
	})

	t.Run("dead letter after repeated failures, then resume", func(t *testing.T) {
		e := env.with(t)
		down := testkit.NewReceiver(hookSecret)
		defer down.Close()
		down.Respond(func(testkit.Hook) int { return http.StatusServiceUnavailable })
		sub := e.subscribe(customs, map[string]any{"url": down.URL("/customs"), "filter": map[string]any{"orderId": "dl-0"}})
		id := sub["id"].(string)
		txIDs := e.orderWrites("dl", 2, 1, true)
		want := e.loggedEvents(sub["checkpoint"].(string), txIDs, func(ev gateway.Event) bool { return ev.OrderID == "dl-0" })
		require.Len(t, want, 2)
		s := e.waitSubscription(customs, id, func(s map[string]any) bool { return s["state"] == "DEAD_LETTER" })
		require.Equal(t, want[0], s["failedEventId"])
		require.Equal(t, 4.0, s["consecutiveFailures"])
		require.Contains(t, s["lastError"], "answered 503")
		require.Len(t, down.Failed(), 4)
		metrics := e.metricsText()
		require.Contains(t, metrics, fmt.Sprintf(`xborder_webhook_subscription_state{org="CustomsMSP",state="DEAD_LETTER",subscription=%q} 1`, id))
		require.Contains(t, metrics, fmt.Sprintf(`xborder_webhook_deliveries_total{org="CustomsMSP",outcome="http_error",subscription=%q} 4`, id))
		require.Regexp(t, fmt.Sprintf(`xborder_webhook_lag_blocks\{org="CustomsMSP",subscription=%q\} [1-9]`, id), metrics)

		down.Respond(nil)
		r := e.mustStatus(http.StatusOK, customs, "POST", "/api/v1/subscriptions/"+id+"/resume", nil).JSON(t)
		require.Equal(t, "ACTIVE", r["state"])
		down.WaitForIDs(t, time.Minute, want)
		require.Equal(t, want, down.IDs(), "the failed event first, then the next")
		s = e.waitSubscription(customs, id, func(s map[string]any) bool { return doneWith(s, want[1]) })
		require.Contains(t, s, "lagBlocks")
	})

	t.Run("pause and resume", func(t *testing.T) {
		e := env.with(t)
		id := all["id"].(string)
		r := e.mustStatus(http.StatusOK, merchant, "POST", "/api/v1/subscriptions/"+id+"/pause", nil).JSON(t)
		require.Equal(t, "PAUSED", r["state"])
		n := len(fast.IDs())
		txIDs := e.orderWrites("ps", 2, 1, true)
		want := e.loggedEvents(start, txIDs, byMerchant("hooks-m"))
		flaky.WaitForIDs(t, time.Minute, e.loggedEvents(start, txIDs, func(ev gateway.Event) bool { return ev.Name == "PaymentEscrowed" }))
		require.Len(t, fast.IDs(), n, "nothing reaches a paused subscription's receiver")
		s := e.subscription(merchant, id)
		require.Equal(t, "PAUSED", s["state"])
		require.GreaterOrEqual(t, s["lagBlocks"], 1.0)
		e.mustStatus(http.StatusOK, merchant, "POST", "/api/v1/subscriptions/"+id+"/resume", nil)
		fast.WaitForIDs(t, time.Minute, want)
		require.Empty(t, testkit.InOrder(want, fast.IDs()))
	})

	t.Run("targets outside the allow-list", func(t *testing.T) {
		e := env.with(t)
		for url, reason := range map[string]string{
			"http://10.0.0.1/hooks":           "not in the allow-list",
			"http://169.254.169.254/latest":   "not in the allow-list",
			"http://hooks.partner.test/hooks": "10.1.2.3",
			"https://user:pw@127.0.0.1/":      "user information",
		} {
			r := e.mustStatus(http.StatusBadRequest, carrier, "POST", "/api/v1/subscriptions", map[string]any{"url": url}).JSON(t)
			require.Equal(t, "url", r["field"], url)
			require.Contains(t, r["detail"], reason, url)
		}
		list := e.mustStatus(http.StatusOK, carrier, "GET", "/api/v1/subscriptions", nil).JSON(t)
		require.Equal(t, 0.0, list["count"], "a refusal creates nothing")

		// A name allowed at registration and rebound to an internal address afterwards.
		target := testkit.NewReceiver(hookSecret)
		defer target.Close()
		port := strings.TrimPrefix(target.URL(""), "http://127.0.0.1")
		sub := e.subscribe(carrier, map[string]any{"url": "http://rebind.partner.test" + port + "/in", "filter": map[string]any{"orderId": "rb-0"}})
		resolver.set("rebind.partner.test", "169.254.169.254")
		e.orderWrites("rb", 1, 1, false)
		log := e.waitDeliveries(carrier, sub["id"].(string), func(items []any) bool { return len(items) >= 2 })
		d := log[0].(map[string]any)
		require.Equal(t, "REFUSED", d["outcome"])
		require.Contains(t, d["error"], "169.254.169.254")
		require.Empty(t, target.IDs(), "nothing is sent to a refused address")
		require.Empty(t, target.Failed())
	})

	t.Run("other organisations neither see nor manage a subscription", func(t *testing.T) {
		e := env.with(t)
		id := all["id"].(string)
		for _, org := range []string{bank, carrier, customs} {
			list := e.mustStatus(http.StatusOK, org, "GET", "/api/v1/subscriptions", nil).JSON(t)
			for _, s := range list["items"].([]any) {
				require.NotEqual(t, id, s.(map[string]any)["id"])
				require.Equal(t, org, s.(map[string]any)["mspId"])
			}
			for _, c := range []struct {
				method, path string
				body         any
			}{
				{"GET", "", nil}, {"PATCH", "", map[string]any{"url": fast.URL("/stolen")}}, {"DELETE", "", nil},
				{"POST", "/pause", nil}, {"POST", "/resume", nil}, {"GET", "/deliveries", nil},
			} {
				r := e.mustStatus(http.StatusNotFound, org, c.method, "/api/v1/subscriptions/"+id+c.path, c.body).JSON(t)
				require.Equal(t, "NOT_FOUND", r["code"])
			}
		}
		s := e.subscription(merchant, id)
		require.Equal(t, fast.URL("/merchant?token=t0k3n"), s["url"])
		require.Equal(t, "ACTIVE", s["state"])
		e.mustStatus(http.StatusNoContent, merchant, "DELETE", "/api/v1/subscriptions/"+id, nil)
		e.mustStatus(http.StatusNotFound, merchant, "GET", "/api/v1/subscriptions/"+id, nil)
	})
}

// doneWith reports whether subscription s's checkpoint is at or after event id.
func doneWith(s map[string]any, id string) bool {
	cp, err1 := gateway.ParseEventID(s["checkpoint"].(string))
	ev, err2 := gateway.ParseEventID(id)
	return err1 == nil && err2 == nil && !cp.Less(ev)
}

// waitDeliveries polls a subscription's delivery log until done holds and returns it.
func (e *env) waitDeliveries(org, id string, done func([]any) bool) []any {
	e.t.Helper()
	var items []any
	require.Eventually(e.t, func() bool {
		items = e.mustStatus(http.StatusOK, org, "GET", "/api/v1/subscriptions/"+id+"/deliveries", nil).JSON(e.t)["items"].([]any)
		return done(items)
	}, 30*time.Second, 10*time.Millisecond)
	return items
}

// metricsText is GET /metrics.
func (e *env) metricsText() string {
	e.t.Helper()
	res, err := http.Get(e.app.URL + "/metrics")
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return string(b)
}
