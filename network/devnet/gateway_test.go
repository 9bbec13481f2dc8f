package devnet_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestSubmitEvaluateRoundTrip(t *testing.T) {
	tn := startNet(t)
	tests := []struct {
		org   string
		key   string
		value string
	}{
		{merchant, "k-merchant", "v1"},
		{bank, "k-bank", "v2"},
		{carrier, "k-carrier", "v3"},
		{customs, "k-customs", "v4"},
	}
	for _, tc := range tests {
		t.Run(tc.org, func(t *testing.T) {
			c := tn.contract(tc.org)
			res, commit, err := c.SubmitAsync("put", client.WithArguments(tc.key, tc.value))
			require.NoError(t, err)
			require.Empty(t, res)
			st, err := commit.Status()
			require.NoError(t, err)
			require.True(t, st.Successful, "code %s", st.Code)
			require.Equal(t, peer.TxValidationCode_VALID, st.Code)
			require.Greater(t, st.BlockNumber, uint64(0))

			got, err := c.EvaluateTransaction("get", tc.key)
			require.NoError(t, err)
			require.Equal(t, tc.value, string(got))

			// The status of a committed transaction is answered at once.
			again, err := commit.Status()
			require.NoError(t, err)
			require.Equal(t, st.BlockNumber, again.BlockNumber)
		})
	}
}

func TestChaincodeErrors(t *testing.T) {
	tn := startNet(t)
	c := tn.contract(merchant)
	t.Run("evaluate", func(t *testing.T) {
		_, err := c.EvaluateTransaction("fail", "NOT_FOUND: nothing here")
		require.Error(t, err)
		st := status.Convert(err)
		require.Equal(t, codes.Unknown, st.Code())
		require.Contains(t, st.Message(), "chaincode response 500, NOT_FOUND: nothing here")
	})
	t.Run("endorse", func(t *testing.T) {
		_, err := c.SubmitTransaction("fail", "CONFLICT: taken")
		var endorseErr *client.EndorseError
		require.ErrorAs(t, err, &endorseErr)
		require.Equal(t, codes.Aborted, status.Code(err))
		details := endorseErr.Details()
		require.Len(t, details, 1)
		require.Equal(t, merchant, details[0].GetMspId())
		require.NotEmpty(t, details[0].GetAddress())
		require.Equal(t, "chaincode response 500, CONFLICT: taken", details[0].GetMessage())
	})
}

func TestConcurrentIncrementConflict(t *testing.T) {
	tn := startNet(t)
	c := tn.contract(bank)
	_, err := c.SubmitTransaction("put", "counter", "0")
	require.NoError(t, err)
	tn.sync() // the other endorsers read the counter too

	// Endorse both before submitting either: both read version v of the counter.
	p1, err := c.NewProposal("incr", client.WithArguments("counter"))
	require.NoError(t, err)
	p2, err := c.NewProposal("incr", client.WithArguments("counter"))
	require.NoError(t, err)
	tx1, err := p1.Endorse()
	require.NoError(t, err)
	tx2, err := p2.Endorse()
	require.NoError(t, err)

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, tx := range []*client.Transaction{tx1, tx2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			commit, err := tx.Submit()
			if err != nil {
				errs[i] = err
				return
			}
			st, err := commit.Status()
			if err != nil {
				errs[i] = err
				return
			}
			if !st.Successful {
				errs[i] = &commitFailure{code: st.Code}
			}
		}()
	}
	wg.Wait()
	var conflicts, ok int
	for _, err := range errs {
		var cf *commitFailure
		switch {
		case err == nil:
			ok++
		case errors.As(err, &cf) && cf.code == peer.TxValidationCode_MVCC_READ_CONFLICT:
			conflicts++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	require.Equal(t, 1, ok)
	require.Equal(t, 1, conflicts)

	// The SDK's SubmitTransaction reports the conflict as a CommitError with the code.
	tn.sync()
	p3, err := c.NewProposal("incr", client.WithArguments("counter"))
	require.NoError(t, err)
	tx3, err := p3.Endorse()
	require.NoError(t, err)
	_, err = c.SubmitTransaction("incr", "counter")
	require.NoError(t, err)
	commit, err := tx3.Submit()
	require.NoError(t, err)
	st, err := commit.Status()
	require.NoError(t, err)
	require.Equal(t, peer.TxValidationCode_MVCC_READ_CONFLICT, st.Code)

}

// TestConcurrentIncrementCommitError runs two SDK submits of incr on one key at once. The
// orderer cuts a block only when both have arrived, so both are endorsed against the same
// version: exactly one commits and the other fails with the SDK's CommitError.
func TestConcurrentIncrementCommitError(t *testing.T) {
	tn := startNet(t, withBatch(time.Minute, 2))
	c := tn.contract(customs)
	// Two puts fill the first block.
	errs := make(chan error, 2)
	for _, k := range []string{"counter", "other"} {
		go func() { _, err := c.SubmitTransaction("put", k, "0"); errs <- err }()
	}
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	tn.sync() // the other endorsers read the counter too

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	results := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := c.SubmitWithContext(ctx, "incr", client.WithArguments("counter"))
			results <- err
		}()
	}
	var ok, conflicts int
	for range 2 {
		err := <-results
		var ce *client.CommitError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &ce):
			require.Equal(t, peer.TxValidationCode_MVCC_READ_CONFLICT, ce.Code)
			conflicts++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	require.Equal(t, 1, ok)
	require.Equal(t, 1, conflicts)
	got, err := c.EvaluateTransaction("get", "counter")
	require.NoError(t, err)
	require.Equal(t, "1", string(got))
}

type commitFailure struct{ code peer.TxValidationCode }

func (c *commitFailure) Error() string { return c.code.String() }
