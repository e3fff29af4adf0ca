package server

import (
	"bytes"
	"encoding/json"
	"unicode"
)

// camelJSON encodes v as indented JSON whose object keys are all in
// lowerCamelCase: the status document mixes structs of packages with JSON
// tags and counters without (rtmfp.Stats' "PacketsIn" becomes "packetsIn",
// "RHellosSent" "rHellosSent", "IPMulticast" "ipMulticast").
func camelJSON(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	return json.MarshalIndent(camelKeys(tree), "", "  ")
}

func camelKeys(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[lowerCamel(k)] = camelKeys(e)
		}
		return out
	case []any:
		for i, e := range t {
			t[i] = camelKeys(e)
		}
		return t
	}
	return v
}

// lowerCamel lowers a key's leading capitals: the first, or a run of them
// but its last when a lower-case letter follows (an initialism).
func lowerCamel(k string) string {
	r := []rune(k)
	n := 0
	for n < len(r) && unicode.IsUpper(r[n]) {
		n++
	}
	switch {
	case n == 0:
		return k
	case n > 1 && n < len(r) && unicode.IsLower(r[n]):
		n-- // "IPMulticast": the M starts the next word
	}
	for i := range n {
		r[i] = unicode.ToLower(r[i])
	}
	return string(r)
}
