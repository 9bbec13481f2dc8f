package chaincode

import (
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/stretchr/testify/require"
)

// TestBuildCompositeKey checks buildCompositeKey against the shim's CreateCompositeKey: the same
// key for every part the shim accepts, and false (the stub then reports the shim's error) for
// every part it refuses.
func TestBuildCompositeKey(t *testing.T) {
	cases := []struct {
		name       string
		objectType string
		attrs      []string
	}{
		{"no attributes", "order", nil},
		{"attributes", "ord~m~b~s", []string{"merchant-1", "buyer-1", "CREATED", "o-1"}},
		{"empty parts", "", []string{"", "x", ""}},
		{"non-ASCII", "checkpoint", []string{"Zürich", "日本", "\U0010FFFE"}},
		{"U+0000 in attribute", "order", []string{"a\x00b"}},
		{"U+0000 in object type", "or\x00der", []string{"o-1"}},
		{"U+10FFFF", "order", []string{"o-1", "x\U0010FFFF"}},
		{"invalid UTF-8", "order", []string{"o-\xff"}},
		{"invalid UTF-8 object type", "\xc3", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := shim.CreateCompositeKey(tc.objectType, tc.attrs)
			got, ok := buildCompositeKey(tc.objectType, tc.attrs)
			require.Equal(t, err == nil, ok, "shim error %v", err)
			require.Equal(t, want, got)
		})
	}
}
