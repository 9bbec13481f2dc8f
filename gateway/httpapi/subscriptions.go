package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/xborder/xborder/gateway"
)

// subscriptionHandlers are the handlers of the webhook subscription operations, answered by
// Options.Subscriptions within the caller's organisation.
func (s *Server) subscriptionHandlers() map[string]gin.HandlerFunc {
	return map[string]gin.HandlerFunc{
		"createSubscription":         s.createSubscription,
		"listSubscriptions":          s.listSubscriptions,
		"getSubscription":            s.getSubscription,
		"updateSubscription":         s.updateSubscription,
		"deleteSubscription":         s.deleteSubscription,
		"pauseSubscription":          s.pauseSubscription,
		"resumeSubscription":         s.resumeSubscription,
		"listSubscriptionDeliveries": s.listSubscriptionDeliveries,
	}
}

// subscriptionAnswer is a subscription with, in the answers that create or rotate it, its
// signing secret.
type subscriptionAnswer struct {
	gateway.Subscription
	Secret string `json:"secret,omitempty"`
}

// listAnswer is a list of items and their count.
type listAnswer[T any] struct {
	Items []T `json:"items"`
	Count int `json:"count"`
}

// subscriptions returns the subscription service, or answers UNAVAILABLE without one.
func (s *Server) subscriptions(c *gin.Context) (gateway.SubscriptionService, bool) {
	if s.opts.Subscriptions == nil {
		abortProblem(c, gateway.Errorf(gateway.CodeUnavailable, "webhook subscriptions are not enabled on this gateway"))
		return nil, false
	}
	return s.opts.Subscriptions, true
}

// decodeBody decodes the validated JSON body into v.
func decodeBody(c *gin.Context, v any) bool {
	if err := json.Unmarshal(bodyOf(c), v); err != nil {
		abortProblem(c, &gateway.Error{Code: gateway.CodeInvalidArgument, Field: "body", Message: "cannot read the request body", Err: err})
		return false
	}
	return true
}

// createSubscription serves POST /api/v1/subscriptions.
func (s *Server) createSubscription(c *gin.Context) {
	svc, ok := s.subscriptions(c)
	var req gateway.SubscriptionRequest
	if !ok || !decodeBody(c, &req) {
		return
	}
	if err := subscriptionMerchant(callerOf(c), &req.Filter); err != nil {
		abortProblem(c, err)
		return
	}
	sub, secret, err := svc.CreateSubscription(c.Request.Context(), callerOf(c), req)
	if err != nil {
		abortProblem(c, err)
		return
	}
	c.Header("Location", "/api/v1/subscriptions/"+sub.ID)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, subscriptionAnswer{Subscription: sub, Secret: secret})
}

// listSubscriptions serves GET /api/v1/subscriptions.
func (s *Server) listSubscriptions(c *gin.Context) {
	svc, ok := s.subscriptions(c)
	if !ok {
		return
	}
	subs, err := svc.ListSubscriptions(c.Request.Context(), callerOf(c))
	if err != nil {
		abortProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, listAnswer[gateway.Subscription]{Items: subs, Count: len(subs)})
}

// getSubscription serves GET /api/v1/subscriptions/{id}.
func (s *Server) getSubscription(c *gin.Context) {
	svc, ok := s.subscriptions(c)
	if !ok {
		return
	}
	sub, err := svc.GetSubscription(c.Request.Context(), callerOf(c), c.Param("id"))
	answerSubscription(c, sub, "", err)
}

// updateSubscription serves PATCH /api/v1/subscriptions/{id}.
func (s *Server) updateSubscription(c *gin.Context) {
	svc, ok := s.subscriptions(c)
	var patch gateway.SubscriptionPatch
	if !ok || !decodeBody(c, &patch) {
		return
	}
	if patch.Filter != nil {
		if err := subscriptionMerchant(callerOf(c), patch.Filter); err != nil {
			abortProblem(c, err)
			return
		}
	}
	sub, secret, err := svc.UpdateSubscription(c.Request.Context(), callerOf(c), c.Param("id"), patch)
	c.Header("Cache-Control", "no-store")
	answerSubscription(c, sub, secret, err)
}

// deleteSubscription serves DELETE /api/v1/subscriptions/{id}.
func (s *Server) deleteSubscription(c *gin.Context) {
	svc, ok := s.subscriptions(c)
	if !ok {
		return
	}
	if err := svc.DeleteSubscription(c.Request.Context(), callerOf(c), c.Param("id")); err != nil {
		abortProblem(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// pauseSubscription serves POST /api/v1/subscriptions/{id}/pause.
func (s *Server) pauseSubscription(c *gin.Context) {
	svc, ok := s.subscriptions(c)
	if !ok {
		return
	}
	sub, err := svc.PauseSubscription(c.Request.Context(), callerOf(c), c.Param("id"))
	answerSubscription(c, sub, "", err)
}

// resumeSubscription serves POST /api/v1/subscriptions/{id}/resume.
func (s *Server) resumeSubscription(c *gin.Context) {
	svc, ok := s.subscriptions(c)
	if !ok {
		return
	}
	sub, err := svc.ResumeSubscription(c.Request.Context(), callerOf(c), c.Param("id"))
	answerSubscription(c, sub, "", err)
}

// listSubscriptionDeliveries serves GET /api/v1/subscriptions/{id}/deliveries.
func (s *Server) listSubscriptionDeliveries(c *gin.Context) {
	svc, ok := s.subscriptions(c)
	if !ok {
		return
	}
	limit := 50
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			abortProblem(c, gateway.FieldError("limit", "must be a positive integer, got %q", v))
			return
		}
		limit = n
	}
	log, err := svc.SubscriptionDeliveries(c.Request.Context(), callerOf(c), c.Param("id"), limit)
	if err != nil {
		abortProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, listAnswer[gateway.Delivery]{Items: log, Count: len(log)})
}

// answerSubscription answers err, or sub (with secret when not "").
func answerSubscription(c *gin.Context, sub gateway.Subscription, secret string, err error) {
	if err != nil {
		abortProblem(c, err)
		return
	}
	c.JSON(http.StatusOK, subscriptionAnswer{Subscription: sub, Secret: secret})
}

// subscriptionMerchant keeps a caller bound to merchants to their events: its subscriptions
// must filter on one of its merchants (FORBIDDEN naming filter.merchantId otherwise).
func subscriptionMerchant(caller gateway.Caller, f *gateway.EventFilter) error {
	if len(caller.Merchants) == 0 || (f.MerchantID != "" && caller.ActsFor(f.MerchantID)) {
		return nil
	}
	if f.MerchantID == "" {
		return &gateway.Error{Code: gateway.CodeForbidden, Field: "filter.merchantId",
			Message: "this API key acts only for merchants [" + strings.Join(caller.Merchants, ", ") + "]: filter on one of them"}
	}
	return gateway.MerchantForbidden("filter.merchantId", f.MerchantID, caller)
}
