package devnet

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInflight checks which endorsed transactions the idle cut waits for: those not submitted
// yet, until their hold expires.
func TestInflight(t *testing.T) {
	tests := []struct {
		name string
		run  func(f *inflight)
		want bool
	}{
		{"nothing", func(*inflight) {}, false},
		{"endorsed, not submitted", func(f *inflight) { f.endorsedTx("tx1") }, true},
		{"endorsed and submitted", func(f *inflight) {
			f.endorsedTx("tx1")
			f.submitted("tx1")
		}, false},
		{"endorsed longer ago than the hold", func(f *inflight) {
			f.endorsedTx("tx1")
			f.endorsed["tx1"] = time.Now().Add(-time.Second)
		}, false},
		{"one of two submitted", func(f *inflight) {
			f.endorsedTx("tx1")
			f.endorsedTx("tx2")
			f.submitted("tx2")
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newInflight(100 * time.Millisecond)
			tc.run(f)
			require.Equal(t, tc.want, f.expecting())
		})
	}
	t.Run("endorsements never submitted do not pile up", func(t *testing.T) {
		f := newInflight(100 * time.Millisecond)
		for i := range inflightPrune {
			f.endorsedTx(fmt.Sprintf("old-%d", i))
			f.endorsed[fmt.Sprintf("old-%d", i)] = time.Now().Add(-time.Second)
		}
		f.endorsedTx("new")
		require.Len(t, f.endorsed, 1, "the expired ones are forgotten when the next is noted")
	})
	t.Run("no idle cut: nothing is noted", func(t *testing.T) {
		var f *inflight
		f.endorsedTx("tx1")
		f.submitted("tx1")
	})
}
