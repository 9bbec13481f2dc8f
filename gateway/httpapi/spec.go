package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/xborder/xborder/gateway"
)

// Spec is the loaded OpenAPI document and its operations, indexed for validation.
type Spec struct {
	Doc *openapi3.T
	ops map[string]*Operation // by operationId
	// paramDoc is Doc declared as OpenAPI 3.0, for validating the parameters of operations
	// whose parameter schemas mean the same in 3.0 and 3.1 (see plainParams): kin-openapi
	// compiles a JSON Schema 2020-12 validator for every parameter of every request of a 3.1
	// document, which was half of the gateway's own cost of a read.
	paramDoc *openapi3.T
}

// bodySchema is an operation's JSON request body schema, compiled once at load time (kin-openapi
// would compile the JSON Schema 2020-12 validator again on every request).
type bodySchema struct {
	schema   *jsonschema.Schema
	required bool
}

// Operation is one OpenAPI operation.
type Operation struct {
	ID       string
	Method   string
	Path     string // OpenAPI template: /api/v1/orders/{id}
	GinPath  string // Gin pattern: /api/v1/orders/:id
	PathItem *openapi3.PathItem
	Op       *openapi3.Operation
	// Public is true when the operation declares no security requirement.
	Public bool
	body   *bodySchema
	// plainParams is true when every parameter schema of the operation uses only keywords
	// that mean the same in OpenAPI 3.0 and 3.1 and the body (if any) is validated by body, so
	// that kin-openapi's built-in validator can check the parameters without compiling them.
	plainParams bool
}

// LoadSpec parses and validates an OpenAPI 3.1 document.
func LoadSpec(data []byte) (*Spec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("invalid OpenAPI document: %w", err)
	}
	s := &Spec{Doc: doc, ops: map[string]*Operation{}}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				return nil, fmt.Errorf("operation %s %s has no operationId", method, path)
			}
			public := op.Security != nil && len(*op.Security) == 0
			s.ops[op.OperationID] = &Operation{ID: op.OperationID, Method: method, Path: path,
				GinPath: ginPath(path), PathItem: item, Op: op, Public: public}
		}
	}
	if err := s.compileBodies(); err != nil {
		return nil, err
	}
	paramDoc := *doc
	paramDoc.OpenAPI = "3.0.3"
	s.paramDoc = &paramDoc
	for _, op := range s.ops {
		op.plainParams = plainParams(op)
	}
	return s, nil
}

// plainKeywords are the schema keywords whose validation is the same in OpenAPI 3.0 and 3.1
// (JSON Schema 2020-12) for a single-typed parameter, plus annotations.
var plainKeywords = map[string]bool{
	"type": true, "format": true, "pattern": true, "minLength": true, "maxLength": true,
	"minimum": true, "maximum": true, "enum": true, "default": true, "description": true,
	"title": true, "example": true,
}

// plainParams reports whether op's parameters can be validated with OpenAPI 3.0 semantics
// without changing the result (see Operation.plainParams).
func plainParams(op *Operation) bool {
	if rb := op.Op.RequestBody; rb != nil && op.body == nil {
		return false
	}
	params := append(slices.Clone(op.PathItem.Parameters), op.Op.Parameters...)
	for _, p := range params {
		if p == nil || p.Value == nil {
			return false
		}
		if p.Value.Schema == nil {
			if len(p.Value.Content) > 0 {
				return false
			}
			continue
		}
		if !plainSchema(p.Value.Schema.Value) {
			return false
		}
	}
	return true
}

// plainSchema reports whether a parameter schema uses only plainKeywords, with a single type.
func plainSchema(sch *openapi3.Schema) bool {
	if sch == nil {
		return false
	}
	raw, err := sch.MarshalJSON()
	if err != nil {
		return false
	}
	var kw map[string]any
	if json.Unmarshal(raw, &kw) != nil {
		return false
	}
	for k, v := range kw {
		if !plainKeywords[k] {
			return false
		}
		if _, single := v.(string); k == "type" && !single {
			return false
		}
	}
	return true
}

const specURL = "file:///openapi.json"

// compileBodies compiles the JSON request body schema of every operation with JSON Schema
// 2020-12 (the dialect of OpenAPI 3.1), formats asserted.
func (s *Spec) compileBodies() error {
	raw, err := s.Doc.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encode OpenAPI document: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("decode OpenAPI document: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(specURL, doc); err != nil {
		return fmt.Errorf("load OpenAPI document as JSON Schema: %w", err)
	}
	for _, op := range s.ops {
		rb := op.Op.RequestBody
		if rb == nil || rb.Value == nil || rb.Value.Content.Get("application/json") == nil {
			continue
		}
		loc := specURL + "#/paths/" + pointerEscape(op.Path) + "/" + strings.ToLower(op.Method) +
			"/requestBody/content/application~1json/schema"
		sch, err := c.Compile(loc)
		if err != nil {
			return fmt.Errorf("compile request body schema of %s: %w", op.ID, err)
		}
		op.body = &bodySchema{schema: sch, required: rb.Value.Required}
	}
	return nil
}

