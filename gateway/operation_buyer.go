package gateway

import "net/http"

// TrackingPagePrefix is the path of the buyer's tracking page before the token: an order's
// tracking URL is TrackingPagePrefix + token (the JSON is at /api/v1/track/{token}).
const TrackingPagePrefix = "/track/"

// orderTrackingLink is the tracking link the gateway creates with an order that asks for one
// ("trackingLink": true) or carries the buyer's key (buyer.publicKey; "trackingLink": false
// declines): the chaincode gets the token's hash as trackingTokenHash, the 201 answer carries
// trackingToken and trackingUrl. An order with neither is created and answered exactly as
// before tracking links existed.
var orderTrackingLink = &Capability{
	HashField: "trackingTokenHash", TokenField: "trackingToken", URLField: "trackingUrl",
	URLPrefix: TrackingPagePrefix, Choice: "trackingLink", ChosenWith: "buyer.publicKey",
}

// statementReceipt are the members of the order a token holder's statement answer keeps: its
// public progress, nothing about the merchant, items or payer.
var statementReceipt = []string{"orderId", "status", "version", "currency", "total", "escrow", "updatedAt", "closedAt", "txId"}

// buyerOperations are the REST operations of the buyer, FX reference rates and payment terms
// (docs/design.md §10), kept apart from the lifecycle's table.
var buyerOperations = []Operation{
	// A buyer statement names the order version it was signed for (orderVersion): the buyer's
	// signature, not an If-Match, protects it against a changed order.
	{ID: "submitBuyerStatement", Transaction: "SubmitBuyerStatement", Write: true, Status: http.StatusOK, OrderIDParam: "id"},
	{ID: "issueTrackingLink", Transaction: "SetTrackingLink", Write: true, Status: http.StatusCreated, OrderIDParam: "id", IfMatch: true,
		Capability: &Capability{HashField: "tokenHash", TokenField: "trackingToken", URLField: "trackingUrl", URLPrefix: TrackingPagePrefix}},
	{ID: "revokeTrackingLink", Transaction: "SetTrackingLink", Write: true, Status: http.StatusOK, OrderIDParam: "id", IfMatch: true},
	{ID: "publishFXReferenceRates", Transaction: "PublishFXReferenceRates", Write: true, Status: http.StatusOK},
	{ID: "getFXReferenceRate", Transaction: "GetFXReferenceRate", Status: http.StatusOK, Params: []Param{
		{Name: "orderCurrency"}, {Name: "payerCurrency"}, {Name: "date"},
	}},
	{ID: "getFXExposureReport", Transaction: "GetFXExposureReport", Status: http.StatusOK, Params: []Param{
		{Name: "bankId"}, {Name: "from"}, {Name: "to"},
	}},
	{ID: "trackOrder", Transaction: "GetTrackingView", Status: http.StatusOK, Params: []Param{{Name: "tokenHash"}},
		Token: &TokenAccess{PathParam: "token", HashField: "tokenHash"}},
	{ID: "submitTrackedStatement", Transaction: "SubmitBuyerStatement", Write: true, Status: http.StatusOK,
		Token: &TokenAccess{PathParam: "token", HashField: "trackingTokenHash", AnswerFields: statementReceipt}},
}

// withHash returns params with HashField set to the SHA-256 of the token in PathParam (a fresh
// map; the token stays too, it is not a chaincode argument).
func (a *TokenAccess) withHash(params map[string]string) map[string]string {
	out := make(map[string]string, len(params)+1)
	for k, v := range params {
		out[k] = v
	}
	out[a.HashField] = CapabilityHash(params[a.PathParam])
	return out
}
