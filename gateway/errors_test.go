package gateway

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseChaincodeError(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		ok        bool
		want      Error
	}{
		{"plain", "FORBIDDEN: CreateOrder may only be performed by MerchantMSP, not BankMSP", true,
			Error{Code: CodeForbidden, Message: "CreateOrder may only be performed by MerchantMSP, not BankMSP"}},
		{"field", "INVALID_ARGUMENT: items[0].hsCode: must be 6 to 10 digits", true,
			Error{Code: CodeInvalidArgument, Field: "items[0].hsCode", Message: "must be 6 to 10 digits"}},
		{"peer prefix", "chaincode response 500, INVALID_ARGUMENT: currency: unknown ISO 4217 code \"XYZ\"", true,
			Error{Code: CodeInvalidArgument, Field: "currency", Message: "unknown ISO 4217 code \"XYZ\""}},
		{"details", "FAILED_PRECONDITION: three-document match failed [declaredValue 100 != total 3000; consignee differs]", true,
			Error{Code: CodeFailedPrecondition, Message: "three-document match failed", Details: []string{"declaredValue 100 != total 3000", "consignee differs"}}},
		{"no field for other codes", "CONFLICT: payment: already escrowed", true,
			Error{Code: CodeConflict, Message: "payment: already escrowed"}},
		{"prose is not a field", "NOT_FOUND: order o-1 does not exist", true,
			Error{Code: CodeNotFound, Message: "order o-1 does not exist"}},
		{"compliance", "COMPLIANCE_REJECTED: order total exceeds the single-order limit", true,
			Error{Code: CodeComplianceRejected, Message: "order total exceeds the single-order limit"}},
		{"version mismatch names the field", "chaincode response 500, VERSION_MISMATCH: expectedVersion: order o-1 is at version 6, not 5", true,
			Error{Code: CodeVersionMismatch, Field: "expectedVersion", Message: "order o-1 is at version 6, not 5"}},
		{"fx tolerance names the field", "FX_OUT_OF_TOLERANCE: fxRate: 1.5 is outside the bounds [0.80, 1.10] the compliance rules (version 3) set for USD/EUR", true,
			Error{Code: CodeFXOutOfTolerance, Field: "fxRate", Message: "1.5 is outside the bounds [0.80, 1.10] the compliance rules (version 3) set for USD/EUR"}},
		{"embedded identifier is not a code", "XNOT_FOUND: nope", false, Error{}},
		{"no code", "failed to execute transaction: timeout", false, Error{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseChaincodeError(tc.msg)
			require.Equal(t, tc.ok, ok)
			if tc.ok {
				require.Equal(t, tc.want, *got)
			}
		})
	}
}

func TestErrorHelpers(t *testing.T) {
	base := FieldError("orderId", "is required")
	wrapped := fmt.Errorf("create: %w", base)
	require.Equal(t, CodeInvalidArgument, ErrorCode(wrapped))
	require.Same(t, base, AsError(wrapped))
	require.Equal(t, "INVALID_ARGUMENT: orderId: is required", base.Error())

	plain := errors.New("boom")
	require.Equal(t, CodeInternal, ErrorCode(plain))
	internal := AsError(plain)
	require.Equal(t, CodeInternal, internal.Code)
	require.ErrorIs(t, internal, plain)
	require.NotContains(t, internal.Message, "boom", "causes are not shown to clients")
}

func TestEventID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want EventID
		ok   bool
	}{
		{"0-0", EventID{}, true},
		{"12-3", EventID{Block: 12, Index: 3}, true},
		{"18446744073709551615-4294967295", EventID{Block: 1<<64 - 1, Index: 1<<32 - 1}, true},
		{"12", EventID{}, false},
		{"-3", EventID{}, false},
		{"12-", EventID{}, false},
		{"a-1", EventID{}, false},
		{"1-+2", EventID{}, false},
		{"1-4294967296", EventID{}, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseEventID(tc.in)
			if !tc.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.in, got.String())
		})
	}
	require.True(t, EventID{Block: 1, Index: 9}.Less(EventID{Block: 2}))
	require.True(t, EventID{Block: 2, Index: 0}.Less(EventID{Block: 2, Index: 1}))
	require.False(t, EventID{Block: 2, Index: 1}.Less(EventID{Block: 2, Index: 1}))
	require.True(t, EventID{}.IsZero())
}
