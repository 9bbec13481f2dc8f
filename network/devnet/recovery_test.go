package devnet_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xborder/xborder/network/devnet"
	"github.com/xborder/xborder/network/devnet/internal/testcc"
)

func TestChaincodeRestart(t *testing.T) {
	tn := startNet(t)
	c := tn.contract(merchant)
	_, err := c.SubmitTransaction("put", "before", "1")
	require.NoError(t, err)

	addr := tn.cc.Addr()
	tn.cc.Stop()
	_, err = c.SubmitTransaction("put", "during", "1")
	var endorseErr *client.EndorseError
	require.ErrorAs(t, err, &endorseErr)
	require.Equal(t, codes.Aborted, status.Code(err))
	require.Contains(t, endorseErr.Details()[0].GetMessage(), "error in simulation")
	_, err = c.EvaluateTransaction("get", "before")
	require.Equal(t, codes.Aborted, status.Code(err))

	restarted, err := testcc.Start(context.Background(), addr)
	require.NoError(t, err)
	t.Cleanup(restarted.Stop)
	// The runtime reconnects in the background; wait for it (bounded), then it works again.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err = c.SubmitTransaction("put", "after", "1")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, err)
	got, err := c.EvaluateTransaction("get", "after")
	require.NoError(t, err)
	require.Equal(t, "1", string(got))
}

const (
	crashChildEnv = "DEVNET_CRASH_CHILD_DIR"
	committedFile = "committed.log"
)

// TestCrashRecovery runs a devnet under load in a child process (this test binary re-executed),
// with peers committing at different paces, kills it with SIGKILL at a random moment (so the
// peers are at different heights, behind the ordering service, and possibly in the middle of a
// commit), restarts the devnet on the same data directory and checks that the ordering
// service's block store and every peer's ledger verify, that every peer catches up and holds
// every transaction whose commit status the child had received, valid, and that all peers end
// with the same chain and commit hash.
func TestCrashRecovery(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		runCrashChild(t, dir)
		return
	}
	dir := t.TempDir()
	for round := range 2 {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRecovery$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			require.NoError(t, cmd.Start())
			// Wait until the child has committed something, then a random moment more.
			log := filepath.Join(dir, committedFile)
			deadline := time.Now().Add(30 * time.Second)
			base := countLines(t, log)
			for countLines(t, log) < base+20 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			_ = cmd.Wait()

			committed := readLines(t, log)
			require.Greater(t, len(committed), base, "the child committed nothing")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			n, err := devnet.Start(ctx, testConfig(dir, withPlaintext()))
			require.NoError(t, err)
			defer func() { require.NoError(t, n.Close()) }()
			require.NoError(t, n.OrdererBlockStore().Verify())
			require.NoError(t, n.WaitForPeers(ctx))
			var commitHash []byte
			for _, p := range n.Peers() {
				l, err := n.PeerLedger(p.MSPID)
				require.NoError(t, err)
				require.NoError(t, l.VerifyChain(), p.MSPID)
				require.Equal(t, n.OrdererHeight(), l.Height(), p.MSPID)
				for _, txID := range committed {
					rec, err := l.TxStatus(txID)
					require.NoError(t, err, "transaction %s reported committed is missing on %s", txID, p.MSPID)
					require.Equal(t, peer.TxValidationCode_VALID, rec.Code)
				}
				if commitHash == nil {
					commitHash = l.CommitHash()
				}
				require.Equal(t, commitHash, l.CommitHash(), "%s ends with another state", p.MSPID)
			}
		})
	}
}

// runCrashChild is the child side of TestCrashRecovery: it submits transactions from 8
// concurrent clients until it is killed and appends (with fsync) the ID of every transaction
// whose commit status it received.
func runCrashChild(t *testing.T, dir string) {
	cc, err := testcc.Start(context.Background(), "127.0.0.1:0")
	require.NoError(t, err)
	cfg := testConfig(dir, withPlaintext())
	cfg.Chaincodes[0].Address = cc.Addr()
	// The peers commit at different paces, so that the kill finds them at different heights.
	cfg.CommitDelay = map[string]time.Duration{bank: 20 * time.Millisecond, carrier: 60 * time.Millisecond, customs: 150 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := devnet.Start(ctx, cfg)
	require.NoError(t, err)
	tn := &testNet{t: t, net: n, cc: cc, dir: dir, conn: map[string]*grpc.ClientConn{}}
	c := tn.contract(merchant)
	f, err := os.OpenFile(filepath.Join(dir, committedFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The parent kills this process; the time limit only guards against an orphan.
			for i := 0; time.Since(start) < time.Minute; i++ {
				_, commit, err := c.SubmitAsync("put", client.WithArguments(fmt.Sprintf("w%d-%d", w, i), "v"))
				if err != nil {
					continue
				}
				st, err := commit.Status()
				if err != nil || !st.Successful {
					continue
				}
				mu.Lock()
				_, werr := f.WriteString(st.TransactionID + "\n")
				if werr == nil {
					werr = f.Sync()
				}
				mu.Unlock()
				if werr != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
}

func countLines(t *testing.T, path string) int { return len(readLines(t, path)) }

// readLines returns the complete (newline-terminated) lines of path.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	lines := strings.Split(string(b), "\n")
	return lines[:len(lines)-1]
}
