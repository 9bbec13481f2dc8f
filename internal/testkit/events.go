package testkit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Event is one Server-Sent Event of GET /api/v1/events.
type Event struct {
	// ID is the event ID, "<block>-<index>".
	ID string
	// Name is the event type, the chaincode event name ("OrderCreated").
	Name string
	// Data is the decoded data line (name, txId, blockNumber, orderId, payload, received), and
	// Raw the line as received.
	Data map[string]any
	Raw  string
}

// TxID is the transaction that emitted the event.
func (e Event) TxID() string { s, _ := e.Data["txId"].(string); return s }

// OrderID is the order the event is about ("" if none).
func (e Event) OrderID() string { s, _ := e.Data["orderId"].(string); return s }

// Stream follows the gateway's event stream in the background and keeps every event received,
// in order.
type Stream struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	events  []Event
	changed chan struct{} // closed and replaced at every event
	read    int           // events handed out by Next
}

// StatusError is the answer of a stream request that was not 200.
type StatusError struct{ Status int }

// Error says which status the stream answered.
func (e *StatusError) Error() string {
	return fmt.Sprintf("event stream answered %d %s", e.Status, http.StatusText(e.Status))
}

// OpenEvents opens GET /api/v1/events<query> as org, resuming after lastEventID when it is not
// "". The stream ends at Close or when the gateway closes it.
func (c *Client) OpenEvents(org, query, lastEventID string) (*Stream, error) {
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL()+"/api/v1/events"+query, nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Key(org))
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	// No timeout: the stream is long-lived.
	res, err := (&http.Client{Transport: c.http.Transport}).Do(req) //nolint:bodyclose // closed by the reader goroutine
	if err != nil {
		cancel()
		return nil, fmt.Errorf("open event stream: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		_ = res.Body.Close()
		cancel()
		return nil, &StatusError{Status: res.StatusCode}
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		_ = res.Body.Close()
		cancel()
		return nil, fmt.Errorf("event stream has Content-Type %q", ct)
	}
	s := &Stream{cancel: cancel, done: make(chan struct{}), changed: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer res.Body.Close()
		ReadEvents(res.Body, s.add)
	}()
	return s, nil
}

// MustOpenEvents opens the stream as OpenEvents does, failing t if it cannot, and closes it
// when the test ends.
func (c *Client) MustOpenEvents(t T, org, query, lastEventID string) *Stream {
	t.Helper()
	s, err := c.OpenEvents(org, query, lastEventID)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// ReadEvents parses Server-Sent Events from r and calls emit with each event that has an ID,
// until r ends.
func ReadEvents(r io.Reader, emit func(Event)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var cur Event
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.ID != "" {
				emit(cur)
			}
			cur = Event{}
		case strings.HasPrefix(line, "id: "):
			cur.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.Name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.Raw = strings.TrimPrefix(line, "data: ")
			_ = json.Unmarshal([]byte(cur.Raw), &cur.Data)
		}
	}
}

func (s *Stream) add(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, ev)
	close(s.changed)
	s.changed = make(chan struct{})
}

// Close stops following and waits for the reader.
func (s *Stream) Close() {
	s.cancel()
	<-s.done
}

// Done is closed when the stream has ended (Close, or the gateway closed it).
func (s *Stream) Done() <-chan struct{} { return s.done }

// Received returns every event received so far.
func (s *Stream) Received() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// ErrEnded is returned by NextWithin when the stream ended before another event came.
var ErrEnded = errors.New("the event stream ended")

// NextWithin returns the first event not yet returned by NextWithin, waiting up to timeout.
func (s *Stream) NextWithin(timeout time.Duration) (Event, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if s.read < len(s.events) {
			ev := s.events[s.read]
			s.read++
			s.mu.Unlock()
			return ev, nil
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-s.done:
			// The reader may have added a last event before ending.
			s.mu.Lock()
			more := s.read < len(s.events)
			s.mu.Unlock()
			if !more {
				return Event{}, ErrEnded
			}
		case <-deadline.C:
			return Event{}, fmt.Errorf("no event within %s", timeout)
		}
	}
}

// Next is NextWithin 30 seconds, failing t when no event comes.
func (s *Stream) Next(t T) Event {
	t.Helper()
	ev, err := s.NextWithin(30 * time.Second)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return ev
}
