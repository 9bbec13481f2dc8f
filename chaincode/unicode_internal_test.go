package chaincode

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTextCleanAgrees checks that textClean, the allocation-free walk checkStrings runs first,
// refuses exactly the values checkValue refuses, so that checkStrings reports the same errors.
func TestTextCleanAgrees(t *testing.T) {
	type inner struct {
		Name string            `json:"name"`
		Tags map[string]string `json:"tags,omitempty"`
	}
	type outer struct {
		ID       string         `json:"id"`
		Items    []inner        `json:"items"`
		Counts   map[int]string `json:"counts"`
		Any      any            `json:"any"`
		Ptr      *inner         `json:"ptr"`
		Skipped  string         `json:"-"`
		Untagged string
		hidden   string
	}
	const bad = "Wid\xffget"
	cases := []struct {
		name string
		v    outer
		want string // the start of the field checkValue names, "" when clean
	}{
		{"clean", outer{ID: "o-1", Items: []inner{{Name: "a", Tags: map[string]string{"k": "v"}}}, Counts: map[int]string{1: "x"}, Any: "y", Ptr: &inner{Name: "p"}}, ""},
		{"skipped and unexported fields", outer{Skipped: bad, hidden: bad}, ""},
		{"top-level field", outer{ID: bad}, "id"},
		{"element", outer{Items: []inner{{Name: "a"}, {Name: "b\uFFFD"}}}, "items[1].name"},
		{"map key", outer{Items: []inner{{Tags: map[string]string{bad: "v"}}}}, "items[0].tags." + bad},
		{"map value", outer{Items: []inner{{Tags: map[string]string{"k": bad}}}}, "items[0].tags.k"},
		{"non-string key", outer{Counts: map[int]string{7: bad}}, "counts."},
		{"interface", outer{Any: []any{"ok", bad}}, "any[1]"},
		{"pointer", outer{Ptr: &inner{Name: bad}}, "ptr.name"},
		{"untagged", outer{Untagged: bad}, "Untagged"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkValue("", reflect.ValueOf(tc.v))
			require.Equal(t, tc.want == "", textClean(reflect.ValueOf(tc.v)))
			require.Equal(t, tc.want == "", err == nil, "%v", err)
			if tc.want != "" {
				require.ErrorContains(t, err, "INVALID_ARGUMENT: "+tc.want)
			}
			require.Equal(t, err, checkStrings("", tc.v))
		})
	}
}
