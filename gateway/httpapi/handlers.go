package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/xborder/xborder/gateway"
)

// handlers returns the handler of every operation of the spec, by operationId: the ledger
// operations of gateway.Operations, and the gateway's own.
func (s *Server) handlers() map[string]gin.HandlerFunc {
	h := map[string]gin.HandlerFunc{
		"getTransaction": s.getTransaction,
		"streamEvents":   s.streamEvents,
		"healthz":        s.healthz,
		"readyz":         s.readyz,
		"metrics":        s.metricsHandler(),
		"openapi":        s.openapi,
		"trackPage":      s.trackPageHandler,
	}
	for _, op := range gateway.Operations() {
		switch {
		case op.Write:
			h[op.ID] = s.write(op)
		case op.Paged:
			h[op.ID] = s.pagedQuery(op)
		default:
			h[op.ID] = s.query(op)
		}
	}
	return h
}

// params returns the request's path parameters and those of op's query parameters the request
// has, by name.
func params(c *gin.Context, op gateway.Operation) map[string]string {
	out := make(map[string]string, len(c.Params)+len(op.Params))
	for _, p := range op.Params {
		if v, ok := c.GetQuery(p.Name); ok {
			out[p.Name] = v
		}
	}
	for _, p := range c.Params {
		out[p.Key] = p.Value
	}
	return out
}

// query runs an evaluate transaction and answers its JSON result (an order with its ETag).
func (s *Server) query(op gateway.Operation) gin.HandlerFunc {
	return func(c *gin.Context) {
		out, err := s.ledgerQuery(c, op, params(c, op))
		if err != nil {
			abortProblem(c, err)
			return
		}
		if op.ETag {
			answerOrder(c, out)
			return
		}
		writeJSON(c, http.StatusOK, out)
	}
}

// ledgerQuery evaluates op with params as the request's caller.
func (s *Server) ledgerQuery(c *gin.Context, op gateway.Operation, params map[string]string) ([]byte, error) {
	inv, err := op.Invocation(params, nil)
	if err != nil {
		return nil, err
	}
	if inv.MinBlock, err = minBlockOf(c); err != nil {
		return nil, err
	}
	return s.ledger.Evaluate(c.Request.Context(), callerOf(c), inv)
}

// pagedQuery runs a paginated evaluate transaction whose last argument is the bookmark. The
// chaincode's bookmarks (composite keys with NUL separators) travel over HTTP as opaque
// base64url tokens.
func (s *Server) pagedQuery(op gateway.Operation) gin.HandlerFunc {
	return func(c *gin.Context) {
		bookmark, err := base64.RawURLEncoding.DecodeString(c.Query("bookmark"))
		if err != nil {
			abortProblem(c, gateway.FieldError("bookmark", "must be a bookmark returned by a previous page"))
			return
		}
		p := params(c, op)
		p["bookmark"] = string(bookmark)
		out, err := s.ledgerQuery(c, op, p)
		if err != nil {
			abortProblem(c, err)
			return
		}
		out, err = encodeBookmark(out)
		if err != nil {
			abortProblem(c, err)
			return
		}
		writeJSON(c, http.StatusOK, out)
	}
}

// encodeBookmark replaces the chaincode's bookmark in page with its base64url token.
func encodeBookmark(out []byte) ([]byte, error) {
	var page map[string]json.RawMessage
	if err := json.Unmarshal(out, &page); err != nil {
		return nil, &gateway.Error{Code: gateway.CodeInternal, Message: "the chaincode returned an unreadable page", Err: err}
	}
	var raw string
	if b, ok := page["bookmark"]; ok {
		if err := json.Unmarshal(b, &raw); err != nil {
			return nil, &gateway.Error{Code: gateway.CodeInternal, Message: "the chaincode returned an unreadable bookmark", Err: err}
		}
	}
	token, _ := json.Marshal(base64.RawURLEncoding.EncodeToString([]byte(raw)))
	page["bookmark"] = token
	out, err := json.Marshal(page)
	if err != nil {
		return nil, &gateway.Error{Code: gateway.CodeInternal, Message: "cannot encode the page", Err: err}
	}
	return out, nil
}

