package httpapi

import (
	"encoding/json"
	"fmt"

	"github.com/gin-gonic/gin"

	"github.com/xborder/xborder/gateway"
)

// merchantGuard enforces, in the gateway, the merchants an API key is bound to
// (gateway.Caller.Merchants), before the chaincode enforces the certificate attribute of the
// key's own identity: a bound key may create orders only for its merchants (the body's
// merchantId), act on or read orders of its merchants only (the order's merchantId, read from
// the ledger), and name only its merchants in merchant queries (merchantId parameters and the
// merchant of GET /merchants/{id}/credit). Unbound keys pass untouched. It runs after the
// request is validated, so that the fields it reads are well-formed.
func (s *Server) merchantGuard(op gateway.Operation) gin.HandlerFunc {
	return func(c *gin.Context) {
		caller := callerOf(c)
		if len(caller.Merchants) == 0 {
			c.Next()
			return
		}
		if err := s.checkMerchants(c, op, caller); err != nil {
			abortProblem(c, err)
			return
		}
		c.Next()
	}
}

// checkMerchants returns the FORBIDDEN error of a request of a bound caller outside its
// merchants, or nil.
func (s *Server) checkMerchants(c *gin.Context, op gateway.Operation, caller gateway.Caller) error {
	switch op.ID {
	case "createOrder":
		m := bodyField(bodyOf(c), "merchantId")
		if !caller.ActsFor(m) {
			return gateway.MerchantForbidden("merchantId", m, caller)
		}
		return nil
	case "getMerchantCredit":
		if m := c.Param("id"); !caller.ActsFor(m) {
			return gateway.MerchantForbidden("id", m, caller)
		}
		return nil
	}
	for _, p := range op.Params {
		if p.Name != "merchantId" {
			continue
		}
		m, ok := c.GetQuery("merchantId")
		if !ok || m == "" {
			return &gateway.Error{Code: gateway.CodeForbidden, Field: "merchantId",
				Message: fmt.Sprintf("this API key acts only for merchants %v: name one of them", caller.Merchants)}
		}
		if !caller.ActsFor(m) {
			return gateway.MerchantForbidden("merchantId", m, caller)
		}
	}
	field, orderID := "id", ""
	if op.OrderIDParam != "" {
		orderID = c.Param(op.OrderIDParam)
	} else if op.Write {
		field, orderID = "orderId", bodyField(bodyOf(c), "orderId")
	}
	if orderID == "" {
		return nil
	}
	return s.checkOrderMerchant(c, caller, field, orderID)
}

// checkOrderMerchant reads the order's merchant (public) and refuses a caller bound to others.
// A missing order passes: the chaincode answers NOT_FOUND itself.
func (s *Server) checkOrderMerchant(c *gin.Context, caller gateway.Caller, field, orderID string) error {
	inv := gateway.Invocation{Transaction: "GetOrder", Args: [][]byte{[]byte(orderID)}, OrderID: orderID}
	out, err := s.ledger.Evaluate(c.Request.Context(), caller, inv)
	if err != nil {
		if ge := gateway.AsError(err); ge.Code == gateway.CodeNotFound {
			return nil
		}
		return err
	}
	m := bodyField(out, "merchantId")
	if !caller.ActsFor(m) {
		return &gateway.Error{Code: gateway.CodeForbidden, Field: field,
			Message: fmt.Sprintf("order %s belongs to merchant %q; this API key acts only for merchants %v", orderID, m, caller.Merchants)}
	}
	return nil
}

// bodyField returns a top-level string field of a JSON object ("" when absent).
func bodyField(body []byte, name string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	var v string
	_ = json.Unmarshal(m[name], &v)
	return v
}
