package chaincode

import (
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// TrackingView is what the holder of an order's tracking token sees: the order's public progress
// only. It carries no personal data (no buyer ID, name or address, no payer), nothing internal
// to the merchant or the other organisations (no merchant ID, items, declaration, duty and tax,
// decision or dispute reasons, identities, private data hashes), only what the buyer needs to
// follow the order and sign a statement (its version and the thumbprint of the buyer's key).
type TrackingView struct {
	OrderID        string               `json:"orderId"`
	Status         string               `json:"status"`
	Version        int64                `json:"version"`
	Currency       string               `json:"currency"`
	Total          int64                `json:"total"`
	CreatedAt      string               `json:"createdAt"`
	UpdatedAt      string               `json:"updatedAt"`
	ClosedAt       string               `json:"closedAt,omitempty" metadata:",optional"`
	PaymentTerms   *TrackingTerms       `json:"paymentTerms,omitempty" metadata:",optional"`
	Deadlines      *Deadlines           `json:"deadlines,omitempty" metadata:",optional"`
	Payment        TrackingPayment      `json:"payment"`
	Escrow         Escrow               `json:"escrow"`
	Customs        TrackingCustoms      `json:"customs"`
	Checkpoints    []TrackingCheckpoint `json:"checkpoints"`
	Dispute        *TrackingDispute     `json:"dispute,omitempty" metadata:",optional"`
	BuyerKey       string               `json:"buyerKeyThumbprint,omitempty" metadata:",optional"`
	ReleasableFrom string               `json:"releasableFrom,omitempty" metadata:",optional"`
}

// TrackingTerms are the order's payment terms as the buyer sees them.
type TrackingTerms struct {
	Kind              string `json:"kind"`
	ClearanceShareBps int64  `json:"clearanceShareBps,omitempty" metadata:",optional"`
	AutoReleaseDays   int64  `json:"autoReleaseDays,omitempty" metadata:",optional"`
}

// TrackingPayment says whether the order was paid and whether money is held in escrow now.
type TrackingPayment struct {
	Paid     bool   `json:"paid"`
	Held     bool   `json:"held"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	PaidAt   string `json:"paidAt,omitempty" metadata:",optional"`
}

// TrackingCustoms is the customs decision without its reason, duty or tax.
type TrackingCustoms struct {
	Decision  string `json:"decision,omitempty" metadata:",optional"`
	Cleared   bool   `json:"cleared"`
	DecidedAt string `json:"decidedAt,omitempty" metadata:",optional"`
}

// TrackingCheckpoint is one certified checkpoint: code, place and time.
type TrackingCheckpoint struct {
	Seq        int64  `json:"seq"`
	Code       string `json:"code"`
	Location   string `json:"location"`
	RecordedAt string `json:"recordedAt"`
}

// TrackingDispute is the order's dispute without its reason and resolution text.
type TrackingDispute struct {
	Open         bool   `json:"open"`
	OpenedAt     string `json:"openedAt"`
	RefundAmount int64  `json:"refundAmount"`
	ResolvedAt   string `json:"resolvedAt,omitempty" metadata:",optional"`
}

// GetTrackingView returns the public progress of the order whose tracking token has the SHA-256
// tokenHash (64 lower-case hex digits), for the buyer holding the token (any member
// organisation may call it: a gateway asks on the buyer's behalf). An unknown or revoked token
// is NOT_FOUND. It reads the order, its escrow and its checkpoints (at most MaxCheckpoints).
// Evaluate only.
func (c *Contract) GetTrackingView(ctx contractapi.TransactionContextInterface, tokenHash string) (*TrackingView, error) {
	if _, err := requireOrg(ctx, "GetTrackingView", Organisations...); err != nil {
		return nil, err
	}
	if err := validateLowerSHA256("tokenHash", tokenHash); err != nil {
		return nil, err
	}
	key, err := compositeKey(ctx, objTrackingToken, tokenHash)
	if err != nil {
		return nil, err
	}
	id, err := ctx.GetStub().GetState(key)
	if err != nil {
		return nil, errInternal("get state", err)
	}
	if id == nil {
		return nil, errNotFound("no order has this tracking token (it may have been revoked)")
	}
	o, err := loadOrder(ctx, string(id))
	if err != nil {
		return nil, err
	}
	v := newTrackingView(o)
	if v.Checkpoints, err = trackingCheckpoints(ctx, o); err != nil {
		return nil, err
	}
	return v, nil
}

// newTrackingView copies the public progress of o (without its checkpoints).
func newTrackingView(o *Order) *TrackingView {
	v := &TrackingView{
		OrderID: o.OrderID, Status: o.Status, Version: o.Version, Currency: o.Currency, Total: o.Total,
		CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, ClosedAt: o.ClosedAt, Deadlines: o.Deadlines,
		Escrow:   o.Escrow,
		Payment:  TrackingPayment{Paid: o.Payment != nil, Held: remainingEscrow(o) > 0, Amount: o.Escrow.Amount, Currency: o.Currency},
		Customs:  TrackingCustoms{Decision: o.Customs.Decision, Cleared: o.Customs.Cleared, DecidedAt: o.Customs.DecidedAt},
		BuyerKey: o.Buyer.KeyThumbprint,
	}
	if o.PaymentTerms != nil {
		v.PaymentTerms = &TrackingTerms{Kind: o.PaymentTerms.Kind, ClearanceShareBps: o.PaymentTerms.ClearanceShareBps, AutoReleaseDays: o.PaymentTerms.AutoReleaseDays}
	}
	if o.Payment != nil {
		v.Payment.PaidAt = o.Payment.PaidAt
	}
	if o.Dispute != nil {
		v.Dispute = &TrackingDispute{Open: o.Dispute.Open, OpenedAt: o.Dispute.OpenedAt, RefundAmount: o.Dispute.RefundAmount, ResolvedAt: o.Dispute.ResolvedAt}
	}
	if from, ok := releasableFrom(o); ok {
		v.ReleasableFrom = from.Format(timeLayout)
	}
	return v
}

// trackingCheckpoints reads the order's certified checkpoints, oldest first.
func trackingCheckpoints(ctx contractapi.TransactionContextInterface, o *Order) ([]TrackingCheckpoint, error) {
	out := make([]TrackingCheckpoint, 0, o.Logistics.Checkpoints)
	for seq := int64(1); seq <= o.Logistics.Checkpoints && seq <= MaxCheckpoints; seq++ {
		key, err := checkpointKey(ctx, o.OrderID, seq)
		if err != nil {
			return nil, err
		}
		var cp CheckpointRecord
		found, err := getJSON(ctx, key, &cp)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		out = append(out, TrackingCheckpoint{Seq: cp.Seq, Code: cp.Code, Location: cp.Location, RecordedAt: cp.RecordedAt})
	}
	return out, nil
}
