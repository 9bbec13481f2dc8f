package ccruntime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/xborder/xborder/network/devnet/internal/testcc"
	"github.com/xborder/xborder/network/devnet/ledger"
)

// pendingTxs counts the transactions registered on the chaincode's current stream.
func pendingTxs(rt *Runtime) int {
	c := rt.connection(ns)
	if c == nil {
		return 0
	}
	s := c.currentSession()
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.txs)
}

func TestConcurrentExecutes(t *testing.T) {
	rt, _ := newAttachedRuntime(t)
	st := newMemState()
	const n = 50
	for i := range n {
		st.put(ns, fmt.Sprintf("c%02d", i), strconv.Itoa(i*10), ledger.Height{BlockNum: 1, TxNum: uint64(i)})
	}
	var wg sync.WaitGroup
	results := make([]*Result, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			inv := call{args: []string{"incr", fmt.Sprintf("c%02d", i)}}.invocation(t, st)
			results[i], errs[i] = rt.Execute(context.Background(), inv)
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i], "execute %d", i)
		require.EqualValues(t, 200, results[i].Response.GetStatus())
		require.Equal(t, strconv.Itoa(i*10+1), string(results[i].Response.GetPayload()), "each transaction sees only its own key")
		kv := nsRWSet(t, results[i], ns)
		require.Len(t, kv.GetReads(), 1)
		require.Equal(t, fmt.Sprintf("c%02d", i), kv.GetReads()[0].GetKey())
		require.Len(t, kv.GetWrites(), 1)
	}
	require.Zero(t, pendingTxs(rt))
}

func TestExecuteErrors(t *testing.T) {
	rt, _ := newAttachedRuntime(t)
	st := newMemState()

	t.Run("chaincode ERROR message", func(t *testing.T) {
		inv := call{args: []string{"get", "k"}}.invocation(t, st)
		inv.Signed = &peer.SignedProposal{ProposalBytes: []byte("not a proposal")}
		_, err := rt.Execute(t.Context(), inv)
		require.ErrorIs(t, err, ErrChaincodeFailed)
		var ce *ChaincodeError
		require.ErrorAs(t, err, &ce)
		require.Contains(t, ce.Message, "failed to create new ChaincodeStub")
		require.Contains(t, err.Error(), "transaction returned with failure: ")
	})
	t.Run("init is refused", func(t *testing.T) {
		inv := call{args: []string{"get", "k"}}.invocation(t, st)
		inv.Input.IsInit = true
		_, err := rt.Execute(t.Context(), inv)
		require.ErrorContains(t, err, "does not require initialization but called as init")
	})
	t.Run("not attached", func(t *testing.T) {
		inv := call{args: []string{"get", "k"}}.invocation(t, st)
		inv.Chaincode = "other"
		_, err := rt.Execute(t.Context(), inv)
		require.ErrorIs(t, err, ErrChaincodeUnavailable)
	})
	invalid := []struct {
		name   string
		mutate func(*Invocation)
		msg    string
	}{
		{"no channel", func(i *Invocation) { i.ChannelID = "" }, "channel ID"},
		{"no tx ID", func(i *Invocation) { i.TxID = "" }, "transaction ID"},
		{"no chaincode", func(i *Invocation) { i.Chaincode = "" }, "chaincode name"},
		{"no input", func(i *Invocation) { i.Input = nil }, "input"},
		{"no state", func(i *Invocation) { i.State = nil }, "state"},
	}
	for _, tc := range invalid {
		t.Run("invalid invocation: "+tc.name, func(t *testing.T) {
			inv := call{args: []string{"get", "k"}}.invocation(t, st)
			tc.mutate(inv)
			_, err := rt.Execute(t.Context(), inv)
			require.ErrorContains(t, err, tc.msg)
		})
	}
	t.Run("duplicate transaction ID in flight", func(t *testing.T) {
		c := call{args: []string{"sleep", "1500"}, txID: nextTxID()}
		done := make(chan error, 1)
		go func() {
			_, err := rt.Execute(context.Background(), c.invocation(t, st))
			done <- err
		}()
		waitFor(t, "the first transaction to be registered", func() bool { return pendingTxs(rt) == 1 })
		_, err := rt.Execute(t.Context(), call{args: []string{"get", "k"}, txID: c.txID}.invocation(t, st))
		require.ErrorContains(t, err, "exists")
		require.NoError(t, <-done)
	})
	t.Run("context cancelled while the chaincode runs", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := rt.Execute(ctx, call{args: []string{"sleep", "1000"}}.invocation(t, st))
			done <- err
		}()
		waitFor(t, "the transaction to be registered", func() bool { return pendingTxs(rt) == 1 })
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		require.Zero(t, pendingTxs(rt))
	})
}

