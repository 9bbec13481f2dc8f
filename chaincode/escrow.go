package chaincode

import (
	"bytes"
	"sync"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// objEscrow is the object type of the escrow keys: [orderId] → EscrowRecord. The escrow key holds
// the authoritative money of an order and carries the key-level endorsement policy
// EscrowEndorsementPolicy, set when the order is created (before any money is in it).
const objEscrow = "escrow"

// EscrowEndorsementPolicy is the key-level endorsement policy (state-based endorsement) of every
// escrow key, in Fabric's policy language: a transaction that changes an order's escrow needs the
// endorsement of the buyer's side (a BankMSP peer) and of one other organisation's peer that
// checked the contract's rules independently. The regulator never endorses.
const EscrowEndorsementPolicy = "AND('BankMSP.peer', OutOf(1, 'MerchantMSP.peer', 'CarrierMSP.peer', 'CustomsMSP.peer'))"

// EscrowRecord is the escrowed money of an order in minor units of the order currency (all zero
// until the payment), stored under the order's escrow key. The order's creation and every
// transaction that moves money (payment, confirmation, release, dispute resolution, cancellation
// refund, customs-rejection refund) write it; the order's escrow as clients see it comes from it.
type EscrowRecord struct {
	OrderID      string `json:"orderId"`
	Currency     string `json:"currency"`
	Amount       int64  `json:"amount"`
	Released     int64  `json:"released"`
	Refunded     int64  `json:"refunded"`
	UpdatedAt    string `json:"updatedAt"`
	UpdatedBy    string `json:"updatedBy"`
	UpdatedByMSP string `json:"updatedByMsp"`
	TxID         string `json:"txId"`
}

// escrowPolicyEnvelope builds EscrowEndorsementPolicy as Fabric's SignaturePolicyEnvelope:
// identities BankMSP, MerchantMSP, CarrierMSP, CustomsMSP (peer role), rule
// NOutOf(2, [SignedBy(Bank), NOutOf(1, [SignedBy(Merchant), SignedBy(Carrier), SignedBy(Customs)])]).
func escrowPolicyEnvelope() (*common.SignaturePolicyEnvelope, error) {
	orgs := []string{BankMSP, MerchantMSP, CarrierMSP, CustomsMSP}
	ids := make([]*msp.MSPPrincipal, len(orgs))
	for i, org := range orgs {
		role, err := proto.Marshal(&msp.MSPRole{MspIdentifier: org, Role: msp.MSPRole_PEER})
		if err != nil {
			return nil, err
		}
		ids[i] = &msp.MSPPrincipal{PrincipalClassification: msp.MSPPrincipal_ROLE, Principal: role}
	}
	signedBy := func(i int32) *common.SignaturePolicy {
		return &common.SignaturePolicy{Type: &common.SignaturePolicy_SignedBy{SignedBy: i}}
	}
	outOf := func(n int32, rules ...*common.SignaturePolicy) *common.SignaturePolicy {
		return &common.SignaturePolicy{Type: &common.SignaturePolicy_NOutOf_{NOutOf: &common.SignaturePolicy_NOutOf{N: n, Rules: rules}}}
	}
	return &common.SignaturePolicyEnvelope{
		Version:    0,
		Rule:       outOf(2, signedBy(0), outOf(1, signedBy(1), signedBy(2), signedBy(3))),
		Identities: ids,
	}, nil
}

// EscrowPolicyBytes returns the marshalled SignaturePolicyEnvelope of EscrowEndorsementPolicy,
// the validation parameter every escrow key carries (deterministic: every endorser writes the
// same bytes). The bytes are built once per process; each call returns its own copy.
func EscrowPolicyBytes() ([]byte, error) {
	b, err := escrowPolicy()
	if err != nil {
		return nil, err
	}
	return bytes.Clone(b), nil
}

// escrowPolicy builds the bytes of EscrowPolicyBytes once: they depend on nothing but constants,
// and building them took a tenth of CreateOrder's allocations.
var escrowPolicy = sync.OnceValues(func() ([]byte, error) {
	env, err := escrowPolicyEnvelope()
	if err != nil {
		return nil, errInternal("build escrow endorsement policy", err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(env)
	if err != nil {
		return nil, errInternal("encode escrow endorsement policy", err)
	}
	return b, nil
})

// escrowKey returns the escrow key of an order.
func escrowKey(ctx contractapi.TransactionContextInterface, orderID string) (string, error) {
	return compositeKey(ctx, objEscrow, orderID)
}

// overlayEscrow replaces the order's escrow figures by those of its escrow key. An order created
// by a contract version that had no escrow keys keeps the figures of its own record until its
// next money movement writes the key.
func overlayEscrow(ctx contractapi.TransactionContextInterface, o *Order) error {
	key, err := escrowKey(ctx, o.OrderID)
	if err != nil {
		return err
	}
	var rec EscrowRecord
	found, err := getJSON(ctx, key, &rec)
	if err != nil || !found {
		return err
	}
	o.Escrow = Escrow{Amount: rec.Amount, Released: rec.Released, Refunded: rec.Refunded}
	return nil
}

// putEscrow writes the order's escrow figures to its escrow key. The key gets its endorsement
// policy (EscrowEndorsementPolicy) from the transaction that creates it — CreateOrder, or the
// first money movement of an order created before escrow keys existed — and keeps it: later
// writes leave the metadata alone, because Fabric invalidates (ENDORSEMENT_POLICY_FAILURE) a
// transaction that writes a key whose policy an earlier transaction of the same block changed,
// and two payments racing on one order must fail as an MVCC conflict the gateway retries into a
// clear CONFLICT, not as a policy failure.
func putEscrow(ctx contractapi.TransactionContextInterface, o *Order, ti *txInfo) error {
	key, err := escrowKey(ctx, o.OrderID)
	if err != nil {
		return err
	}
	if err := putJSON(ctx, key, EscrowRecord{
		OrderID: o.OrderID, Currency: o.Currency,
		Amount: o.Escrow.Amount, Released: o.Escrow.Released, Refunded: o.Escrow.Refunded,
		UpdatedAt: ti.ts, UpdatedBy: ti.id, UpdatedByMSP: ti.msp, TxID: ti.txID,
	}); err != nil {
		return err
	}
	policy, err := EscrowPolicyBytes()
	if err != nil {
		return err
	}
	stub := ctx.GetStub()
	current, err := stub.GetStateValidationParameter(key)
	if err != nil {
		return errInternal("read escrow endorsement policy", err)
	}
	if bytes.Equal(current, policy) {
		return nil
	}
	if err := stub.SetStateValidationParameter(key, policy); err != nil {
		return errInternal("set escrow endorsement policy", err)
	}
	return nil
}
