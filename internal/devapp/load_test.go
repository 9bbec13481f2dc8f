package devapp_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestConcurrentLifecycles has concurrent clients take their own orders through the whole
// lifecycle through REST, each step sent only after the previous one answered: no request may
// fail, and every order's money must add up exactly.
func TestConcurrentLifecycles(t *testing.T) {
	t.Parallel()
	env := startEnv(t, "")
	e := env.with(t)
	load := testkitLoad("dev-load", 8, 3*time.Second)
	res := e.client.RunLifecycles(context.Background(), load)
	t.Log(res)
	require.Zero(t, res.Failed, "failures: %v", res.Failures)
	require.NotEmpty(t, res.Completed)
	e.client.CheckSettled(t, load, res)
}