func TestExecuteTimeout(t *testing.T) {
	rt, _ := newAttachedRuntime(t, WithTimeout(100*time.Millisecond))
	st := newMemState()
	_, err := rt.Execute(t.Context(), call{args: []string{"sleep", "1000"}}.invocation(t, st))
	require.ErrorIs(t, err, ErrTimeout)
	require.ErrorContains(t, err, "timeout expired while executing transaction")
	// The late COMPLETED of the timed-out transaction is dropped; the stream keeps working.
	res := executeOK(t, rt, st, call{args: []string{"put", "k", "v"}})
	require.NotNil(t, nsRWSet(t, res, ns))
}

func TestChaincodeRestart(t *testing.T) {
	srv, err := testcc.Start(context.Background(), "127.0.0.1:0")
	require.NoError(t, err)
	addr := srv.Addr()
	rt := NewRuntime(WithReconnectBackoff(10*time.Millisecond, 100*time.Millisecond))
	t.Cleanup(func() { require.NoError(t, rt.Close()) })
	require.NoError(t, rt.Attach(t.Context(), ns, addr, nil))
	st := newMemState()
	executeOK(t, rt, st, call{args: []string{"put", "k", "v"}})

	t.Run("a transaction in flight fails when the chaincode dies", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			_, err := rt.Execute(context.Background(), call{args: []string{"sleep", "5000"}}.invocation(t, st))
			done <- err
		}()
		waitFor(t, "the transaction to be registered", func() bool { return pendingTxs(rt) == 1 })
		srv.Stop()
		err := <-done
		require.ErrorIs(t, err, ErrChaincodeUnavailable)
	})
	t.Run("executes fail fast while the chaincode is down", func(t *testing.T) {
		waitFor(t, "the stream to be detected as broken", func() bool { return !rt.Ready(ns) })
		_, err := rt.Execute(t.Context(), call{args: []string{"get", "k"}}.invocation(t, st))
		require.ErrorIs(t, err, ErrChaincodeUnavailable)
		require.ErrorContains(t, err, "is not connected")
	})
	t.Run("the runtime reconnects to the restarted chaincode", func(t *testing.T) {
		var restarted *testcc.Server
		waitFor(t, "the address to be free again", func() bool {
			s, err := testcc.Start(context.Background(), addr)
			if err != nil {
				return false
			}
			restarted = s
			return true
		})
		t.Cleanup(restarted.Stop)
		waitFor(t, "the runtime to reconnect", func() bool { return rt.Ready(ns) })
		res := executeOK(t, rt, st, call{args: []string{"incr", "n"}})
		require.Equal(t, "1", string(res.Response.GetPayload()))
	})
}

