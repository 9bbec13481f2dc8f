package chaincode

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Private data collections (collections_config.json).
const (
	CollectionOrderPrivate   = "orderPrivate"   // buyer name, address, phone; consignee records
	CollectionPaymentPrivate = "paymentPrivate" // payer name and account (Bank, Customs, Regulator)
)

// CollectionsConfigJSON is collections_config.json: the private data collection definitions in
// Fabric's format, to be passed to the chaincode definition (peer lifecycle chaincode approve
// and commit --collections-config) and to the devnet.
//
//go:embed collections_config.json
var CollectionsConfigJSON []byte

// Transient map keys carrying private values. Each value is a JSON object; unknown fields are
// rejected.
const (
	// TransientOrderPrivate (CreateOrder): {"name", "address", "phone", "salt", "consigneeSalt"?}.
	// Without consigneeSalt the chaincode derives the consignee salt from salt.
	TransientOrderPrivate = "order_private"
	// TransientPaymentPrivate (EscrowPayment): {"payerName", "payerAccount", "salt"}.
	TransientPaymentPrivate = "payment_private"
	// TransientWaybillPrivate (RegisterWaybill): {"consigneeName", "consigneeAddress", "consigneeSalt"?}.
	// The carrier's consignee record is salted with the order's consignee salt, read from
	// orderPrivate; consigneeSalt is optional and, when given, must equal it.
	TransientWaybillPrivate = "waybill_private"
)

// collectionMembers lists the member organisations of each collection (as in
// collections_config.json).
var collectionMembers = map[string][]string{
	CollectionOrderPrivate:   {MerchantMSP, CarrierMSP, CustomsMSP},
	CollectionPaymentPrivate: {BankMSP, CustomsMSP, RegulatorMSP},
}

// CollectionMembers returns the member organisations of each private data collection, as the
// contract enforces them for reads (a fresh copy).
func CollectionMembers() map[string][]string {
	out := make(map[string][]string, len(collectionMembers))
	for k, v := range collectionMembers {
		out[k] = slices.Clone(v)
	}
	return out
}

// isCollectionMember reports whether msp is a member of collection.
func isCollectionMember(collection, msp string) bool {
	return slices.Contains(collectionMembers[collection], msp)
}

// Salt length bounds, in hexadecimal digits (16 to 64 bytes).
const (
	minSaltHex = 32
	maxSaltHex = 128
)

// orderPrivateInput is the transient order_private value.
type orderPrivateInput struct {
	Name          string `json:"name"`
	Address       string `json:"address"`
	Phone         string `json:"phone"`
	Salt          string `json:"salt"`
	ConsigneeSalt string `json:"consigneeSalt"`
}

// buyerPrivateRecord is stored in orderPrivate; the order's privateHash is the SHA-256 of its
// JSON encoding (the salt makes the public hash resistant to guessing).
type buyerPrivateRecord struct {
	OrderID string `json:"orderId"`
	Name    string `json:"name"`
	Address string `json:"address"`
	Phone   string `json:"phone"`
	Salt    string `json:"salt"`
}

// paymentPrivateInput is the transient payment_private value.
type paymentPrivateInput struct {
	PayerName    string `json:"payerName"`
	PayerAccount string `json:"payerAccount"`
	Salt         string `json:"salt"`
}

// payerPrivateRecord is stored in paymentPrivate; the payment's privateHash is its SHA-256.
type payerPrivateRecord struct {
	OrderID      string `json:"orderId"`
	PayerName    string `json:"payerName"`
	PayerAccount string `json:"payerAccount"`
	Salt         string `json:"salt"`
}

// waybillPrivateInput is the transient waybill_private value.
type waybillPrivateInput struct {
	ConsigneeName    string `json:"consigneeName"`
	ConsigneeAddress string `json:"consigneeAddress"`
	ConsigneeSalt    string `json:"consigneeSalt"`
}

// consigneeRecord is the canonical consignee, written to orderPrivate once from the merchant's
// buyer data and once from the carrier's waybill data. Both sides canonicalise identically and
// use the same salt (the order's consignee salt: the merchant's, or derived from the buyer
// record's salt; the carrier's transaction reads it from the merchant's record), so equal
// consignees produce byte-identical values and therefore equal private data hashes, which
// customs compares with GetPrivateDataHash without reading any private data. The salt keeps a
// channel member from confirming a guessed name and address against the public hash.
type consigneeRecord struct {
	OrderID string `json:"orderId"`
	Name    string `json:"name"`
	Address string `json:"address"`
	Salt    string `json:"salt"`
}

// canonicalText brings s to Unicode NFC, trims it, collapses internal white space to single
// spaces and lower-cases it.
func canonicalText(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(canonicalName(s)), " "))
}

// newConsigneeRecord returns the canonical consignee record of an order.
func newConsigneeRecord(orderID, name, address, salt string) consigneeRecord {
	return consigneeRecord{
		OrderID: orderID,
		Name:    canonicalText(name),
		Address: canonicalText(address),
		Salt:    strings.ToLower(salt),
	}
}

// transientJSON decodes the transient value under key into v, rejecting unknown fields. The
// value is required.
func transientJSON(ctx contractapi.TransactionContextInterface, key string, v any) error {
	tm, err := ctx.GetStub().GetTransient()
	if err != nil {
		return errInternal("read transient map", err)
	}
	raw, ok := tm[key]
	if !ok || len(raw) == 0 {
		return errInvalid("transient."+key, "is required: private values travel in the transient map under %q", key)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errInvalid("transient."+key, "must be a JSON object: %s", jsonErrorText(err))
	}
	if dec.More() {
		return errInvalid("transient."+key, "must hold exactly one JSON object")
	}
	return checkStrings("transient."+key, v)
}

