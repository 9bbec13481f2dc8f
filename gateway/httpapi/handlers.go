package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/xborder/xborder/gateway"
)

// privateSpec moves private request fields into one transient map entry.
type privateSpec struct {
	// transientKey is the chaincode's transient map key, e.g. "order_private".
	transientKey string
	// object is the request object holding the private fields ("" for the top level).
	object string
	// fields are the private fields of object, named as in the transient JSON object.
	fields []string
	// topFields are private top-level request fields (when object is not the top level).
	topFields []string
	// salted adds a fresh random "salt" to the transient value.
	salted bool
}

// writeOp describes how one REST write becomes a chaincode transaction.
type writeOp struct {
	transaction string
	// status is the success status (200 or 201).
	status int
	// orderIDFromPath copies the {id} path parameter into the request's "orderId".
	orderIDFromPath bool
	// private moves private fields into the transient map. No endorsing organisations are
	// named: the caller's organisation is a member of every collection its writes touch, so
	// Fabric's gateway endorses there first and then, from the chaincode interest (which names
	// the collections), picks only collection members that satisfy the endorsement policy —
	// transient data never leaves the members, and any two members can endorse.
	private *privateSpec
	// location renders the Location header from the result (nil: none).
	location func(result map[string]any) string
}

var writeOps = map[string]writeOp{
	"createOrder": {transaction: "CreateOrder", status: http.StatusCreated,
		private: &privateSpec{transientKey: "order_private", object: "buyer", fields: []string{"name", "address", "phone"},
			topFields: []string{"consigneeSalt"}, salted: true},
		location: func(r map[string]any) string { return "/api/v1/orders/" + str(r["orderId"]) }},
	"escrowPayment": {transaction: "EscrowPayment", status: http.StatusOK, orderIDFromPath: true,
		private: &privateSpec{transientKey: "payment_private", fields: []string{"payerName", "payerAccount"}, salted: true}},
	"registerWaybill": {transaction: "RegisterWaybill", status: http.StatusOK, orderIDFromPath: true,
		private: &privateSpec{transientKey: "waybill_private", fields: []string{"consigneeName", "consigneeAddress", "consigneeSalt"}}},
	"declareCustoms":     {transaction: "DeclareCustoms", status: http.StatusOK, orderIDFromPath: true},
	"decideCustoms":      {transaction: "DecideCustoms", status: http.StatusOK, orderIDFromPath: true},
	"recordCheckpoint":   {transaction: "RecordCheckpoint", status: http.StatusOK, orderIDFromPath: true},
	"confirmDelivery":    {transaction: "ConfirmDelivery", status: http.StatusOK, orderIDFromPath: true},
	"releaseEscrow":      {transaction: "ReleaseEscrow", status: http.StatusOK, orderIDFromPath: true},
	"openDispute":        {transaction: "OpenDispute", status: http.StatusOK, orderIDFromPath: true},
	"resolveDispute":     {transaction: "ResolveDispute", status: http.StatusOK, orderIDFromPath: true},
	"cancelOrder":        {transaction: "CancelOrder", status: http.StatusOK, orderIDFromPath: true},
	"setComplianceRules": {transaction: "SetComplianceRules", status: http.StatusOK},
	"anchorDocument": {transaction: "AnchorDocument", status: http.StatusCreated,
		location: func(r map[string]any) string { return "/api/v1/documents/" + str(r["sha256"]) }},
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// handlers returns the handler of every operation of the spec, by operationId.
func (s *Server) handlers() map[string]gin.HandlerFunc {
	h := map[string]gin.HandlerFunc{
		"getOrder": s.query("GetOrder", func(c *gin.Context) []string { return []string{c.Param("id")} }),
		"listOrders": s.pagedQuery("ListOrders", func(c *gin.Context) []string {
			return []string{c.Query("merchantId"), c.Query("status"), c.Query("buyerId"), c.DefaultQuery("pageSize", "0")}
		}),
		"getOrderHistory":   s.query("GetOrderHistory", func(c *gin.Context) []string { return []string{c.Param("id")} }),
		"getMerchantCredit": s.query("GetMerchantCredit", func(c *gin.Context) []string { return []string{c.Param("id")} }),
		"getSettlementReport": s.query("GetSettlementReport", func(c *gin.Context) []string {
			return []string{c.Query("merchantId"), c.Query("currency"), c.Query("from"), c.Query("to")}
		}),
		"getComplianceRules": s.query("GetComplianceRules", func(*gin.Context) []string { return nil }),
		"listComplianceAlerts": s.pagedQuery("ListComplianceAlerts", func(c *gin.Context) []string {
			return []string{c.DefaultQuery("pageSize", "0")}
		}),
		"verifyDocument": s.query("VerifyDocument", func(c *gin.Context) []string { return []string{c.Param("sha256")} }),
		"getTransaction": s.getTransaction,
		"streamEvents":   s.streamEvents,
		"healthz":        s.healthz,
		"readyz":         s.readyz,
		"metrics":        s.metricsHandler(),
		"openapi":        s.openapi,
	}
	for id, op := range writeOps {
		h[id] = s.write(op)
	}
	return h
}

// query runs an evaluate transaction and answers its JSON result.
func (s *Server) query(tx string, args func(*gin.Context) []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		a := args(c)
		inv := gateway.Invocation{Transaction: tx}
		for _, v := range a {
			inv.Args = append(inv.Args, []byte(v))
		}
		out, err := s.ledger.Evaluate(c.Request.Context(), callerOf(c), inv)
		if err != nil {
			abortProblem(c, err)
			return
		}
		writeJSON(c, http.StatusOK, out)
	}
}

