package chaincode

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
)

// objBuyerStatement is the object type of accepted buyer statements: [orderId, nonce] →
// BuyerStatementRecord. A nonce is accepted once per order (replays are CONFLICT).
const objBuyerStatement = "buyerstmt"

// BuyerStatementRequest is the argument of SubmitBuyerStatement: the statement's canonical text
// and the buyer's signature of it (see BuyerStatement). OrderID, when given, must be the
// statement's; TrackingTokenHash, when given, must be the hash of the order's active tracking
// token (a gateway relaying for the holder of a tracking link sends it, so the link can act
// only on its own order).
type BuyerStatementRequest struct {
	requestBase
	OrderID           string `json:"orderId,omitempty" metadata:",optional"`
	Statement         string `json:"statement"`
	Signature         string `json:"signature"`
	TrackingTokenHash string `json:"trackingTokenHash,omitempty" metadata:",optional"`
}

// BuyerStatementRecord is an accepted buyer statement, stored under its order and nonce:
// the statement's text and signature (so anyone can verify it again), its SHA-256, the key's
// thumbprint, and who relayed it.
type BuyerStatementRecord struct {
	OrderID         string `json:"orderId"`
	Action          string `json:"action"`
	OrderVersion    int64  `json:"orderVersion"`
	Nonce           string `json:"nonce"`
	ExpiresAt       string `json:"expiresAt"`
	Statement       string `json:"statement"`
	StatementSHA256 string `json:"statementSha256"`
	Signature       string `json:"signature"`
	KeyThumbprint   string `json:"keyThumbprint"`
	RecordedAt      string `json:"recordedAt"`
	UpdatedBy       string `json:"updatedBy"`
	UpdatedByMSP    string `json:"updatedByMsp"`
	TxID            string `json:"txId"`
}

// SubmitBuyerStatement relays a statement signed by the buyer's key (any member organisation
// that writes; the regulator may not). The chaincode verifies the signature with the key
// registered on the order, so no relaying organisation can make up the buyer's consent. Checks,
// in order: the statement's form (INVALID_ARGUMENT), its expiry at most MaxStatementLifetime
// after the transaction time (INVALID_ARGUMENT), the order (NOT_FOUND; the tracking token hash
// when given, NOT_FOUND), a buyer key on the order (FAILED_PRECONDITION), the signature
// (FORBIDDEN), expiry (FAILED_PRECONDITION when the transaction time is after expiresAt), the
// order version (VERSION_MISMATCH), the nonce (CONFLICT when already used on the order), then
// the action's own rules:
//
//   - CONFIRM_RECEIPT on a DELIVERED order releases everything still held to the merchant
//     (COMPLETED, event PaymentReleased);
//   - OPEN_DISPUTE opens a dispute with the statement's reason (DISPUTED, event DisputeOpened);
//   - CANCEL_LATE cancels an order that missed its shipBy (not picked up) or deliverBy (not
//     delivered) deadline and refunds everything still held (CANCELLED, event OrderCancelled).
//
// The event carries buyerStatement (the action). The statement is stored under
// buyerstmt [orderId, nonce] and appears in the order's audit trail.
func (c *Contract) SubmitBuyerStatement(ctx contractapi.TransactionContextInterface, req BuyerStatementRequest) (*Order, error) {
	ti, err := c.begin(ctx, &req, "SubmitBuyerStatement", writers...)
	if err != nil {
		return nil, err
	}
	st, err := req.validate(ti)
	if err != nil {
		return nil, err
	}
	o, err := orderForWrite(ctx, ti, st.OrderID, 0)
	if err != nil {
		return nil, err
	}
	if err := req.checkAgainst(ctx, o, st, ti); err != nil {
		return nil, err
	}
	if err := putBuyerStatement(ctx, o, st, &req, ti); err != nil {
		return nil, err
	}
	switch st.Action {
	case StatementConfirmReceipt:
		if err := requireStatus(o, "confirm receipt", StatusDelivered); err != nil {
			return nil, err
		}
		return release(ctx, o, ti, st.Action)
	case StatementOpenDispute:
		return openDispute(ctx, o, st.Reason, ti, st.Action)
	default: // StatementCancelLate
		if err := requireStatus(o, "cancel order as late", StatusCreated, StatusPaid, StatusDocumented, StatusCleared, StatusInTransit, StatusHeld); err != nil {
			return nil, err
		}
		if err := requireLate(o, ti); err != nil {
			return nil, err
		}
		return cancelOrder(ctx, o, ti, st.Action)
	}
}

