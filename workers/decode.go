package workers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/pidone/pidone/internal/clip"
)

// Strict JSON decoding with the JSON path of every problem in the error.
//
// encoding/json matches keys case-insensitively, keeps the last of two equal
// keys, and reports an unknown field or a wrong type without saying where in
// the document it is. A configuration mistake must be rejected and located,
// so the document is first read into a tree (object keys in order,
// duplicates refused), then assigned to the target by reflection with exact
// key matches: groups.web.process.rlimits[0].hard.
//
// The path is built only when there is an error, on the way back up: each
// level adds its own step to the error its child returned (within). Building
// it on the way down costs a string per node as long as the node's depth
// (or its parent's key), which a 60 KB file nested 30,000 deep turned into
// 2 GB. The document's size and depth are capped too (MaxConfigSize,
// MaxConfigDepth), and checked before anything else is built.

// PathError is a problem at one place in a JSON document.
type PathError struct {
	Path string // groups.web.process.user.uid; empty for the document
	Err  error
}

func (e *PathError) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

func (e *PathError) Unwrap() error { return e.Err }

func pathErrorf(path, format string, a ...any) error {
	return &PathError{Path: path, Err: fmt.Errorf(format, a...)}
}

// within says that err, about a child of a node, happened at step from the
// node (a key: "web", or an index: "[2]"): the child's path relative to its
// node becomes relative to the node. An error that is not a *PathError is
// about the child itself.
func within(step string, err error) error {
	var pe *PathError
	if errors.As(err, &pe) {
		return &PathError{Path: joinPath(step, pe.Path), Err: pe.Err}
	}
	return &PathError{Path: step, Err: err}
}

// keyStep is the path step of an object key, indexStep of an array index.
func keyStep(key string) string { return join("", key) }
func indexStep(i int) string    { return "[" + strconv.Itoa(i) + "]" }

// object is a JSON object with its keys in document order.
type object struct {
	keys []string
	vals map[string]any // nil while empty: an array of many {} stays small
}

// jsonValue is implemented by types that decode themselves from a tree node
// (a string, json.Number, bool, nil, []any or *object). Errors are relative
// to the node: a *PathError names a path below it, anything else is about
// the node itself.
type jsonValue interface {
	decodeJSON(node any) error
}

// decodeStrict parses data into v (a pointer), rejecting syntax errors (with
// line and column), duplicate keys, unknown fields, wrong types and trailing
// data.
func decodeStrict(data []byte, v any) error {
	node, err := parseTree(data)
	if err != nil {
		return err
	}
	return assign(node, reflect.ValueOf(v).Elem())
}

// parseTree reads data, at most MaxConfigSize bytes nested at most
// MaxConfigDepth deep, into a tree.
func parseTree(data []byte) (any, error) {
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("larger than %d bytes (1 MiB), the limit for a configuration", MaxConfigSize)
	}
	if off := tooDeep(data, MaxConfigDepth); off >= 0 {
		line, col := position(data, int64(off))
		return nil, fmt.Errorf("line %d, column %d: nested deeper than %d levels, the limit for a configuration", line, col, MaxConfigDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	node, err := readNode(dec)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("unexpected data after the top-level value")
		}
	}
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		line, col := position(data, syn.Offset)
		return nil, fmt.Errorf("line %d, column %d: %v", line, col, syn)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, errors.New("unexpected end of the document")
	}
	return node, err
}

