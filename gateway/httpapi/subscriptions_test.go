package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/api"
	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/gateway/store"
	"github.com/xborder/xborder/gateway/webhook"
)

// subsEnv is a server with webhook subscriptions (a running dispatcher on a real store) and a
// receiver on loopback.
type subsEnv struct {
	t        *testing.T
	h        http.Handler
	spec     *Spec
	st       *store.Store
	receiver *httptest.Server
	got      chan *http.Request
}

func newSubsEnv(t *testing.T, withService bool) *subsEnv {
	t.Helper()
	st, err := store.Open(t.TempDir() + "/gateway.db")
	require.NoError(t, err)
	subs, err := st.SubscriptionStore()
	require.NoError(t, err)
	e := &subsEnv{t: t, st: st, got: make(chan *http.Request, 16)}
	e.receiver = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.got <- r
		w.WriteHeader(http.StatusNoContent)
	}))
	opts := Options{Spec: api.OpenAPI, Ledger: noLedger{orgs: []string{"CarrierMSP", "CustomsMSP"}}, Idempotency: st, Events: st,
		Keys: []APIKey{
			{ID: "k-carrier", MSPID: "CarrierMSP", User: "dispatch", SHA256: hashOf(carrierKey)},
			{ID: "k-customs", MSPID: "CustomsMSP", User: "officer", SHA256: hashOf(customsKey)},
		},
		RateLimit: 1e6, Burst: 1 << 20, MaxBodyBytes: 1 << 20, KeepAlive: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	if withService {
		d, err := webhook.New(subs, st, webhook.Config{AllowedTargets: webhook.LoopbackTargets})
		require.NoError(t, err)
		go func() { done <- d.Run(ctx) }()
		opts.Subscriptions = d
	} else {
		done <- nil
	}
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		e.receiver.Close()
		require.NoError(t, st.Close())
	})
	srv, err := New(opts)
	require.NoError(t, err)
	e.h, e.spec = srv.Handler(), srv.Spec()
	return e
}

// call sends a request and checks the answer against the operation opID of the contract.
func (e *subsEnv) call(opID, method, target, key, body string, params map[string]string) *httptest.ResponseRecorder {
	e.t.Helper()
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, target, nil)
	} else {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+key)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	op, ok := e.spec.Operation(opID)
	require.True(e.t, ok, opID)
	vreq := httptest.NewRequest(method, target, nil)
	require.NoError(e.t, e.spec.ValidateResponse(context.Background(), op, vreq, params, w.Code, w.Header(), w.Body.Bytes()),
		"%s answered %d %s", opID, w.Code, w.Body)
	return w
}

