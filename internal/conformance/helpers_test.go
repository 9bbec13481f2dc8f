package conformance_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stretchr/testify/require"
)

func jsonBytes(v map[string]any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	return b, nil
}

// lookup returns the string at a field path ("buyer.name") of body.
func lookup(body map[string]any, path string) (string, bool) {
	obj := body
	parent, name, nested := strings.Cut(path, ".")
	if nested {
		obj, _ = body[parent].(map[string]any)
	} else {
		name = parent
	}
	v, ok := obj[name].(string)
	return v, ok
}

// set sets the field path ("buyer.name") of body to v.
func set(body map[string]any, path string, v any) {
	if parent, name, nested := strings.Cut(path, "."); nested {
		body[parent].(map[string]any)[name] = v
		return
	}
	body[path] = v
}

// privateHolds reports whether some value of collection contains v (the chaincode may
// canonicalise case and spaces).
func (c *channel) privateHolds(collection, v string) bool {
	for _, k := range c.ledger.PrivateKeys(collection) {
		if strings.Contains(strings.ToLower(string(c.ledger.PrivateData(collection, k))), strings.ToLower(v)) {
			return true
		}
	}
	return false
}

// requireNotPublic fails if v is in any public state value or event.
func (c *channel) requireNotPublic(v string) {
	c.t.Helper()
	for _, k := range c.ledger.Keys() {
		require.NotContains(c.t, string(c.ledger.State(k)), v, "public state %q", k)
	}
	for _, ev := range c.ledger.Events() {
		require.NotContains(c.t, string(ev.GetPayload()), v, "event %s", ev.GetEventName())
	}
}