// pagedQuery runs a paginated evaluate transaction whose last argument is the bookmark. The
// chaincode's bookmarks (composite keys with NUL separators) travel over HTTP as opaque
// base64url tokens.
func (s *Server) pagedQuery(tx string, args func(*gin.Context) []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		bookmark, err := base64.RawURLEncoding.DecodeString(c.Query("bookmark"))
		if err != nil {
			abortProblem(c, gateway.FieldError("bookmark", "must be a bookmark returned by a previous page"))
			return
		}
		inv := gateway.Invocation{Transaction: tx}
		for _, v := range append(args(c), string(bookmark)) {
			inv.Args = append(inv.Args, []byte(v))
		}
		out, err := s.ledger.Evaluate(c.Request.Context(), callerOf(c), inv)
		if err != nil {
			abortProblem(c, err)
			return
		}
		var page map[string]json.RawMessage
		if err := json.Unmarshal(out, &page); err != nil {
			abortProblem(c, &gateway.Error{Code: gateway.CodeInternal, Message: "the chaincode returned an unreadable page", Err: err})
			return
		}
		var raw string
		if b, ok := page["bookmark"]; ok {
			if err := json.Unmarshal(b, &raw); err != nil {
				abortProblem(c, &gateway.Error{Code: gateway.CodeInternal, Message: "the chaincode returned an unreadable bookmark", Err: err})
				return
			}
		}
		token, _ := json.Marshal(base64.RawURLEncoding.EncodeToString([]byte(raw)))
		page["bookmark"] = token
		out, err = json.Marshal(page)
		if err != nil {
			abortProblem(c, &gateway.Error{Code: gateway.CodeInternal, Message: "cannot encode the page", Err: err})
			return
		}
		writeJSON(c, http.StatusOK, out)
	}
}

