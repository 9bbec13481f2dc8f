package chaincode

import (
	"encoding/base64"
	"time"
	"unicode/utf8"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// txInfo is what every write records about its transaction: the creator's MSP and identity, the
// transaction timestamp and ID.
type txInfo struct {
	msp  string
	id   string
	at   time.Time
	ts   string
	txID string
}

// timeLayout is the layout of every timestamp the contract stores (RFC 3339, UTC, nanoseconds).
const timeLayout = time.RFC3339Nano

// newTxInfo collects the transaction facts after requireOrg has returned msp.
func newTxInfo(ctx contractapi.TransactionContextInterface, msp string) (*txInfo, error) {
	id, err := creatorID(ctx)
	if err != nil {
		return nil, err
	}
	// cid renders the identity base64-encoded; the audit trail keeps it readable:
	// "x509::<subject DN>::<issuer DN>".
	if raw, derr := base64.StdEncoding.DecodeString(id); derr == nil && utf8.Valid(raw) {
		id = string(raw)
	}
	at, err := txTime(ctx)
	if err != nil {
		return nil, err
	}
	return &txInfo{msp: msp, id: id, at: at, ts: at.Format(timeLayout), txID: ctx.GetStub().GetTxID()}, nil
}

// begin checks the caller's organisation (FORBIDDEN first, so that the authorisation matrix
// never depends on the request), then the request's decoding error, then collects txInfo and
// refuses a proposal whose timestamp is off this endorsing peer's clock (see WithMaxClockSkew).
func (c *Contract) begin(ctx contractapi.TransactionContextInterface, req argCarrier, action string, allowed ...string) (*txInfo, error) {
	msp, err := requireOrg(ctx, action, allowed...)
	if err != nil {
		return nil, err
	}
	if err := req.argError(); err != nil {
		return nil, err
	}
	ti, err := newTxInfo(ctx, msp)
	if err != nil {
		return nil, err
	}
	if err := c.cfg.checkClock(ti.at); err != nil {
		return nil, err
	}
	return ti, nil
}
