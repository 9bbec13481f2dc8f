package httpapi

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/xborder/xborder/gateway"
)

const ssePage = 256

// streamEvents serves GET /api/v1/events: chaincode events from the gateway's event log as
// Server-Sent Events, resumable exactly with Last-Event-ID (or ?after=).
func (s *Server) streamEvents(c *gin.Context) {
	cursor, err := s.eventCursor(c)
	if err != nil {
		abortProblem(c, err)
		return
	}
	filter := newEventFilter(c)
	filter.caller = callerOf(c)
	st := &eventStream{c: c, log: s.opts.Events, filter: filter, cursor: cursor, check: func() error { return s.checkKey(c, filter.caller) }}
	st.open()
	keepAlive := time.NewTicker(s.opts.KeepAlive)
	defer keepAlive.Stop()
	for {
		changed := s.opts.Events.Changed() // before reading: no append can slip between
		n, ok := st.sendPage()
		if !ok {
			return
		}
		if n == ssePage {
			continue
		}
		if !st.wait(changed, keepAlive.C) {
			return
		}
	}
}

// eventFilter selects the events a stream sends: by name (any of names, or all) and order,
// and, for a caller bound to merchants, those of its merchants only.
type eventFilter struct {
	names   map[string]bool
	orderID string
	caller  gateway.Caller
}

// newEventFilter reads ?name=A,B and ?orderId=.
func newEventFilter(c *gin.Context) eventFilter {
	f := eventFilter{names: map[string]bool{}, orderID: c.Query("orderId")}
	for _, n := range strings.Split(c.Query("name"), ",") {
		if n != "" {
			f.names[n] = true
		}
	}
	return f
}

func (f eventFilter) match(ev gateway.Event) bool {
	return (len(f.names) == 0 || f.names[ev.Name]) && (f.orderID == "" || ev.OrderID == f.orderID) && f.caller.SeesEvent(ev)
}

// eventStream is one client's event stream.
type eventStream struct {
	c      *gin.Context
	log    gateway.EventLog
	filter eventFilter
	cursor gateway.EventID
	sent   int
	// check refuses the stream's key once it is revoked (checked at every wake-up).
	check func() error
}

// open answers the stream's header and the client's reconnection delay.
func (st *eventStream) open() {
	w := st.c.Writer
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, "retry: 2000\n\n")
	w.Flush()
}

// sendPage sends the matching events of the next page of the log after the cursor; it returns
// the page's size, and false when the stream must end.
func (st *eventStream) sendPage() (int, bool) {
	events, err := st.log.EventsAfter(st.cursor, ssePage)
	if err != nil {
		logger(st.c).Error("event stream: cannot read the event log", "error", err)
		return 0, false
	}
	w := st.c.Writer
	for _, ev := range events {
		st.cursor = ev.ID
		if !st.filter.match(ev) {
			continue
		}
		data, err := json.Marshal(ev)
		if err != nil {
			logger(st.c).Error("event stream: cannot encode an event", "error", err)
			return 0, false
		}
		if _, err := fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", ev.ID, sseField(ev.Name), data); err != nil {
			return 0, false
		}
		st.sent++
	}
	if len(events) > 0 {
		w.Flush()
	}
	return len(events), true
}

// wait waits for the log to change, sending a keep-alive comment at every tick; false when the
// client went away or the server is shutting down.
func (st *eventStream) wait(changed <-chan struct{}, keepAlive <-chan time.Time) bool {
	ctx := st.c.Request.Context()
	for {
		select {
		case <-ctx.Done():
			logger(st.c).LogAttrs(ctx, slog.LevelDebug, "event stream closed", slog.Int("sent", st.sent), slog.String("lastId", st.cursor.String()))
			return false
		case <-changed:
			return st.keyValid()
		case <-keepAlive:
			if !st.keyValid() {
				return false
			}
			if _, err := fmt.Fprint(st.c.Writer, ": keep-alive\n\n"); err != nil {
				return false
			}
			st.c.Writer.Flush()
		}
	}
}

// keyValid reports whether the stream's key is still valid; a revoked key's stream ends.
func (st *eventStream) keyValid() bool {
	if st.check == nil || st.check() == nil {
		return true
	}
	logger(st.c).Info("event stream closed: its API key was revoked", slog.String("lastId", st.cursor.String()))
	return false
}

// eventCursor resolves where the stream starts: after Last-Event-ID, else after ?after=, else
// after the newest stored event (only new events).
func (s *Server) eventCursor(c *gin.Context) (gateway.EventID, error) {
	raw, field := c.GetHeader("Last-Event-ID"), "Last-Event-ID"
	if raw == "" {
		raw, field = c.Query("after"), "after"
	}
	if raw == "" {
		id, err := s.opts.Events.LastEventID()
		if err != nil {
			return gateway.EventID{}, &gateway.Error{Code: gateway.CodeInternal, Message: "cannot read the event log", Err: err}
		}
		return id, nil
	}
	id, err := gateway.ParseEventID(raw)
	if err != nil {
		return gateway.EventID{}, gateway.FieldError(field, "must be an event ID <block>-<index>, got %q", raw)
	}
	return id, s.checkNotAhead(field, id)
}

// sseField keeps a value on one line.
func sseField(s string) string {
	return strings.NewReplacer("\r", "", "\n", "").Replace(s)
}
