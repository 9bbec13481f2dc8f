package shimtest_test

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/shimtest"
)

func TestMVCCConflicts(t *testing.T) {
	tests := []struct {
		name     string
		simulate func(t *testing.T, s *shimtest.Stub)
		// interfere commits another transaction between simulation and commit.
		interfere func(l *shimtest.Ledger)
		wantErr   bool
		wantCode  peer.TxValidationCode
	}{
		{
			name: "stale read of updated key",
			simulate: func(t *testing.T, s *shimtest.Stub) {
				_, err := s.GetState("k")
				require.NoError(t, err)
				require.NoError(t, s.PutState("k", []byte("mine")))
			},
			interfere: func(l *shimtest.Ledger) { l.PutStateDirect("k", []byte("theirs")) },
			wantErr:   true, wantCode: peer.TxValidationCode_MVCC_READ_CONFLICT,
		},
		{
			name: "read of missing key that was created",
			simulate: func(t *testing.T, s *shimtest.Stub) {
				_, err := s.GetState("new")
				require.NoError(t, err)
				require.NoError(t, s.PutState("new", []byte("mine")))
			},
			interfere: func(l *shimtest.Ledger) { l.PutStateDirect("new", []byte("theirs")) },
			wantErr:   true, wantCode: peer.TxValidationCode_MVCC_READ_CONFLICT,
		},
		{
			name:      "read of key that was deleted",
			simulate:  func(t *testing.T, s *shimtest.Stub) { _, err := s.GetState("k"); require.NoError(t, err) },
			interfere: func(l *shimtest.Ledger) { l.PutStateDirect("k", nil) },
			wantErr:   true, wantCode: peer.TxValidationCode_MVCC_READ_CONFLICT,
		},
		{
			name:      "blind write does not conflict",
			simulate:  func(t *testing.T, s *shimtest.Stub) { require.NoError(t, s.PutState("k", []byte("mine"))) },
			interfere: func(l *shimtest.Ledger) { l.PutStateDirect("k", []byte("theirs")) },
			wantCode:  peer.TxValidationCode_VALID,
		},
		{
			name: "update of an unrelated key does not conflict",
			simulate: func(t *testing.T, s *shimtest.Stub) {
				_, err := s.GetState("k")
				require.NoError(t, err)
				require.NoError(t, s.PutState("k", []byte("mine")))
			},
			interfere: func(l *shimtest.Ledger) { l.PutStateDirect("other", []byte("theirs")) },
			wantCode:  peer.TxValidationCode_VALID,
		},
		{
			name: "stale private read",
			simulate: func(t *testing.T, s *shimtest.Stub) {
				_, err := s.GetPrivateData("c", "p")
				require.NoError(t, err)
				require.NoError(t, s.PutState("x", []byte("1")))
			},
			interfere: func(l *shimtest.Ledger) { l.PutPrivateDataDirect("c", "p", []byte("theirs")) },
			wantErr:   true, wantCode: peer.TxValidationCode_MVCC_READ_CONFLICT,
		},
		{
			name: "phantom: key inserted into a scanned range",
			simulate: func(t *testing.T, s *shimtest.Stub) {
				it, err := s.GetStateByRange("a", "m")
				require.NoError(t, err)
				drain(t, it)
				require.NoError(t, s.PutState("x", []byte("1")))
			},
			interfere: func(l *shimtest.Ledger) { l.PutStateDirect("c", []byte("new")) },
			wantErr:   true, wantCode: peer.TxValidationCode_PHANTOM_READ_CONFLICT,
		},
		{
			name: "phantom: key deleted from a scanned composite range",
			simulate: func(t *testing.T, s *shimtest.Stub) {
				it, err := s.GetStateByPartialCompositeKey("idx", nil)
				require.NoError(t, err)
				drain(t, it)
				require.NoError(t, s.PutState("x", []byte("1")))
			},
			interfere: func(l *shimtest.Ledger) {
				ck, _ := shim.CreateCompositeKey("idx", []string{"1"})
				l.PutStateDirect(ck, nil)
			},
			wantErr: true, wantCode: peer.TxValidationCode_PHANTOM_READ_CONFLICT,
		},
		{
			name: "insert outside the scanned range does not conflict",
			simulate: func(t *testing.T, s *shimtest.Stub) {
				it, err := s.GetStateByRange("a", "m")
				require.NoError(t, err)
				drain(t, it)
				require.NoError(t, s.PutState("x", []byte("1")))
			},
			interfere: func(l *shimtest.Ledger) { l.PutStateDirect("z", []byte("new")) },
			wantCode:  peer.TxValidationCode_VALID,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := shimtest.NewLedger()
			l.PutStateDirect("k", []byte("v0"))
			l.PutStateDirect("b", []byte("v0"))
			l.PutPrivateDataDirect("c", "p", []byte("v0"))
			ck, err := shim.CreateCompositeKey("idx", []string{"1"})
			require.NoError(t, err)
			l.PutStateDirect(ck, []byte("v0"))

			s := l.NewStub(shimtest.TxOptions{}, "f")
			tc.simulate(t, s)
			tc.interfere(l)
			err = l.Commit(s)
			blocks := l.Blocks()
			require.Equal(t, tc.wantCode, blocks[len(blocks)-1].ValidationCode)
			if tc.wantErr {
				require.ErrorIs(t, err, shimtest.ErrMVCCConflict)
				require.Nil(t, l.State("x"), "no write of an invalid transaction is applied")
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestCommitRules(t *testing.T) {
	l := shimtest.NewLedger()
	s := l.NewStub(shimtest.TxOptions{TxID: "t1"}, "f")
	require.NoError(t, s.PutState("a", []byte("1")))
	require.NoError(t, l.Commit(s))
	require.ErrorIs(t, l.Commit(s), shimtest.ErrAlreadyCommitted)

	dup := l.NewStub(shimtest.TxOptions{TxID: "t1"}, "f")
	require.NoError(t, dup.PutState("a", []byte("2")))
	require.ErrorIs(t, l.Commit(dup), shimtest.ErrDuplicateTxID)
	require.Equal(t, []byte("1"), l.State("a"))

	other := shimtest.NewLedger().NewStub(shimtest.TxOptions{}, "f")
	require.Error(t, l.Commit(other))

	blocks := l.Blocks()
	require.Len(t, blocks, 2)
	require.Equal(t, peer.TxValidationCode_VALID, blocks[0].ValidationCode)
	require.Equal(t, peer.TxValidationCode_DUPLICATE_TXID, blocks[1].ValidationCode)
	require.Equal(t, uint64(2), l.Height())
	require.Equal(t, uint64(1), l.Version("a"))
}

func TestInvokeCommitsOnlySuccess(t *testing.T) {
	l := shimtest.NewLedger()
	cc := ccFunc(func(stub shim.ChaincodeStubInterface) *peer.Response {
		fn, params := stub.GetFunctionAndParameters()
		if err := stub.PutState("k", []byte(params[0])); err != nil {
			return shim.Error(err.Error())
		}
		if err := stub.SetEvent("Wrote", nil); err != nil {
			return shim.Error(err.Error())
		}
		if fn == "fail" {
			return shim.Error("FAILED_PRECONDITION: refused")
		}
		return shim.Success([]byte("ok"))
	})
	tests := []struct {
		name      string
		fn        string
		arg       string
		wantState string
		wantOK    bool
	}{
		{name: "success commits", fn: "ok", arg: "1", wantState: "1", wantOK: true},
		{name: "error does not commit", fn: "fail", arg: "2", wantState: "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := l.Invoke(cc, shimtest.TxOptions{}, tc.fn, tc.arg)
			require.Equal(t, tc.wantOK, res.OK())
			require.Equal(t, tc.wantState, string(l.State("k")))
			require.NoError(t, res.Err)
		})
	}
	require.Len(t, l.Events(), 1)
	ev := l.Evaluate(cc, shimtest.TxOptions{}, "ok", "3")
	require.True(t, ev.OK())
	require.Equal(t, "1", string(l.State("k")), "Evaluate never commits")
}

// TestConcurrentIncrements runs many read-modify-write transactions at once:
// every committed increment must be reflected exactly once, and every other
// must fail with an MVCC conflict.
func TestConcurrentIncrements(t *testing.T) {
	l := shimtest.NewLedger()
	l.PutStateDirect("counter", []byte("0"))
	incr := ccFunc(func(stub shim.ChaincodeStubInterface) *peer.Response {
		v, err := stub.GetState("counter")
		if err != nil {
			return shim.Error(err.Error())
		}
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return shim.Error(err.Error())
		}
		if err := stub.PutState("counter", []byte(strconv.Itoa(n+1))); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(nil)
	})
	const workers, perWorker = 8, 25
	var mu sync.Mutex
	committed, conflicts := 0, 0
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				res := l.Invoke(incr, shimtest.TxOptions{}, "incr")
				mu.Lock()
				switch {
				case res.OK():
					committed++
				case errors.Is(res.Err, shimtest.ErrMVCCConflict):
					conflicts++
				default:
					t.Errorf("unexpected result: %d %s %v", res.Status, res.Message, res.Err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, workers*perWorker, committed+conflicts)
	require.Equal(t, strconv.Itoa(committed), string(l.State("counter")))
	require.Len(t, l.History("counter"), committed+1)
}

func TestWriteSetDeterminism(t *testing.T) {
	cc := ccFunc(func(stub shim.ChaincodeStubInterface) *peer.Response {
		for i := 9; i >= 0; i-- {
			if err := stub.PutState(fmt.Sprintf("k%d", i), []byte(stub.GetTxID())); err != nil {
				return shim.Error(err.Error())
			}
		}
		if err := stub.PutPrivateData("coll", "p", []byte("secret")); err != nil {
			return shim.Error(err.Error())
		}
		if err := stub.DelState("gone"); err != nil {
			return shim.Error(err.Error())
		}
		if err := stub.SetStateValidationParameter("k1", []byte("ep")); err != nil {
			return shim.Error(err.Error())
		}
		if err := stub.SetEvent("Done", []byte(`{"n":10}`)); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(nil)
	})
	a := shimtest.NewLedger().Evaluate(cc, shimtest.TxOptions{}, "f")
	b := shimtest.NewLedger().Evaluate(cc, shimtest.TxOptions{}, "f")
	require.True(t, a.OK())
	require.Equal(t, a.Stub.WriteSet(), b.Stub.WriteSet())
	ws := string(a.Stub.WriteSet())
	require.Contains(t, ws, `put "k0" "`+a.TxID+`"`)
	require.Contains(t, ws, `del "gone"`)
	require.Contains(t, ws, "private \"coll\"\n  put \"p\" \"secret\"\n")
	require.Contains(t, ws, `meta "k1" "VALIDATION_PARAMETER" "ep"`)
	require.Contains(t, ws, `event "Done" "{\"n\":10}"`)

	c := shimtest.NewLedger().Evaluate(cc, shimtest.TxOptions{TxID: "different"}, "f")
	require.NotEqual(t, a.Stub.WriteSet(), c.Stub.WriteSet())
}

func TestSnapshotIsolation(t *testing.T) {
	l := shimtest.NewLedger()
	l.PutStateDirect("a", []byte("1"))
	s := l.NewStub(shimtest.TxOptions{}, "f")
	l.PutStateDirect("a", []byte("2"))
	l.PutStateDirect("b", []byte("2"))

	v, err := s.GetState("a")
	require.NoError(t, err)
	require.Equal(t, []byte("1"), v, "a stub reads the state committed when it was created")
	it, err := s.GetStateByRange("", "")
	require.NoError(t, err)
	keys, _ := drain(t, it)
	require.Equal(t, []string{"a"}, keys)
	hist, err := s.GetHistoryForKey("a")
	require.NoError(t, err)
	n := 0
	for hist.HasNext() {
		_, err := hist.Next()
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 1, n)
	require.ErrorIs(t, l.Commit(s), shimtest.ErrMVCCConflict)
}

// TestPhantomCheckCoversWhatThePeerRead checks the range query info of a
// partially consumed iterator: the peer has read the first batch plus one
// look-ahead result, so only changes up to that key invalidate the
// transaction, as in Fabric.
func TestPhantomCheckCoversWhatThePeerRead(t *testing.T) {
	tests := []struct {
		name     string
		insert   string
		conflict bool
	}{
		{name: "insert inside the first batch", insert: "k0050a", conflict: true},
		{name: "insert at the look-ahead result", insert: "k0099a", conflict: true},
		{name: "insert after the look-ahead result", insert: "k0100a", conflict: false},
		{name: "insert far beyond", insert: "k0200a", conflict: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := shimtest.NewLedger()
			for i := 0; i < 250; i++ {
				l.PutStateDirect(fmt.Sprintf("k%04d", i), []byte("v"))
			}
			s := l.NewStub(shimtest.TxOptions{}, "f")
			it, err := s.GetStateByRange("", "")
			require.NoError(t, err)
			kv, err := it.Next()
			require.NoError(t, err)
			require.Equal(t, "k0000", kv.Key)
			require.NoError(t, it.Close())
			require.NoError(t, s.PutState("out", []byte("1")))

			l.PutStateDirect(tc.insert, []byte("new"))
			err = l.Commit(s)
			if tc.conflict {
				require.ErrorIs(t, err, shimtest.ErrMVCCConflict)
			} else {
				require.NoError(t, err)
			}
		})
	}
}

func TestPrivateDeleteAndKeys(t *testing.T) {
	l := shimtest.NewLedger()
	l.PutPrivateDataDirect("c", "b", []byte("2"))
	l.PutPrivateDataDirect("c", "a", []byte("1"))
	require.Equal(t, []string{"a", "b"}, l.PrivateKeys("c"))
	require.Nil(t, l.PrivateKeys("unknown"))

	s := l.NewStub(shimtest.TxOptions{}, "f")
	require.NoError(t, s.DelPrivateData("c", "a"))
	require.NoError(t, s.PutPrivateData("c", "b", nil), "nil private value deletes too")
	require.Equal(t, "public\nprivate \"c\"\n  del \"a\"\n  del \"b\"\n", string(s.WriteSet()))
	require.NoError(t, l.Commit(s))
	require.Empty(t, l.PrivateKeys("c"))
	require.Empty(t, l.Keys())
}
