package reliability_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/xborder/xborder/gateway/config"
	"github.com/xborder/xborder/gateway/fabric"
	"github.com/xborder/xborder/gateway/service"
	"github.com/xborder/xborder/internal/devapp"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/network/devnet"
)

// faultEnv is the dev system assembled from its parts so that each can fail on its own: the
// devnet in this process, the chaincode as an `xborder-chaincode` CCaaS subprocess, and the
// REST gateway (Fabric client, store, HTTP server) started and stopped independently.
type faultEnv struct {
	t       *testing.T
	dataDir string
	logs    *testkit.SyncBuffer

	ccBin  string
	ccAddr string
	cc     *exec.Cmd
	ccDone chan struct{}

	net *devnet.Network

	// The gateway.
	url     string
	creds   map[string]string
	conns   []*grpc.ClientConn
	gateway *service.Gateway
}

func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	e := &faultEnv{t: t, dataDir: t.TempDir(), logs: &testkit.SyncBuffer{}, ccBin: buildBinary(t, "cmd/xborder-chaincode"), ccAddr: freeAddr(t)}
	e.startChaincode()
	var err error
	e.net, err = devnet.Start(context.Background(), devnet.Config{
		DataDir:    filepath.Join(e.dataDir, "devnet"),
		Chaincodes: []devnet.ChaincodeDefinition{devapp.Chaincode(e.ccAddr)},
	}, devnet.WithLogger(captureLogger(e.logs).With("component", "devnet")), devnet.WithEndorsementTimeout(10*time.Second))
	require.NoError(t, err)
	t.Cleanup(func() {
		e.stopGateway()
		require.NoError(t, e.net.Close())
		e.killChaincode()
	})
	e.startGateway()
	return e
}

// startChaincode runs the chaincode server on its fixed address and waits until it listens.
func (e *faultEnv) startChaincode() {
	e.t.Helper()
	cmd := exec.Command(e.ccBin) // #nosec G204 -- our own binary
	cmd.Env = append(os.Environ(),
		"CHAINCODE_SERVER_ADDRESS="+e.ccAddr, "CORE_CHAINCODE_ID_NAME="+devapp.ChaincodeName+":dev", "CHAINCODE_TLS_DISABLED=true")
	cmd.Stdout, cmd.Stderr = e.logs, e.logs
	require.NoError(e.t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	e.cc, e.ccDone = cmd, done
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", e.ccAddr, time.Second)
		if err == nil {
			_ = conn.Close()
			return
		}
		select {
		case <-done:
			e.t.Fatalf("xborder-chaincode exited at start:\n%s", tail(e.logs.String(), 3000))
		default:
		}
		require.True(e.t, time.Now().Before(deadline), "chaincode server not listening: %v", err)
		time.Sleep(50 * time.Millisecond)
	}
}

// killChaincode sends SIGKILL to the chaincode process (by its PID) and waits for it.
func (e *faultEnv) killChaincode() {
	if e.cc == nil {
		return
	}
	select {
	case <-e.ccDone:
	default:
		if err := e.cc.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			e.t.Errorf("kill chaincode %d: %v", e.cc.Process.Pid, err)
		}
		<-e.ccDone
	}
	e.cc = nil
}

// startGateway starts the REST gateway on a new port, as devapp assembles it but with shorter
// Fabric timeouts.
func (e *faultEnv) startGateway() {
	t := e.t
	t.Helper()
	log := captureLogger(e.logs)
	var orgs []fabric.Org
	var mspIDs []string
	for _, p := range e.net.Peers() {
		conn, err := e.net.ClientConnection(p.MSPID)
		require.NoError(t, err)
		e.conns = append(e.conns, conn)
		cert, sign, err := fabric.LoadIdentity(p.ClientCertPath, p.ClientKeyPath)
		require.NoError(t, err)
		orgs = append(orgs, fabric.Org{MSPID: p.MSPID, Certificate: cert, Sign: sign, Conn: conn})
		mspIDs = append(mspIDs, p.MSPID)
	}
	slices.Sort(mspIDs)
	var err error
	e.creds, err = config.LoadOrCreateCredentials(filepath.Join(e.dataDir, devapp.CredentialsFile), mspIDs, rand.Reader)
	require.NoError(t, err)
	e.gateway, err = service.Start(context.Background(), service.Options{
		Channel: e.net.Channel(), Chaincode: devapp.ChaincodeName, Orgs: orgs,
		Timeouts:   fabric.Timeouts{Evaluate: 5 * time.Second, Endorse: 15 * time.Second, Submit: 10 * time.Second, Commit: 30 * time.Second},
		MaxRetries: 3, DataDir: e.dataDir, Keys: devapp.APIKeys(e.creds, mspIDs),
		RateLimit: 10000, Burst: 10000, MaxBodyBytes: 1 << 20,
		Listen: "127.0.0.1:0", FeedOrg: customs, Logger: log,
	})
	require.NoError(t, err)
	e.url = e.gateway.URL()
}

// stopGateway shuts the gateway down gracefully (requests in flight finish).
func (e *faultEnv) stopGateway() {
	if e.gateway == nil {
		return
	}
	require.NoError(e.t, e.gateway.Close())
	for _, c := range e.conns {
		require.NoError(e.t, c.Close())
	}
	e.conns = nil
	e.gateway = nil
}

