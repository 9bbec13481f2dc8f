package chaincode

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// checkText refuses a string that is not valid UTF-8 or that holds U+FFFD, the replacement
// character a decoder puts where it met invalid bytes or a lone UTF-16 surrogate ("\ud800" in
// JSON): such text was damaged on its way here, and storing it would store the damage. Errors
// are INVALID_ARGUMENT naming field.
func checkText(field, v string) error {
	if !utf8.ValidString(v) {
		return errInvalid(field, "must be valid UTF-8")
	}
	if i := strings.IndexRune(v, utf8.RuneError); i >= 0 {
		return errInvalid(field, "must not contain U+FFFD (at byte %d): invalid UTF-8 or a lone surrogate was replaced on the way", i)
	}
	return nil
}

// checkStrings applies checkText to every string in v (a decoded request or transient value):
// struct fields named by their JSON names, slice elements as name[i], map keys and values as
// name.key; field prefixes the names ("" at the top level).
func checkStrings(prefix string, v any) error {
	rv := reflect.ValueOf(v)
	if textClean(rv) {
		return nil
	}
	return checkValue(prefix, rv)
}

// textClean reports whether every string in v passes checkText. It walks v as checkValue does
// without building field names, so that a valid request (nearly all of them) costs no
// allocations; checkValue then names the refused field of the others.
func textClean(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil() || textClean(v.Elem())
	case reflect.String:
		s := v.String()
		return utf8.ValidString(s) && !strings.ContainsRune(s, utf8.RuneError)
	case reflect.Struct:
		for _, i := range checkedFields(v.Type()) {
			if !textClean(v.Field(i)) {
				return false
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if !textClean(v.Index(i)) {
				return false
			}
		}
	case reflect.Map:
		return mapTextClean(v)
	}
	return true
}

// mapTextClean is textClean on a map: its string keys and its values.
func mapTextClean(v reflect.Value) bool {
	iter := v.MapRange()
	for iter.Next() {
		if k := iter.Key(); k.Kind() == reflect.String && !textClean(k) || !textClean(iter.Value()) {
			return false
		}
	}
	return true
}

// checkedFieldsByType caches checkedFields per struct type (reflect.Type → []int).
var checkedFieldsByType sync.Map

// checkedFields returns the indexes of the fields of struct type t that checkStruct checks:
// the exported fields not tagged json:"-".
func checkedFields(t reflect.Type) []int {
	if cached, ok := checkedFieldsByType.Load(t); ok {
		fields, _ := cached.([]int)
		return fields
	}
	var fields []int
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); f.IsExported() && name != "-" {
			fields = append(fields, i)
		}
	}
	checkedFieldsByType.Store(t, fields)
	return fields
}

// checkValue is checkStrings on a reflected value.
func checkValue(path string, v reflect.Value) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return checkValue(path, v.Elem())
	case reflect.String:
		return checkText(path, v.String())
	case reflect.Struct:
		return checkStruct(path, v)
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if err := checkValue(path+"["+strconv.Itoa(i)+"]", v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		return checkMap(path, v)
	}
	return nil
}

// checkStruct checks the exported fields of a struct, named by their JSON names.
func checkStruct(path string, v reflect.Value) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if err := checkValue(joinPath(path, name), v.Field(i)); err != nil {
			return err
		}
	}
	return nil
}

// checkMap checks the keys and values of a map in sorted key order, so the reported field is
// deterministic.
func checkMap(path string, v reflect.Value) error {
	keys := v.MapKeys()
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.String()
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	for _, i := range order {
		field := joinPath(path, names[i])
		if keys[i].Kind() == reflect.String {
			if err := checkText(field, names[i]); err != nil {
				return err
			}
		}
		if err := checkValue(field, v.MapIndex(keys[i])); err != nil {
			return err
		}
	}
	return nil
}

// joinPath appends name to a JSON path.
func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// canonicalName brings text that is compared between parties (names, addresses) to one form:
// Unicode NFC, so that "José" typed with a combining accent (NFD) equals the precomposed form.
func canonicalName(s string) string {
	return norm.NFC.String(s)
}
