package devapp_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/internal/testkit"
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
		txIDs = append(txIDs, r.Header.Get("X-Transaction-Id"))
	}

	stream := e.openEvents(t, customs, "?after=0-0", "")
	write(http.StatusCreated, merchant, "POST", "/api/v1/orders", testkit.OrderBody("ev-1"))
	write(http.StatusOK, bank, "POST", "/api/v1/orders/ev-1/payment", testkit.PaymentBody("ev-1"))
	write(http.StatusCreated, merchant, "POST", "/api/v1/orders", testkit.OrderBody("ev-2"))

	var got []testkit.Event
	for len(got) < 3 {
		got = append(got, stream.Next(t))
	}
	require.Equal(t, []string{"OrderCreated", "PaymentEscrowed", "OrderCreated"}, []string{got[0].Name, got[1].Name, got[2].Name})
	stream.Close()
	lastID := got[len(got)-1].ID

	// Transactions while nobody listens, then a restart of everything; an open stream ends
	// with the gateway instead of holding its shutdown.
	write(http.StatusOK, merchant, "POST", "/api/v1/orders/ev-2/cancellation", nil)
	// The answer comes with the commit; the gateway's event feed stores the event a moment
	// later. The stream below must open after that.
	require.Eventually(t, func() bool {
		evs, err := env.app.Store.EventsAfter(lastIDOf(t, lastID), 10)
		return err == nil && len(evs) > 0 && evs[len(evs)-1].TxID == txIDs[len(txIDs)-1]
	}, 10*time.Second, 5*time.Millisecond, "the cancellation's event reaches the event log")
	open := e.openEvents(t, bank, "", "")
	env.restart()
	select {
	case <-open.Done():
		require.Empty(t, open.Received(), "no event was written after the stream opened")
	case <-time.After(10 * time.Second):
		t.Fatal("the event stream did not end at shutdown")
	}
	write(http.StatusOK, bank, "POST", "/api/v1/orders/ev-1/disputes", map[string]any{"reason": "late"})

	stream = env.with(t).openEvents(t, customs, "", lastID)
	for len(got) < len(txIDs) {
		got = append(got, stream.Next(t))
	}
	write(http.StatusOK, bank, "POST", "/api/v1/orders/ev-1/disputes/resolution", map[string]any{"refundAmount": 3000})
	got = append(got, stream.Next(t))

	seen := map[string]bool{}
	for i, ev := range got {
		require.False(t, seen[ev.ID], "event %s repeated", ev.ID)
		seen[ev.ID] = true
		require.Equal(t, txIDs[i], ev.Data["txId"], "event %d (%s) belongs to transaction %d", i, ev.Name, i)
		require.Equal(t, ev.Name, ev.Data["name"])
		require.NotEmpty(t, ev.Data["orderId"])
	}
	require.Equal(t, "Refunded", got[len(got)-1].Name)

	t.Run("filters", func(t *testing.T) {
		e := env.with(t)
		s := e.openEvents(t, merchant, "?after=0-0&orderId=ev-2", "")
		require.Equal(t, "OrderCreated", s.Next(t).Name)
		require.Equal(t, "OrderCancelled", s.Next(t).Name)
		s.Close()
		s = e.openEvents(t, bank, "?after=0-0&name=PaymentEscrowed,Refunded", "")
		require.Equal(t, "PaymentEscrowed", s.Next(t).Name)
		require.Equal(t, "Refunded", s.Next(t).Name)
		s.Close()
		r := e.mustStatus(http.StatusBadRequest, bank, "GET", "/api/v1/events?after=x", nil)
		require.Equal(t, "after", r.JSON(t)["field"])
	})
}

// lastIDOf parses an event ID of the stream.
func lastIDOf(t *testing.T, id string) gateway.EventID {
	t.Helper()
	eid, err := gateway.ParseEventID(id)
	require.NoError(t, err)
	return eid
}