// continuousLoad keeps crashLoad clients writing until stopped, starting over after failures.
func continuousLoad(l *crashLoad, clients int, tag string, stop *atomic.Bool) *sync.WaitGroup {
	var wg sync.WaitGroup
	for g := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; !stop.Load(); k++ {
				l.runTagged(fmt.Sprintf("%s-%d-%d", tag, g, k), stop)
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	return &wg
}

// TestChaincodeKilledMidLoad kills the chaincode process with SIGKILL while clients write. The
// gateway keeps serving and answers 5xx problem+json (UNAVAILABLE, ENDORSEMENT_FAILED or
// TIMEOUT) meanwhile; once the chaincode is back on its address the same gateway recovers
// without a restart, writes refused during the outage succeed when retried with their
// Idempotency-Key, and every acknowledged write is on the ledger.
func TestChaincodeKilledMidLoad(t *testing.T) {
	skipShort(t)
	e := newFaultEnv(t)
	c := newRESTClient(e.url, e.creds)
	load := &crashLoad{c: c, acked: map[string]ack{}}
	var stop atomic.Bool
	wg := continuousLoad(load, 3, "ccfault", &stop)
	t.Cleanup(func() { stop.Store(true); wg.Wait() })

	waitAcked := func(n int) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			load.mu.Lock()
			got := len(load.acked)
			load.mu.Unlock()
			if got >= n {
				return
			}
			require.True(t, time.Now().Before(deadline), "load made no progress: %d of %d writes acknowledged", got, n)
			time.Sleep(20 * time.Millisecond)
		}
	}
	start := time.Now()
	waitAcked(10)
	e.killChaincode()
	t.Logf("chaincode killed after %s", time.Since(start).Round(time.Millisecond))

	// Meanwhile: reads and writes get a 5xx problem, never a hang or a 2xx.
	probe := newOrderSpec("ccfault-probe", "crash-m", 1, 100, 0)
	for _, req := range []struct {
		org, method, path string
		body              any
	}{
		{customs, "GET", "/api/v1/orders/ccfault-probe", nil},
		{merchant, "POST", "/api/v1/orders", probe.CreateBody()},
	} {
		r, err := c.Do(context.Background(), req.org, req.method, req.path, req.body)
		require.NoError(t, err)
		require.Contains(t, []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}, r.Status, "%s %s while the chaincode is down: %s", req.method, req.path, r)
		p, err := r.Object()
		require.NoError(t, err)
		require.Contains(t, []any{"UNAVAILABLE", "ENDORSEMENT_FAILED", "TIMEOUT"}, p["code"], "answer: %s", r)
		require.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	}

	load.mu.Lock()
	before := len(load.acked)
	load.mu.Unlock()
	e.startChaincode()
	t.Logf("chaincode restarted after %s", time.Since(start).Round(time.Millisecond))
	// The same gateway recovers: reads answer again and the load makes progress.
	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := c.Do(context.Background(), customs, "GET", "/api/v1/orders/ccfault-probe", nil)
		require.NoError(t, err)
		if r.Status == http.StatusNotFound {
			break
		}
		require.True(t, time.Now().Before(deadline), "the gateway did not recover after the chaincode restart: %s", r)
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("gateway recovered after %s", time.Since(start).Round(time.Millisecond))
	waitAcked(before + 10)
	stop.Store(true)
	wg.Wait()
	require.Empty(t, load.failures)
	lost := load.retryPending(t)
	require.Zero(t, lost, "a write refused with 5xx must not have committed")
	load.verifyAcked(t)
	load.mu.Lock()
	defer load.mu.Unlock()
	require.NotEmpty(t, load.outage, "the load saw the outage")
	seen := map[string]int{}
	for _, r := range load.outage {
		p, err := r.Object()
		require.NoError(t, err)
		require.Contains(t, []any{"UNAVAILABLE", "ENDORSEMENT_FAILED", "TIMEOUT"}, p["code"], "answer during the outage: %s", r)
		seen[fmt.Sprintf("%d %v", r.Status, p["code"])]++
	}
	t.Logf("chaincode fault: %d acknowledged writes, %d refused during the outage and retried: %v", len(load.acked), len(load.outage), seen)
}

// TestGatewayRestartDuringLoad restarts the REST gateway (not the devnet) while clients write
// with Idempotency-Keys: writes cut off by the restart succeed when retried, and afterwards a
// replay of every acknowledged write returns the first answer (same status, body and txId,
// Idempotent-Replayed) without adding any transaction to the ledger.
func TestGatewayRestartDuringLoad(t *testing.T) {
	skipShort(t)
	e := newFaultEnv(t)
	c := newRESTClient(e.url, e.creds)
	load := &crashLoad{c: c, acked: map[string]ack{}, answers: map[string]reply{}}
	rounds := max(2, crashRoundCount()-1)
	for round := range rounds {
		var stop atomic.Bool
		wg := continuousLoad(load, 3, fmt.Sprintf("gwrestart%d", round), &stop)
		time.Sleep(time.Duration(400+200*round) * time.Millisecond)
		e.stopGateway()
		stop.Store(true)
		wg.Wait()
		e.startGateway()
		c.Retarget(e.url, e.creds)
		require.Empty(t, load.failures)
		require.Zero(t, load.retryPending(t), "a graceful gateway restart loses no answer")
	}
	load.verifyAcked(t)

	height := e.net.OrdererHeight()
	require.NotEmpty(t, load.sent)
	load.verifyReplays(t)
	// Commits are asynchronous to nothing here: every replay answered from the store, so no
	// block can have been cut for them.
	require.Equal(t, height, e.net.OrdererHeight(), "replays made transactions")
	t.Logf("gateway restart: %d rounds, %d writes replayed, ledger height %d", rounds, len(load.sent), height)
}
