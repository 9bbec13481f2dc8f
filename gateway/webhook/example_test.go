package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/xborder/xborder/gateway/webhook"
)

// A receiver of xborder webhooks: it verifies each delivery's signature and timestamp, refuses
// anything else, and processes each event ID once (deliveries are at least once: an event can
// come again after a gateway restart, and a replayed request would too).
func Example_receiver() {
	secret := []byte("whsec_cUbt4hq2Vq0y8Xcm2nR5bV1ZfQe0yW3kP9sLd7aTg6E") // as answered by POST /api/v1/subscriptions
	var mu sync.Mutex
	processed := map[string]bool{} // keep IDs at least as long as the tolerance (5 minutes)

	receive := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		// Verify the exact bytes received, before parsing them.
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), webhook.DefaultTolerance); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev webhook.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if processed[ev.ID] {
			w.WriteHeader(http.StatusOK) // already done: acknowledge again
			return
		}
		fmt.Println("order", ev.OrderID, ev.Name, "in block", ev.BlockNumber)
		processed[ev.ID] = true
		w.WriteHeader(http.StatusNoContent)
	})

	// What the gateway sends (the same signature a real delivery carries).
	body := []byte(`{"id":"42-0","subscriptionId":"sub_5f0c1a2b3c4d5e6f708192a3","name":"PaymentReleased",` +
		`"txId":"8e9d0c1b","blockNumber":42,"orderId":"ord-1001","payload":{"orderId":"ord-1001","status":"COMPLETED"},` +
		`"received":"2026-03-02T09:14:05Z"}`)
	deliver := func(body []byte, signature string) int {
		req := httptest.NewRequest(http.MethodPost, "/hooks/xborder", bytes.NewReader(body))
		req.Header.Set(webhook.SignatureHeader, signature)
		rec := httptest.NewRecorder()
		receive.ServeHTTP(rec, req)
		return rec.Code
	}
	now := webhook.Sign(secret, time.Now(), body)
	fmt.Println(deliver(body, now))
	fmt.Println(deliver(body, now), "(the same event again)")
	fmt.Println(deliver(body, webhook.Sign(secret, time.Now().Add(-time.Hour), body)), "(a request captured an hour ago, replayed)")
	fmt.Println(deliver(bytes.Replace(body, []byte("COMPLETED"), []byte("REFUNDED"), 1), now), "(tampered)")
	// Output:
	// order ord-1001 PaymentReleased in block 42
	// 204
	// 200 (the same event again)
	// 401 (a request captured an hour ago, replayed)
	// 401 (tampered)
}