// tooDeep returns the offset of the first '[' or '{' of data that opens a
// level deeper than max, or -1. It keeps no state but the depth and whether
// it is inside a string, so it is safe on any input; what is not JSON is
// left for the decoder to report.
func tooDeep(data []byte, max int) int {
	depth, inString, escaped := 0, false, false
	for i, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > max {
				return i
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return -1
}

func readNode(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		obj := &object{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key := kt.(string)
			if _, dup := obj.vals[key]; dup {
				return nil, pathErrorf(keyStep(key), "duplicate key")
			}
			val, err := readNode(dec)
			if err != nil {
				return nil, within(keyStep(key), err)
			}
			if obj.vals == nil {
				obj.vals = map[string]any{}
			}
			obj.vals[key] = val
			obj.keys = append(obj.keys, key)
		}
		_, err = dec.Token() // '}'
		return obj, err
	case json.Delim('['):
		list := []any{}
		for dec.More() {
			n, err := readNode(dec)
			if err != nil {
				return nil, within(indexStep(len(list)), err)
			}
			list = append(list, n)
		}
		_, err = dec.Token() // ']'
		return list, err
	}
	return tok, nil
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// plainKey reports whether key can be written bare in a JSON path
// (groups.web-1.process): ASCII letters, digits, '_' and '-', not starting
// with a digit or '-', and not longer than a message repeats (clip.Max).
// Any other key is quoted in brackets, and cut, so that the path stays
// unambiguous and short. Written out by hand so that the binary does not
// link regexp.
func plainKey(key string) bool {
	if key == "" || len(key) > clip.Max || !isLetter(key[0]) && key[0] != '_' {
		return false
	}
	for i := 1; i < len(key); i++ {
		if c := key[i]; !isLetter(c) && !isDigit(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// isLetter and isDigit are ASCII only, like the [A-Za-z] and [0-9] that
// plainKey and groupName used to be written with.
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// join extends a JSON path by an object key.
func join(path, key string) string {
	if !plainKey(key) {
		return path + "[" + clip.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// joinPath appends a relative path ("b.c", "[2].c") to path.
func joinPath(path, rel string) string {
	switch {
	case rel == "":
		return path
	case path == "", strings.HasPrefix(rel, "["):
		return path + rel
	}
	return path + "." + rel
}

var jsonValueType = reflect.TypeFor[jsonValue]()

// assign stores node in v, which must be settable. Its errors are relative
// to node (see within).
func assign(node any, v reflect.Value) error {
	if v.Kind() != reflect.Pointer && v.Addr().Type().Implements(jsonValueType) {
		return v.Addr().Interface().(jsonValue).decodeJSON(node)
	}
	if node == nil {
		// null leaves the zero value: an absent optional field.
		v.SetZero()
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if err := assign(node, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.Struct:
		return assignStruct(node, v)
	case reflect.Map:
		obj, ok := node.(*object)
		if !ok || v.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("want an object, not %s", describeNode(node))
		}
		m := reflect.MakeMapWithSize(v.Type(), len(obj.keys))
		for _, k := range obj.keys {
			e := reflect.New(v.Type().Elem()).Elem()
			if err := assign(obj.vals[k], e); err != nil {
				return within(keyStep(k), err)
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), e)
		}
		v.Set(m)
		return nil
	case reflect.Slice:
		list, ok := node.([]any)
		if !ok {
			return fmt.Errorf("want an array, not %s", describeNode(node))
		}
		s := reflect.MakeSlice(v.Type(), len(list), len(list))
		for i, n := range list {
			if err := assign(n, s.Index(i)); err != nil {
				return within(indexStep(i), err)
			}
		}
		v.Set(s)
		return nil
	case reflect.String:
		s, ok := node.(string)
		if !ok {
			return fmt.Errorf("want a string, not %s", describeNode(node))
		}
		v.SetString(s)
		return nil
	case reflect.Bool:
		b, ok := node.(bool)
		if !ok {
			return fmt.Errorf("want true or false, not %s", describeNode(node))
		}
		v.SetBool(b)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := node.(json.Number)
		i, err := strconv.ParseInt(string(n), 10, v.Type().Bits())
		if !ok || err != nil {
			return fmt.Errorf("want an integer that fits %s, not %s", v.Type(), describeNode(node))
		}
		v.SetInt(i)
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := node.(json.Number)
		u, err := strconv.ParseUint(string(n), 10, v.Type().Bits())
		if !ok || err != nil {
			return fmt.Errorf("want a non-negative integer that fits %s, not %s", v.Type(), describeNode(node))
		}
		v.SetUint(u)
		return nil
	case reflect.Float32, reflect.Float64:
		n, ok := node.(json.Number)
		f, err := strconv.ParseFloat(string(n), v.Type().Bits())
		if !ok || err != nil {
			return fmt.Errorf("want a number, not %s", describeNode(node))
		}
		v.SetFloat(f)
		return nil
	}
	return fmt.Errorf("cannot decode into %s", v.Type())
}

func assignStruct(node any, v reflect.Value) error {
	obj, ok := node.(*object)
	if !ok {
		return fmt.Errorf("want an object, not %s", describeNode(node))
	}
	names, index := jsonFields(v.Type())
	for _, k := range obj.keys {
		i, known := index[k]
		if !known {
			return pathErrorf(keyStep(k), "unknown field (known: %s)", strings.Join(names, ", "))
		}
		if err := assign(obj.vals[k], v.Field(i)); err != nil {
			return within(keyStep(k), err)
		}
	}
	return nil
}

// jsonFields lists the JSON names of t's exported fields in field order, and
// maps them to their index, as encoding/json names them (tag name, else the
// Go name).
func jsonFields(t reflect.Type) (names []string, index map[string]int) {
	index = map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names = append(names, name)
		index[name] = i
	}
	return names, index
}

// describeNode names a tree node for error messages.
func describeNode(node any) string {
	switch n := node.(type) {
	case nil:
		return "null"
	case string:
		return "the string " + clip.Quote(n)
	case json.Number:
		return "the number " + clip.String(string(n))
	case bool:
		return strconv.FormatBool(n)
	case []any:
		return "an array"
	case *object:
		return "an object"
	}
	return fmt.Sprintf("%T", node)
}
