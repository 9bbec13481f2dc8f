package chaincode

import (
	"slices"
	"strings"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// The member organisations of docs/design.md §2 (binding MSP IDs).
const (
	MerchantMSP = "MerchantMSP"
	BankMSP     = "BankMSP"
	CarrierMSP  = "CarrierMSP"
	CustomsMSP  = "CustomsMSP"
)

// Organisations lists every member organisation in a fixed order.
var Organisations = []string{MerchantMSP, BankMSP, CarrierMSP, CustomsMSP}

// clientIdentity returns the transaction creator's identity. contractapi parses the creator's
// certificate once per transaction and hands the result to the transaction context; only a
// context built without it (or a creator contractapi could not parse) is parsed here, so that
// the reason for the failure is reported.
func clientIdentity(ctx contractapi.TransactionContextInterface) (cid.ClientIdentity, error) {
	if ci := ctx.GetClientIdentity(); ci != nil {
		return ci, nil
	}
	ci, err := cid.New(ctx.GetStub())
	if err != nil {
		return nil, errInternal("read creator identity", err)
	}
	return ci, nil
}

// creatorMSP returns the MSP ID of the transaction creator.
func creatorMSP(ctx contractapi.TransactionContextInterface) (string, error) {
	ci, err := clientIdentity(ctx)
	if err != nil {
		return "", err
	}
	id, err := ci.GetMSPID()
	if err != nil {
		return "", errInternal("read creator MSP ID", err)
	}
	return id, nil
}

// requireOrg returns the creator's MSP ID if it is one of allowed, else a FORBIDDEN error that
// names the action and the organisations that may perform it.
func requireOrg(ctx contractapi.TransactionContextInterface, action string, allowed ...string) (string, error) {
	msp, err := creatorMSP(ctx)
	if err != nil {
		return "", err
	}
	if !slices.Contains(allowed, msp) {
		return "", errForbidden("%s may only be performed by %s, not %s", action, strings.Join(allowed, " or "), msp)
	}
	return msp, nil
}

// creatorID returns a stable identifier of the invoking identity (MSP ID and X.509 subject and
// issuer, as cid renders them), recorded with each step for the audit trail.
func creatorID(ctx contractapi.TransactionContextInterface) (string, error) {
	ci, err := clientIdentity(ctx)
	if err != nil {
		return "", err
	}
	id, err := ci.GetID()
	if err != nil {
		return "", errInternal("read creator identity", err)
	}
	return id, nil
}

// creatorAttribute returns the value of an X.509 (Fabric CA) attribute of the creator's
// certificate and whether the certificate carries it.
func creatorAttribute(ctx contractapi.TransactionContextInterface, name string) (string, bool, error) {
	ci, err := clientIdentity(ctx)
	if err != nil {
		return "", false, err
	}
	v, found, err := ci.GetAttributeValue(name)
	if err != nil {
		return "", false, errInternal("read creator attribute "+name, err)
	}
	return v, found, nil
}

// MerchantAttribute is the X.509 (Fabric CA) attribute that binds a MerchantMSP identity to one
// merchant. When a MerchantMSP creator's certificate carries it, the identity may create, declare
// and cancel only that merchant's orders; an identity without it (for example a platform
// gateway) acts for any merchant of its organisation.
const MerchantAttribute = "xborder.merchantId"

// requireMerchant enforces MerchantAttribute for MerchantMSP creators.
func requireMerchant(ctx contractapi.TransactionContextInterface, ti *txInfo, merchantID string) error {
	if ti.msp != MerchantMSP {
		return nil
	}
	bound, found, err := creatorAttribute(ctx, MerchantAttribute)
	if err != nil {
		return err
	}
	if found && bound != merchantID {
		return errForbidden("identity is bound to merchant %q by its %s attribute and may not act for merchant %q", bound, MerchantAttribute, merchantID)
	}
	return nil
}
