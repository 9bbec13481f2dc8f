package testkit

import (
	"bytes"
	"encoding/base64"
)

// ContainsSecret reports whether raw (for example the bytes of a database file) holds s in
// clear: as is, or base64-encoded at any alignment (encoding/json writes []byte values, such
// as a serialised proposal carrying s, in base64).
func ContainsSecret(raw []byte, s string) bool {
	if bytes.Contains(raw, []byte(s)) {
		return true
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for _, pattern := range base64Patterns(enc, []byte(s)) {
			if bytes.Contains(raw, pattern) {
				return true
			}
		}
	}
	return false
}

// base64Patterns are the runs of base64 characters that s yields wherever it starts in a longer
// encoded value: one per alignment (offset mod 3), without the characters that also depend on
// the neighbouring bytes.
func base64Patterns(enc *base64.Encoding, s []byte) [][]byte {
	var out [][]byte
	for shift := range 3 {
		src := append(make([]byte, shift), s...)
		full := enc.EncodeToString(src)
		start := 0
		if shift > 0 {
			start = 4 // the first group mixes in the unknown preceding bytes
		}
		end := len(full) - 4 // the last group may mix in the unknown following bytes
		if end-start >= 8 {
			out = append(out, []byte(full[start:end]))
		}
	}
	return out
}