// write turns the validated request into the chaincode's request object and submits it.
func (s *Server) write(op writeOp) gin.HandlerFunc {
	return func(c *gin.Context) {
		req := map[string]any{}
		if body := bodyOf(c); len(bytes.TrimSpace(body)) > 0 {
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if err := dec.Decode(&req); err != nil {
				abortProblem(c, gateway.FieldError("body", "malformed JSON: %v", err))
				return
			}
		}
		if op.orderIDFromPath {
			req["orderId"] = c.Param("id")
		}
		inv := gateway.Invocation{Transaction: op.transaction}
		if op.private != nil {
			t, err := splitPrivate(req, op.private)
			if err != nil {
				abortProblem(c, err)
				return
			}
			inv.Transient = map[string][]byte{op.private.transientKey: t}
		}
		arg, err := json.Marshal(req)
		if err != nil {
			abortProblem(c, &gateway.Error{Code: gateway.CodeInternal, Message: "cannot encode the chaincode request", Err: err})
			return
		}
		inv.Args = [][]byte{arg}
		async := preferAsync(c)
		// A write runs to its end (bounded by the Fabric timeouts) even if the client goes away,
		// so that its answer is known and stored for the Idempotency-Key.
		ctx := context.WithoutCancel(c.Request.Context())
		res, err := s.ledger.Submit(ctx, callerOf(c), inv, gateway.SubmitOptions{Async: async})
		if err != nil {
			abortProblem(c, mapPrivateField(err, op.private))
			return
		}
		c.Set(ctxTxID, res.TxID)
		c.Header("X-Transaction-Id", res.TxID)
		if async {
			statusURL := "/api/v1/transactions/" + res.TxID
			c.Header("Location", statusURL)
			c.Header("Preference-Applied", "respond-async")
			c.JSON(http.StatusAccepted, gin.H{"txId": res.TxID, "status": "SUBMITTED", "statusUrl": statusURL})
			return
		}
		if op.location != nil {
			var result map[string]any
			if json.Unmarshal(res.Payload, &result) == nil {
				c.Header("Location", op.location(result))
			}
		}
		if res.Attempts > 1 {
			c.Header("X-Fabric-Attempts", strconv.Itoa(res.Attempts))
		}
		writeJSON(c, op.status, res.Payload)
	}
}

// writeJSON answers a JSON document, newline-terminated (friendlier to curl).
func writeJSON(c *gin.Context, status int, body []byte) {
	if len(body) == 0 || body[len(body)-1] != '\n' {
		body = append(body[:len(body):len(body)], '\n')
	}
	c.Data(status, "application/json", body)
}

// splitPrivate removes the private fields from req and returns them as the transient JSON.
func splitPrivate(req map[string]any, p *privateSpec) ([]byte, error) {
	obj := req
	if p.object != "" {
		o, ok := req[p.object].(map[string]any)
		if !ok {
			return nil, gateway.FieldError(p.object, "is required")
		}
		obj = o
	}
	priv := map[string]any{}
	for _, f := range p.fields {
		if v, ok := obj[f]; ok {
			priv[f] = v
			delete(obj, f)
		}
	}
	for _, f := range p.topFields {
		if v, ok := req[f]; ok {
			priv[f] = v
			delete(req, f)
		}
	}
	if p.salted {
		var salt [32]byte
		if _, err := rand.Read(salt[:]); err != nil {
			return nil, &gateway.Error{Code: gateway.CodeInternal, Message: "cannot create a salt", Err: err}
		}
		priv["salt"] = hex.EncodeToString(salt[:])
	}
	b, err := json.Marshal(priv)
	if err != nil {
		return nil, &gateway.Error{Code: gateway.CodeInternal, Message: "cannot encode private data", Err: err}
	}
	return b, nil
}

// mapPrivateField renames a chaincode field "transient.<key>.<name>" back to the REST field.
func mapPrivateField(err error, p *privateSpec) error {
	e := gateway.AsError(err)
	if p == nil || !strings.HasPrefix(e.Field, "transient."+p.transientKey+".") {
		return err
	}
	name := strings.TrimPrefix(e.Field, "transient."+p.transientKey+".")
	if p.object != "" && !slices.Contains(p.topFields, name) {
		name = p.object + "." + name
	}
	c := *e
	c.Field = name
	return &c
}

func (s *Server) getTransaction(c *gin.Context) {
	st, err := s.ledger.TransactionStatus(c.Request.Context(), callerOf(c), c.Param("txId"))
	if err != nil {
		abortProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *Server) readyz(c *gin.Context) {
	if err := s.ledger.Ready(c.Request.Context()); err != nil {
		e := gateway.AsError(err)
		logger(c).Warn("not ready", "code", string(e.Code), "error", err)
		c.Header("Content-Type", ProblemContentType)
		p := NewProblem(&gateway.Error{Code: gateway.CodeUnavailable, Message: "the ledger is not reachable: " + e.Message}, c.Request.URL.Path, requestID(c))
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, p)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *Server) openapi(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml", s.opts.Spec)
}
