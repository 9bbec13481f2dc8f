package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/devapp"
	"github.com/xborder/xborder/internal/testkit"
)

// TestSubscriptionsCommand manages subscriptions of a running dev system with
// `xborder subscriptions`, and receives their deliveries with `xborder subscriptions receive`.
func TestSubscriptionsCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts the whole dev system")
	}
	ctx := context.Background()
	data := t.TempDir()
	app, err := devapp.Start(ctx, devapp.Config{DataDir: data, HTTPAddr: "127.0.0.1:0"})
	require.NoError(t, err)
	defer func() { require.NoError(t, app.Close()) }()
	cli := func(t *testing.T, want int, args ...string) string {
		t.Helper()
		var out, errOut lockedBuffer
		args = append([]string{"subscriptions"}, args...)
		args = append(args, "--api", app.URL, "--org", "MerchantMSP", "--data", data)
		code := run(ctx, args, &out, &errOut)
		require.Equal(t, want, code, "xborder %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), out.String(), errOut.String())
		if want != 0 {
			return errOut.String()
		}
		return out.String()
	}

	// The development receiver.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	secret := "whsec_cli-test-secret-0123456789abcdefghijklm"
	rctx, stopReceiver := context.WithCancel(ctx)
	var received, receiverErr lockedBuffer
	receiverDone := make(chan int, 1)
	go func() {
		receiverDone <- run(rctx, []string{"subscriptions", "receive", "--listen", addr, "--secret", secret}, &received, &receiverErr)
	}()
	defer func() {
		stopReceiver()
		require.Equal(t, 0, <-receiverDone, receiverErr.String())
	}()
	require.Eventually(t, func() bool { return strings.Contains(received.String(), "receiving on") }, 10*time.Second, 10*time.Millisecond)

	out := cli(t, 0, "create", "--url", "http://"+addr+"/hooks", "--events", "OrderCreated,OrderCancelled", "--merchant", testkit.DefaultMerchant,
		"--secret", secret, "--description", "cli test")
	id := regexp.MustCompile(`(?m)^id: +(sub_[0-9a-f]{24})$`).FindStringSubmatch(out)
	require.NotNil(t, id, out)
	require.Contains(t, out, "signing secret (shown once")
	require.Contains(t, out, "filter:        merchant="+testkit.DefaultMerchant)

	c := testkit.NewClient(app.URL, app.Credentials)
	c.Must(t, http.StatusCreated, testkit.MerchantMSP, "POST", "/api/v1/orders", testkit.OrderBody("cli-1"))
	require.Eventually(t, func() bool { return strings.Contains(received.String(), "OrderCreated order=cli-1") }, 30*time.Second, 10*time.Millisecond,
		"the receiver printed: %s", received.String())

	list := cli(t, 0, "list")
	require.Regexp(t, id[1]+` +ACTIVE +[0-9]+ +[0-9]+-[0-9]+ +OrderCreated,OrderCancelled +http://`+regexp.QuoteMeta(addr)+`/hooks`, list)
	var deliveries string
	require.Eventually(t, func() bool {
		deliveries = cli(t, 0, "deliveries", id[1])
		return strings.Contains(deliveries, "SUCCEEDED")
	}, 30*time.Second, 10*time.Millisecond)
	require.Regexp(t, `OrderCreated +1 +SUCCEEDED +204`, deliveries)

	require.Contains(t, cli(t, 0, "pause", id[1]), "state:         PAUSED")
	require.Contains(t, cli(t, 0, "resume", id[1]), "state:         ACTIVE")
	rotated := cli(t, 0, "update", id[1], "--rotate-secret", "--order", "cli-1")
	require.Contains(t, rotated, "filter:        order=cli-1", "the filter flags replace the filter")
	require.Regexp(t, `whsec_[A-Za-z0-9_-]{43}`, rotated)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(cli(t, 0, "get", id[1], "--json")), &got))
	require.Equal(t, map[string]any{"orderId": "cli-1"}, got["filter"])
	require.NotContains(t, got, "secret")

	// The receiver still holds the old secret: the next delivery is refused and retried.
	c.Must(t, http.StatusOK, testkit.MerchantMSP, "POST", "/api/v1/orders/cli-1/cancellation", map[string]any{"reason": "test"})
	require.Eventually(t, func() bool { return strings.Contains(received.String(), "refused POST /hooks") }, 30*time.Second, 10*time.Millisecond)

	require.Contains(t, cli(t, 0, "delete", id[1]), "deleted "+id[1])
	require.Contains(t, cli(t, 1, "get", id[1]), "404 NOT_FOUND")
	require.Contains(t, cli(t, 1, "create", "--url", "http://10.0.0.1/hooks"), "400 INVALID_ARGUMENT: url: ")
	require.Contains(t, cli(t, 2, "pause"), "needs a subscription ID")
	require.Contains(t, cli(t, 2, "frobnicate"), "unknown command")
}
