package chaincode

import (
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Composite-key object types of the buyer's tracking links.
const (
	// [orderId] → TrackingLinkRecord: the order's current link (rewritten when the merchant
	// issues a new one or revokes it, so its history lists every change).
	objTrackingLink = "tracking"
	// [tokenHash] → the order ID: finds the order of a tracking token (GetTrackingView).
	objTrackingToken = "track~tok"
)

// Event names of the tracking links.
const (
	EventTrackingLinkSet     = "TrackingLinkSet"
	EventTrackingLinkRevoked = "TrackingLinkRevoked"
)

// TrackingLinkRecord is an order's tracking link: the SHA-256 (hex) of the capability token the
// buyer holds. The token itself is never on the ledger. Active is false once revoked.
type TrackingLinkRecord struct {
	OrderID      string `json:"orderId"`
	Active       bool   `json:"active"`
	TokenHash    string `json:"tokenHash,omitempty"`
	IssuedAt     string `json:"issuedAt,omitempty"`
	RevokedAt    string `json:"revokedAt,omitempty"`
	UpdatedBy    string `json:"updatedBy"`
	UpdatedByMSP string `json:"updatedByMsp"`
	TxID         string `json:"txId"`
}

// TrackingLinkEvent is the payload of the TrackingLinkSet and TrackingLinkRevoked events (never
// the token hash).
type TrackingLinkEvent struct {
	OrderID string `json:"orderId"`
	Status  string `json:"status"`
	Active  bool   `json:"active"`
	TxID    string `json:"txId"`
}

// SetTrackingLinkRequest is the argument of SetTrackingLink: TokenHash is the SHA-256 of the new
// tracking token (64 lower-case hex digits), or "" to revoke the order's link.
type SetTrackingLinkRequest struct {
	requestBase
	OrderID         string `json:"orderId"`
	TokenHash       string `json:"tokenHash,omitempty" metadata:",optional"`
	ExpectedVersion int64  `json:"expectedVersion,omitempty" metadata:",optional"`
}

// SetTrackingLink replaces the order's tracking link with a new token hash, or revokes it when
// tokenHash is "" (MerchantMSP; a bound identity only for its merchants). The old token stops
// working at once. It does not change the order record (its version stays), so it is allowed on
// final orders too. A hash already in use is CONFLICT; revoking an order without an active link
// is FAILED_PRECONDITION. It emits TrackingLinkSet or TrackingLinkRevoked.
func (c *Contract) SetTrackingLink(ctx contractapi.TransactionContextInterface, req SetTrackingLinkRequest) (*TrackingLinkRecord, error) {
	ti, err := c.begin(ctx, &req, "SetTrackingLink", MerchantMSP)
	if err != nil {
		return nil, err
	}
	if err := ValidateID("orderId", req.OrderID); err != nil {
		return nil, err
	}
	if req.TokenHash != "" {
		if err := validateLowerSHA256("tokenHash", req.TokenHash); err != nil {
			return nil, err
		}
	}
	o, err := orderForWrite(ctx, ti, req.OrderID, req.ExpectedVersion)
	if err != nil {
		return nil, err
	}
	if err := requireAfterCreation(ti, o); err != nil {
		return nil, err
	}
	current, err := loadTrackingLink(ctx, o.OrderID)
	if err != nil {
		return nil, err
	}
	if req.TokenHash == "" && (current == nil || !current.Active) {
		return nil, errPrecondition("order %s has no active tracking link to revoke", o.OrderID)
	}
	oldHash := ""
	if current != nil {
		oldHash = current.TokenHash
	}
	rec, err := putTrackingLink(ctx, o.OrderID, oldHash, req.TokenHash, ti)
	if err != nil {
		return nil, err
	}
	event := EventTrackingLinkSet
	if !rec.Active {
		event = EventTrackingLinkRevoked
	}
	if err := emit(ctx, event, TrackingLinkEvent{OrderID: o.OrderID, Status: o.Status, Active: rec.Active, TxID: ti.txID}); err != nil {
		return nil, err
	}
	return rec, nil
}

// putTrackingLink makes tokenHash the order's tracking link ("" revokes it): it deletes the
// index entry of oldHash, claims the new hash (CONFLICT when any order uses it) and rewrites the
// order's link record.
func putTrackingLink(ctx contractapi.TransactionContextInterface, orderID, oldHash, tokenHash string, ti *txInfo) (*TrackingLinkRecord, error) {
	stub := ctx.GetStub()
	if tokenHash != "" {
		if err := requireUnusedToken(ctx, orderID, oldHash, tokenHash); err != nil {
			return nil, err
		}
	}
	if oldHash != "" {
		key, err := compositeKey(ctx, objTrackingToken, oldHash)
		if err != nil {
			return nil, err
		}
		if err := stub.DelState(key); err != nil {
			return nil, errInternal("delete tracking token index", err)
		}
	}
	rec := &TrackingLinkRecord{OrderID: orderID, UpdatedBy: ti.id, UpdatedByMSP: ti.msp, TxID: ti.txID}
	if tokenHash == "" {
		rec.RevokedAt = ti.ts
	} else {
		key, err := compositeKey(ctx, objTrackingToken, tokenHash)
		if err != nil {
			return nil, err
		}
		if err := stub.PutState(key, []byte(orderID)); err != nil {
			return nil, errInternal("put tracking token index", err)
		}
		rec.Active, rec.TokenHash, rec.IssuedAt = true, tokenHash, ti.ts
	}
	key, err := compositeKey(ctx, objTrackingLink, orderID)
	if err != nil {
		return nil, err
	}
	return rec, putJSON(ctx, key, rec)
}

// requireUnusedToken refuses (CONFLICT) a token hash that is the order's current one or in use
// by any order.
func requireUnusedToken(ctx contractapi.TransactionContextInterface, orderID, oldHash, tokenHash string) error {
	if tokenHash == oldHash {
		return errConflict("order %s already has this tracking token; generate a fresh random token", orderID)
	}
	key, err := compositeKey(ctx, objTrackingToken, tokenHash)
	if err != nil {
		return err
	}
	used, err := ctx.GetStub().GetState(key)
	if err != nil {
		return errInternal("get state", err)
	}
	if used != nil {
		return errConflict("this tracking token hash is already in use; generate a fresh random token")
	}
	return nil
}

// requireAfterCreation refuses (FAILED_PRECONDITION naming timestamp) a write on the order that
// is stamped before the order's creation, for writes that leave the order record alone.
func requireAfterCreation(ti *txInfo, o *Order) error {
	created, err := time.Parse(timeLayout, o.CreatedAt)
	if err != nil {
		return errInternal("parse createdAt", err)
	}
	return requireNotBefore(ti, o.OrderID, "createdAt", created)
}

// loadTrackingLink returns the order's tracking link record (nil when it never had one).
func loadTrackingLink(ctx contractapi.TransactionContextInterface, orderID string) (*TrackingLinkRecord, error) {
	var rec TrackingLinkRecord
	found, err := getRecord(ctx, objTrackingLink, orderID, &rec)
	if err != nil || !found {
		return nil, err
	}
	return &rec, nil
}

// validateLowerSHA256 checks a SHA-256 in the form the ledger stores it: 64 lower-case hex
// digits.
func validateLowerSHA256(field, v string) error {
	norm, err := NormalizeSHA256Hex(field, v)
	if err != nil {
		return err
	}
	if norm != v {
		return errInvalid(field, "must be in lower case")
	}
	return nil
}
