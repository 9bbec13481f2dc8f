package reliability_test

import (
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/gateway"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/network/devnet"
)

// eventStream follows GET /api/v1/events as customs and resumes it with Last-Event-ID after the
// gateway went away. It keeps every event in arrival order.
type eventStream struct {
	c *testkit.Client
	// after is where the first stream starts ("0-0": from the beginning).
	after string

	mu      sync.Mutex
	streams []*testkit.Stream
}

// openEventStream starts following the stream after the event ID after.
func openEventStream(t *testing.T, c *testkit.Client, after string) *eventStream {
	t.Helper()
	s := &eventStream{c: c, after: after}
	require.NoError(t, s.connect())
	t.Cleanup(s.close)
	return s
}

// connect (re)opens the stream after the last received event.
func (s *eventStream) connect() error {
	last := s.after
	if got := s.snapshot(); len(got) > 0 {
		last = got[len(got)-1].ID
	}
	st, err := s.c.OpenEvents(customs, "", last)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.streams = append(s.streams, st)
	s.mu.Unlock()
	return nil
}

// close stops following.
func (s *eventStream) close() {
	s.mu.Lock()
	streams := s.streams
	s.mu.Unlock()
	for _, st := range streams {
		st.Close()
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
	var b strings.Builder
	for _, ev := range s.snapshot() {
		b.WriteString(ev.Raw + "\n")
	}
	return b.String()
}

// snapshot returns the events received so far, over every connection.
func (s *eventStream) snapshot() []testkit.Event {
	s.mu.Lock()
	streams := s.streams
	s.mu.Unlock()
	var out []testkit.Event
	for _, st := range streams {
		out = append(out, st.Received()...)
	}
	return out
}

// waitFor waits until an event of every transaction in want arrived and returns all events.
func (s *eventStream) waitFor(t *testing.T, want map[string]bool, deadline time.Duration) []testkit.Event {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		got := s.snapshot()
		seen := map[string]bool{}
		for _, ev := range got {
			seen[ev.TxID()] = true
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
func requireOrderedUnique(t *testing.T, events []testkit.Event) {
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
