package sim

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// maxSchemaDepth bounds recursion through nested or self-referencing
// schemas; deeper values are rendered as null.
const maxSchemaDepth = 8

// schemaValue renders a deterministic JSON value that validates against
// schema (a JSON Schema as OpenAI tools and structured outputs use it):
// enum and const pick a listed value; objects carry every declared property,
// keys sorted; arrays hold minItems items (at least one, at most maxItems);
// strings honour format, minLength and maxLength; numbers honour minimum and
// maximum. Local $ref ("#/$defs/X", "#/definitions/X") is followed; anyOf and
// oneOf use their first branch that is not null, allOf merges object
// branches. A schema that does not parse renders as an empty object.
func schemaValue(schema []byte, seed uint64) []byte {
	return generate(schema, seed, false)
}

// toolArguments is schemaValue for a tool call's arguments: where the
// schema lists required properties only those are filled at the top level,
// as a model mostly leaves optional arguments out; an agent's optional
// switches (a working directory, a shell, sandbox escalation) must not be
// set by chance.
func toolArguments(schema []byte, seed uint64) []byte {
	return generate(schema, seed, true)
}

func generate(schema []byte, seed uint64, requiredOnly bool) []byte {
	var root map[string]any
	if len(schema) == 0 || json.Unmarshal(schema, &root) != nil {
		return []byte("{}")
	}
	g := schemaGen{root: root, r: rng{state: seed}, requiredOnly: requiredOnly}
	return g.value(nil, root, "", 0)
}

type schemaGen struct {
	root         map[string]any
	r            rng
	requiredOnly bool // top-level optional properties are left out
}

// value appends the value for schema s; name is the property it fills,
// used to pick plausible strings.
func (g *schemaGen) value(b []byte, s map[string]any, name string, depth int) []byte {
	if depth > maxSchemaDepth {
		return append(b, "null"...)
	}
	s = g.resolve(s, depth)
	if v, ok := s["const"]; ok {
		return appendAny(b, v)
	}
	if enum, ok := s["enum"].([]any); ok && len(enum) > 0 {
		return appendAny(b, enum[g.r.next()%uint64(len(enum))])
	}
	switch schemaType(s) {
	case "object":
		return g.object(b, s, depth)
	case "array":
		return g.array(b, s, name, depth)
	case "integer":
		lo, hi := bounds(s, 0, 100)
		return strconv.AppendInt(b, int64(lo)+int64(g.r.next()%uint64(hi-lo+1)), 10)
	case "number":
		// A whole number: valid for "number", and what clients that declare
		// "number" but read an integer (Codex's timeouts) accept.
		lo, hi := bounds(s, 0, 100)
		v := float64(lo) + float64(g.r.next()%uint64(hi-lo+1))
		return strconv.AppendFloat(b, v, 'f', -1, 64)
	case "boolean":
		return strconv.AppendBool(b, g.r.next()&1 == 1)
	case "null":
		return append(b, "null"...)
	}
	return jsonenc.AppendString(b, g.str(s, name))
}

// resolve follows $ref and picks the anyOf/oneOf branch or merges allOf.
func (g *schemaGen) resolve(s map[string]any, depth int) map[string]any {
	for range maxSchemaDepth {
		if ref, ok := s["$ref"].(string); ok {
			target := g.lookup(ref)
			if target == nil {
				return map[string]any{}
			}
			s = target
			continue
		}
		if branches, ok := firstOf(s, "anyOf", "oneOf"); ok {
			s = pickBranch(branches)
			continue
		}
		if all, ok := s["allOf"].([]any); ok {
			return g.mergeAll(all, depth)
		}
		return s
	}
	return map[string]any{}
}

// lookup resolves a local JSON pointer such as "#/$defs/Step".
func (g *schemaGen) lookup(ref string) map[string]any {
	path, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil
	}
	var cur any = g.root
	for part := range strings.SplitSeq(strings.TrimPrefix(path, "/"), "/") {
		if part == "" {
			continue
		}
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	m, _ := cur.(map[string]any)
	return m
}

// mergeAll merges allOf branches into one object schema.
func (g *schemaGen) mergeAll(all []any, depth int) map[string]any {
	props := map[string]any{}
	for _, br := range all {
		m, ok := br.(map[string]any)
		if !ok {
			continue
		}
		m = g.resolve(m, depth+1)
		if p, ok := m["properties"].(map[string]any); ok {
			for k, v := range p {
				props[k] = v
			}
		}
	}
	return map[string]any{"type": "object", "properties": props}
}

