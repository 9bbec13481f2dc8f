package shimtest

import (
	"fmt"
	"sort"
	"strconv"
)

// WriteSet returns a canonical, deterministic encoding of everything the
// transaction would write: public writes, private writes per collection,
// state metadata writes and the chaincode event. Two simulations that
// produce byte-identical write sets would be given identical read/write sets
// and events by endorsing peers, which is what Fabric needs for endorsements
// to match. The format is line oriented text, sorted by collection then key:
//
//	public
//	  put "key" "value"        (values and keys Go-quoted)
//	  del "key"
//	  meta "key" "metakey" "value"
//	private "collection"
//	  put / del / purge / meta lines as above
//	event "name" "payload"
func (s *Stub) WriteSet() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeSetLocked()
}

func (s *Stub) writeSetLocked() []byte {
	var b []byte
	colls := map[string]bool{}
	for c := range s.writes {
		colls[c] = true
	}
	for c := range s.metaWrites {
		colls[c] = true
	}
	names := make([]string, 0, len(colls))
	for c := range colls {
		if c != "" {
			names = append(names, c)
		}
	}
	sort.Strings(names)
	b = append(b, "public\n"...)
	b = appendCollection(b, s.writes[""], s.metaWrites[""])
	for _, c := range names {
		b = fmt.Appendf(b, "private %s\n", strconv.Quote(c))
		b = appendCollection(b, s.writes[c], s.metaWrites[c])
	}
	if s.event != nil {
		b = fmt.Appendf(b, "event %s %s\n", strconv.Quote(s.event.EventName), strconv.Quote(string(s.event.Payload)))
	}
	return b
}

func appendCollection(b []byte, writes map[string]*write, meta map[string]map[string][]byte) []byte {
	keys := make([]string, 0, len(writes))
	for k := range writes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w := writes[k]
		switch {
		case w.purge:
			b = fmt.Appendf(b, "  purge %s\n", strconv.Quote(k))
		case w.del:
			b = fmt.Appendf(b, "  del %s\n", strconv.Quote(k))
		default:
			b = fmt.Appendf(b, "  put %s %s\n", strconv.Quote(k), strconv.Quote(string(w.value)))
		}
	}
	mkeys := make([]string, 0, len(meta))
	for k := range meta {
		mkeys = append(mkeys, k)
	}
	sort.Strings(mkeys)
	for _, k := range mkeys {
		md := meta[k]
		names := make([]string, 0, len(md))
		for n := range md {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			b = fmt.Appendf(b, "  meta %s %s %s\n", strconv.Quote(k), strconv.Quote(n), strconv.Quote(string(md[n])))
		}
	}
	return b
}
