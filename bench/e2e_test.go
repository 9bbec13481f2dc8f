package bench

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestEmbeddedEndToEnd starts the real dev system (devnet, chaincode, REST gateway) and runs
// short count-based rounds of every workload through both drivers, then checks failure
// classification with a duplicate order on both targets.
func TestEmbeddedEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the dev system")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys, err := StartEmbedded(ctx, t.TempDir(), 8, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, sys.Close()) }()

	rep := &Report{Title: "e2e", Started: time.Now(), Machine: ReadMachine()}
	var log bytes.Buffer
	plan := Plan{
		Targets: map[string]Driver{"rest": sys.REST, "sdk": sys.SDK},
		Order:   []string{"rest", "sdk"},
		RunID:   "e2e",
		Seeder:  NewSeeder(sys.SDK, 16),
		Log:     &log,
	}
	for _, s := range []string{
		"workload=create,workers=4,count=12",
		"workload=create,workers=4,rate=200,count=8",
		"workload=lifecycle,workers=2,count=2",
		"workload=read,workers=4,count=20",
		"workload=list,workers=2,count=6,ledger=60,page=10",
		"workload=hot-merchant,workers=4,count=4,target=sdk",
	} {
		rs, err := ParseRoundSpec(s)
		require.NoError(t, err)
		plan.Rounds = append(plan.Rounds, rs)
	}
	require.NoError(t, RunPlan(ctx, plan, rep))

	labels := make([]string, 0, len(rep.Results))
	for _, r := range rep.Results {
		labels = append(labels, r.Label)
		require.Zero(t, r.Stats.Failed, "round %s failed: %v", r.Label, r.Stats.FailedBy)
		require.Equal(t, r.Count, r.Stats.Succeeded, r.Label)
		require.Positive(t, r.Stats.Throughput, r.Label)
		require.Positive(t, r.Stats.Latency.P50, r.Label)
		require.LessOrEqual(t, r.Stats.Latency.P50, r.Stats.Latency.P99, r.Label)
	}
	require.Equal(t, []string{
		"create-w4-rest", "create-w4-sdk", "create-w4-r200-sdk", "create-w4-r200-rest",
		"lifecycle-w2-rest", "lifecycle-w2-sdk", "read-w4-sdk", "read-w4-rest",
		"list-60-w2-rest", "list-60-w2-sdk", "hot-merchant-w4-sdk",
	}, labels)
	require.Equal(t, 60, plan.Seeder.Seeded())
	require.NotEmpty(t, rep.Comparisons)
	require.Contains(t, log.String(), "lifecycle-w2-sdk")
	lc := rep.Results[5]
	require.Equal(t, "lifecycle-w2-sdk", lc.Label)
	require.Equal(t, 11, lc.TxPerOp)
	require.InDelta(t, 11*lc.Stats.Throughput, lc.TxThroughput, 1e-9)

	// Growing the ledger creates only the new seed orders; re-seeding is a no-op.
	var seedOut bytes.Buffer
	plan.Seeder.Progress = &seedOut
	n, err := plan.Seeder.SeedTo(ctx, 70)
	require.NoError(t, err)
	require.Equal(t, 10, n)
	require.Contains(t, seedOut.String(), "\rseeding 70/70 orders\n")
	n, err = plan.Seeder.SeedTo(ctx, 50)
	require.NoError(t, err)
	require.Zero(t, n)
	// A fresh seeder over an existing ledger counts CONFLICT as seeded.
	n, err = NewSeeder(sys.REST, 4).SeedTo(ctx, 5)
	require.NoError(t, err)
	require.Zero(t, n)

	t.Run("REST writes carry Idempotency-Keys unless turned off", func(t *testing.T) {
		recorded := func() int {
			// Purging every record counts them; the rounds above are over.
			n, err := sys.App.Store.PurgeIdempotency(time.Now().Add(time.Hour))
			require.NoError(t, err)
			return n
		}
		require.Positive(t, recorded(), "the REST rounds' writes were recorded")
		plain, err := NewRESTDriver(sys.App.URL, sys.App.Credentials, 2, WithoutIdempotencyKeys())
		require.NoError(t, err)
		defer func() { require.NoError(t, plain.Close()) }()
		require.NoError(t, plain.Do(ctx, Request{Op: OpCreateOrder, OrderID: "e2e-plain", Body: OrderBody("e2e-plain", "m-plain")}))
		require.Zero(t, recorded())
		require.NoError(t, sys.REST.Do(ctx, Request{Op: OpCreateOrder, OrderID: "e2e-keyed", Body: OrderBody("e2e-keyed", "m-plain")}))
		require.Equal(t, 1, recorded())
		require.NotNil(t, sys.REST.Retries(), "the gateway's retry counters are readable")
	})
	for _, d := range []Driver{sys.REST, sys.SDK} {
		t.Run("failure reasons over "+d.Name(), func(t *testing.T) {
			dup := Request{Op: OpCreateOrder, OrderID: SeedOrderID(0), Body: OrderBody(SeedOrderID(0), SeedMerchant(0))}
			require.Equal(t, "CONFLICT", ReasonOf(d.Do(ctx, dup)))
			require.Equal(t, "NOT_FOUND", ReasonOf(d.Do(ctx, Request{Op: OpGetOrder, OrderID: "no-such-order"})))
			// Confirming delivery of an order that was never delivered breaks the lifecycle.
			require.Equal(t, "FAILED_PRECONDITION", ReasonOf(d.Do(ctx, ConfirmRequest(SeedOrderID(1)))))
		})
	}
}
