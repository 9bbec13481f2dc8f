package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseRoundSpec(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    RoundSpec
		wantErr string
	}{
		{"full", "workload=create,workers=16,rate=50,duration=20s,target=rest+sdk,label=x",
			RoundSpec{Workload: "create", Workers: 16, Rate: 50, Duration: 20 * time.Second, Targets: []string{"rest", "sdk"}, Label: "x"}, ""},
		{"defaults one worker", "w=read,count=100", RoundSpec{Workload: "read", Workers: 1, Count: 100}, ""},
		{"list sizes", "workload=list,count=10,ledger=100000,page=50",
			RoundSpec{Workload: "list", Workers: 1, Count: 10, LedgerSize: 100000, PageSize: 50}, ""},
		{"spaces and trailing comma", " workload=lifecycle , count=3 ,", RoundSpec{Workload: "lifecycle", Workers: 1, Count: 3}, ""},
		{"unknown workload", "workload=delete,count=1", RoundSpec{}, "unknown workload"},
		{"unknown key", "workload=create,count=1,speed=3", RoundSpec{}, "unknown key"},
		{"unknown target", "workload=create,count=1,target=grpc", RoundSpec{}, "unknown target"},
		{"no workload", "count=1", RoundSpec{}, "workload is required"},
		{"no end", "workload=create", RoundSpec{}, "count or duration"},
		{"bad count", "workload=create,count=-3", RoundSpec{}, "must be positive"},
		{"bad duration", "workload=create,duration=soon", RoundSpec{}, "duration"},
		{"negative rate", "workload=create,count=1,rate=-2", RoundSpec{}, "negative"},
		{"not key=value", "workload=create,count", RoundSpec{}, "not key=value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRoundSpec(tc.in)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestPresetsParse(t *testing.T) {
	for name, rounds := range Presets {
		t.Run(name, func(t *testing.T) {
			require.NotEmpty(t, rounds)
			for _, r := range rounds {
				_, err := ParseRoundSpec(r)
				require.NoError(t, err, r)
			}
		})
	}
}

func TestSizeText(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{200, "200"}, {1000, "1k"}, {1500, "1500"}, {100000, "100k"}, {2000000, "2M"}} {
		t.Run(tc.want, func(t *testing.T) {
			require.Equal(t, tc.want, sizeText(tc.n))
		})
	}
}

func TestNewWorkload(t *testing.T) {
	for _, name := range WorkloadNames {
		t.Run(name, func(t *testing.T) {
			w, err := NewWorkload(name, WorkloadOptions{Prefix: "t"})
			require.NoError(t, err)
			require.Equal(t, name, w.Name())
		})
	}
	_, err := NewWorkload("nope", WorkloadOptions{Prefix: "t"})
	require.ErrorContains(t, err, "unknown workload")
	_, err = NewWorkload("create", WorkloadOptions{})
	require.ErrorContains(t, err, "prefix")
	lc, err := NewWorkload("lifecycle", WorkloadOptions{Prefix: "t"})
	require.NoError(t, err)
	require.Equal(t, 11, lc.TxPerOp(), "create, pay, waybill, declare, clear, 5 checkpoints, confirm")
	require.Len(t, append(LifecycleSteps("o", "m"), ConfirmRequest("o")), lc.TxPerOp())
}
