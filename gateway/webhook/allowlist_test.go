package webhook

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeResolver answers from a table: the tests cannot make real DNS names resolve where they
// want, so resolution is the one seam faked here (the allow-list's decisions are real).
type fakeResolver struct {
	mu    sync.Mutex
	hosts map[string][]string
}

func newFakeResolver(hosts map[string][]string) *fakeResolver { return &fakeResolver{hosts: hosts} }

func (r *fakeResolver) set(host string, addrs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hosts[host] = addrs
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	addrs, ok := r.hosts[strings.ToLower(host)]
	if !ok {
		return nil, errors.New("no such host")
	}
	out := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		out[i] = netip.MustParseAddr(a)
	}
	return out, nil
}

func TestAllowList(t *testing.T) {
	resolver := newFakeResolver(map[string][]string{
		"localhost":               {"127.0.0.1", "::1"},
		"hooks.partner.example":   {"198.51.200.7"},
		"eu.hooks.member.example": {"198.51.200.8"},
		"rebound.partner.example": {"169.254.169.254"},
		"mixed.partner.example":   {"198.51.200.9", "10.0.0.5"},
		"internal.member.example": {"10.20.1.5"},
		"metadata.example":        {"169.254.169.254"},
	})
	list, err := ParseAllowList([]string{
		"127.0.0.0/8", "::1", "10.20.0.0/16", "hooks.partner.example", "rebound.partner.example", "mixed.partner.example",
		"*.hooks.member.example", "https://api.carrier.example/xborder/",
	})
	require.NoError(t, err)
	for _, tc := range []struct {
		name, url string
		ok        bool
	}{
		{"loopback literal", "http://127.0.0.1:9000/hooks", true},
		{"IPv6 loopback literal", "http://[::1]:9000/hooks", true},
		{"loopback name", "http://localhost:9000/hooks", true},
		{"name in an allowed range", "http://internal.member.example/h", true},
		{"allowed host, public address", "https://hooks.partner.example/in", true},
		{"wildcard host", "https://eu.hooks.member.example/in", true},
		{"URL prefix", "https://api.carrier.example/xborder/events", false}, // resolves nowhere
		{"allowed host rebound to link-local", "https://rebound.partner.example/in", false},
		{"allowed host with one internal address", "https://mixed.partner.example/in", false},
		{"private literal outside the ranges", "http://10.0.0.1/", false},
		{"metadata literal", "http://169.254.169.254/latest/meta-data", false},
		{"name resolving to metadata", "http://metadata.example/", false},
		{"mapped IPv4 literal", "http://[::ffff:10.0.0.1]/", false},
		{"wildcard does not cover the apex", "https://hooks.member.example/in", false},
		{"unknown host", "https://nowhere.example/", false},
		{"scheme", "ftp://127.0.0.1/", false},
		{"user information", "http://user:pw@127.0.0.1/", false},
		{"fragment", "http://127.0.0.1/#x", false},
		{"relative", "/hooks", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addrs, err := list.Check(context.Background(), tc.url, resolver)
			if tc.ok {
				require.NoError(t, err)
				require.NotEmpty(t, addrs)
				return
			}
			var te *TargetError
			require.ErrorAs(t, err, &te)
		})
	}
	t.Run("URL prefixes", func(t *testing.T) {
		resolver.set("api.carrier.example", "198.51.200.10")
		for url, ok := range map[string]bool{
			"https://api.carrier.example/xborder/events":   true,
			"https://api.carrier.example/xborder":          false,
			"https://API.carrier.example:443/xborder/x":    true,
			"https://api.carrier.example/xborder-evil/x":   false,
			"http://api.carrier.example/xborder/events":    false,
			"https://api.carrier.example:8443/xborder/x":   false,
			"https://api.carrier.example/other/xborder/":   false,
			"https://api.carrier.example.evil/xborder/x/y": false,
		} {
			_, _, err := list.Check(context.Background(), url, resolver)
			require.Equal(t, ok, err == nil, "%s: %v", url, err)
		}
	})
	t.Run("the empty list allows nothing", func(t *testing.T) {
		empty, err := ParseAllowList(nil)
		require.NoError(t, err)
		require.True(t, empty.Empty())
		_, _, err = empty.Check(context.Background(), "http://127.0.0.1/", resolver)
		require.Error(t, err)
	})
	t.Run("bad entries", func(t *testing.T) {
		for _, e := range []string{"10.0.0.0/33", "ftp://x/", "https://u@x/", "https://x/?q", "bad host!", "*.", "http:///x"} {
			_, err := ParseAllowList([]string{e})
			require.Error(t, err, e)
		}
	})
}

func TestIsPublic(t *testing.T) {
	for addr, public := range map[string]bool{
		"198.51.200.7": true, "8.8.8.8": true, "2a00:1450::1": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "0.0.0.0": false, "224.0.0.1": false, "255.255.255.255": false, "192.0.2.1": false,
		"::1": false, "fe80::1": false, "fc00::1": false, "::": false, "2001:db8::1": false, "::ffff:10.0.0.1": false,
		"64:ff9b::a00:1": false, "2002:a00:1::": false, "ff02::1": false,
	} {
		require.Equal(t, public, IsPublic(netip.MustParseAddr(addr)), addr)
	}
}