func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

var printer = message.NewPrinter(language.English)

// validateBody checks a JSON request body against the operation's compiled schema.
func (op *Operation) validateBody(body []byte) error {
	if op.body == nil {
		return nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if op.body.required {
			return gateway.FieldError("body", "a JSON request body is required")
		}
		return nil
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return gateway.FieldError("body", "malformed JSON: %v", err)
	}
	err = op.body.schema.Validate(v)
	if err == nil {
		return nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return &gateway.Error{Code: gateway.CodeInvalidArgument, Field: "body", Message: "the request body does not match the schema", Err: err}
	}
	var probs []fieldProblem
	leafProblems(verr, &probs)
	return problemsError(probs)
}

// leafProblems collects the innermost validation errors, one per offending field.
func leafProblems(e *jsonschema.ValidationError, out *[]fieldProblem) {
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			leafProblems(c, out)
		}
		return
	}
	base := e.InstanceLocation
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			*out = append(*out, fieldProblem{field: bodyPath(append(slices.Clone(base), p)), reason: "unknown field"})
		}
	case *kind.Required:
		for _, p := range k.Missing {
			*out = append(*out, fieldProblem{field: bodyPath(append(slices.Clone(base), p)), reason: "is required"})
		}
	default:
		*out = append(*out, fieldProblem{field: bodyPath(base), reason: e.ErrorKind.LocalizedString(printer)})
	}
}

// bodyPath names a place in the request body: its JSON path, or "body" for the body itself
// (a body that is not an object) and as the prefix of a top-level property with an empty name
// (body[""]).
func bodyPath(ptr []string) string {
	f := jsonPath(ptr)
	if f == "" || strings.HasPrefix(f, "[") {
		return "body" + f
	}
	return f
}

// Operations returns the operations sorted by path and method.
func (s *Spec) Operations() []*Operation {
	out := make([]*Operation, 0, len(s.ops))
	for _, op := range s.ops {
		out = append(out, op)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// Operation returns the operation with the given operationId.
func (s *Spec) Operation(id string) (*Operation, bool) {
	op, ok := s.ops[id]
	return op, ok
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

func ginPath(p string) string { return pathParam.ReplaceAllString(p, ":$1") }

// route is op's kin-openapi route for validating requests (see Operation.plainParams).
func (s *Spec) route(op *Operation) *routers.Route {
	doc := s.Doc
	if op.plainParams {
		doc = s.paramDoc
	}
	return &routers.Route{Spec: doc, Path: op.Path, PathItem: op.PathItem, Method: op.Method, Operation: op.Op}
}

// ValidateRequest checks r (whose body has been read into body) against op: parameters,
// headers and body. It returns an INVALID_ARGUMENT *gateway.Error naming the first offending
// field, with every problem found in Details.
func (s *Spec) ValidateRequest(ctx context.Context, op *Operation, r *http.Request, pathParams map[string]string, body []byte) error {
	r2 := r.Clone(ctx)
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	if len(body) == 0 {
		r2.Body = http.NoBody
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    r2,
		PathParams: pathParams,
		Route:      s.route(op),
		Options: &openapi3filter.Options{
			MultiError:          true,
			AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
			SkipSettingDefaults: true,
			ExcludeRequestBody:  op.body != nil,
		},
	}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		return requestProblem(err)
	}
	return op.validateBody(body)
}

// ValidateResponse checks a response against op (for tests and debugging).
func (s *Spec) ValidateResponse(ctx context.Context, op *Operation, r *http.Request, pathParams map[string]string, status int, header http.Header, body []byte) error {
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: r, PathParams: pathParams,
			Route: &routers.Route{Spec: s.Doc, Path: op.Path, PathItem: op.PathItem, Method: op.Method, Operation: op.Op},
		},
		Status: status,
		Header: header,
		Body:   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			MultiError:            true,
			IncludeResponseStatus: true,
		},
	}
	if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
		return fmt.Errorf("response %d of %s %s does not match the spec: %w", status, op.Method, op.Path, err)
	}
	return nil
}

// unknownProperty matches the validators' messages about a field the schema does not allow.
var unknownProperty = regexp.MustCompile(`property "([^"]*)" is unsupported|additional properties '([^']*)'`)

type fieldProblem struct {
	field  string
	reason string
}

// requestProblem turns kin-openapi's validation errors into one INVALID_ARGUMENT error.
func requestProblem(err error) *gateway.Error {
	var probs []fieldProblem
	collect(err, "", &probs)
	if len(probs) == 0 {
		probs = append(probs, fieldProblem{reason: err.Error()})
	}
	return problemsError(probs)
}

