package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// stream is govulncheck JSON output (shortened) with one called vulnerability in a module, one
// in the standard library and one only imported.
const stream = `{"config":{"protocol_version":"v1.0.0","scanner_version":"v1.9.0","db":"file:///db"}}
{"osv":{"id":"GO-1","summary":"quic trouble"}}
{"osv":{"id":"GO-2","summary":"net/http trouble"}}
{"osv":{"id":"GO-3","summary":"imported only"}}
{"finding":{"osv":"GO-1","fixed_version":"v0.59.1","trace":[{"module":"github.com/quic-go/quic-go","version":"v0.59.0","package":"github.com/quic-go/quic-go/http3","function":"Error"},{"module":"github.com/xborder/xborder","function":"Error"}]}}
{"finding":{"osv":"GO-2","fixed_version":"v1.26.9","trace":[{"module":"stdlib","version":"v1.26.8","package":"net/http","function":"Serve"}]}}
{"finding":{"osv":"GO-3","fixed_version":"v1.2.3","trace":[{"module":"example.com/m","version":"v1.0.0","package":"example.com/m/p"}]}}
`

func TestRun(t *testing.T) {
	allow := filepath.Join(t.TempDir(), "allow.txt")
	for _, tc := range []struct {
		name  string
		allow string
		code  int
		want  []string
	}{
		{"called vulnerabilities fail", "", 1, []string{"GO-1: quic trouble", "github.com/quic-go/quic-go@v0.59.0, fixed in v0.59.1: CALLED",
			"stdlib@v1.26.8, fixed in v1.26.9: CALLED", "2 called (2 findings not allowed), 1 more"}},
		{"allowed ones pass, with their reason", "# toolchain\nGO-2 stdlib needs go1.26.9\nGO-1 github.com/quic-go/quic-go fix pending\n", 0,
			[]string{"stdlib@v1.26.8, fixed in v1.26.9: allowed: needs go1.26.9", "0 findings not allowed"}},
		{"an allowance is for one module", "GO-1 stdlib wrong module\nGO-2 stdlib ok\n", 1,
			[]string{"quic-go@v0.59.0, fixed in v0.59.1: CALLED", "allowed GO-1 stdlib is no longer called"}},
		{"stale allowances are pointed out", "GO-1 github.com/quic-go/quic-go x\nGO-2 stdlib y\nGO-9 stdlib gone\n", 0, []string{"allowed GO-9 stdlib is no longer called"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.allow != "" {
				require.NoError(t, os.WriteFile(allow, []byte(tc.allow), 0o600))
				path = allow
			}
			var out bytes.Buffer
			code, err := run(strings.NewReader(stream), &out, path)
			require.NoError(t, err)
			require.Equal(t, tc.code, code, out.String())
			for _, w := range tc.want {
				require.Contains(t, out.String(), w)
			}
		})
	}
	t.Run("bad input and allow files are errors", func(t *testing.T) {
		_, err := run(strings.NewReader("Scanning your code...\n"), &bytes.Buffer{}, "")
		require.Error(t, err)
		require.NoError(t, os.WriteFile(allow, []byte("GO-1\n"), 0o600))
		_, err = run(strings.NewReader(stream), &bytes.Buffer{}, allow)
		require.ErrorContains(t, err, "want <OSV ID> <module> <reason>")
	})
}
