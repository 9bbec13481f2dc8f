package reliability_test

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/pem"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/network/devnet"
)

// streamedEvent is one Server-Sent Event of GET /api/v1/events.
type streamedEvent struct {
	ID      string
	Name    string
	TxID    string
	OrderID string
}

// eventStream follows GET /api/v1/events and can resume it with Last-Event-ID after the gateway
// went away. It records every event in arrival order.
type eventStream struct {
	c *restClient

	mu     sync.Mutex
	raw    strings.Builder // every data line, for scans
	events []streamedEvent
	lastID string
	ended  chan struct{}
	cancel context.CancelFunc
}

// openEventStream starts following the stream after the event ID after ("0-0": from the start).
func openEventStream(t *testing.T, c *restClient, after string) *eventStream {
	t.Helper()
	s := &eventStream{c: c, lastID: after}
	require.NoError(t, s.connect())
	t.Cleanup(s.close)
	return s
}

// connect (re)opens the stream after the last received event.
func (s *eventStream) connect() error {
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	last := s.lastID
	s.mu.Unlock()
	r, err := http.NewRequestWithContext(ctx, "GET", s.c.baseURL()+"/api/v1/events", nil)
	if err != nil {
		cancel()
		return err
	}
	r.Header.Set("Authorization", "Bearer "+s.c.key(customs))
	r.Header.Set("Last-Event-ID", last)
	client := &http.Client{} // no timeout: the stream is long-lived
	res, err := client.Do(r) //nolint:bodyclose // closed by the reader goroutine
	if err != nil {
		cancel()
		return err
	}
	if res.StatusCode != http.StatusOK {
		_ = res.Body.Close()
		cancel()
		return &statusError{status: res.StatusCode}
	}
	ended := make(chan struct{})
	s.mu.Lock()
	s.cancel, s.ended = cancel, ended
	s.mu.Unlock()
	go func() {
		defer close(ended)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var cur streamedEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.ID != "" {
					s.mu.Lock()
					s.events = append(s.events, cur)
					s.lastID = cur.ID
					s.mu.Unlock()
				}
				cur = streamedEvent{}
			case strings.HasPrefix(line, "id: "):
				cur.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				cur.Name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				s.mu.Lock()
				s.raw.WriteString(line + "\n")
				s.mu.Unlock()
				var d struct {
					TxID    string `json:"txId"`
					OrderID string `json:"orderId"`
				}
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d)
				cur.TxID, cur.OrderID = d.TxID, d.OrderID
			}
		}
	}()
	return nil
}

type statusError struct{ status int }

func (e *statusError) Error() string { return "event stream answered " + http.StatusText(e.status) }

// close stops following.
func (s *eventStream) close() {
	s.mu.Lock()
	cancel, ended := s.cancel, s.ended
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-ended
	}
}

// resume reconnects after the gateway restarted, retrying until deadline.
func (s *eventStream) resume(t *testing.T, deadline time.Duration) {
	t.Helper()
	s.close()
	end := time.Now().Add(deadline)
	for {
		err := s.connect()
		if err == nil {
			return
		}
		require.True(t, time.Now().Before(end), "cannot resume the event stream: %v", err)
		time.Sleep(100 * time.Millisecond)
	}
}

// rawData returns every data line received so far.
func (s *eventStream) rawData() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raw.String()
}

// snapshot returns the events received so far.
func (s *eventStream) snapshot() []streamedEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]streamedEvent(nil), s.events...)
}

// waitFor waits until an event of every transaction in want arrived and returns all events.
func (s *eventStream) waitFor(t *testing.T, want map[string]bool, deadline time.Duration) []streamedEvent {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		got := s.snapshot()
		seen := map[string]bool{}
		for _, ev := range got {
			seen[ev.TxID] = true
		}
		var missing []string
		for tx := range want {
			if !seen[tx] {
				missing = append(missing, tx)
			}
		}
		if len(missing) == 0 {
			return got
		}
		require.True(t, time.Now().Before(end), "%d transactions have no event after %s, e.g. %v", len(missing), deadline, missing[:min(3, len(missing))])
		time.Sleep(50 * time.Millisecond)
	}
}

// requireOrderedUnique checks that event IDs strictly increase: no event repeated or reordered.
func requireOrderedUnique(t *testing.T, events []streamedEvent) {
	t.Helper()
	var prev gateway.EventID
	for i, ev := range events {
		id, err := gateway.ParseEventID(ev.ID)
		require.NoError(t, err)
		if i > 0 {
			require.True(t, prev.Less(id), "event %d (%s) does not follow %s: repeated or out of order", i, ev.ID, prev)
		}
		prev = id
	}
}

// privateKeys returns the base64 lines of every organisation's client and admin private keys
// (any one line in a log would leak key material).
func privateKeys(t *testing.T, peers []devnet.PeerInfo) []string {
	t.Helper()
	var out []string
	for _, p := range peers {
		for _, path := range []string{p.ClientKeyPath, p.AdminKeyPath} {
			raw, err := os.ReadFile(path) // #nosec G304 -- the test's own devnet
			require.NoError(t, err)
			block, _ := pem.Decode(raw)
			require.NotNil(t, block, "no PEM in %s", path)
			for _, line := range strings.Split(string(raw), "\n") {
				if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
					out = append(out, line)
				}
			}
		}
	}
	require.NotEmpty(t, out)
	return out
}

// keyFiles returns the base64 lines of every private key file (an MSP keystore entry or a TLS
// server/client key) under dir.
func keyFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if filepath.Base(filepath.Dir(path)) != "keystore" && !strings.HasSuffix(path, ".key") {
			return nil
		}
		raw, err := os.ReadFile(path) // #nosec G304 -- the test's own data directory
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
				out = append(out, line)
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, out, "no private keys found under %s", dir)
	return out
}
