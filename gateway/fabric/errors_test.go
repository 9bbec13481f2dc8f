package fabric

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	gwproto "github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xborder/xborder/gateway"
)

// statusWithDetails builds the gRPC error a Fabric gateway returns: a status with one
// ErrorDetail per endorsing peer.
func statusWithDetails(t *testing.T, code codes.Code, msg string, details ...string) error {
	t.Helper()
	st := status.New(code, msg)
	for _, d := range details {
		var err error
		st, err = st.WithDetails(&gwproto.ErrorDetail{Address: "peer0:7051", MspId: "BankMSP", Message: d})
		require.NoError(t, err)
	}
	return st.Err()
}

func TestMapError(t *testing.T) {
	for _, tc := range []struct {
		name           string
		err            error
		code           gateway.Code
		field          string
		validationCode string
	}{
		{"chaincode code in a detail", statusWithDetails(t, codes.Aborted, "failed to endorse transaction, see attached details for more info",
			"chaincode response 500, INVALID_ARGUMENT: items[0].hsCode: must be 6 to 10 digits"), gateway.CodeInvalidArgument, "items[0].hsCode", ""},
		{"chaincode code in the message", statusWithDetails(t, codes.Unknown, "evaluate call to endorser returned error: chaincode response 500, NOT_FOUND: order o-9 does not exist"),
			gateway.CodeNotFound, "", ""},
		{"forbidden", statusWithDetails(t, codes.Aborted, "failed to endorse", "FORBIDDEN: EscrowPayment may only be performed by BankMSP, not MerchantMSP"),
			gateway.CodeForbidden, "", ""},
		{"compliance", statusWithDetails(t, codes.Aborted, "failed to endorse", "COMPLIANCE_REJECTED: over the yearly limit"), gateway.CodeComplianceRejected, "", ""},
		{"precondition", statusWithDetails(t, codes.Aborted, "failed to endorse", "FAILED_PRECONDITION: order is CREATED"), gateway.CodeFailedPrecondition, "", ""},
		{"conflict", statusWithDetails(t, codes.Aborted, "failed to endorse", "CONFLICT: order o-1 already exists"), gateway.CodeConflict, "", ""},
		{"endorsement failure without a code", statusWithDetails(t, codes.Aborted, "failed to endorse", "endorsement policy not satisfied"), gateway.CodeEndorsementFailed, "", ""},
		{"unavailable", statusWithDetails(t, codes.Unavailable, "connection refused"), gateway.CodeUnavailable, "", ""},
		{"deadline", statusWithDetails(t, codes.DeadlineExceeded, "context deadline exceeded"), gateway.CodeTimeout, "", ""},
		{"context deadline", fmt.Errorf("wait: %w", context.DeadlineExceeded), gateway.CodeTimeout, "", ""},
		{"permission denied", statusWithDetails(t, codes.PermissionDenied, "access denied"), gateway.CodeForbidden, "", ""},
		{"commit error", &client.CommitError{TransactionID: "tx1", Code: peer.TxValidationCode_MVCC_READ_CONFLICT}, gateway.CodeCommitFailed, "", "MVCC_READ_CONFLICT"},
		{"gateway error passes through", gateway.FieldError("orderId", "bad"), gateway.CodeInvalidArgument, "orderId", ""},
		{"anything else", errors.New("weird"), gateway.CodeEndorsementFailed, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mapError(tc.err, "tx-given")
			require.Equal(t, tc.code, got.Code, "error: %v", got)
			require.Equal(t, tc.field, got.Field)
			require.Equal(t, tc.validationCode, got.ValidationCode)
			if tc.code != gateway.CodeCommitFailed && tc.name != "gateway error passes through" {
				require.Equal(t, "tx-given", got.TxID)
				require.ErrorIs(t, got, tc.err, "the cause is kept for logs")
			}
			require.NotContains(t, got.Message, "peer0:7051", "peer addresses stay in the logs")
		})
	}
}

func TestEventPayload(t *testing.T) {
	require.Equal(t, "o-1", payloadOrderID([]byte(`{"orderId":"o-1","status":"PAID"}`)))
	require.Empty(t, payloadOrderID([]byte(`not json`)))
	require.Empty(t, payloadOrderID([]byte(`{"sha256":"ab"}`)))
	require.JSONEq(t, `{"a":1}`, string(jsonPayload([]byte(`{"a":1}`))))
	require.JSONEq(t, `"raw bytes"`, string(jsonPayload([]byte(`raw bytes`))))
	require.JSONEq(t, `null`, string(jsonPayload(nil)))
}
