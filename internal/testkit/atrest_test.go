package testkit

import (
	"encoding/base64"
	"testing"
)

func TestContainsSecret(t *testing.T) {
	secret := "Ada Lovelace, 12 Crypt Lane"
	for _, tc := range []struct {
		name string
		raw  string
		want bool
	}{
		{"in clear", "xx" + secret + "yy", true},
		{"base64 at offset 0", base64.StdEncoding.EncodeToString([]byte(secret + "tail")), true},
		{"base64 at offset 1", base64.StdEncoding.EncodeToString([]byte("a" + secret + "tail")), true},
		{"base64 at offset 2", base64.StdEncoding.EncodeToString([]byte("ab" + secret + "tail")), true},
		{"base64url", base64.URLEncoding.EncodeToString([]byte("abc?>" + secret + "tail")), true},
		{"absent", base64.StdEncoding.EncodeToString([]byte("Grace Hopper, 1 Navy Yard, Arlington")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ContainsSecret([]byte(tc.raw), secret); got != tc.want {
				t.Fatalf("ContainsSecret = %v, want %v", got, tc.want)
			}
		})
	}
}
