package httpapi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestETagOf(t *testing.T) {
	for _, tc := range []struct {
		name, result, want string
	}{
		{"an order", `{"orderId":"o-1","merchantId":"m","status":"PAID","version":7,"items":[{"version":1}]}`, `"7"`},
		{"version after a nested one", `{"buyer":{"version":3},"version":12}`, `"12"`},
		{"no version", `{"orderId":"o-1","status":"PAID"}`, ""},
		{"not a number", `{"version":"7"}`, ""},
		{"zero", `{"version":0}`, ""},
		{"negative", `{"version":-2}`, ""},
		{"fraction", `{"version":1.5}`, ""},
		{"not an object", `[1,2]`, ""},
		{"not JSON", `nope`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, etagOf([]byte(tc.result)))
		})
	}
}

func TestStrongVersion(t *testing.T) {
	for tag, want := range map[string]string{`"7"`: "7", `"12"`: "12", `"0"`: "", `"07"`: "", `7`: "", `"x"`: "", `""`: "", `"`: "", `W/"7"`: ""} {
		got, ok := strongVersion(tag)
		require.Equal(t, want, got, tag)
		require.Equal(t, want != "", ok, tag)
	}
}
