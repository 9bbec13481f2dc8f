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
	names := map[string]bool{}
	for _, n := range strings.Split(c.Query("name"), ",") {
		if n != "" {
			names[n] = true
		}
	}
	orderID := c.Query("orderId")

	w := c.Writer
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, "retry: 2000\n\n")
	w.Flush()

	ctx := c.Request.Context()
	keepAlive := time.NewTicker(s.opts.KeepAlive)
	defer keepAlive.Stop()
	sent := 0
	for {
		changed := s.opts.Events.Changed() // before reading: no append can slip between
		events, err := s.opts.Events.EventsAfter(cursor, ssePage)
		if err != nil {
			logger(c).Error("event stream: cannot read the event log", "error", err)
			return
		}
		for _, ev := range events {
			cursor = ev.ID
			if (len(names) > 0 && !names[ev.Name]) || (orderID != "" && ev.OrderID != orderID) {
				continue
			}
			data, err := json.Marshal(ev)
			if err != nil {
				logger(c).Error("event stream: cannot encode an event", "error", err)
				return
			}
			if _, err := fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", ev.ID, sseField(ev.Name), data); err != nil {
				return
			}
			sent++
		}
		if len(events) > 0 {
			w.Flush()
		}
		if len(events) == ssePage {
			continue
		}
		select {
		case <-ctx.Done():
			logger(c).LogAttrs(ctx, slog.LevelDebug, "event stream closed", slog.Int("sent", sent), slog.String("lastId", cursor.String()))
			return
		case <-changed:
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			w.Flush()
		}
	}
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
	return id, nil
}

// sseField keeps a value on one line.
func sseField(s string) string {
	return strings.NewReplacer("\r", "", "\n", "").Replace(s)
}
