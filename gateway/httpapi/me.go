package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
)

// CallersExtension is the OpenAPI operation extension listing the organisations (MSP IDs) whose
// keys may call the operation, as the chaincode's rules allow it; "any" means every
// organisation the gateway signs for. It is advice for clients such as the console, which offer
// only the actions a caller may take: the gateway grants nothing from it, the chaincode decides.
const CallersExtension = "x-xborder-callers"

// anyCaller in CallersExtension admits every organisation of the gateway.
const anyCaller = "any"

// callers returns op's CallersExtension (nil when absent or not a list of strings).
func (op *Operation) callers() ([]string, error) {
	v, ok := op.Op.Extensions[CallersExtension]
	if !ok {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("operation %s: %s must be a list of MSP IDs", op.ID, CallersExtension)
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		s, ok := item.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("operation %s: %s must be a list of MSP IDs", op.ID, CallersExtension)
		}
		out = append(out, s)
	}
	return out, nil
}

// Permitted reports whether the spec lets organisation mspID call op (CallersExtension).
func (op *Operation) Permitted(mspID string) bool {
	list, err := op.callers()
	if err != nil {
		return false
	}
	return slices.Contains(list, anyCaller) || slices.Contains(list, mspID)
}

// checkCallers requires every authenticated operation to declare its callers, so that no
// operation is silently missing from GET /api/v1/me.
func (s *Spec) checkCallers() error {
	for _, op := range s.Operations() {
		list, err := op.callers()
		if err != nil {
			return err
		}
		if !op.Public && len(list) == 0 {
			return fmt.Errorf("operation %s (%s %s) declares no %s", op.ID, op.Method, op.Path, CallersExtension)
		}
	}
	return nil
}

// meAnswer is the answer of GET /api/v1/me.
type meAnswer struct {
	MSPID string `json:"mspId"`
	User  string `json:"user"`
	KeyID string `json:"keyId"`
	// Merchants are the merchants the key is bound to (none: every merchant of its
	// organisation); Admin keys manage their organisation's keys; Identity is the key's own
	// Fabric identity ("" when it signs with its organisation's).
	Merchants []string `json:"merchants,omitempty"`
	Admin     bool     `json:"admin"`
	Identity  string   `json:"identity,omitempty"`
	// Operations are the operationIds the caller's organisation may call, sorted by path.
	Operations []string `json:"operations"`
}

// getMe serves GET /api/v1/me: who the API key is and what its organisation may do.
func (s *Server) getMe(c *gin.Context) {
	caller := callerOf(c)
	ans := meAnswer{MSPID: caller.MSPID, User: caller.User, KeyID: caller.KeyID, Merchants: caller.Merchants,
		Admin: caller.Admin, Identity: caller.Identity, Operations: []string{}}
	for _, op := range s.spec.Operations() {
		if !op.Public && op.Permitted(caller.MSPID) {
			ans.Operations = append(ans.Operations, op.ID)
		}
	}
	c.JSON(http.StatusOK, ans)
}

// declaresHeader reports whether op (or its path) declares the request header name.
func (op *Operation) declaresHeader(name string) bool {
	params := append(slices.Clone(op.PathItem.Parameters), op.Op.Parameters...)
	return slices.ContainsFunc([]*openapi3.ParameterRef(params), func(p *openapi3.ParameterRef) bool {
		return p != nil && p.Value != nil && p.Value.In == openapi3.ParameterInHeader && strings.EqualFold(p.Value.Name, name)
	})
}
