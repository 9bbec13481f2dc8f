package fabric

import (
	"context"
	"errors"
	"strings"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gw "github.com/xborder/xborder/gateway"
)

// mapError turns an SDK error into a *gateway.Error. A chaincode error code found in the
// status message or in any ErrorDetail message wins (400/403/404/409/412/422); otherwise the
// phase and gRPC code decide: endorsement failures are ENDORSEMENT_FAILED, commit failures
// COMMIT_FAILED with the validation code, deadlines TIMEOUT and unreachable peers UNAVAILABLE.
// The gRPC detail stays in Err, for logs.
func mapError(err error, txID string) *gw.Error {
	var ge *gw.Error
	if errors.As(err, &ge) {
		return ge
	}
	var commitErr *client.CommitError
	if errors.As(err, &commitErr) {
		return &gw.Error{Code: gw.CodeCommitFailed, TxID: commitErr.TransactionID,
			ValidationCode: commitErr.Code.String(), Message: "transaction was not committed: " + commitErr.Code.String(), Err: err}
	}
	if txID == "" {
		var te *client.TransactionError
		if errors.As(err, &te) {
			txID = te.TransactionID
		}
	}
	for _, msg := range messages(err) {
		if ce, ok := gw.ParseChaincodeError(msg); ok {
			ce.TxID = txID
			ce.Err = err
			return ce
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &gw.Error{Code: gw.CodeTimeout, TxID: txID, Message: "the Fabric network did not answer in time", Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return &gw.Error{Code: gw.CodeUnavailable, TxID: txID, Message: "the request was cancelled", Err: err}
	}
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.DeadlineExceeded:
		return &gw.Error{Code: gw.CodeTimeout, TxID: txID, Message: "the Fabric network did not answer in time", Err: err}
	case codes.Unavailable, codes.Canceled, codes.ResourceExhausted:
		return &gw.Error{Code: gw.CodeUnavailable, TxID: txID, Message: "the Fabric peer is unavailable", Err: err}
	case codes.PermissionDenied, codes.Unauthenticated:
		return &gw.Error{Code: gw.CodeForbidden, TxID: txID, Message: "the Fabric peer refused this organisation's identity", Err: err}
	}
	var submitErr *client.SubmitError
	if errors.As(err, &submitErr) {
		return &gw.Error{Code: gw.CodeUnavailable, TxID: txID, Message: "the orderer did not accept the transaction", Err: err}
	}
	var statusErr *client.CommitStatusError
	if errors.As(err, &statusErr) {
		return &gw.Error{Code: gw.CodeUnavailable, TxID: txID, Message: "the commit status is not available", Err: err}
	}
	return &gw.Error{Code: gw.CodeEndorsementFailed, TxID: txID, Message: "the transaction could not be endorsed", Err: err}
}

// messages returns the message of every ErrorDetail of err, then its gRPC status message (the
// details carry the chaincode's own response message).
func messages(err error) []string {
	var out []string
	for _, d := range endorserErrors(err) {
		out = append(out, d.GetMessage())
	}
	if st, ok := status.FromError(err); ok {
		out = append(out, st.Message())
	}
	return out
}

// errText renders err on one line for logs.
func errText(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", " | ")
}
