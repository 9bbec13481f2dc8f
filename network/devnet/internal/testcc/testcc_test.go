package testcc_test

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/network/devnet/internal/testcc"
	"github.com/xborder/xborder/network/devnet/policy"
)

// The chaincode's functions are exercised over the real chaincode protocol by the ccruntime
// tests; these tests cover the server lifecycle and the collections configuration.

func TestCollectionsConfig(t *testing.T) {
	colls, err := policy.ParseCollections(testcc.CollectionsConfig)
	require.NoError(t, err)
	require.Len(t, colls, 2)
	tests := []struct {
		name            string
		members         []string
		memberOnlyRead  bool
		memberOnlyWrite bool
	}{
		{"privA", []string{"MerchantMSP", "BankMSP"}, true, true},
		{"privB", []string{"CarrierMSP", "CustomsMSP"}, false, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := colls[i]
			require.Equal(t, tc.name, c.Name)
			require.Equal(t, tc.members, c.Members)
			require.Equal(t, tc.memberOnlyRead, c.MemberOnlyRead)
			require.Equal(t, tc.memberOnlyWrite, c.MemberOnlyWrite)
		})
	}
}

func TestServerLifecycle(t *testing.T) {
	t.Run("bound address is reported and stop is idempotent", func(t *testing.T) {
		srv, err := testcc.Start(context.Background(), "127.0.0.1:0")
		require.NoError(t, err)
		host, port, err := net.SplitHostPort(srv.Addr())
		require.NoError(t, err)
		require.Equal(t, "127.0.0.1", host)
		require.NotEqual(t, "0", port)
		srv.Stop()
		srv.Stop()
		require.NoError(t, srv.Err())
		// The port is free again once Stop returns.
		again, err := testcc.Start(context.Background(), srv.Addr())
		require.NoError(t, err)
		again.Stop()
	})
	t.Run("the context stops the server", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		srv, err := testcc.Start(ctx, "127.0.0.1:0")
		require.NoError(t, err)
		cancel()
		srv.Stop() // waits for the shutdown the context triggered
		require.NoError(t, srv.Err())
	})
	t.Run("Serve on a fixed address", func(t *testing.T) {
		probe, err := testcc.Start(context.Background(), "127.0.0.1:0")
		require.NoError(t, err)
		addr := probe.Addr()
		probe.Stop()
		stop, err := testcc.Serve(context.Background(), addr)
		require.NoError(t, err)
		stop()
	})
	t.Run("invalid address", func(t *testing.T) {
		_, err := testcc.Start(context.Background(), "")
		require.Error(t, err)
		_, err = testcc.Start(context.Background(), "not-an-address")
		require.Error(t, err)
	})
}
