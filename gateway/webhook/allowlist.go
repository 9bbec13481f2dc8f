package webhook

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
)

// Resolver resolves host names to addresses; *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// AllowList says which URLs a subscription may deliver to. It has three kinds of entries:
//
//   - an address range in CIDR notation ("10.20.0.0/16", "::1/128") or one address
//     ("127.0.0.1"): targets whose every address lies in one of the ranges are allowed, whatever
//     their name;
//   - a host name ("hooks.example.com", or "*.example.com" for its subdomains): URLs with that
//     host are allowed, as long as every address the name resolves to is a public one;
//   - a URL prefix ("https://hooks.example.com/xborder/"): URLs with that scheme, host, port and
//     path prefix are allowed, again only to public addresses.
//
// Addresses that are not public (loopback, private, link-local, shared, documentation and other
// special-purpose ranges) are reached only when a range entry names them: a host name or URL
// prefix never lets a name that resolves (or is rebound) to an internal address through. The
// empty list allows nothing.
type AllowList struct {
	nets     []netip.Prefix
	hosts    []string
	prefixes []urlPrefix
}

// urlPrefix is a URL prefix entry: scheme, host[:port] (lowercase, default port removed) and path.
type urlPrefix struct {
	scheme, host, path string
}

// TargetError is a target URL the allow-list refuses; Reason says why.
type TargetError struct {
	Reason string
}

// Error renders "target not allowed: <reason>".
func (e *TargetError) Error() string { return "target not allowed: " + e.Reason }

func refuse(format string, args ...any) error {
	return &TargetError{Reason: fmt.Sprintf(format, args...)}
}

var hostEntry = regexp.MustCompile(`^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// ParseAllowList reads allow-list entries (see AllowList).
func ParseAllowList(entries []string) (*AllowList, error) {
	a := &AllowList{}
	for _, raw := range entries {
		e := strings.TrimSpace(raw)
		switch {
		case e == "":
			continue
		case strings.Contains(e, "://"):
			p, err := parsePrefix(e)
			if err != nil {
				return nil, err
			}
			a.prefixes = append(a.prefixes, p)
		case strings.Contains(e, "/"):
			n, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("allow-list entry %q: %w", e, err)
			}
			a.nets = append(a.nets, n.Masked())
		default:
			if addr, err := netip.ParseAddr(e); err == nil {
				a.nets = append(a.nets, netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()))
				continue
			}
			h := strings.TrimSuffix(strings.ToLower(e), ".")
			if !hostEntry.MatchString(h) {
				return nil, fmt.Errorf("allow-list entry %q: not an address range, an address, a host name or an http(s) URL prefix", e)
			}
			a.hosts = append(a.hosts, h)
		}
	}
	return a, nil
}

func parsePrefix(e string) (urlPrefix, error) {
	u, err := url.Parse(e)
	if err != nil {
		return urlPrefix{}, fmt.Errorf("allow-list entry %q: %w", e, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return urlPrefix{}, fmt.Errorf("allow-list entry %q: a URL prefix is http(s)://host[:port][/path], without user, query or fragment", e)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return urlPrefix{scheme: u.Scheme, host: hostPort(u), path: path}, nil
}

// hostPort is u's host, lowercase, with the port only when it is not the scheme's default.
func hostPort(u *url.URL) string {
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port := u.Port()
	if port == "" || (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		return host
	}
	return net.JoinHostPort(host, port)
}

func (p urlPrefix) matches(u *url.URL) bool {
	if u.Scheme != p.scheme || hostPort(u) != p.host {
		return false
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return path == p.path || strings.HasPrefix(path, strings.TrimSuffix(p.path, "/")+"/")
}

// Empty reports whether the list allows nothing.
func (a *AllowList) Empty() bool {
	return len(a.nets) == 0 && len(a.hosts) == 0 && len(a.prefixes) == 0
}

// Check parses rawURL and decides whether it may be a target now: it resolves the host with r
// (an address literal is not resolved) and returns the URL and the addresses that a delivery
// may connect to. A refusal is a *TargetError.
func (a *AllowList) Check(ctx context.Context, rawURL string, r Resolver) (*url.URL, []netip.Addr, error) {
	u, err := parseTarget(rawURL)
	if err != nil {
		return nil, nil, err
	}
	named := a.nameAllowed(u)
	host := u.Hostname()
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		addrs, err = r.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, nil, refuse("cannot resolve %s: %v", host, err)
		}
		if len(addrs) == 0 {
			return nil, nil, refuse("%s has no address", host)
		}
	}
	for i, addr := range addrs {
		addrs[i] = addr.Unmap()
		if !a.addrAllowed(addrs[i], named) {
			if named {
				return nil, nil, refuse("%s resolves to %s, which is not a public address and not in an allowed range", host, addrs[i])
			}
			return nil, nil, refuse("%s (address %s) is not in the allow-list", u.Host, addrs[i])
		}
	}
	return u, addrs, nil
}

// parseTarget accepts absolute http(s) URLs without user information or fragment.
func parseTarget(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, refuse("not a URL: %v", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, refuse("the scheme must be http or https")
	case u.Host == "" || u.Hostname() == "":
		return nil, refuse("the URL has no host")
	case u.User != nil:
		return nil, refuse("the URL must not carry user information")
	case u.Fragment != "":
		return nil, refuse("the URL must not have a fragment")
	case strings.Contains(u.Hostname(), "%"):
		return nil, refuse("IPv6 zones are not allowed")
	}
	return u, nil
}

func (a *AllowList) nameAllowed(u *url.URL) bool {
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	for _, h := range a.hosts {
		if h == host || (strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:])) {
			return true
		}
	}
	for _, p := range a.prefixes {
		if p.matches(u) {
			return true
		}
	}
	return false
}

func (a *AllowList) addrAllowed(addr netip.Addr, named bool) bool {
	for _, n := range a.nets {
		if n.Contains(addr) {
			return true
		}
	}
	return named && IsPublic(addr)
}

// specialRanges are the special-purpose address ranges (RFC 6890 and successors) that are not
// public destinations, beyond what netip.Addr's predicates cover.
var specialRanges = mustPrefixes(
	"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "198.18.0.0/15",
	"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
	"64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20", "5f00::/16",
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// IsPublic reports whether addr is a public unicast address: not loopback, private,
// link-local, multicast, unspecified, shared (CGNAT), documentation, benchmarking, translation
// or another special-purpose range. Only public addresses are reached through host-name and
// URL-prefix entries of an AllowList.
func IsPublic(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsGlobalUnicast() || addr.IsPrivate() || addr.IsLoopback() || addr.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range specialRanges {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}
