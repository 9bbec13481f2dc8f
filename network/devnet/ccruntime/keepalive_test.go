package ccruntime

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/xborder/xborder/network/devnet/internal/testcc"
)

// TestKeepaliveIdle leaves an attached chaincode connection idle for three keepalive
// intervals. Against a server whose enforcement policy permits the runtime's pings, the stream
// survives: no GoAway, no reconnection. The control case pings more often than its server
// permits and is sent away ("too_many_pings") and reconnects, which shows the test can fail.
// gRPC clients ping at most every 10 s, so the test idles for about 35 s; -short skips it.
func TestKeepaliveIdle(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: idles for about 35 s")
	}
	const interval = 10 * time.Second
	tests := []struct {
		name          string
		serverMinTime time.Duration
		wantReconnect bool
	}{
		{"pings the server permits", interval, false},
		{"control: pings more often than the server permits", time.Minute, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := serveWithEnforcement(t, tc.serverMinTime)
			rt := NewRuntime(WithKeepalive(interval, 5*time.Second), WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond))
			t.Cleanup(func() { require.NoError(t, rt.Close()) })
			require.NoError(t, rt.Attach(t.Context(), ns, addr, nil))

			// Three pings of an idle stream: each one too early would be a strike, and the
			// third strike makes the server send GoAway.
			time.Sleep(3*interval + 5*time.Second)

			if tc.wantReconnect {
				waitFor(t, "a reconnection after GoAway", func() bool { return registrations(rt) >= 2 })
			} else {
				require.Equal(t, 1, registrations(rt), "the idle stream was ended and registered again")
			}
			executeOK(t, rt, newMemState(), call{args: []string{"put", "after-idle", "v"}})
		})
	}
}

// registrations returns how many times the chaincode registered on the runtime's connection.
func registrations(rt *Runtime) int {
	c := rt.connection(ns)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.registrations
}

// serveWithEnforcement serves testcc as a CCaaS server whose keepalive enforcement policy
// requires minTime between pings of an open stream.
func serveWithEnforcement(t *testing.T, minTime time.Duration) string {
	t.Helper()
	var lc net.ListenConfig
	lis, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gs := grpc.NewServer(grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: minTime}))
	peer.RegisterChaincodeServer(gs, &shim.ChaincodeServer{
		CCID: testcc.CCID, Address: lis.Addr().String(), CC: testcc.New(), TLSProps: shim.TLSProperties{Disabled: true},
	})
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	return lis.Addr().String()
}
