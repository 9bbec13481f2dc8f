package gcpercent

import (
	"os"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestApply(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	tests := []struct {
		name    string
		gogc    string // "" leaves GOGC unset
		applied bool
		want    int
	}{
		{"unset: the default", "", true, Default},
		{"set: the operator's value stays", "150", false, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			t.Setenv("GOGC", tc.gogc) // restored after the subtest
			if tc.gogc == "" {
				require.NoError(t, os.Unsetenv("GOGC"))
			}
			require.Equal(t, tc.applied, Apply())
			require.Equal(t, tc.want, debug.SetGCPercent(100))
		})
	}
}
