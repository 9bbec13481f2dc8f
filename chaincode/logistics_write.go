package chaincode

import (
	"slices"
	"strings"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// RegisterWaybillRequest is the argument of RegisterWaybill. The consignee's name and address
// travel in the transient map under "waybill_private".
type RegisterWaybillRequest struct {
	requestBase
	OrderID         string `json:"orderId"`
	WaybillNo       string `json:"waybillNo"`
	ExpectedVersion int64  `json:"expectedVersion,omitempty" metadata:",optional"`
}

// RegisterWaybill records the carrier's waybill for a paid order (CarrierMSP). The consignee is
// canonicalised, salted with the order's consignee salt (read from the merchant's consignee
// record in orderPrivate) and written to orderPrivate under the carrier's consignee key, so
// customs can compare its hash with the merchant's. A waybill may be replaced until the goods
// are picked up or customs has cleared the order.
func (c *Contract) RegisterWaybill(ctx contractapi.TransactionContextInterface, req RegisterWaybillRequest) (*Order, error) {
	ti, err := c.begin(ctx, &req, "RegisterWaybill", CarrierMSP)
	if err != nil {
		return nil, err
	}
	if err := ValidateID("orderId", req.OrderID); err != nil {
		return nil, err
	}
	if err := ValidateID("waybillNo", req.WaybillNo); err != nil {
		return nil, err
	}
	priv, err := readWaybillPrivate(ctx)
	if err != nil {
		return nil, err
	}
	o, err := orderForWrite(ctx, ti, req.OrderID, req.ExpectedVersion)
	if err != nil {
		return nil, err
	}
	if err := requireStatus(o, "register waybill", StatusPaid, StatusDocumented); err != nil {
		if o.Status != StatusHeld || o.Hold.Kind != HoldCustoms || o.Logistics.PickedUpAt != "" {
			return nil, err
		}
	}
	salt, err := orderConsigneeSalt(ctx, o.OrderID)
	if err != nil {
		return nil, err
	}
	if priv.ConsigneeSalt != "" && !strings.EqualFold(priv.ConsigneeSalt, salt) {
		return nil, errInvalid("transient."+TransientWaybillPrivate+".consigneeSalt",
			"does not match the consignee salt of order %s; omit it, the chaincode takes the salt from the order", o.OrderID)
	}
	consKey, err := compositeKey(ctx, privConsigneeCarrier, o.OrderID)
	if err != nil {
		return nil, err
	}
	if _, err := putPrivateJSON(ctx, CollectionOrderPrivate, consKey, newConsigneeRecord(o.OrderID, priv.ConsigneeName, priv.ConsigneeAddress, salt)); err != nil {
		return nil, err
	}
	key, err := compositeKey(ctx, objWaybill, o.OrderID)
	if err != nil {
		return nil, err
	}
	if err := putJSON(ctx, key, WaybillRecord{
		OrderID: o.OrderID, WaybillNo: req.WaybillNo,
		RecordedAt: ti.ts, UpdatedBy: ti.id, UpdatedByMSP: ti.msp, TxID: ti.txID,
	}); err != nil {
		return nil, err
	}
	prev := o.Status
	o.Documents.Waybilled = true
	o.Documents.WaybillNo = req.WaybillNo
	if err := saveOrder(ctx, o, prev, "", ti); err != nil {
		return nil, err
	}
	if err := emit(ctx, EventWaybillRegistered, orderEvent(o, ti)); err != nil {
		return nil, err
	}
	return o, nil
}

// orderConsigneeSalt reads the order's consignee salt from the merchant's consignee record in
// orderPrivate. Only members of orderPrivate may call it (RegisterWaybill runs for CarrierMSP, a
// member, on a member peer). A record written before consignee salts were mandatory carries an
// empty salt, which keeps matching the carrier's record of such an order.
func orderConsigneeSalt(ctx contractapi.TransactionContextInterface, orderID string) (string, error) {
	key, err := compositeKey(ctx, privConsigneeMerchant, orderID)
	if err != nil {
		return "", err
	}
	var rec consigneeRecord
	found, err := getPrivateJSON(ctx, CollectionOrderPrivate, key, &rec)
	if err != nil {
		return "", err
	}
	if !found {
		return "", errPrecondition("the consignee record of order %s is not available in %s on this peer yet (private data not yet disseminated); retry later", orderID, CollectionOrderPrivate)
	}
	return rec.Salt, nil
}

// RecordCheckpointRequest is the argument of RecordCheckpoint. DocumentHash is the optional
// SHA-256 (hex) of an evidence document such as a proof of delivery.
type RecordCheckpointRequest struct {
	requestBase
	OrderID         string `json:"orderId"`
	Code            string `json:"code"`
	Location        string `json:"location"`
	DocumentHash    string `json:"documentHash,omitempty" metadata:",optional"`
	ExpectedVersion int64  `json:"expectedVersion,omitempty" metadata:",optional"`
}

// RecordCheckpoint certifies a logistics checkpoint (CarrierMSP) with the transaction timestamp
// and the certifying identity. PICKED_UP, DEPARTED, ARRIVED, OUT_FOR_DELIVERY and DELIVERED must
// follow each other in that order without gaps or repeats; PICKED_UP needs the waybill and moves
// the order to IN_TRANSIT; OUT_FOR_DELIVERY and DELIVERED need customs clearance; DELIVERED
// starts the confirmation window. EXCEPTION may be certified at any time after the waybill
// (also while the order is held or disputed) and does not advance the shipment. Progress
// checkpoints are refused while the order is held; during a dispute they are still certified.
func (c *Contract) RecordCheckpoint(ctx contractapi.TransactionContextInterface, req RecordCheckpointRequest) (*Order, error) {
	ti, err := c.begin(ctx, &req, "RecordCheckpoint", CarrierMSP)
	if err != nil {
		return nil, err
	}
	docHash, err := req.validate()
	if err != nil {
		return nil, err
	}
	o, err := orderForWrite(ctx, ti, req.OrderID, req.ExpectedVersion)
	if err != nil {
		return nil, err
	}
	if err := checkCheckpointAllowed(o, req.Code); err != nil {
		return nil, err
	}
	seq := o.Logistics.Checkpoints + 1
	key, err := checkpointKey(ctx, o.OrderID, seq)
	if err != nil {
		return nil, err
	}
	if err := putJSON(ctx, key, CheckpointRecord{
		OrderID: o.OrderID, Seq: seq, Code: req.Code, Location: req.Location, DocumentHash: docHash,
		RecordedAt: ti.ts, CertifiedBy: ti.id, UpdatedBy: ti.id, UpdatedByMSP: ti.msp, TxID: ti.txID,
	}); err != nil {
		return nil, err
	}
	prev := o.Status
	o.Logistics.Checkpoints = seq
	if req.Code != CheckpointException {
		o.Logistics.LastCheckpoint = req.Code
		switch req.Code {
		case CheckpointPickedUp:
			o.Logistics.PickedUpAt = ti.ts
		case CheckpointDelivered:
			o.Logistics.DeliveredAt = ti.ts
		}
	}
	if err := saveOrder(ctx, o, prev, "", ti); err != nil {
		return nil, err
	}
	ev := orderEvent(o, ti)
	ev.Checkpoint = req.Code
	if err := emit(ctx, EventCheckpoint, ev); err != nil {
		return nil, err
	}
	return o, nil
}

// validate checks the checkpoint request and returns the evidence document hash in lower case
// ("" when none is given).
func (r *RecordCheckpointRequest) validate() (string, error) {
	if err := ValidateID("orderId", r.OrderID); err != nil {
		return "", err
	}
	if !slices.Contains(CheckpointSequence, r.Code) && r.Code != CheckpointException {
		return "", errInvalid("code", "must be one of %v or %s, got %q", CheckpointSequence, CheckpointException, r.Code)
	}
	if err := ValidateText("location", r.Location, 200); err != nil {
		return "", err
	}
	if r.DocumentHash == "" {
		return "", nil
	}
	return NormalizeSHA256Hex("documentHash", r.DocumentHash)
}

// checkCheckpointAllowed checks that the order may receive checkpoint code: not final, with a
// waybill and room for another checkpoint; a progress checkpoint also needs the order not to be
// held, to be the next one of CheckpointSequence and, for OUT_FOR_DELIVERY and DELIVERED,
// customs clearance.
func checkCheckpointAllowed(o *Order, code string) error {
	if IsFinalStatus(o.Status) {
		return errPrecondition("cannot record checkpoint: order %s is %s", o.OrderID, o.Status)
	}
	if !o.Documents.Waybilled {
		return errPrecondition("cannot record checkpoint %s: order %s has no waybill", code, o.OrderID)
	}
	if o.Logistics.Checkpoints >= MaxCheckpoints {
		return errPrecondition("cannot record checkpoint: order %s already has %d checkpoints", o.OrderID, o.Logistics.Checkpoints)
	}
	if code == CheckpointException {
		return nil
	}
	if o.Hold != nil {
		return errPrecondition("cannot record checkpoint %s: order %s is HELD (%s)", code, o.OrderID, o.Hold.Reason)
	}
	last := slices.Index(CheckpointSequence, o.Logistics.LastCheckpoint)
	if slices.Index(CheckpointSequence, code) != last+1 {
		next := "none (delivered)"
		if last+1 < len(CheckpointSequence) {
			next = CheckpointSequence[last+1]
		}
		return errPrecondition("cannot record checkpoint %s: checkpoints follow %v; order %s expects %s next", code, CheckpointSequence, o.OrderID, next)
	}
	if (code == CheckpointOutForDelivery || code == CheckpointDelivered) && !o.Customs.Cleared {
		return errPrecondition("cannot record checkpoint %s: order %s is not cleared by customs", code, o.OrderID)
	}
	return nil
}