func TestAttach(t *testing.T) {
	t.Run("wrong package ID is refused", func(t *testing.T) {
		srv := startServer(t)
		rt := NewRuntime(WithExpectedPackageID(ns, "other:123"))
		t.Cleanup(func() { require.NoError(t, rt.Close()) })
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		err := rt.Attach(ctx, ns, srv.Addr(), nil)
		require.ErrorIs(t, err, ErrChaincodeUnavailable)
		require.ErrorContains(t, err, "expected package ID")
		require.Empty(t, rt.Chaincodes(), "a failed attach leaves nothing attached")
	})
	t.Run("nothing listening", func(t *testing.T) {
		srv := startServer(t)
		addr := srv.Addr()
		srv.Stop()
		rt := NewRuntime()
		t.Cleanup(func() { require.NoError(t, rt.Close()) })
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		err := rt.Attach(ctx, ns, addr, nil)
		require.ErrorIs(t, err, ErrChaincodeUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("argument checks", func(t *testing.T) {
		rt := NewRuntime()
		t.Cleanup(func() { require.NoError(t, rt.Close()) })
		require.ErrorContains(t, rt.Attach(t.Context(), "", "127.0.0.1:1", nil), "name")
		require.ErrorContains(t, rt.Attach(t.Context(), ns, "", nil), "address")
		require.ErrorContains(t, rt.Detach(ns), "not attached")
	})
	t.Run("two chaincodes on one runtime", func(t *testing.T) {
		rt, _ := newAttachedRuntime(t)
		other := startServer(t)
		require.NoError(t, rt.Attach(t.Context(), "second", other.Addr(), nil))
		require.Equal(t, []string{"second", ns}, rt.Chaincodes())
		st := newMemState()
		st.put("second", "k", "in second", ledger.Height{BlockNum: 1})
		st.put(ns, "k", "in testcc", ledger.Height{BlockNum: 1})
		for _, name := range []string{ns, "second"} {
			inv := call{args: []string{"get", "k"}}.invocation(t, st)
			inv.Chaincode = name
			resp, err := rt.Evaluate(t.Context(), inv)
			require.NoError(t, err)
			require.Equal(t, "in "+map[string]string{ns: "testcc", "second": "second"}[name], string(resp.GetPayload()))
		}
	})
	t.Run("detach and close", func(t *testing.T) {
		rt, srv := newAttachedRuntime(t)
		require.NoError(t, rt.Detach(ns))
		require.False(t, rt.Ready(ns))
		_, err := rt.Execute(t.Context(), call{args: []string{"get", "k"}}.invocation(t, newMemState()))
		require.ErrorIs(t, err, ErrChaincodeUnavailable)
		require.NoError(t, rt.Attach(t.Context(), ns, srv.Addr(), nil))
		require.NoError(t, rt.Close())
		_, err = rt.Execute(t.Context(), call{args: []string{"get", "k"}}.invocation(t, newMemState()))
		require.ErrorIs(t, err, ErrClosed)
		require.ErrorIs(t, rt.Attach(t.Context(), ns, srv.Addr(), nil), ErrClosed)
		require.False(t, errors.Is(err, ErrChaincodeUnavailable))
	})
}

func BenchmarkExecutePut(b *testing.B) {
	rt, _ := newAttachedRuntime(b)
	st := newMemState()
	invs := make([]*Invocation, b.N)
	for i := range invs {
		invs[i] = call{args: []string{"put", "key" + strconv.Itoa(i%1000), "value"}}.invocation(b, st)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		res, err := rt.Execute(context.Background(), invs[i])
		if err != nil || res.Response.GetStatus() != 200 {
			b.Fatalf("execute: %v %v", err, res)
		}
	}
}

func BenchmarkExecutePutParallel(b *testing.B) {
	rt, _ := newAttachedRuntime(b)
	st := newMemState()
	b.ReportAllocs()
	b.ResetTimer()
	template := call{args: []string{"put", "key", "value"}}.invocation(b, st)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			inv := *template
			inv.TxID = nextTxID() // the shim multiplexes by the message's transaction ID
			res, err := rt.Execute(context.Background(), &inv)
			if err != nil || res.Response.GetStatus() != 200 {
				b.Fatalf("execute: %v %v", err, res)
			}
		}
	})
}

// lateReader is a chaincode that reads state only after the peer gave up on the transaction.
type lateReader struct {
	delay time.Duration
	errs  chan error
}

func (lateReader) Init(shim.ChaincodeStubInterface) *peer.Response { return shim.Success(nil) }

func (l lateReader) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	time.Sleep(l.delay)
	_, err := stub.GetState("k")
	l.errs <- err
	return shim.Success(nil)
}

func TestLateRequestAfterTimeout(t *testing.T) {
	cc := lateReader{delay: 300 * time.Millisecond, errs: make(chan error, 1)}
	srv, err := testcc.StartChaincode(context.Background(), "127.0.0.1:0", "late:1", cc)
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	rt := NewRuntime(WithTimeout(50 * time.Millisecond))
	t.Cleanup(func() { require.NoError(t, rt.Close()) })
	require.NoError(t, rt.Attach(t.Context(), ns, srv.Addr(), nil))

	_, err = rt.Execute(t.Context(), call{args: []string{"x"}}.invocation(t, newMemState()))
	require.ErrorIs(t, err, ErrTimeout)
	// The chaincode's late request is answered (not left hanging) with Fabric's error.
	lateErr := <-cc.errs
	require.ErrorContains(t, lateErr, "GET_STATE failed: transaction ID: ")
	require.ErrorContains(t, lateErr, "no ledger context")
}

