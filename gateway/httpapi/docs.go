package httpapi

import (
	"bytes"
	"fmt"
	"html/template"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// The view of the API reference page.
type (
	docParam struct {
		Name, In, Type string
		Description    template.HTML
		Required       bool
	}
	docResponse struct {
		Status, Schema string
		Description    template.HTML
	}
	docOp struct {
		ID, Method, Path, Summary string
		Description               template.HTML
		Public                    bool
		Params                    []docParam
		Body                      string
		Responses                 []docResponse
	}
	docTag struct {
		Name, Description string
		Ops               []docOp
	}
	docSchema struct{ Name, Text string }
)

// RenderDocs renders a self-contained HTML API reference from the OpenAPI document: no
// scripts, no external assets, so /docs works without network access.
func RenderDocs(spec *Spec) ([]byte, error) {
	doc := spec.Doc
	var buf bytes.Buffer
	err := docsTemplate.Execute(&buf, map[string]any{
		"Title": doc.Info.Title, "Version": doc.Info.Version, "Intro": paragraphs(doc.Info.Description),
		"Tags": docTags(spec), "Schemas": docSchemas(doc),
	})
	if err != nil {
		return nil, fmt.Errorf("render API reference: %w", err)
	}
	return buf.Bytes(), nil
}

// docTags groups the operations by their first tag, in the document's tag order (operations
// without a tag under "other"); tags without operations are left out.
func docTags(spec *Spec) []docTag {
	byTag := map[string]*docTag{}
	var order []string
	for _, t := range spec.Doc.Tags {
		byTag[t.Name] = &docTag{Name: t.Name, Description: t.Description}
		order = append(order, t.Name)
	}
	for _, o := range spec.Operations() {
		name := "other"
		if len(o.Op.Tags) > 0 {
			name = o.Op.Tags[0]
		}
		t, ok := byTag[name]
		if !ok {
			t = &docTag{Name: name}
			byTag[name] = t
			order = append(order, name)
		}
		t.Ops = append(t.Ops, docOperation(o))
	}
	var tags []docTag
	for _, n := range order {
		if t := byTag[n]; len(t.Ops) > 0 {
			tags = append(tags, *t)
		}
	}
	return tags
}

// docOperation is the view of one operation.
func docOperation(o *Operation) docOp {
	v := docOp{ID: o.ID, Method: o.Method, Path: o.Path, Summary: o.Op.Summary,
		Description: paragraphs(o.Op.Description), Public: o.Public}
	params := append(openapi3.Parameters{}, o.PathItem.Parameters...)
	params = append(params, o.Op.Parameters...)
	for _, p := range params {
		if p.Value == nil {
			continue
		}
		v.Params = append(v.Params, docParam{Name: p.Value.Name, In: p.Value.In, Required: p.Value.Required,
			Type: schemaText(p.Value.Schema, 0), Description: inline(p.Value.Description)})
	}
	if rb := o.Op.RequestBody; rb != nil && rb.Value != nil {
		for ct, mt := range rb.Value.Content {
			v.Body = ct + "\n" + schemaText(mt.Schema, 0)
		}
	}
	v.Responses = docResponses(o.Op.Responses)
	return v
}

// docResponses lists the responses by status.
func docResponses(responses *openapi3.Responses) []docResponse {
	if responses == nil {
		return nil
	}
	codes := make([]string, 0, responses.Len())
	for code := range responses.Map() {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	var out []docResponse
	for _, code := range codes {
		r := responses.Value(code)
		if r == nil || r.Value == nil {
			continue
		}
		resp := docResponse{Status: code}
		if r.Value.Description != nil {
			resp.Description = inline(*r.Value.Description)
		}
		for ct, mt := range r.Value.Content {
			resp.Schema = ct + " " + refName(mt.Schema)
		}
		out = append(out, resp)
	}
	return out
}

// docSchemas renders the document's component schemas, by name.
func docSchemas(doc *openapi3.T) []docSchema {
	names := make([]string, 0, len(doc.Components.Schemas))
	for n := range doc.Components.Schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	schemas := make([]docSchema, 0, len(names))
	for _, n := range names {
		schemas = append(schemas, docSchema{n, schemaText(doc.Components.Schemas[n].Value.NewRef(), 0)})
	}
	return schemas
}

// inline renders one line of text with `code` spans as safe HTML.
func inline(s string) template.HTML {
	p := string(paragraphs(s))
	p = strings.ReplaceAll(p, "<p>", "")
	p = strings.ReplaceAll(p, "</p>", " ")
	return template.HTML(strings.TrimSpace(p)) // #nosec G203 -- built by paragraphs from escaped text
}

// paragraphs renders plain text with `code` spans and blank-line paragraphs as safe HTML.
func paragraphs(s string) template.HTML {
	var b strings.Builder
	for _, p := range strings.Split(strings.TrimSpace(s), "\n\n") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		esc := template.HTMLEscapeString(strings.Join(strings.Fields(p), " "))
		parts := strings.Split(esc, "`")
		b.WriteString("<p>")
		for i, part := range parts {
			if i%2 == 1 {
				b.WriteString("<code>" + part + "</code>")
			} else {
				part = strings.ReplaceAll(part, "**", "")
				b.WriteString(part)
			}
		}
		b.WriteString("</p>")
	}
	return template.HTML(b.String()) // #nosec G203 -- every piece was escaped above
}

func refName(r *openapi3.SchemaRef) string {
	if r == nil {
		return ""
	}
	if r.Ref != "" {
		return r.Ref[strings.LastIndex(r.Ref, "/")+1:]
	}
	if r.Value != nil && r.Value.Type != nil {
		return strings.Join(r.Value.Type.Slice(), "|")
	}
	return "any"
}

// schemaText renders a schema as an indented outline: properties, types, constraints.
func schemaText(r *openapi3.SchemaRef, depth int) string {
	if r == nil || r.Value == nil {
		return "any"
	}
	s := r.Value
	if depth > 0 && r.Ref != "" && s.Type != nil && s.Type.Is("object") {
		return refName(r) + " (object, see Schemas)"
	}
	var b strings.Builder
	typ := "any"
	if s.Type != nil {
		typ = strings.Join(s.Type.Slice(), "|")
	}
	b.WriteString(typ)
	if cons := schemaConstraints(s); len(cons) > 0 {
		b.WriteString(" (" + strings.Join(cons, "; ") + ")")
	}
	if s.Description != "" && depth > 0 {
		b.WriteString(" — " + strings.Join(strings.Fields(s.Description), " "))
	}
	indent := strings.Repeat("  ", depth+1)
	if s.Items != nil {
		b.WriteString("\n" + indent + "items: " + schemaText(s.Items, depth+1))
	}
	props := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		props = append(props, n)
	}
	sort.Strings(props)
	for _, n := range props {
		mark := ""
		if slices.Contains(s.Required, n) {
			mark = " *"
		}
		b.WriteString("\n" + indent + n + mark + ": " + schemaText(s.Properties[n], depth+1))
	}
	return b.String()
}