// validateSalt checks a hexadecimal salt of 32..128 digits.
func validateSalt(field, v string, required bool) error {
	if v == "" && !required {
		return nil
	}
	if len(v) < minSaltHex || len(v) > maxSaltHex || len(v)%2 != 0 {
		return errInvalid(field, "must be %d to %d hexadecimal digits (an even number), got %d characters", minSaltHex, maxSaltHex, len(v))
	}
	if _, err := hex.DecodeString(v); err != nil {
		return errInvalid(field, "must be hexadecimal")
	}
	return nil
}

// readOrderPrivate reads and validates the transient order_private value.
func readOrderPrivate(ctx contractapi.TransactionContextInterface) (*orderPrivateInput, error) {
	var in orderPrivateInput
	if err := transientJSON(ctx, TransientOrderPrivate, &in); err != nil {
		return nil, err
	}
	p := "transient." + TransientOrderPrivate + "."
	if err := ValidateText(p+"name", in.Name, 200); err != nil {
		return nil, err
	}
	address, err := ValidateMultilineText(p+"address", in.Address, 500)
	if err != nil {
		return nil, err
	}
	in.Address = address
	if err := ValidateText(p+"phone", in.Phone, 40); err != nil {
		return nil, err
	}
	if err := validateSalt(p+"salt", in.Salt, true); err != nil {
		return nil, err
	}
	if err := validateSalt(p+"consigneeSalt", in.ConsigneeSalt, false); err != nil {
		return nil, err
	}
	if in.ConsigneeSalt == "" {
		in.ConsigneeSalt = deriveConsigneeSalt(in.Salt)
	}
	return &in, nil
}

// consigneeSaltLabel separates the derivation of the consignee salt from every other use of
// the buyer record's salt.
const consigneeSaltLabel = "xborder/consignee-salt/v1\x00"

// deriveConsigneeSalt returns the consignee salt of an order whose merchant did not choose one:
// the hex SHA-256 of a fixed label followed by the buyer record's salt (validated hex, taken in
// lower case). The salt is secret (it lives only in orderPrivate), so the derived salt is too,
// and the consignee record's public private-data hash cannot be confirmed by guessing a name
// and address; being a one-way function of it, the derived salt reveals nothing about the
// buyer record.
func deriveConsigneeSalt(salt string) string {
	sum := sha256.Sum256([]byte(consigneeSaltLabel + strings.ToLower(salt)))
	return hex.EncodeToString(sum[:])
}

// readPaymentPrivate reads and validates the transient payment_private value.
func readPaymentPrivate(ctx contractapi.TransactionContextInterface) (*paymentPrivateInput, error) {
	var in paymentPrivateInput
	if err := transientJSON(ctx, TransientPaymentPrivate, &in); err != nil {
		return nil, err
	}
	p := "transient." + TransientPaymentPrivate + "."
	if err := ValidateText(p+"payerName", in.PayerName, 200); err != nil {
		return nil, err
	}
	if err := ValidateText(p+"payerAccount", in.PayerAccount, 64); err != nil {
		return nil, err
	}
	if err := validateSalt(p+"salt", in.Salt, true); err != nil {
		return nil, err
	}
	return &in, nil
}

// readWaybillPrivate reads and validates the transient waybill_private value.
func readWaybillPrivate(ctx contractapi.TransactionContextInterface) (*waybillPrivateInput, error) {
	var in waybillPrivateInput
	if err := transientJSON(ctx, TransientWaybillPrivate, &in); err != nil {
		return nil, err
	}
	p := "transient." + TransientWaybillPrivate + "."
	if err := ValidateText(p+"consigneeName", in.ConsigneeName, 200); err != nil {
		return nil, err
	}
	address, err := ValidateMultilineText(p+"consigneeAddress", in.ConsigneeAddress, 500)
	if err != nil {
		return nil, err
	}
	in.ConsigneeAddress = address
	if err := validateSalt(p+"consigneeSalt", in.ConsigneeSalt, false); err != nil {
		return nil, err
	}
	return &in, nil
}

// putPrivateJSON marshals v and writes it to collection under key. It returns the hex SHA-256 of
// the written bytes (what Fabric records as the private data hash).
func putPrivateJSON(ctx contractapi.TransactionContextInterface, collection, key string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", errInternal("encode private data", err)
	}
	if err := ctx.GetStub().PutPrivateData(collection, key, b); err != nil {
		return "", errInternal("put private data in "+collection, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// getPrivateJSON reads key from collection into v; found=false when absent. Callers check
// membership first: a non-member never reads private data.
func getPrivateJSON(ctx contractapi.TransactionContextInterface, collection, key string, v any) (bool, error) {
	b, err := ctx.GetStub().GetPrivateData(collection, key)
	if err != nil {
		return false, errInternal("get private data from "+collection, err)
	}
	if b == nil {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, errInternal("decode private data from "+collection, err)
	}
	return true, nil
}

// privateHash returns the hash of a private value as recorded on the ledger (nil if absent).
func privateHash(ctx contractapi.TransactionContextInterface, collection, key string) ([]byte, error) {
	h, err := ctx.GetStub().GetPrivateDataHash(collection, key)
	if err != nil {
		return nil, errInternal("get private data hash from "+collection, err)
	}
	if len(h) == 0 {
		return nil, nil
	}
	return h, nil
}

// jsonErrorText renders a JSON decoding error with the offending field where Go reports one.
func jsonErrorText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field + " must be of type " + te.Type.String() + ", got " + te.Value
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}
