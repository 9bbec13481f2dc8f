package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/xborder/xborder/gateway"
)

// Conditional requests (RFC 9110 §13) on orders, and the consistency token.
//
// Every order has a version, 1 at creation and one more at each write. A read of the order and
// every write that returns it answer the version as a strong entity tag (ETag: "7"). A write on
// an existing order with If-Match: "7" runs only if the order is still at version 7: the
// chaincode checks it in the transaction itself (the request's expectedVersion), so a lost
// update is impossible even between two gateways, and a mismatch is 412 VERSION_MISMATCH, a code
// distinct from the lifecycle's FAILED_PRECONDITION. If-Match: * requires only that the order
// exists. A read with If-None-Match naming the current version answers 304.
//
// A committed write answers the block it committed in (X-Block-Number). A client that moves
// between gateways sends it back as X-Min-Block-Number: the gateway then waits until the peers
// it observes have committed that block before it runs the request (see gateway/fabric
// Consistency).
const (
	headerETag        = "ETag"
	headerIfMatch     = "If-Match"
	headerIfNoneMatch = "If-None-Match"
	// headerBlockNumber is the block a write committed in.
	headerBlockNumber = "X-Block-Number"
	// headerMinBlock is the block a request needs committed before it runs.
	headerMinBlock = "X-Min-Block-Number"
)

// versionTag returns the entity tag of an order version: the decimal version, quoted.
func versionTag(version string) string { return `"` + version + `"` }

// etagOf returns the entity tag of the order in result, "" when result has no version. It reads
// the object only up to its "version" (the order's fourth field), not the whole order.
func etagOf(result []byte) string {
	dec := json.NewDecoder(bytes.NewReader(result))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return ""
		}
		if key != "version" {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return ""
			}
			continue
		}
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return ""
		}
		if n, err := strconv.ParseUint(string(v), 10, 63); err != nil || n == 0 {
			return ""
		}
		return versionTag(string(v))
	}
	return ""
}

// condition is what a write's If-Match header asks for.
type condition struct {
	// present is true when the request has If-Match.
	present bool
	// anyVersion is If-Match: * (the order must exist).
	anyVersion bool
	// version is the version the order must be at ("" for anyVersion).
	version string
}

// ifMatchOf reads the If-Match header of a write of op. A weak entity tag never matches (RFC
// 9110 §13.1.1 compares strongly), so it is a VERSION_MISMATCH; several tags, or a malformed
// one, are INVALID_ARGUMENT, as is If-Match on a write that does not act on an existing order.
func ifMatchOf(c *gin.Context, op gateway.Operation) (condition, error) {
	values := c.Request.Header.Values(headerIfMatch)
	if len(values) == 0 {
		return condition{}, nil
	}
	if !op.IfMatch {
		return condition{}, gateway.FieldError(headerIfMatch, "%s does not act on an existing order and takes no If-Match", op.ID)
	}
	v := strings.TrimSpace(strings.Join(values, ","))
	if v == "*" {
		return condition{present: true, anyVersion: true}, nil
	}
	if strings.HasPrefix(v, "W/") && !strings.Contains(v, ",") {
		return condition{}, &gateway.Error{Code: gateway.CodeVersionMismatch, Field: headerIfMatch,
			Message: "a weak entity tag never matches: send the ETag of the order as it was answered"}
	}
	version, ok := strongVersion(v)
	if !ok {
		return condition{}, gateway.FieldError(headerIfMatch, `must be "*" or one entity tag as answered in ETag, such as "\"7\""`)
	}
	return condition{present: true, version: version}, nil
}

// strongVersion returns the version of a strong entity tag holding a positive decimal number
// ("7" quoted).
func strongVersion(tag string) (string, bool) {
	if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return "", false
	}
	v := tag[1 : len(tag)-1]
	if n, err := strconv.ParseUint(v, 10, 63); err != nil || n == 0 || v[0] == '0' {
		return "", false
	}
	return v, true
}

// conditionFailed turns the error of a conditional write into the answer RFC 9110 gives it: a
// VERSION_MISMATCH names the If-Match header rather than the chaincode's expectedVersion, and
// If-Match: * on an order that does not exist is a VERSION_MISMATCH too.
func conditionFailed(cond condition, err error) error {
	if !cond.present {
		return err
	}
	e := gateway.AsError(err)
	switch {
	case e.Code == gateway.CodeVersionMismatch:
		out := *e
		out.Field = headerIfMatch
		return &out
	case e.Code == gateway.CodeNotFound && cond.anyVersion:
		return &gateway.Error{Code: gateway.CodeVersionMismatch, Field: headerIfMatch, TxID: e.TxID,
			Message: "If-Match: * asks for an existing order: " + e.Message, Err: e.Err}
	}
	return err
}

// noneMatch reports whether the If-None-Match header of a read matches etag (weak comparison,
// RFC 9110 §13.1.2): the client has that version already.
func noneMatch(c *gin.Context, etag string) bool {
	for _, v := range c.Request.Header.Values(headerIfNoneMatch) {
		for _, tag := range strings.Split(v, ",") {
			tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
			if tag == "*" || tag == etag {
				return true
			}
		}
	}
	return false
}

// minBlockOf reads the request's X-Min-Block-Number (0 when absent).
func minBlockOf(c *gin.Context) (uint64, error) {
	v := c.GetHeader(headerMinBlock)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, gateway.FieldError(headerMinBlock, "must be a block number (a non-negative integer), not %q", v)
	}
	return n, nil
}

// answerOrder answers a read of an order with its entity tag, or 304 when the client has that
// version already.
func answerOrder(c *gin.Context, out []byte) {
	etag := etagOf(out)
	if etag == "" {
		writeJSON(c, http.StatusOK, out)
		return
	}
	c.Header(headerETag, etag)
	if noneMatch(c, etag) {
		c.Status(http.StatusNotModified)
		return
	}
	writeJSON(c, http.StatusOK, out)
}
