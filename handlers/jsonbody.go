package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/layerlab/layerlab/domain"
)

// decodeJSON reads a JSON request body (what names it in messages) into v.
// Unknown fields and a key given twice in one object are refused: with
// either, what the server builds would differ from what the client meant.
func decodeJSON(body io.Reader, v any, what string) error {
	data, err := io.ReadAll(body)
	if err != nil {
		return bodyError(err, what)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err, what)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &domain.InputError{Message: "the request body holds more than one JSON value"}
	}
	// The body decoded, so it is well formed and not nested too deep.
	if key, err := duplicateKey(data); err != nil {
		return bodyError(err, what)
	} else if key != "" {
		return &domain.InputError{Message: fmt.Sprintf(
			"the request body gives %s twice; each key may appear once in an object", key)}
	}
	return nil
}

// jsonLevel is an object or array that duplicateKey is inside of.
type jsonLevel struct {
	object  bool
	keys    map[string]bool // the object's keys so far
	key     string          // the object's current key
	wantKey bool            // the object's next token is a key or its end
	index   int             // the array's current index
}

// duplicateKey returns the path of the first key that an object of the
// first JSON value in data gives twice, like files."Dockerfile", or "" when
// there is none. It walks the tokens without recursion, so nesting costs
// no stack.
func duplicateKey(data []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []*jsonLevel
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", err
		}
		var top *jsonLevel
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if key, ok := tok.(string); ok {
				if top.keys[key] {
					return jsonPath(stack[:len(stack)-1], key), nil
				}
				top.keys[key] = true
				top.key, top.wantKey = key, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &jsonLevel{object: true, keys: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &jsonLevel{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value has ended: a scalar, or the object or array just closed.
		if len(stack) == 0 {
			return "", nil
		}
		if top = stack[len(stack)-1]; top.object {
			top.wantKey = true
		} else {
			top.index++
		}
	}
}

// jsonPath names key inside the object that levels lead to.
func jsonPath(levels []*jsonLevel, key string) string {
	var b strings.Builder
	for _, l := range levels {
		if l.object {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(l.key)
		} else {
			fmt.Fprintf(&b, "[%d]", l.index)
		}
	}
	if b.Len() > 0 {
		b.WriteByte('.')
	}
	b.WriteString(strconv.Quote(key))
	return b.String()
}
