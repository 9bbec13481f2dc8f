package reliability_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/xborder/xborder/internal/devapp"
	"github.com/xborder/xborder/internal/testkit"
	"github.com/xborder/xborder/network/devnet/ledger"
)

// binDir holds the binaries built once for the subprocess tests (removed by TestMain).
var (
	binDir  string
	binOnce = map[string]*sync.Once{}
	binErr  = map[string]error{}
	binMu   sync.Mutex
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildBinary builds the command package (e.g. "cmd/xborder") once per test binary run and
// returns the executable's path.
func buildBinary(t *testing.T, pkg string) string {
	t.Helper()
	binMu.Lock()
	if binDir == "" {
		d, err := os.MkdirTemp("", "xborder-reliability-bin-")
		require.NoError(t, err)
		binDir = d
	}
	once, ok := binOnce[pkg]
	if !ok {
		once = &sync.Once{}
		binOnce[pkg] = once
	}
	binMu.Unlock()
	out := filepath.Join(binDir, filepath.Base(pkg))
	once.Do(func() {
		cmd := exec.Command("go", "build", "-o", out, "github.com/xborder/xborder/"+pkg) // #nosec G204 -- fixed package paths
		b, err := cmd.CombinedOutput()
		if err != nil {
			err = fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
		}
		binMu.Lock()
		binErr[pkg] = err
		binMu.Unlock()
	})
	binMu.Lock()
	err := binErr[pkg]
	binMu.Unlock()
	require.NoError(t, err)
	return out
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// bannerURL finds the base URL in the start banner of `xborder dev` ("API:  http://host:port/api/v1").
var bannerURL = regexp.MustCompile(`API:\s+(http://[^\s/]+)/api/v1`)

// devProc is a running `xborder dev` subprocess.
type devProc struct {
	cmd   *exec.Cmd
	url   string
	creds map[string]string
	done  chan struct{}
	err   error
}

// startDev starts `xborder dev` on dataDir, its logs (stderr) appended to out, and waits until
// /readyz answers 200. The process is killed at cleanup if still running.
func startDev(t *testing.T, bin, dataDir string, out *testkit.SyncBuffer) *devProc {
	t.Helper()
	// Port 0: the process binds a free port itself and prints it, so nothing else can take the
	// port between choosing and binding it.
	cmd := exec.Command(bin, "dev", "--data", dataDir, "--http", "127.0.0.1:0", "-v") // #nosec G204 -- our own binary
	banner := &testkit.SyncBuffer{}                                                   // the start banner prints the API keys on purpose; only logs are scanned
	cmd.Stdout, cmd.Stderr = banner, out
	require.NoError(t, cmd.Start())
	p := &devProc{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill(t) })

	deadline := time.Now().Add(90 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-p.done:
			t.Fatalf("xborder dev exited before it was ready: %v\n%s%s", p.err, banner.String(), tail(out.String(), 4000))
		default:
		}
		if p.url == "" {
			if m := bannerURL.FindStringSubmatch(banner.String()); m != nil {
				p.url = m[1]
			} else {
				require.True(t, time.Now().Before(deadline), "xborder dev printed no API URL after 90 s:\n%s", tail(out.String(), 4000))
				time.Sleep(100 * time.Millisecond)
				continue
			}
		}
		res, err := client.Get(p.url + "/readyz")
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "xborder dev not ready after 90 s:\n%s", tail(out.String(), 4000))
		time.Sleep(100 * time.Millisecond)
	}
	raw, err := os.ReadFile(filepath.Join(dataDir, devapp.CredentialsFile)) // #nosec G304 -- the test's data dir
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &p.creds))
	return p
}

// kill sends SIGKILL to the process (by its PID) and waits for it to exit.
func (p *devProc) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("kill %d: %v", p.cmd.Process.Pid, err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Errorf("process %d did not exit after SIGKILL", p.cmd.Process.Pid)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// ledgerTx is one transaction of a block.
type ledgerTx struct {
	TxID  string
	Block uint64
	Code  peer.TxValidationCode
	Type  common.HeaderType
}

// inspectLedger opens the ledgers of a stopped dev system's devnet: the ordering service's
// block store and every peer's ledger must verify (hash chains) after kill -9. It returns the
// ordering service's height and every transaction of the tallest peer's ledger, in block order
// (peers commit on their own, so at a kill they may be at different heights; every peer holds a
// prefix of the same chain).
func inspectLedger(t *testing.T, dataDir string) (height uint64, txs []ledgerTx) {
	t.Helper()
	store, err := ledger.OpenBlockStore(filepath.Join(dataDir, "devnet", "orderer"))
	require.NoError(t, err)
	defer func() { require.NoError(t, store.Close()) }()
	require.NoError(t, store.Verify(), "the ordering service's hash chain must verify after kill -9")
	dirs, err := filepath.Glob(filepath.Join(dataDir, "devnet", "peers", "*", "ledger"))
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	var tallest *ledger.Ledger
	for _, dir := range dirs {
		l, err := ledger.Open(dir, ledger.WithLockTimeout(10*time.Second))
		require.NoError(t, err)
		defer func() { require.NoError(t, l.Close()) }()
		require.NoError(t, l.VerifyChain(), "the block hash chain of %s must verify after kill -9", dir)
		require.LessOrEqual(t, l.Height(), store.Height(), "%s is ahead of the ordering service", dir)
		if tallest == nil || l.Height() > tallest.Height() {
			tallest = l
		}
	}
	for n := range tallest.Height() {
		b, err := tallest.Block(n)
		require.NoError(t, err)
		filter := b.GetMetadata().GetMetadata()[common.BlockMetadataIndex_TRANSACTIONS_FILTER]
		require.Len(t, filter, len(b.GetData().GetData()), "block %d: transactions filter", n)
		for i, raw := range b.GetData().GetData() {
			env := &common.Envelope{}
			require.NoError(t, proto.Unmarshal(raw, env))
			pl := &common.Payload{}
			require.NoError(t, proto.Unmarshal(env.GetPayload(), pl))
			ch := &common.ChannelHeader{}
			require.NoError(t, proto.Unmarshal(pl.GetHeader().GetChannelHeader(), ch))
			txs = append(txs, ledgerTx{TxID: ch.GetTxId(), Block: n, Code: peer.TxValidationCode(filter[i]), Type: common.HeaderType(ch.GetType())})
		}
	}
	return store.Height(), txs
}
