package devapp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"

	"github.com/xborder/xborder/gateway/fabric"
	"github.com/xborder/xborder/internal/devapp"
)

// BenchmarkThroughput measures submit (CreateOrder, waiting for the commit) and read (GetOrder)
// throughput and latency with 1, 16 and 64 concurrent clients, through the REST gateway and
// through the raw Fabric Gateway SDK on the same devnet, in the same run:
//
//	go test -run '^$' -bench Throughput -benchtime 200x ./gateway/devapp/
func BenchmarkThroughput(b *testing.B) {
	app, err := devapp.Start(context.Background(), devapp.Config{DataDir: b.TempDir(), HTTPAddr: "127.0.0.1:0", RateLimit: 1e6, Burst: 1e6})
	if err != nil {
		b.Fatal(err)
	}
	defer app.Close()

	peer, err := app.Network.Peer(merchant)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := app.Network.ClientConnection(merchant)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	cert, sign, err := fabric.LoadIdentity(peer.ClientCertPath, peer.ClientKeyPath)
	if err != nil {
		b.Fatal(err)
	}
	id, err := identity.NewX509Identity(merchant, cert)
	if err != nil {
		b.Fatal(err)
	}
	gw, err := client.Connect(id, client.WithSign(sign), client.WithHash(hash.SHA256), client.WithClientConnection(conn))
	if err != nil {
		b.Fatal(err)
	}
	defer gw.Close()
	contract := gw.GetNetwork(app.Network.Channel()).GetContract(devapp.ChaincodeName)

	// One keep-alive connection per client, as a real client pool would have.
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 128}}
	defer httpClient.CloseIdleConnections()
	var seq atomic.Int64
	run := uniqueRun()
	newID := func(prefix string) string { return fmt.Sprintf("%s-%s-%d", prefix, run, seq.Add(1)) }
	restCall := func(method, path string, body []byte, want int) error {
		req, err := http.NewRequest(method, app.URL+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+app.Credentials[merchant])
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := httpClient.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, out)
		}
		return nil
	}
	sdkCreate := func(orderID string) error {
		body := orderBody(orderID)
		buyer := body["buyer"].(map[string]any)
		priv, _ := json.Marshal(map[string]string{"name": buyer["name"].(string), "address": buyer["address"].(string),
			"phone": buyer["phone"].(string), "salt": randomHex()})
		delete(buyer, "name")
		delete(buyer, "address")
		delete(buyer, "phone")
		arg, _ := json.Marshal(body)
		_, err := contract.Submit("CreateOrder", client.WithBytesArguments(arg),
			client.WithTransient(map[string][]byte{"order_private": priv}))
		return err
	}
	readID := newID("bench-read")
	if err := sdkCreate(readID); err != nil {
		b.Fatal(err)
	}

	ops := []struct {
		name string
		do   func() error
	}{
		{"rest/submit", func() error {
			body, _ := json.Marshal(orderBody(newID("bench-rest")))
			return restCall("POST", "/api/v1/orders", body, http.StatusCreated)
		}},
		{"sdk/submit", func() error { return sdkCreate(newID("bench-sdk")) }},
		{"rest/read", func() error { return restCall("GET", "/api/v1/orders/"+readID, nil, http.StatusOK) }},
		{"sdk/read", func() error {
			_, err := contract.EvaluateTransaction("GetOrder", readID)
			return err
		}},
	}
	for _, op := range ops {
		for _, clients := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("%s/clients=%d", op.name, clients), func(b *testing.B) {
				measure(b, clients, op.do)
			})
		}
	}
}

// measure runs b.N calls of do over the given number of concurrent clients and reports
// throughput and latency percentiles.
func measure(b *testing.B, clients int, do func() error) {
	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
		firstErr  error
		wg        sync.WaitGroup
	)
	b.ResetTimer()
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := do(); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

func randomHex() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func uniqueRun() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
