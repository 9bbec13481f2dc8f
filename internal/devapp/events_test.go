package devapp_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestEventsResumeAcrossRestart streams chaincode events, restarts the gateway (and the whole
// dev system) between two streams, resumes with Last-Event-ID and checks that the two streams
// together carry every transaction's event exactly once, in order.
func TestEventsResumeAcrossRestart(t *testing.T) {
	t.Parallel()
	env := startEnv(t, "")
	e := env.with(t)

	var txIDs []string
	write := func(status int, org, method, path string, body any) {
		t.Helper()
		r := env.with(t).mustStatus(status, org, method, path, body)
		txIDs = append(txIDs, r.header.Get("X-Transaction-Id"))
	}

	stream := e.openEvents(t, customs, "?after=0-0", "")
	write(http.StatusCreated, merchant, "POST", "/api/v1/orders", orderBody("ev-1"))
	write(http.StatusOK, bank, "POST", "/api/v1/orders/ev-1/payment", paymentBody("ev-1"))
	write(http.StatusCreated, merchant, "POST", "/api/v1/orders", orderBody("ev-2"))

	var got []sseEvent
	for len(got) < 3 {
		got = append(got, stream.next(t))
	}
	require.Equal(t, []string{"OrderCreated", "PaymentEscrowed", "OrderCreated"}, []string{got[0].Event, got[1].Event, got[2].Event})
	stream.close()
	lastID := got[len(got)-1].ID

	// Transactions while nobody listens, then a restart of everything; an open stream ends
	// with the gateway instead of holding its shutdown.
	write(http.StatusOK, merchant, "POST", "/api/v1/orders/ev-2/cancellation", nil)
	open := e.openEvents(t, bank, "", "")
	env.restart()
	select {
	case _, more := <-open.events:
		require.False(t, more, "no event was written after the stream opened")
	case <-time.After(10 * time.Second):
		t.Fatal("the event stream did not end at shutdown")
	}
	write(http.StatusOK, bank, "POST", "/api/v1/orders/ev-1/disputes", map[string]any{"reason": "late"})

	stream = env.with(t).openEvents(t, customs, "", lastID)
	for len(got) < len(txIDs) {
		got = append(got, stream.next(t))
	}
	write(http.StatusOK, bank, "POST", "/api/v1/orders/ev-1/disputes/resolution", map[string]any{"refundAmount": 3000})
	got = append(got, stream.next(t))

	seen := map[string]bool{}
	for i, ev := range got {
		require.False(t, seen[ev.ID], "event %s repeated", ev.ID)
		seen[ev.ID] = true
		require.Equal(t, txIDs[i], ev.Data["txId"], "event %d (%s) belongs to transaction %d", i, ev.Event, i)
		require.Equal(t, ev.Event, ev.Data["name"])
		require.NotEmpty(t, ev.Data["orderId"])
	}
	require.Equal(t, "Refunded", got[len(got)-1].Event)

	t.Run("filters", func(t *testing.T) {
		e := env.with(t)
		s := e.openEvents(t, merchant, "?after=0-0&orderId=ev-2", "")
		require.Equal(t, "OrderCreated", s.next(t).Event)
		require.Equal(t, "OrderCancelled", s.next(t).Event)
		s.close()
		s = e.openEvents(t, bank, "?after=0-0&name=PaymentEscrowed,Refunded", "")
		require.Equal(t, "PaymentEscrowed", s.next(t).Event)
		require.Equal(t, "Refunded", s.next(t).Event)
		s.close()
		r := e.mustStatus(http.StatusBadRequest, bank, "GET", "/api/v1/events?after=x", nil)
		require.Equal(t, "after", r.json(t)["field"])
	})
}
