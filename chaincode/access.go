package chaincode

import (
	"slices"
	"strconv"
	"strings"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// The member organisations of docs/design.md §2 (binding MSP IDs). RegulatorMSP, the financial
// supervisor, reads everything it is entitled to and writes nothing.
const (
	MerchantMSP  = "MerchantMSP"
	BankMSP      = "BankMSP"
	CarrierMSP   = "CarrierMSP"
	CustomsMSP   = "CustomsMSP"
	RegulatorMSP = "RegulatorMSP"
)

// Organisations lists every member organisation in a fixed order; each may read.
var Organisations = []string{MerchantMSP, BankMSP, CarrierMSP, CustomsMSP, RegulatorMSP}

// writers lists the organisations that may submit write transactions at all: every member but
// the read-only regulator. A transaction open to "any member" that writes (ReleaseEscrow,
// AnchorDocument) is open to these.
var writers = []string{MerchantMSP, BankMSP, CarrierMSP, CustomsMSP}

// clientIdentity returns the transaction creator's identity. The transaction context carries
// it: contractapi parses the creator's certificate once per transaction, and Chaincode.Invoke's
// direct writes take it from the chaincode's per-creator cache (identityCache). Only a context
// built without it (or a creator contractapi could not parse) is parsed here, so that the
// reason for the failure is reported.
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

// MerchantAttribute is the X.509 (Fabric CA) attribute that binds a MerchantMSP identity to the
// merchants it acts for: one merchant ID, or several separated by commas ("m-1,m-2"; merchant
// IDs never contain commas, and Fabric CA takes comma-separated values as in
// hf.Registrar.Roles). An identity whose certificate carries it may write only orders of those
// merchants (create, declare, cancel, release, anchor documents) and gets the buyer's private
// data only for their orders. An identity without it (for example a platform's gateway) acts for
// every merchant of its organisation. An attribute that names no valid merchant ID binds the
// identity to no merchant at all.
const MerchantAttribute = "xborder.merchantId"

// boundMerchants returns the merchants a MerchantMSP creator is bound to by MerchantAttribute,
// and whether it is bound at all (false: it acts for every merchant of its organisation).
func boundMerchants(ctx contractapi.TransactionContextInterface) ([]string, bool, error) {
	value, found, err := creatorAttribute(ctx, MerchantAttribute)
	if err != nil || !found {
		return nil, false, err
	}
	var out []string
	for _, id := range strings.Split(value, ",") {
		id = strings.TrimSpace(id)
		if ValidateID(MerchantAttribute, id) == nil {
			out = append(out, id)
		}
	}
	return out, true, nil
}

// actsForMerchant reports whether a creator of organisation msp may act for merchantID: always
// for organisations other than MerchantMSP, and for a MerchantMSP identity when it is unbound or
// bound to merchantID.
func actsForMerchant(ctx contractapi.TransactionContextInterface, msp, merchantID string) (bool, []string, error) {
	if msp != MerchantMSP {
		return true, nil, nil
	}
	bound, isBound, err := boundMerchants(ctx)
	if err != nil {
		return false, nil, err
	}
	return !isBound || slices.Contains(bound, merchantID), bound, nil
}

// requireMerchant enforces MerchantAttribute on writes: FORBIDDEN when a MerchantMSP creator is
// bound to merchants other than merchantID.
func requireMerchant(ctx contractapi.TransactionContextInterface, ti *txInfo, merchantID string) error {
	ok, bound, err := actsForMerchant(ctx, ti.msp, merchantID)
	if err != nil || ok {
		return err
	}
	quoted := make([]string, len(bound))
	for i, id := range bound {
		quoted[i] = strconv.Quote(id)
	}
	return errForbidden("identity is bound to merchants [%s] by its %s attribute and may not act for merchant %q", strings.Join(quoted, ", "), MerchantAttribute, merchantID)
}