func TestSubscriptionOperations(t *testing.T) {
	e := newSubsEnv(t, true)
	create := `{"url":"` + e.receiver.URL + `/hooks","events":["OrderCreated"],"filter":{"merchantId":"m-1"},"description":"ops"}`
	w := e.call("createSubscription", "POST", "/api/v1/subscriptions", carrierKey, create, nil)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	created := decode(t, w)
	id := created["id"].(string)
	require.Equal(t, "/api/v1/subscriptions/"+id, w.Header().Get("Location"))
	require.Equal(t, "CarrierMSP", created["mspId"])
	require.Equal(t, "k-carrier", created["createdBy"])
	require.Equal(t, "ACTIVE", created["state"])
	secret := created["secret"].(string)
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	p := map[string]string{"id": id}

	w = e.call("getSubscription", "GET", "/api/v1/subscriptions/"+id, carrierKey, "", p)
	require.Equal(t, http.StatusOK, w.Code)
	require.NotContains(t, w.Body.String(), secret, "the secret is answered once")
	require.NotContains(t, decode(t, w), "secret")

	t.Run("another organisation sees nothing and changes nothing", func(t *testing.T) {
		w := e.call("listSubscriptions", "GET", "/api/v1/subscriptions", customsKey, "", nil)
		require.Equal(t, http.StatusOK, w.Code)
		require.JSONEq(t, `{"items":[],"count":0}`, w.Body.String())
		for _, c := range []struct{ op, method, path, body string }{
			{"getSubscription", "GET", "", ""},
			{"updateSubscription", "PATCH", "", `{"url":"` + e.receiver.URL + `/stolen"}`},
			{"pauseSubscription", "POST", "/pause", ""},
			{"resumeSubscription", "POST", "/resume", ""},
			{"listSubscriptionDeliveries", "GET", "/deliveries", ""},
			{"deleteSubscription", "DELETE", "", ""},
		} {
			w := e.call(c.op, c.method, "/api/v1/subscriptions/"+id+c.path, customsKey, c.body, p)
			require.Equal(t, http.StatusNotFound, w.Code, "%s: %s", c.op, w.Body)
			require.Equal(t, "NOT_FOUND", decode(t, w)["code"])
		}
	})

	w = e.call("listSubscriptions", "GET", "/api/v1/subscriptions", carrierKey, "", nil)
	list := decode(t, w)
	require.Equal(t, 1.0, list["count"])

	for name, c := range map[string]struct{ op, method, path, body, field string }{
		"disallowed target":   {"createSubscription", "POST", "", `{"url":"http://10.0.0.1/hooks"}`, "url"},
		"not a URL":           {"createSubscription", "POST", "", `{"url":"hooks"}`, "url"},
		"unknown field":       {"createSubscription", "POST", "", `{"url":"` + e.receiver.URL + `","target":"x"}`, "target"},
		"short secret":        {"createSubscription", "POST", "", `{"url":"` + e.receiver.URL + `","secret":"abc"}`, "secret"},
		"bad event name":      {"createSubscription", "POST", "", `{"url":"` + e.receiver.URL + `","events":["Order Created"]}`, "events[0]"},
		"bad after":           {"createSubscription", "POST", "", `{"url":"` + e.receiver.URL + `","after":"latest"}`, "after"},
		"empty patch":         {"updateSubscription", "PATCH", "/" + id, `{}`, "body"},
		"secret and rotation": {"updateSubscription", "PATCH", "/" + id, `{"secret":"` + strings.Repeat("x", 32) + `","rotateSecret":true}`, "rotateSecret"},
		"bad limit":           {"listSubscriptionDeliveries", "GET", "/" + id + "/deliveries?limit=0", "", "limit"},
		"bad id":              {"getSubscription", "GET", "/nope", "", "id"},
	} {
		t.Run(name, func(t *testing.T) {
			w := e.call(c.op, c.method, "/api/v1/subscriptions"+c.path, carrierKey, c.body, map[string]string{"id": strings.Split(strings.TrimPrefix(c.path, "/"), "/")[0]})
			require.Equal(t, http.StatusBadRequest, w.Code, w.Body.String())
			require.Equal(t, c.field, decode(t, w)["field"], w.Body.String())
		})
	}

	w = e.call("updateSubscription", "PATCH", "/api/v1/subscriptions/"+id, carrierKey, `{"rotateSecret":true,"filter":{}}`, p)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	rotated := decode(t, w)
	require.NotEqual(t, secret, rotated["secret"])
	require.Equal(t, map[string]any{}, rotated["filter"])

	// An event reaches the receiver, signed with the rotated secret.
	ev, stored, err := e.st.AppendEvent(gateway.Event{Name: "OrderCreated", TxID: "tx-1", BlockNumber: 5, OrderID: "o-1",
		Payload: json.RawMessage(`{"orderId":"o-1","merchantId":"m-2","status":"CREATED"}`)})
	require.NoError(t, err)
	require.True(t, stored)
	select {
	case r := <-e.got:
		require.Equal(t, ev.ID.String(), r.Header.Get(webhook.EventIDHeader))
		require.Equal(t, id, r.Header.Get(webhook.SubscriptionIDHeader))
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery")
	}
	require.Eventually(t, func() bool {
		w := e.call("listSubscriptionDeliveries", "GET", "/api/v1/subscriptions/"+id+"/deliveries?limit=10", carrierKey, "", p)
		return decode(t, w)["count"] == 1.0
	}, 20*time.Second, 5*time.Millisecond)

	w = e.call("pauseSubscription", "POST", "/api/v1/subscriptions/"+id+"/pause", carrierKey, "", p)
	require.Equal(t, "PAUSED", decode(t, w)["state"])
	w = e.call("resumeSubscription", "POST", "/api/v1/subscriptions/"+id+"/resume", carrierKey, "{}", p)
	require.Equal(t, "ACTIVE", decode(t, w)["state"])
	w = e.call("deleteSubscription", "DELETE", "/api/v1/subscriptions/"+id, carrierKey, "", p)
	require.Equal(t, http.StatusNoContent, w.Code)
	require.Empty(t, w.Body.String())
	w = e.call("getSubscription", "GET", "/api/v1/subscriptions/"+id, carrierKey, "", p)
	require.Equal(t, http.StatusNotFound, w.Code)
}

func TestSubscriptionsNotEnabled(t *testing.T) {
	e := newSubsEnv(t, false)
	w := e.call("listSubscriptions", "GET", "/api/v1/subscriptions", carrierKey, "", nil)
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Equal(t, "UNAVAILABLE", decode(t, w)["code"])
}
