package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// lockedBuffer is an io.Writer safe to read while the command writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p) //nolint:wrapcheck // strings.Builder never fails
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDevPrintsTheConsole runs `xborder dev` and follows the URLs it prints: the console beside
// the API, the landing page linking it, and the API index.
func TestDevPrintsTheConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts the whole dev system")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--data", t.TempDir(), "--http", "127.0.0.1:0"}, &out, &errOut)
	}()
	defer func() {
		cancel()
		require.Equal(t, 0, <-done, errOut.String())
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "try: curl") {
		require.True(t, time.Now().Before(deadline), "xborder dev did not get ready: %s", errOut.String())
		time.Sleep(50 * time.Millisecond)
	}
	text := out.String()
	m := regexp.MustCompile(`(?m)^  console: +(http://\S+/console/) `).FindStringSubmatch(text)
	require.NotNil(t, m, "no console line in:\n%s", text)
	api := regexp.MustCompile(`(?m)^  API: +(http://\S+/api/v1)$`).FindStringSubmatch(text)
	require.NotNil(t, api, "no API line in:\n%s", text)
	require.Equal(t, strings.TrimSuffix(m[1], "/console/"), strings.TrimSuffix(api[1], "/api/v1"))
	base := strings.TrimSuffix(api[1], "/api/v1")
	for path, want := range map[string]string{"/console/": "xborder console", "/": `href="/console/"`, "/api/v1": `"console":"/console/"`} {
		res, err := http.Get(base + path)
		require.NoError(t, err)
		body := new(strings.Builder)
		_, err = io.Copy(body, res.Body)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		require.Equal(t, http.StatusOK, res.StatusCode, path)
		require.Contains(t, body.String(), want, path)
	}
}
