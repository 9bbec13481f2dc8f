package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	gwproto "github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestDomainCode(t *testing.T) {
	for _, tc := range []struct {
		msg, want string
	}{
		{"CONFLICT: order \"x\" already exists", "CONFLICT"},
		{"chaincode response 500, FAILED_PRECONDITION: order is CREATED", "FAILED_PRECONDITION"},
		{"NOT_FOUND: a; CONFLICT: b", "NOT_FOUND"},
		{"MY_CONFLICT: not a code", ""},
		{"XNOT_FOUND: no, but later FORBIDDEN: yes", "FORBIDDEN"},
		{"nothing here", ""},
		{"INVALID_ARGUMENT: items[0].hsCode: must be 6 to 10 digits", "INVALID_ARGUMENT"},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			got, ok := domainCode(tc.msg)
			require.Equal(t, tc.want != "", ok)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestSDKRetryReason(t *testing.T) {
	detail := func(code codes.Code, msg string, details ...string) error {
		st := status.New(code, msg)
		for _, d := range details {
			var err error
			st, err = st.WithDetails(&gwproto.ErrorDetail{MspId: "BankMSP", Message: d})
			require.NoError(t, err)
		}
		return st.Err()
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"MVCC conflict", &client.CommitError{Code: peer.TxValidationCode_MVCC_READ_CONFLICT}, retryMVCC},
		{"phantom read", &client.CommitError{Code: peer.TxValidationCode_PHANTOM_READ_CONFLICT}, retryPhantom},
		{"other invalidation", &client.CommitError{Code: peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE}, ""},
		{"endorsers disagree", detail(codes.Aborted, "failed to collect enough transaction endorsements", "ProposalResponsePayloads do not match"), retryMismatch},
		{"not found", detail(codes.Aborted, "failed to endorse transaction", "chaincode response 500, NOT_FOUND: order o-1 does not exist"), retryNotFound},
		{"precondition", detail(codes.Unknown, "evaluate call to endorser returned error: chaincode response 500, FAILED_PRECONDITION: order is CREATED"), retryPrecondition},
		{"conflict is an answer", detail(codes.Aborted, "failed to endorse transaction", "chaincode response 500, CONFLICT: order o-1 already exists"), ""},
		{"unavailable", detail(codes.Unavailable, "connection refused"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, sdkRetryReason(tc.err))
		})
	}
}

func TestRetriesSince(t *testing.T) {
	require.Nil(t, retriesSince(nil, nil))
	require.Equal(t, map[string]int64{"stale_not_found": 2, "mvcc_read_conflict": 1},
		retriesSince(map[string]int64{"stale_not_found": 3, "endorsement_mismatch": 1},
			map[string]int64{"stale_not_found": 5, "endorsement_mismatch": 1, "mvcc_read_conflict": 1}))
	require.Equal(t, "stale_not_found", metricLabel(`transaction="GetOrder",reason="stale_not_found"`, "reason"))
	require.Empty(t, metricLabel(`transaction="GetOrder"`, "reason"))
}

func TestReasonOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"call error", fmt.Errorf("wrapped: %w", &CallError{Op: OpGetOrder, Reason: "NOT_FOUND", Err: errors.New("x")}), "NOT_FOUND"},
		{"deadline", fmt.Errorf("op: %w", context.DeadlineExceeded), "TIMEOUT"},
		{"cancelled", context.Canceled, "CANCELLED"},
		{"other", errors.New("boom"), "ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, ReasonOf(tc.err))
		})
	}
}

// TestRequestMapping checks that every request of the workloads becomes the transaction the
// gateway's mapping makes of it, without touching the caller's body (workloads reuse bodies
// across drivers).
func TestRequestMapping(t *testing.T) {
	reqs := append(LifecycleSteps("o-1", "m-1"), ConfirmRequest("o-1"),
		Request{Op: OpGetOrder, OrderID: "o-1"}, Request{Op: OpListOrders, MerchantID: "m-1", PageSize: 20})
	for _, req := range reqs {
		t.Run(string(req.Op), func(t *testing.T) {
			before, err := json.Marshal(req.Body)
			require.NoError(t, err)
			op, org, err := operation(req.Op)
			require.NoError(t, err)
			require.NotEmpty(t, org)
			body, err := req.body()
			require.NoError(t, err)
			inv, err := op.Invocation(req.params(), body)
			require.NoError(t, err)
			require.Equal(t, string(req.Op), inv.Transaction)
			if op.Write {
				var arg map[string]any
				require.NoError(t, json.Unmarshal(inv.Args[0], &arg))
				require.Equal(t, "o-1", arg["orderId"])
			}
			after, err := json.Marshal(req.Body)
			require.NoError(t, err)
			require.JSONEq(t, string(before), string(after), "the request's body is unchanged")
		})
	}
	_, _, err := operation(Op("NoSuchOp"))
	require.Equal(t, "UNKNOWN_OP", ReasonOf(err))
}

func TestRESTTarget(t *testing.T) {
	d, err := NewRESTDriver("http://127.0.0.1:8080", map[string]string{MerchantMSP: "a", BankMSP: "b", CarrierMSP: "c", CustomsMSP: "d"}, 1)
	require.NoError(t, err)
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{Request{Op: OpCreateOrder, OrderID: "o-1"}, "POST /api/v1/orders"},
		{Request{Op: OpEscrowPayment, OrderID: "o-1"}, "POST /api/v1/orders/o-1/payment"},
		{Request{Op: OpConfirmDelivery, OrderID: "o 1"}, "POST /api/v1/orders/o%201/delivery-confirmation"},
		{Request{Op: OpGetOrder, OrderID: "o-1"}, "GET /api/v1/orders/o-1"},
		{Request{Op: OpListOrders, MerchantID: "m-1", PageSize: 20}, "GET /api/v1/orders?merchantId=m-1&pageSize=20"},
		{Request{Op: OpListOrders}, "GET /api/v1/orders"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			op, _, err := operation(tc.req.Op)
			require.NoError(t, err)
			route := d.routes[op.ID]
			require.Equal(t, tc.want, route.Method+" "+target(route, tc.req.params()))
		})
	}
}

func TestNewRESTDriverValidation(t *testing.T) {
	keys := map[string]string{MerchantMSP: "a", BankMSP: "b", CarrierMSP: "c", CustomsMSP: "d"}
	for _, tc := range []struct {
		name, url string
		keys      map[string]string
		wantErr   string
	}{
		{"ok", "http://127.0.0.1:8080/", keys, ""},
		{"bad scheme", "ftp://x", keys, "invalid gateway URL"},
		{"missing key", "http://127.0.0.1:8080", map[string]string{MerchantMSP: "a"}, "no API key for BankMSP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewRESTDriver(tc.url, tc.keys, 4)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "http://127.0.0.1:8080", d.base)
			require.NoError(t, d.Close())
		})
	}
}