// validate checks the request's form and returns the parsed statement.
func (r *BuyerStatementRequest) validate(ti *txInfo) (BuyerStatement, error) {
	st, err := ParseBuyerStatement(r.Statement)
	if err != nil {
		return st, err
	}
	if _, _, err := decodeStatementSignature(r.Signature); err != nil {
		return st, err
	}
	if r.OrderID != "" && r.OrderID != st.OrderID {
		return st, errInvalid("orderId", "is %s but the statement is about order %s", quoteValue(r.OrderID), quoteValue(st.OrderID))
	}
	if r.TrackingTokenHash != "" {
		if err := validateLowerSHA256("trackingTokenHash", r.TrackingTokenHash); err != nil {
			return st, err
		}
	}
	if st.ExpiresAt.Sub(ti.at) > MaxStatementLifetime {
		return st, errInvalid("statement.expiresAt", "must be at most %s after the transaction time %s, got %s",
			MaxStatementLifetime, ti.ts, st.ExpiresAt.Format(StatementTimeLayout))
	}
	return st, nil
}

// checkAgainst checks the statement against the order: tracking link, key, signature, expiry,
// version and nonce.
func (r *BuyerStatementRequest) checkAgainst(ctx contractapi.TransactionContextInterface, o *Order, st BuyerStatement, ti *txInfo) error {
	if r.TrackingTokenHash != "" {
		link, err := loadTrackingLink(ctx, o.OrderID)
		if err != nil {
			return err
		}
		if link == nil || !link.Active || link.TokenHash != r.TrackingTokenHash {
			return errNotFound("no order has this tracking token (it may have been revoked)")
		}
	}
	if o.Buyer.PublicKey == nil {
		return errPrecondition("order %s has no buyer key: its buyer cannot sign statements (the bank acts for the buyer)", o.OrderID)
	}
	if err := VerifyBuyerStatement(o.Buyer.PublicKey, r.Statement, r.Signature); err != nil {
		return err
	}
	if ti.at.After(st.ExpiresAt) {
		return errPreconditionField("statement.expiresAt", "the statement expired at %s (transaction time %s); sign a new one",
			st.ExpiresAt.Format(StatementTimeLayout), ti.ts)
	}
	if st.OrderVersion != o.Version {
		return &Error{Code: CodeVersionMismatch, Field: "statement.orderVersion", Message: errVersionText(o, st.OrderVersion)}
	}
	key, err := compositeKey(ctx, objBuyerStatement, o.OrderID, st.Nonce)
	if err != nil {
		return err
	}
	used, err := ctx.GetStub().GetState(key)
	if err != nil {
		return errInternal("get state", err)
	}
	if used != nil {
		return errConflict("the nonce %s was already used by a statement on order %s: a statement is accepted once", st.Nonce, o.OrderID)
	}
	return nil
}

// orderStatementKeys returns the keys of the order's accepted buyer statements (at most
// maxDocumentsIndex), for its audit trail.
func orderStatementKeys(ctx contractapi.TransactionContextInterface, orderID string) ([]string, error) {
	keys := []string{}
	err := scanKeys(ctx, "buyer statements", objBuyerStatement, []string{orderID}, func(kv *queryresult.KV) error {
		keys = append(keys, kv.GetKey())
		return nil
	})
	return keys, err
}

// putBuyerStatement records the accepted statement under its order and nonce.
func putBuyerStatement(ctx contractapi.TransactionContextInterface, o *Order, st BuyerStatement, req *BuyerStatementRequest, ti *txInfo) error {
	key, err := compositeKey(ctx, objBuyerStatement, o.OrderID, st.Nonce)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(req.Statement))
	return putJSON(ctx, key, BuyerStatementRecord{
		OrderID: o.OrderID, Action: st.Action, OrderVersion: st.OrderVersion, Nonce: st.Nonce,
		ExpiresAt: st.ExpiresAt.Format(StatementTimeLayout), Statement: req.Statement,
		StatementSHA256: hex.EncodeToString(sum[:]), Signature: req.Signature, KeyThumbprint: o.Buyer.KeyThumbprint,
		RecordedAt: ti.ts, UpdatedBy: ti.id, UpdatedByMSP: ti.msp, TxID: ti.txID,
	})
}
