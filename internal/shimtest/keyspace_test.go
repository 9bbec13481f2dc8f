package shimtest_test

import (
	"fmt"
	"math/rand"
	"sort"
	"sync"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"

	"github.com/xborder/xborder/internal/shimtest"
)

func TestKeyIndexStaysOrdered(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		deletes int
	}{
		{name: "few", n: 10},
		{name: "many shuffled", n: 3000},
		{name: "with deletes", n: 500, deletes: 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewSource(int64(tc.n)))
			l := shimtest.NewLedger()
			want := map[string]bool{}
			for _, i := range rng.Perm(tc.n) {
				k := fmt.Sprintf("key-%06d", i)
				l.PutStateDirect(k, []byte("v"))
				want[k] = true
				if i%7 == 0 {
					// Interleave scans with inserts so merges happen mid-way.
					require.True(t, sort.StringsAreSorted(l.Keys()))
				}
			}
			for _, i := range rng.Perm(tc.n)[:tc.deletes] {
				k := fmt.Sprintf("key-%06d", i)
				l.PutStateDirect(k, nil)
				delete(want, k)
			}
			got := l.Keys()
			require.True(t, sort.StringsAreSorted(got))
			require.Len(t, got, len(want))
			for _, k := range got {
				require.True(t, want[k], k)
			}
		})
	}
}

func BenchmarkSeedAndScan(b *testing.B) {
	for i := 0; i < b.N; i++ {
		l := shimtest.NewLedger()
		for j := 0; j < 10000; j++ {
			ck, err := shim.CreateCompositeKey("order", []string{fmt.Sprintf("m%03d", j%97), fmt.Sprintf("o%06d", j)})
			if err != nil {
				b.Fatal(err)
			}
			l.PutStateDirect(ck, []byte("v"))
		}
		s := l.NewStub(shimtest.TxOptions{}, "f")
		it, _, err := s.GetStateByPartialCompositeKeyWithPagination("order", []string{"m042"}, 50, "")
		if err != nil {
			b.Fatal(err)
		}
		for it.HasNext() {
			if _, err := it.Next(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkInvokeReadModifyWrite(b *testing.B) {
	l := shimtest.NewLedger()
	l.PutStateDirect("k", []byte("0"))
	cc := ccFunc(func(stub shim.ChaincodeStubInterface) *peer.Response {
		v, err := stub.GetState("k")
		if err != nil {
			return shim.Error(err.Error())
		}
		if err := stub.PutState("k", append(v[:0:0], '1')); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(nil)
	})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := l.Invoke(cc, shimtest.TxOptions{}, "f"); !res.OK() {
			b.Fatal(res.Message, res.Err)
		}
	}
}

// TestConcurrentScansAndCommits runs range scans while transactions keep
// adding keys, so the lazily merged key index is rebuilt under concurrent
// readers (meaningful with -race). Every scan must be sorted and see exactly
// the keys committed before its stub was created.
func TestConcurrentScansAndCommits(t *testing.T) {
	l := shimtest.NewLedger()
	const writers, perWriter, scanners = 4, 40, 4
	writer := ccFunc(func(stub shim.ChaincodeStubInterface) *peer.Response {
		_, params := stub.GetFunctionAndParameters()
		if err := stub.PutState(params[0], []byte("v")); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(nil)
	})
	done := make(chan struct{})
	errs := make(chan error, writers*perWriter+scanners)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				// Blind writes of distinct keys never conflict.
				key := fmt.Sprintf("w%d-%03d", w, perWriter-i)
				if res := l.Invoke(writer, shimtest.TxOptions{}, "put", key); !res.OK() {
					errs <- fmt.Errorf("put %s: %s: %w", key, res.Message, res.Err)
				}
			}
		}()
	}
	var scanWG sync.WaitGroup
	for sc := 0; sc < scanners; sc++ {
		scanWG.Add(1)
		go func() {
			defer scanWG.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				before := len(l.Keys())
				s := l.NewStub(shimtest.TxOptions{}, "scan")
				it, err := s.GetStateByRange("", "")
				if err != nil {
					errs <- err
					return
				}
				var keys []string
				for it.HasNext() {
					kv, err := it.Next()
					if err != nil {
						errs <- err
						return
					}
					keys = append(keys, kv.Key)
				}
				if !sort.StringsAreSorted(keys) || len(keys) < before {
					errs <- fmt.Errorf("scan saw %d keys (at least %d expected), sorted=%v", len(keys), before, sort.StringsAreSorted(keys))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	scanWG.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, l.Keys(), writers*perWriter)
}
