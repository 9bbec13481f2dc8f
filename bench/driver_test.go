package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
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

func TestChaincodeRequest(t *testing.T) {
	t.Run("create moves the buyer's private fields to salted transient data", func(t *testing.T) {
		body := OrderBody("o-1", "m-1")
		arg, transient, err := chaincodeRequest(Request{Op: OpCreateOrder, OrderID: "o-1", Body: body}, opSpecs[OpCreateOrder])
		require.NoError(t, err)
		var req map[string]any
		require.NoError(t, json.Unmarshal(arg, &req))
		require.Equal(t, "o-1", req["orderId"])
		require.Equal(t, map[string]any{"id": "buyer-o-1", "country": "US"}, req["buyer"])
		var priv map[string]any
		require.NoError(t, json.Unmarshal(transient["order_private"], &priv))
		require.Equal(t, "Ann Lee", priv["name"])
		require.Equal(t, "1 Main St, Springfield", priv["address"])
		require.Len(t, priv["salt"], 64)
		// The caller's body is untouched (workloads reuse bodies across drivers).
		require.Equal(t, "Ann Lee", body["buyer"].(map[string]any)["name"])
	})
	t.Run("payment takes the order ID from the request and hides the payer", func(t *testing.T) {
		steps := LifecycleSteps("o-2", "m")
		arg, transient, err := chaincodeRequest(steps[1], opSpecs[OpEscrowPayment])
		require.NoError(t, err)
		var req map[string]any
		require.NoError(t, json.Unmarshal(arg, &req))
		require.Equal(t, "o-2", req["orderId"])
		require.NotContains(t, req, "payerName")
		require.NotContains(t, req, "payerAccount")
		require.Contains(t, string(transient["payment_private"]), "DE89370400440532013000")
	})
	t.Run("waybill private data is not salted", func(t *testing.T) {
		_, transient, err := chaincodeRequest(LifecycleSteps("o-3", "m")[2], opSpecs[OpRegisterWaybill])
		require.NoError(t, err)
		require.NotContains(t, string(transient["waybill_private"]), "salt")
	})
	t.Run("public writes have no transient data", func(t *testing.T) {
		arg, transient, err := chaincodeRequest(ConfirmRequest("o-4"), opSpecs[OpConfirmDelivery])
		require.NoError(t, err)
		require.Nil(t, transient)
		require.JSONEq(t, `{"orderId":"o-4"}`, string(arg))
	})
	t.Run("missing private object", func(t *testing.T) {
		_, _, err := chaincodeRequest(Request{Op: OpCreateOrder, Body: map[string]any{"orderId": "x"}}, opSpecs[OpCreateOrder])
		require.ErrorContains(t, err, "buyer")
	})
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
