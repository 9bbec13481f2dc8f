package devnet_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/gcpercent"
	"github.com/xborder/xborder/network/devnet"
	"github.com/xborder/xborder/network/devnet/internal/testcc"
)

// startBenchNet starts a TLS devnet with testcc for a benchmark.
func startBenchNet(b *testing.B, opts ...netOption) *testNet {
	b.Helper()
	cc, err := testcc.Start(context.Background(), "127.0.0.1:0")
	require.NoError(b, err)
	cfg := testConfig(b.TempDir(), append([]netOption{withPolicy(anyOrg)}, opts...)...)
	cfg.Chaincodes[0].Address = cc.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := devnet.Start(ctx, cfg)
	require.NoError(b, err)
	b.Cleanup(func() {
		_ = n.Close()
		cc.Stop()
	})
	return &testNet{net: n, cc: cc, dir: cfg.DataDir}
}

// benchContract connects an SDK gateway (own gRPC connection) for a benchmark client.
func benchContract(b *testing.B, n *devnet.Network, mspID string) *client.Contract {
	b.Helper()
	conn, err := n.ClientConnection(mspID)
	require.NoError(b, err)
	id, sign := clientIdentity(b, n, mspID)
	gw, err := client.Connect(id, client.WithSign(sign), client.WithClientConnection(conn))
	require.NoError(b, err)
	b.Cleanup(func() {
		_ = gw.Close()
		_ = conn.Close()
	})
	return gw.GetNetwork(n.Channel()).GetContract(testcc.Name)
}

// BenchmarkSubmit measures committed transactions per second and the latency of a full
// submit (endorse, submit, commit status) of a small write, with 1, 16 and 64 concurrent
// clients spread over the peers of Merchant, Bank, Carrier and Customs (the regulator's peer
// only commits). The "clients=N" runs use the test network's 5 ms batch timeout; the
// "cut=idle/clients=N" runs use Config.CutWhenIdle and DefaultIdleBatchTimeout, as xborder dev
// does.
func BenchmarkSubmit(b *testing.B) {
	modes := []struct {
		prefix string
		opts   []netOption
	}{
		{"", nil},
		{"cut=idle/", []netOption{func(c *devnet.Config) {
			c.CutWhenIdle, c.BatchTimeout = true, devnet.DefaultIdleBatchTimeout
		}}},
	}
	put := func(c *client.Contract, w int, i int64) error {
		_, err := c.Submit("put", client.WithArguments(fmt.Sprintf("key-%d-%d", w, i), "value"))
		return err
	}
	for _, mode := range modes {
		for _, clients := range []int{1, 16, 64} {
			benchSubmit(b, mode.prefix, clients, mode.opts, []string{merchant, bank, carrier, customs}, put)
		}
	}
}

// BenchmarkSubmitPrivate is BenchmarkSubmit for a private write: putPrivate to privA, whose
// members are MerchantMSP and BankMSP, the value in transient data, by clients of the two
// members. Each member peer commits the private value with the block.
func BenchmarkSubmitPrivate(b *testing.B) {
	putPrivate := func(c *client.Contract, w int, i int64) error {
		_, err := c.Submit("putPrivate", client.WithArguments("privA", fmt.Sprintf("key-%d-%d", w, i)),
			client.WithTransient(map[string][]byte{"value": []byte("private value")}))
		return err
	}
	for _, clients := range []int{16, 64} {
		benchSubmit(b, "", clients, nil, []string{merchant, bank}, putPrivate)
	}
}

// benchSubmit runs one BenchmarkSubmit round: clients spread over orgs, each submitting until
// b.N transactions are done.
func benchSubmit(b *testing.B, prefix string, clients int, opts []netOption, orgs []string, submit func(c *client.Contract, w int, i int64) error) {
	b.Run(fmt.Sprintf("%sclients=%d", prefix, clients), func(b *testing.B) {
		// The devnet runs in xborder dev and xborder devnet with their GC setting.
		gcpercent.Apply()
		tn := startBenchNet(b, opts...)
		contracts := make([]*client.Contract, clients)
		for i := range contracts {
			contracts[i] = benchContract(b, tn.net, orgs[i%len(orgs)])
		}
		var next atomic.Int64
		latencies := make([]time.Duration, b.N)
		var failed atomic.Int64
		startHeight := tn.net.OrdererHeight()
		b.ResetTimer()
		start := time.Now()
		var wg sync.WaitGroup
		for w := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(b.N) {
						return
					}
					t0 := time.Now()
					err := submit(contracts[w], w, i)
					latencies[i] = time.Since(t0)
					if err != nil {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		if f := failed.Load(); f > 0 {
			b.Fatalf("%d of %d transactions failed", f, b.N)
		}
		sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tx/s")
		b.ReportMetric(float64(b.N)/float64(tn.net.OrdererHeight()-startHeight), "tx/block")
		b.ReportMetric(float64(latencies[b.N/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latencies[(b.N*99)/100].Microseconds())/1000, "p99-ms")
	})
}

// BenchmarkEvaluate measures evaluations per second of a single-key read.
func BenchmarkEvaluate(b *testing.B) {
	tn := startBenchNet(b)
	setup := benchContract(b, tn.net, merchant)
	_, err := setup.SubmitTransaction("put", "bench", "value")
	require.NoError(b, err)
	contracts := make([]*client.Contract, 16)
	for i := range contracts {
		contracts[i] = benchContract(b, tn.net, []string{merchant, bank, carrier, customs}[i%4])
	}
	var idx atomic.Int64
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := contracts[int(idx.Add(1)-1)%len(contracts)]
		for pb.Next() {
			if _, err := c.EvaluateTransaction("get", "bench"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "eval/s")
}
