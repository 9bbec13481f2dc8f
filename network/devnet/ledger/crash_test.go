package ledger

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/stretchr/testify/require"
)

const (
	crashDirEnv   = "XBORDER_LEDGER_CRASH_DIR"
	crashTxsBlock = 10
)

// crashBlock builds block n of the crash workload: tx j writes k<j> = n (with a 2 KiB
// payload so commits span many pages), tx 0 also writes "height" and a private value.
func crashBlock(t tb, l *Ledger, n uint64) (*txb, []*txb, map[uint64]*rwset.TxPvtReadWriteSet) {
	pad := strings.Repeat("x", 2048)
	txs := make([]*txb, crashTxsBlock)
	for j := range txs {
		txs[j] = tx(fmt.Sprintf("b%d-t%d", n, j)).put(fmt.Sprintf("k%d", j), fmt.Sprintf("%d|%s", n, pad))
	}
	txs[0].put("height", strconv.FormatUint(n, 10))
	pvt := txs[0].private(t, pvtColl{coll: "c", writes: []*kvrwset.KVWrite{{Key: "p", Value: []byte(strconv.FormatUint(n, 10))}}})
	return txs[0], txs, map[uint64]*rwset.TxPvtReadWriteSet{0: pvt}
}

// TestCrashChild is the child process of TestCrashSafety; it only runs when re-executed
// with XBORDER_LEDGER_CRASH_DIR set. It commits blocks until killed (or 60 s pass), printing
// "committed <height>" after every commit returns.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("child process of TestCrashSafety")
	}
	l, err := Open(dir)
	require.NoError(t, err)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		n := l.Height()
		_, txs, pvt := crashBlock(t, l, n)
		codes := commitTxs(t, l, pvt, txs...)
		for _, c := range codes {
			require.Equal(t, valid, c)
		}
		fmt.Printf("committed %d\n", n+1)
	}
}

// TestCrashSafety kills a committing child process with SIGKILL at random moments and checks
// after each kill that the ledger reopens at a complete block: hash chain intact, every
// reported commit durable, state, index, history and private data consistent with the height.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var durable uint64
	for round := range 10 {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			cmd.Stderr = os.Stderr
			require.NoError(t, cmd.Start())
			killed := false
			defer func() {
				if !killed {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
				}
			}()
			// Let a random number of commits go through, then kill after a random delay so the
			// kill lands at a random point of a later commit.
			want := 1 + rng.IntN(15)
			sc := bufio.NewScanner(out)
			seen := 0
			for seen < want && sc.Scan() {
				line := sc.Text()
				if h, ok := strings.CutPrefix(line, "committed "); ok {
					v, err := strconv.ParseUint(h, 10, 64)
					require.NoError(t, err)
					durable = v
					seen++
				}
			}
			require.Equal(t, want, seen, "child stopped early")
			time.Sleep(time.Duration(rng.IntN(8000)) * time.Microsecond)
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			killed = true
			// Lines printed between the last read and the kill are durable commits too. Read
			// them to EOF before Wait, which closes the pipe.
			for sc.Scan() {
				if h, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
					v, err := strconv.ParseUint(h, 10, 64)
					require.NoError(t, err)
					durable = v
				}
			}
			_ = cmd.Wait()

			l, err := Open(dir)
			require.NoError(t, err)
			defer func() { require.NoError(t, l.Close()) }()
			h := l.Height()
			require.GreaterOrEqual(t, h, durable, "a reported commit was lost")
			require.LessOrEqual(t, h, durable+1, "at most the in-flight block may be committed")
			require.NoError(t, l.VerifyChain())
			t.Logf("killed after %d reported commits; reopened at height %d", durable, h)
			checkCrashState(t, l, h)
		})
	}
}

func checkCrashState(t *testing.T, l *Ledger, h uint64) {
	t.Helper()
	last := h - 1
	s, err := l.NewSnapshot()
	require.NoError(t, err)
	defer s.Release()
	require.Equal(t, h, s.Height())
	vv, err := s.GetState(testNS, "height")
	require.NoError(t, err)
	require.Equal(t, strconv.FormatUint(last, 10), string(vv.Value))
	for j := range crashTxsBlock {
		vv, err := s.GetState(testNS, fmt.Sprintf("k%d", j))
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(vv.Value), fmt.Sprintf("%d|", last)))
		require.Equal(t, Height{last, uint64(j)}, vv.Version)
	}
	pv, err := s.GetPrivateData(testNS, "c", "p")
	require.NoError(t, err)
	require.Equal(t, strconv.FormatUint(last, 10), string(pv.Value))
	_, err = l.TxByID(fmt.Sprintf("b%d-t%d", last, crashTxsBlock-1))
	require.NoError(t, err)
	_, err = l.TxByID(fmt.Sprintf("b%d-t0", h))
	require.ErrorIs(t, err, ErrNotFound)
	it, err := s.GetHistory(testNS, "k0")
	require.NoError(t, err)
	defer it.Close()
	var n uint64
	for {
		km, err := it.Next()
		require.NoError(t, err)
		if km == nil {
			break
		}
		require.Equal(t, fmt.Sprintf("b%d-t0", n), km.TxId)
		n++
	}
	require.Equal(t, h, n)
}
