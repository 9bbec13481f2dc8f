package devnet

import (
	"context"
	"errors"

	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/xborder/xborder/network/devnet/ledger"
	"github.com/xborder/xborder/network/devnet/txutil"
)

// peerFailure is a proposal that one organisation's peer did not endorse, classified the way
// Fabric's gateway classifies a peer's answer (internal/pkg/gateway responseStatus):
//   - codes.FailedPrecondition: the peer rejected the proposal (validation, access, duplicate).
//   - codes.Aborted: the peer failed to process it (simulation error, chaincode unreachable).
//   - codes.Unknown: the chaincode answered with an error status.
type peerFailure struct {
	code    codes.Code
	message string
}

// rpcError returns a gRPC status error with gateway.ErrorDetail details, as Fabric's gateway.
func rpcError(code codes.Code, message string, details ...*gateway.ErrorDetail) error {
	st := status.New(code, message)
	if len(details) == 0 {
		return st.Err()
	}
	ds := make([]protoadapt.MessageV1, len(details))
	for i, d := range details {
		ds[i] = protoadapt.MessageV1Of(d)
	}
	withDetails, err := st.WithDetails(ds...)
	if err != nil {
		return st.Err()
	}
	return withDetails.Err()
}

// detail returns the ErrorDetail naming an organisation's peer.
func (n *Network) detail(org, message string) *gateway.ErrorDetail {
	d := &gateway.ErrorDetail{MspId: org, Message: message}
	if p, err := n.peer(org); err == nil {
		d.Address = p.address
	}
	return d
}

// ordererDetail returns the ErrorDetail naming the ordering node.
func (n *Network) ordererDetail(message string) *gateway.ErrorDetail {
	return &gateway.ErrorDetail{Address: n.ordOrg.Node.Name + ":7050", MspId: n.ordOrg.MSPID, Message: message}
}

// ledgerRPCError maps an error from waiting on the ledger to a gRPC status.
func (n *Network) ledgerRPCError(ctx context.Context, err error) error {
	switch {
	case n.shutdown.Err() != nil:
		return status.Error(codes.Unavailable, "the peer is shutting down")
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	case errors.Is(err, ledger.ErrClosed):
		return status.Error(codes.Unavailable, "the peer is shutting down")
	default:
		return status.Error(codes.Aborted, err.Error())
	}
}

// stripMalformed returns err's message without txutil's ErrMalformed prefix.
func stripMalformed(err error) string {
	msg := err.Error()
	prefix := txutil.ErrMalformed.Error() + ": "
	if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		return msg[len(prefix):]
	}
	return msg
}
