package reliability_test

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/testkit"
)

const webhookSecret = "whsec_reliability-kill9-0123456789abcdefghijkl"

// TestWebhooksSurviveKill9 kills `xborder dev` with SIGKILL at random moments while it delivers
// webhooks under load, to one receiver that keeps up and one that fails every third attempt (so
// that kills also land in backoffs), several times. At the end each receiver has every event of
// the gateway's log, the first arrival of each in the log's order: nothing skipped, nothing
// reordered, repeats only of events delivered before a kill (at least once).
func TestWebhooksSurviveKill9(t *testing.T) {
	skipShort(t)
	bin := buildBinary(t, "cmd/xborder")
	dataDir := t.TempDir()
	out := &testkit.SyncBuffer{}
	rng := rand.New(rand.NewPCG(*relSeed, 0x400C5))
	rounds := crashRoundCount()

	steady := testkit.NewReceiver(webhookSecret)
	defer steady.Close()
	steady.Respond(func(testkit.Hook) int { time.Sleep(2 * time.Millisecond); return http.StatusNoContent })
	flaky := testkit.NewReceiver(webhookSecret)
	defer flaky.Close()
	var mu sync.Mutex
	calls := 0
	flaky.Respond(func(testkit.Hook) int {
		mu.Lock()
		defer mu.Unlock()
		if calls++; calls%3 == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})

	proc := startDev(t, bin, dataDir, out)
	c := newRESTClient(proc.url, proc.creds)
	for org, r := range map[string]*testkit.Receiver{merchant: steady, bank: flaky} {
		mustObject(t, c, http.StatusCreated, org, "POST", "/api/v1/subscriptions",
			map[string]any{"url": r.URL("/hooks"), "secret": webhookSecret, "after": "0-0"})
	}
	load := &crashLoad{c: c, acked: map[string]ack{}}
	for round := range rounds {
		var wg sync.WaitGroup
		for g := range 3 {
			wg.Add(1)
			go func() { defer wg.Done(); load.run(round, g) }()
		}
		time.Sleep(time.Duration(400+rng.IntN(1200)) * time.Millisecond)
		proc.kill(t)
		wg.Wait()
		require.Empty(t, load.failures)
		proc = startDev(t, bin, dataDir, out)
		c.Retarget(proc.url, proc.creds)
		load.retryPending(t)
		t.Logf("round %d: %d acknowledged writes; %d and %d deliveries accepted", round, len(load.acked), len(steady.IDs()), len(flaky.IDs()))
	}

	// The gateway's log, in order: one event for every valid transaction of the ledger.
	proc.kill(t)
	_, txs := inspectLedger(t, dataDir)
	proc = startDev(t, bin, dataDir, out)
	c.Retarget(proc.url, proc.creds)
	valid := map[string]bool{}
	for _, tx := range txs {
		if tx.Type == common.HeaderType_ENDORSER_TRANSACTION && tx.Code == peer.TxValidationCode_VALID {
			valid[tx.TxID] = true
		}
	}
	events := openEventStream(t, c, "0-0").waitFor(t, valid, 60*time.Second)
	var want []string
	for _, ev := range events {
		want = append(want, ev.ID)
	}
	require.Len(t, want, len(valid))

	for name, r := range map[string]*testkit.Receiver{"steady": steady, "flaky": flaky} {
		r.WaitForIDs(t, 2*time.Minute, want)
		got := r.IDs()
		require.Empty(t, testkit.InOrder(want, got), "%s receiver", name)
		require.Zero(t, r.Refused(), "%s receiver: every delivery was signed with the secret", name)
		t.Logf("%s receiver: %d events, %d deliveries accepted (%d repeats after kills)", name, len(want), len(got), len(got)-len(want))
	}
	requireNoSecrets(t, out.String(), []string{webhookSecret})
	proc.kill(t)
}