func firstOf(s map[string]any, keys ...string) ([]any, bool) {
	for _, k := range keys {
		if v, ok := s[k].([]any); ok && len(v) > 0 {
			return v, true
		}
	}
	return nil, false
}

// pickBranch returns the first branch that is not {"type":"null"}.
func pickBranch(branches []any) map[string]any {
	for _, br := range branches {
		if m, ok := br.(map[string]any); ok && schemaType(m) != "null" {
			return m
		}
	}
	m, _ := branches[0].(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// schemaType is the schema's type: the first non-null entry of a type
// array, or "object" when it only declares properties.
func schemaType(s map[string]any) string {
	switch t := s["type"].(type) {
	case string:
		return t
	case []any:
		for _, v := range t {
			if str, ok := v.(string); ok && str != "null" {
				return str
			}
		}
		return "null"
	}
	if _, ok := s["properties"]; ok {
		return "object"
	}
	if _, ok := s["items"]; ok {
		return "array"
	}
	return "string"
}

func (g *schemaGen) object(b []byte, s map[string]any, depth int) []byte {
	props, _ := s["properties"].(map[string]any)
	required := map[string]bool{}
	if req, ok := s["required"].([]any); ok && g.requiredOnly && depth == 0 {
		for _, r := range req {
			if name, ok := r.(string); ok {
				required[name] = true
			}
		}
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		if len(required) == 0 || required[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.AppendString(b, k)
		b = append(b, ':')
		sub, _ := props[k].(map[string]any)
		if sub == nil {
			sub = map[string]any{}
		}
		b = g.value(b, sub, k, depth+1)
	}
	return append(b, '}')
}

func (g *schemaGen) array(b []byte, s map[string]any, name string, depth int) []byte {
	n := 1 + int(g.r.next()%2)
	if v, ok := s["minItems"].(float64); ok && int(v) > n {
		n = int(v)
	}
	if v, ok := s["maxItems"].(float64); ok && int(v) < n {
		n = max(int(v), 0)
	}
	items, _ := s["items"].(map[string]any)
	if items == nil {
		items = map[string]any{}
	}
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = g.value(b, items, name, depth+1)
	}
	return append(b, ']')
}

// str picks a string for a property: a date, time, e-mail, URI or UUID for
// those formats, a city for location-like names, otherwise filler words,
// padded or cut to the length bounds.
func (g *schemaGen) str(s map[string]any, name string) string {
	var v string
	format, _ := s["format"].(string)
	switch format {
	case "date-time":
		v = "2026-01-02T15:04:05Z"
	case "date":
		v = "2026-01-02"
	case "time":
		v = "15:04:05"
	case "email":
		v = "user@example.com"
	case "uri", "url":
		v = "https://example.com/" + g.r.word()
	case "uuid":
		h := appendHex(appendHex(nil, g.r.next()), g.r.next())
		v = string(h[:8]) + "-" + string(h[8:12]) + "-4" + string(h[13:16]) + "-8" + string(h[17:20]) + "-" + string(h[20:32])
	default:
		lower := strings.ToLower(name)
		if strings.Contains(lower, "city") || strings.Contains(lower, "location") {
			v = cityList[g.r.next()%uint64(len(cityList))]
		} else {
			v = g.r.word() + " " + g.r.word()
		}
	}
	if minLen, ok := s["minLength"].(float64); ok {
		for len(v) < int(minLen) {
			v += " " + g.r.word()
		}
	}
	if maxLen, ok := s["maxLength"].(float64); ok && len(v) > int(maxLen) {
		v = v[:max(int(maxLen), 0)] // filler is ASCII, so any cut is valid UTF-8
	}
	return v
}

// bounds reads minimum/maximum (and the exclusive forms) with defaults.
func bounds(s map[string]any, lo, hi int) (int, int) {
	if v, ok := s["minimum"].(float64); ok {
		lo = int(v)
	}
	if v, ok := s["exclusiveMinimum"].(float64); ok {
		lo = int(v) + 1
	}
	if v, ok := s["maximum"].(float64); ok {
		hi = int(v)
	}
	if v, ok := s["exclusiveMaximum"].(float64); ok {
		hi = int(v) - 1
	}
	if _, ok := s["maximum"]; !ok && hi < lo {
		hi = lo + 100
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// appendAny appends a value decoded by encoding/json.
func appendAny(b []byte, v any) []byte {
	out, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, out...)
}