// rawChaincodeServer is a misbehaving chaincode server: it runs script on the stream.
type rawChaincodeServer struct {
	peer.UnimplementedChaincodeServer
	script func(stream grpc.BidiStreamingServer[peer.ChaincodeMessage, peer.ChaincodeMessage]) error
}

func (r *rawChaincodeServer) Connect(stream grpc.BidiStreamingServer[peer.ChaincodeMessage, peer.ChaincodeMessage]) error {
	return r.script(stream)
}

func startRawServer(t *testing.T, script func(grpc.BidiStreamingServer[peer.ChaincodeMessage, peer.ChaincodeMessage]) error) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gs := grpc.NewServer()
	peer.RegisterChaincodeServer(gs, &rawChaincodeServer{script: script})
	go func() {
		// Serve returns when the test stops the server.
		_ = gs.Serve(lis)
	}()
	t.Cleanup(gs.Stop)
	return lis.Addr().String()
}

func TestHandshakeFailures(t *testing.T) {
	register := func(name string) *peer.ChaincodeMessage {
		return &peer.ChaincodeMessage{Type: peer.ChaincodeMessage_REGISTER, Payload: mustMarshal(t, &peer.ChaincodeID{Name: name})}
	}
	tests := []struct {
		name   string
		script func(grpc.BidiStreamingServer[peer.ChaincodeMessage, peer.ChaincodeMessage]) error
		err    string
	}{
		{
			name: "no REGISTER within the handshake timeout",
			script: func(s grpc.BidiStreamingServer[peer.ChaincodeMessage, peer.ChaincodeMessage]) error {
				<-s.Context().Done()
				return nil
			},
			err: "handshake timed out",
		},
		{
			name: "empty chaincode name",
			script: func(s grpc.BidiStreamingServer[peer.ChaincodeMessage, peer.ChaincodeMessage]) error {
				if err := s.Send(register("")); err != nil {
					return err
				}
				<-s.Context().Done()
				return nil
			},
			err: "chaincodeID name is empty",
		},
		{
			name: "wrong first message",
			script: func(s grpc.BidiStreamingServer[peer.ChaincodeMessage, peer.ChaincodeMessage]) error {
				if err := s.Send(&peer.ChaincodeMessage{Type: peer.ChaincodeMessage_GET_STATE}); err != nil {
					return err
				}
				<-s.Context().Done()
				return nil
			},
			err: "cannot handle message (GET_STATE) while in created state",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := startRawServer(t, tc.script)
			rt := NewRuntime(WithHandshakeTimeout(100*time.Millisecond), WithReconnectBackoff(20*time.Millisecond, 50*time.Millisecond))
			t.Cleanup(func() { require.NoError(t, rt.Close()) })
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			err := rt.Attach(ctx, ns, addr, nil)
			require.ErrorIs(t, err, ErrChaincodeUnavailable)
			require.ErrorContains(t, err, tc.err)
		})
	}

	t.Run("a protocol violation after READY ends the stream", func(t *testing.T) {
		violated := make(chan struct{})
		addr := startRawServer(t, func(s grpc.BidiStreamingServer[peer.ChaincodeMessage, peer.ChaincodeMessage]) error {
			if err := s.Send(register("raw:1")); err != nil {
				return err
			}
			for range 2 { // REGISTERED, READY
				if _, err := s.Recv(); err != nil {
					return err
				}
			}
			select {
			case <-violated:
				<-s.Context().Done()
				return nil
			default:
				close(violated)
			}
			if err := s.Send(register("raw:1")); err != nil {
				return err
			}
			_, err := s.Recv() // the runtime closes the stream
			return err
		})
		rt := NewRuntime(WithReconnectBackoff(10*time.Millisecond, 20*time.Millisecond))
		t.Cleanup(func() { require.NoError(t, rt.Close()) })
		require.NoError(t, rt.Attach(t.Context(), ns, addr, nil))
		<-violated
		// The runtime drops the stream and registers again on a fresh one.
		waitFor(t, "the second registration", func() bool {
			c := rt.connection(ns)
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.sess != nil && c.registrations >= 2
		})
	})
}
