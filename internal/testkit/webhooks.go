package testkit

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/xborder/xborder/gateway/webhook"
)

// Hook is one delivery a Receiver accepted.
type Hook struct {
	// ID, Name and Subscription are the delivery's Xborder-Event-Id, Xborder-Event-Name and
	// Xborder-Subscription-Id headers; Attempt its Xborder-Delivery-Attempt.
	ID, Name, Subscription string
	Attempt                int
	// Event is the body, decoded; Body the body as received.
	Event webhook.Event
	Body  []byte
}

// Receiver is a webhook endpoint on loopback for tests. It verifies every delivery with its
// secret (401 for a bad or stale signature, counted in Refused), records the deliveries it
// accepts in arrival order, and answers what its respond function says (204 by default; a
// non-2xx answer is recorded in Failed, not in Hooks).
type Receiver struct {
	srv *httptest.Server

	mu      sync.Mutex
	secret  []byte
	respond func(Hook) int
	hooks   []Hook
	failed  []Hook
	refused int
	changed chan struct{}
}

// NewReceiver starts a receiver on 127.0.0.1 that verifies signatures with secret.
func NewReceiver(secret string) *Receiver {
	r := &Receiver{secret: []byte(secret), changed: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

// URL returns the receiver's URL with path appended.
func (r *Receiver) URL(path string) string { return r.srv.URL + path }

// Close stops the receiver.
func (r *Receiver) Close() { r.srv.Close() }

// Respond sets what the receiver answers to each verified delivery (nil: 204).
func (r *Receiver) Respond(f func(Hook) int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.respond = f
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	secret, respond := r.secret, r.respond
	r.mu.Unlock()
	if err := webhook.Verify(secret, req.Header.Get(webhook.SignatureHeader), body, time.Now(), webhook.DefaultTolerance); err != nil {
		r.mu.Lock()
		r.refused++
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	h := Hook{ID: req.Header.Get(webhook.EventIDHeader), Name: req.Header.Get(webhook.EventNameHeader),
		Subscription: req.Header.Get(webhook.SubscriptionIDHeader), Body: body}
	h.Attempt, _ = strconv.Atoi(req.Header.Get(webhook.AttemptHeader))
	if err := json.Unmarshal(body, &h.Event); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	status := http.StatusNoContent
	if respond != nil {
		status = respond(h)
	}
	r.mu.Lock()
	if status >= 200 && status < 300 {
		r.hooks = append(r.hooks, h)
	} else {
		r.failed = append(r.failed, h)
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	w.WriteHeader(status)
}

// Hooks returns the deliveries accepted so far, in arrival order.
func (r *Receiver) Hooks() []Hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Hook(nil), r.hooks...)
}

// Failed returns the verified deliveries the receiver answered with a failure.
func (r *Receiver) Failed() []Hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Hook(nil), r.failed...)
}

// Refused counts the requests whose signature did not verify.
func (r *Receiver) Refused() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused
}

// IDs returns the event IDs of the accepted deliveries, in arrival order.
func (r *Receiver) IDs() []string {
	var ids []string
	for _, h := range r.Hooks() {
		ids = append(ids, h.ID)
	}
	return ids
}

// WaitUntil waits until done(accepted deliveries) holds, failing t after timeout.
func (r *Receiver) WaitUntil(t T, timeout time.Duration, done func([]Hook) bool) []Hook {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		hooks, changed := append([]Hook(nil), r.hooks...), r.changed
		r.mu.Unlock()
		if done(hooks) {
			return hooks
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("the receiver's deliveries did not come within %s; got %d: %v", timeout, len(hooks), r.IDs())
			return nil
		}
	}
}

// WaitForIDs waits until every one of ids was accepted at least once.
func (r *Receiver) WaitForIDs(t T, timeout time.Duration, ids []string) []Hook {
	t.Helper()
	return r.WaitUntil(t, timeout, func(hooks []Hook) bool {
		seen := map[string]bool{}
		for _, h := range hooks {
			seen[h.ID] = true
		}
		for _, id := range ids {
			if !seen[id] {
				return false
			}
		}
		return true
	})
}

// InOrder checks an at-least-once delivery of want (event IDs in log order) in got (arrival
// order): the first arrival of each ID follows want's order, none is missing, and any repeat is
// of an ID that arrived before. It returns a description of the first violation, or "".
func InOrder(want, got []string) string {
	seen := map[string]bool{}
	next := 0
	for i, id := range got {
		if seen[id] {
			continue
		}
		if next >= len(want) {
			return fmt.Sprintf("arrival %d: %s is not an expected event", i, id)
		}
		if want[next] != id {
			return fmt.Sprintf("arrival %d: got %s, want %s (skipped or reordered)", i, id, want[next])
		}
		seen[id] = true
		next++
	}
	if next < len(want) {
		return fmt.Sprintf("%d of %d events missing, from %s", len(want)-next, len(want), want[next])
	}
	return ""
}
