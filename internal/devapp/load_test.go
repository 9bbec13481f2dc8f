package devapp_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestConcurrentLifecycles has concurrent clients take their own orders through the whole
// lifecycle through REST, each step sent only after the previous one answered: no request may
// fail, and every order's money must add up exactly. The lagging case delays the commits of
// some peers, as on a real network whose peers receive blocks at different times: the step
// after a 2xx is then endorsed by a peer that has not yet committed the previous write unless
// the gateway waits for it.
func TestConcurrentLifecycles(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		delay map[string]time.Duration
	}{
		{name: "peers in step"},
		{name: "peers lagging", delay: map[string]time.Duration{
			"BankMSP":    250 * time.Millisecond,
			"CarrierMSP": 120 * time.Millisecond,
			"CustomsMSP": 60 * time.Millisecond,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := startEnv(t, "")
			for msp, d := range tc.delay {
				require.NoError(t, env.app.Network.SetCommitDelay(msp, d))
			}
			e := env.with(t)
			load := testkitLoad("dev-load", 8, 3*time.Second)
			res := e.client.RunLifecycles(context.Background(), load)
			t.Log(res)
			require.Zero(t, res.Failed, "failures: %v", res.Failures)
			require.NotEmpty(t, res.Completed)
			e.client.CheckSettled(t, load, res)
		})
	}
}