// write turns the validated request into the chaincode's request object (with the version
// If-Match expects) and submits it.
func (s *Server) write(op gateway.Operation) gin.HandlerFunc {
	return func(c *gin.Context) {
		inv, cond, err := writeInvocation(c, op)
		if err != nil {
			abortProblem(c, err)
			return
		}
		token, err := issueCapability(c, op, &inv)
		if err != nil {
			abortProblem(c, err)
			return
		}
		async := preferAsync(c)
		opts := submitOptions(c)
		if async {
			opts = append(opts, gateway.WithAsync())
		}
		// A write runs to its end (bounded by the Fabric timeouts) even if the client goes away,
		// so that its answer is known and stored for the Idempotency-Key.
		ctx := context.WithoutCancel(c.Request.Context())
		res, err := s.ledger.Submit(ctx, callerOf(c), inv, opts...)
		if err != nil {
			abortProblem(c, conditionFailed(cond, op.RequestField(err)))
			return
		}
		c.Set(ctxTxID, res.TxID)
		c.Header("X-Transaction-Id", res.TxID)
		if resumed(opts, res.TxID) {
			// The transaction an earlier request of this Idempotency-Key prepared: it carries
			// that request's token hash, and that token went with its lost answer.
			token = ""
		}
		if async {
			answerAccepted(c, op, res.TxID, token)
			return
		}
		setCommitHeaders(c, op, res)
		out, err := answerOf(op, res.Payload, token)
		if err != nil {
			abortProblem(c, err)
			return
		}
		writeJSON(c, op.Status, out)
	}
}

// setCommitHeaders answers where a created resource is, how many proposals the write took, the
// block a committed write is in and the order's entity tag.
func setCommitHeaders(c *gin.Context, op gateway.Operation, res *gateway.SubmitResult) {
	if loc := op.Location.Of(res.Payload); loc != "" {
		c.Header("Location", loc)
	}
	if res.Attempts > 1 {
		c.Header("X-Fabric-Attempts", strconv.Itoa(res.Attempts))
	}
	if res.Committed {
		c.Header(headerBlockNumber, strconv.FormatUint(res.BlockNumber, 10))
	}
	if etag := etagOf(res.Payload); op.ETag && etag != "" {
		c.Header(headerETag, etag)
	}
}

// writeInvocation builds the invocation of a write: the request's parameters and body, the
// version its If-Match expects and its minimum block.
func writeInvocation(c *gin.Context, op gateway.Operation) (gateway.Invocation, condition, error) {
	cond, err := ifMatchOf(c, op)
	if err != nil {
		return gateway.Invocation{}, cond, err
	}
	p := params(c, op)
	if cond.version != "" {
		p[gateway.ExpectedVersionParam] = cond.version
	}
	inv, err := op.Invocation(p, bodyOf(c))
	if err != nil {
		return gateway.Invocation{}, cond, err
	}
	if inv.MinBlock, err = minBlockOf(c); err != nil {
		return gateway.Invocation{}, cond, err
	}
	return inv, cond, nil
}

// issueCapability creates the capability token of a write that makes one (op.Capability) and
// notes it for the idempotency store to leave out; "" for other writes.
func issueCapability(c *gin.Context, op gateway.Operation, inv *gateway.Invocation) (string, error) {
	if op.Capability == nil {
		return "", nil
	}
	c.Set(ctxCapability, op.Capability)
	return op.Capability.Issue(inv)
}

// answerAccepted answers 202 for a write submitted without waiting for its commit (with the
// capability token it created, if any: this is the client's only chance to get it).
func answerAccepted(c *gin.Context, op gateway.Operation, txID, token string) {
	statusURL := "/api/v1/transactions/" + txID
	c.Header("Location", statusURL)
	c.Header("Preference-Applied", "respond-async")
	body := gin.H{"txId": txID, "status": "SUBMITTED", "statusUrl": statusURL}
	if token != "" && op.Capability != nil {
		body[op.Capability.TokenField] = token
		body[op.Capability.URLField] = op.Capability.URLPrefix + token
	}
	c.JSON(http.StatusAccepted, body)
}

// writeJSON answers a JSON document, newline-terminated (friendlier to curl).
func writeJSON(c *gin.Context, status int, body []byte) {
	if len(body) == 0 || body[len(body)-1] != '\n' {
		body = append(body[:len(body):len(body)], '\n')
	}
	c.Data(status, "application/json", body)
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