// problemsError renders field problems as one INVALID_ARGUMENT error naming the first field.
func problemsError(probs []fieldProblem) *gateway.Error {
	// Missing required properties come after more specific problems: a wrong type or an unknown
	// field is the more useful first answer.
	missing := func(p fieldProblem) bool {
		return strings.HasSuffix(p.reason, "is missing") || p.reason == "is required"
	}
	sort.SliceStable(probs, func(i, j int) bool {
		if missing(probs[i]) != missing(probs[j]) {
			return !missing(probs[i])
		}
		if (probs[i].field == "") != (probs[j].field == "") {
			return probs[i].field != ""
		}
		return probs[i].field < probs[j].field
	})
	e := &gateway.Error{Code: gateway.CodeInvalidArgument, Field: probs[0].field}
	e.Message = probs[0].reason
	if probs[0].field != "" {
		e.Message = probs[0].field + ": " + probs[0].reason
	}
	for _, p := range probs {
		if p.field != "" {
			e.Details = append(e.Details, p.field+": "+p.reason)
		} else {
			e.Details = append(e.Details, p.reason)
		}
	}
	return e
}

// collect appends the field problems of a kin-openapi validation error to out; field is the
// parameter or property the error is under ("" for the request).
func collect(err error, field string, out *[]fieldProblem) {
	// Walk the structure by concrete type: errors.As would look through a RequestError into
	// its cause and lose the parameter it names.
	switch e := err.(type) { //nolint:errorlint // structural walk, see above
	case openapi3.MultiError:
		for _, sub := range e {
			collect(sub, field, out)
		}
	case *openapi3filter.RequestError:
		collectRequestError(e, field, out)
	case *openapi3.SchemaError:
		*out = append(*out, schemaProblem(e, field))
	case *openapi3filter.SecurityRequirementsError:
		*out = append(*out, fieldProblem{field: "Authorization", reason: e.Error()})
	default:
		var schemaErr *openapi3.SchemaError
		if errors.As(err, &schemaErr) {
			collect(schemaErr, field, out)
			return
		}
		*out = append(*out, fieldProblem{field: field, reason: lastReason(err.Error())})
	}
}

// collectRequestError collects the problems of one parameter's or the body's error.
func collectRequestError(e *openapi3filter.RequestError, field string, out *[]fieldProblem) {
	f := field
	if e.Parameter != nil {
		f = e.Parameter.Name
	}
	var parseErr *openapi3filter.ParseError
	if e.RequestBody != nil && errors.As(e.Err, &parseErr) {
		*out = append(*out, fieldProblem{field: "body", reason: "malformed JSON: " + parseErr.Error()})
		return
	}
	if e.Err == nil || errors.Is(e.Err, openapi3filter.ErrInvalidRequired) || errors.Is(e.Err, openapi3filter.ErrInvalidEmptyValue) {
		reason := e.Reason
		if reason == "" {
			reason = e.Error()
		}
		if e.RequestBody != nil && f == "" {
			f = "body"
		}
		*out = append(*out, fieldProblem{field: f, reason: reason})
		return
	}
	collect(e.Err, f, out)
}

// schemaProblem is the problem of a schema error under field: the JSON path of the offending
// value and the innermost reason.
func schemaProblem(e *openapi3.SchemaError, field string) fieldProblem {
	path := e.JSONPointer()
	reason := e.Reason
	if m := unknownProperty.FindStringSubmatch(reason); m != nil {
		path = append(path, m[1]+m[2])
		reason = "unknown field"
	}
	if i := strings.Index(reason, `": `); strings.HasPrefix(reason, `error at "`) && i >= 0 {
		reason = reason[i+3:]
	}
	reason = lastReason(reason)
	f := jsonPath(path)
	switch {
	case field == "" && (f == "" || strings.HasPrefix(f, "[")):
		// The request body itself (not an object, or a property with an empty name).
		f = "body" + f
	case field != "" && f == "":
		f = field
	case field != "" && strings.HasPrefix(f, "["):
		f = field + f
	case field != "":
		f = field + "." + f
	}
	return fieldProblem{field: f, reason: reason}
}

// lastReason keeps the innermost message of a JSON Schema validator error such as
// "jsonschema validation failed with '...#'\n- at ”: minimum: got 0, want 1".
func lastReason(msg string) string {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	last = strings.TrimPrefix(last, "- ")
	if strings.HasPrefix(last, "at '") {
		if i := strings.Index(last, "': "); i >= 0 {
			last = last[i+3:]
		}
	}
	return last
}

// jsonPath renders a JSON pointer as a JSON path: [items 0 hsCode] → items[0].hsCode. A
// property with an empty name is rendered [""]: ["buyer" ""] → buyer[""].
func jsonPath(ptr []string) string {
	var b strings.Builder
	for _, p := range ptr {
		if p == "" {
			b.WriteString(`[""]`)
			continue
		}
		if _, err := strconv.Atoi(p); err == nil && b.Len() > 0 {
			b.WriteString("[" + p + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteString(".")
		}
		b.WriteString(p)
	}
	return b.String()
}
