package devnet_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/network/devnet/internal/testcc"
)

type emitted struct {
	txID  string
	block uint64
	name  string
}

// emitEvents submits n event transactions concurrently (so that blocks hold several) and
// returns them in ledger order.
func emitEvents(t *testing.T, c *client.Contract, prefix string, n int) []emitted {
	t.Helper()
	var mu sync.Mutex
	var out []emitted
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("%s-%02d", prefix, i)
			_, commit, err := c.SubmitAsync("event", client.WithArguments(name, "payload-"+name))
			if err != nil {
				t.Error(err)
				return
			}
			st, err := commit.Status()
			if err != nil || !st.Successful {
				t.Errorf("commit %s: %v %v", name, st, err)
				return
			}
			mu.Lock()
			out = append(out, emitted{txID: st.TransactionID, block: st.BlockNumber, name: name})
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Len(t, out, n)
	return out
}

func collect(t *testing.T, events <-chan *client.ChaincodeEvent, n int) []*client.ChaincodeEvent {
	t.Helper()
	var got []*client.ChaincodeEvent
	timeout := time.After(20 * time.Second)
	for len(got) < n {
		select {
		case e, ok := <-events:
			require.True(t, ok, "event stream closed after %d events", len(got))
			got = append(got, e)
		case <-timeout:
			t.Fatalf("timed out after %d of %d events", len(got), n)
		}
	}
	return got
}

func TestChaincodeEventsResume(t *testing.T) {
	tn := startNet(t)
	network := tn.gateway(customs).GetNetwork(tn.net.Channel())
	c := tn.contract(merchant)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live, err := network.ChaincodeEvents(ctx, testcc.Name)
	require.NoError(t, err)

	first := emitEvents(t, c, "a", 12)
	all := collect(t, live, 12)
	seen := map[string]bool{}
	for i, e := range all {
		require.False(t, seen[e.TransactionID], "event repeated")
		seen[e.TransactionID] = true
		require.Equal(t, testcc.Name, e.ChaincodeName)
		require.Equal(t, "payload-"+e.EventName, string(e.Payload))
		if i > 0 {
			require.GreaterOrEqual(t, e.BlockNumber, all[i-1].BlockNumber)
		}
	}
	for _, f := range first {
		require.True(t, seen[f.txID])
	}

	tests := []struct {
		name  string
		opts  func() []client.ChaincodeEventsOption
		after int // index into all of the last event that must not be replayed, -1 for none
	}{
		{"from start block", func() []client.ChaincodeEventsOption {
			return []client.ChaincodeEventsOption{client.WithStartBlock(all[0].BlockNumber)}
		}, -1},
		{"after transaction", func() []client.ChaincodeEventsOption {
			cp := new(client.InMemoryCheckpointer)
			cp.CheckpointChaincodeEvent(all[4])
			return []client.ChaincodeEventsOption{client.WithCheckpoint(cp)}
		}, 4},
		{"after last event of a block", func() []client.ChaincodeEventsOption {
			last := 0
			for i := range all {
				if all[i].BlockNumber == all[0].BlockNumber {
					last = i
				}
			}
			cp := new(client.InMemoryCheckpointer)
			cp.CheckpointChaincodeEvent(all[last])
			return []client.ChaincodeEventsOption{client.WithCheckpoint(cp)}
		}, -2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opts := tc.opts()
			events, err := network.ChaincodeEvents(ctx, testcc.Name, opts...)
			require.NoError(t, err)
			start := tc.after + 1
			if tc.after == -2 {
				for i := range all {
					if all[i].BlockNumber == all[0].BlockNumber {
						start = i + 1
					}
				}
			}
			want := all[start:]
			got := collect(t, events, len(want))
			for i := range want {
				require.Equal(t, want[i].TransactionID, got[i].TransactionID)
			}
			// Events committed later arrive on the same stream, none lost or repeated.
			more := emitEvents(t, c, "b-"+tc.name, 3)
			extra := collect(t, live, 3)
			later := collect(t, events, 3)
			ids := map[string]bool{}
			for i, e := range later {
				require.Equal(t, extra[i].TransactionID, e.TransactionID)
				ids[e.TransactionID] = true
			}
			for _, m := range more {
				require.True(t, ids[m.txID])
			}
			all = append(all, extra...)
		})
	}
}

func TestBlockEvents(t *testing.T) {
	tn := startNet(t)
	network := tn.gateway(bank).GetNetwork(tn.net.Channel())
	c := tn.contract(bank)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	blocks, err := network.BlockEvents(ctx, client.WithStartBlock(0))
	require.NoError(t, err)
	filtered, err := network.FilteredBlockEvents(ctx, client.WithStartBlock(0))
	require.NoError(t, err)

	_, commit, err := c.SubmitAsync("event", client.WithArguments("Shipped", "p"))
	require.NoError(t, err)
	st, err := commit.Status()
	require.NoError(t, err)
	_, err = c.SubmitTransaction("fail", "x")
	require.Error(t, err)

	next := func() *common.Block {
		select {
		case b := <-blocks:
			return b
		case <-time.After(20 * time.Second):
			t.Fatal("timed out waiting for a block")
			return nil
		}
	}
	genesis := next()
	require.Equal(t, uint64(0), genesis.GetHeader().GetNumber())
	env := &common.Envelope{}
	require.NoError(t, proto.Unmarshal(genesis.GetData().GetData()[0], env))
	for n := uint64(1); n <= st.BlockNumber; n++ {
		b := next()
		require.Equal(t, n, b.GetHeader().GetNumber())
	}

	for n := uint64(0); n <= st.BlockNumber; n++ {
		select {
		case fb := <-filtered:
			require.Equal(t, n, fb.GetNumber())
			require.Equal(t, tn.net.Channel(), fb.GetChannelId())
			if n == 0 {
				require.Equal(t, common.HeaderType_CONFIG, fb.GetFilteredTransactions()[0].GetType())
			}
			if n == st.BlockNumber {
				var found bool
				for _, ft := range fb.GetFilteredTransactions() {
					if ft.GetTxid() != st.TransactionID {
						continue
					}
					found = true
					require.Equal(t, peer.TxValidationCode_VALID, ft.GetTxValidationCode())
					ev := ft.GetTransactionActions().GetChaincodeActions()[0].GetChaincodeEvent()
					require.Equal(t, "Shipped", ev.GetEventName())
					require.Empty(t, ev.GetPayload(), "filtered events carry no payload")
				}
				require.True(t, found)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("timed out waiting for a filtered block")
		}
	}
}

func TestCloseEndsStreams(t *testing.T) {
	tn := startNet(t)
	network := tn.gateway(merchant).GetNetwork(tn.net.Channel())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := network.ChaincodeEvents(ctx, testcc.Name)
	require.NoError(t, err)
	blocks, err := network.BlockEvents(ctx)
	require.NoError(t, err)
	filtered, err := network.FilteredBlockEvents(ctx, client.WithStartBlock(0))
	require.NoError(t, err)
	<-filtered // the stream is being served

	require.NoError(t, tn.net.Close())
	waitClosed(t, "chaincode events", events)
	waitClosed(t, "blocks", blocks)
	waitClosed(t, "filtered blocks", filtered)
}

// waitClosed drains ch until it is closed, failing the test if that takes too long.
func waitClosed[T any](t *testing.T, name string, ch <-chan T) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("%s stream still open after Close", name)
		}
	}
}