// schemaConstraints lists a schema's constraints: enum, pattern, bounds, sizes, format.
func schemaConstraints(s *openapi3.Schema) []string {
	var cons []string
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, e := range s.Enum {
			vals[i] = fmt.Sprint(e)
		}
		cons = append(cons, "one of "+strings.Join(vals, ", "))
	}
	if s.Pattern != "" {
		cons = append(cons, "pattern "+s.Pattern)
	}
	if s.Min != nil {
		cons = append(cons, "≥ "+strconv.FormatFloat(*s.Min, 'f', -1, 64))
	}
	if s.Max != nil {
		cons = append(cons, "≤ "+strconv.FormatFloat(*s.Max, 'f', -1, 64))
	}
	if s.MinItems > 0 || s.MaxItems != nil {
		maxItems := "∞"
		if s.MaxItems != nil {
			maxItems = strconv.FormatUint(*s.MaxItems, 10)
		}
		cons = append(cons, fmt.Sprintf("%d..%s items", s.MinItems, maxItems))
	}
	if s.MaxLength != nil {
		cons = append(cons, fmt.Sprintf("length %d..%d", s.MinLength, *s.MaxLength))
	}
	if s.Format != "" {
		cons = append(cons, s.Format)
	}
	return cons
}

var docsTemplate = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} {{.Version}} — API reference</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2330}
nav{position:fixed;top:0;bottom:0;width:270px;overflow:auto;background:#f4f6f9;padding:16px;box-sizing:border-box;font-size:13px}
nav a{display:block;color:#1d2330;text-decoration:none;padding:2px 0}
main{margin-left:290px;padding:16px 32px;max-width:980px}
.op{border:1px solid #dde3ea;border-radius:6px;margin:16px 0;padding:12px 16px}
.m{font-weight:700;font-family:monospace;padding:2px 6px;border-radius:4px;color:#fff;background:#3b6fd8}
.m.POST{background:#1f9d55}.m.PUT{background:#c77c02}
code,pre{font-family:ui-monospace,monospace;font-size:13px}pre{background:#f4f6f9;padding:8px;overflow:auto}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eef1f5;text-align:left;padding:4px;vertical-align:top;font-size:13px}
</style></head><body>
<nav><strong>{{.Title}} {{.Version}}</strong>{{range .Tags}}<p><strong>{{.Name}}</strong></p>{{range .Ops}}<a href="#{{.ID}}"><code>{{.Method}}</code> {{.Path}}</a>{{end}}{{end}}<p><a href="#schemas"><strong>Schemas</strong></a></p><p><a href="/openapi.yaml">openapi.yaml</a></p></nav>
<main><h1>{{.Title}} <small>{{.Version}}</small></h1>{{.Intro}}
{{range .Tags}}<h2>{{.Name}}</h2><p>{{.Description}}</p>{{range .Ops}}
<div class="op" id="{{.ID}}"><p><span class="m {{.Method}}">{{.Method}}</span> <code>{{.Path}}</code> — {{.Summary}}{{if .Public}} <em>(no authentication)</em>{{end}}</p>{{.Description}}
{{if .Params}}<table><tr><th>parameter</th><th>in</th><th>schema</th><th>description</th></tr>{{range .Params}}<tr><td><code>{{.Name}}</code>{{if .Required}} *{{end}}</td><td>{{.In}}</td><td><code>{{.Type}}</code></td><td>{{.Description}}</td></tr>{{end}}</table>{{end}}
{{if .Body}}<p>Request body (* = required):</p><pre>{{.Body}}</pre>{{end}}
<table><tr><th>status</th><th>description</th><th>body</th></tr>{{range .Responses}}<tr><td>{{.Status}}</td><td>{{.Description}}</td><td><code>{{.Schema}}</code></td></tr>{{end}}</table></div>{{end}}{{end}}
<h2 id="schemas">Schemas</h2>{{range .Schemas}}<h3 id="schema-{{.Name}}">{{.Name}}</h3><pre>{{.Text}}</pre>{{end}}
</main></body></html>
`))
