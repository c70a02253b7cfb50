package sdk

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Attrs are the attributes of an operator node, written as the JSON object
// the op host function takes (docs/ABI.md §5.3). Build them with the typed
// methods, which return a new Attrs and leave the receiver unchanged, so
// floats are always written as floats:
//
//	sdk.Attrs{}.Int("axis", 1).Float("alpha", 1).Ints("perm", 1, 0)
//
// is {"axis":1,"alpha":1.0,"perm":[1,0]}. Setting a name again replaces its
// value in place. The zero Attrs is no attributes. A mistake (an empty or
// invalid name, a NaN or infinite float, which JSON cannot carry) is
// reported by JSON, and so by Op.
type Attrs struct {
	names []string
	vals  []string // each value's JSON
	err   error
}

// Int sets an INT attribute.
func (a Attrs) Int(name string, v int) Attrs { return a.with(name, strconv.Itoa(v)) }

// Float sets a FLOAT attribute; it is written with a decimal point or an
// exponent (1 is "1.0").
func (a Attrs) Float(name string, v float32) Attrs {
	b, err := appendFloat(nil, v)
	if err != nil {
		return a.fail(name, err)
	}
	return a.with(name, string(b))
}

// Str sets a STRING attribute.
func (a Attrs) Str(name, v string) Attrs {
	if !utf8.ValidString(v) {
		return a.fail(name, errors.New("string is not valid UTF-8"))
	}
	return a.with(name, string(appendJSONString(nil, v)))
}

// Ints sets an INTS attribute.
func (a Attrs) Ints(name string, v ...int) Attrs {
	b := []byte{'['}
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(x), 10)
	}
	return a.with(name, string(append(b, ']')))
}

// Floats sets a FLOATS attribute. An empty list has no type in JSON: the
// host reads [] as INTS.
func (a Attrs) Floats(name string, v ...float32) Attrs {
	b := []byte{'['}
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendFloat(b, x); err != nil {
			return a.fail(name, fmt.Errorf("element %d: %w", i, err))
		}
	}
	return a.with(name, string(append(b, ']')))
}

// Strs sets a STRINGS attribute.
func (a Attrs) Strs(name string, v ...string) Attrs {
	b := []byte{'['}
	for i, x := range v {
		if !utf8.ValidString(x) {
			return a.fail(name, fmt.Errorf("element %d is not valid UTF-8", i))
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, x)
	}
	return a.with(name, string(append(b, ']')))
}

// Tensor sets a TENSOR attribute (for example ConstantOfShape's value): a
// numeric tensor of dtype and shape with the given values, converted by the
// host.
func (a Attrs) Tensor(name string, dtype DType, shape []int64, values ...float64) Attrs {
	if !dtype.Valid() || dtype == Bytes {
		return a.fail(name, fmt.Errorf("tensor dtype %v is not numeric", dtype))
	}
	b := []byte(`{"datatype":"`)
	b = append(b, dtype.String()...)
	b = append(b, `","shape":[`...)
	for i, d := range shape {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, d, 10)
	}
	b = append(b, `],"data":[`...)
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return a.fail(name, fmt.Errorf("value %d is %v, which JSON cannot carry", i, v))
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return a.with(name, string(append(b, "]}"...)))
}

// Len is the number of attributes set.
func (a Attrs) Len() int { return len(a.names) }

// JSON is the attributes as a JSON object, or nil for none.
func (a Attrs) JSON() ([]byte, error) {
	if a.err != nil {
		return nil, a.err
	}
	if len(a.names) == 0 {
		return nil, nil
	}
	b := []byte{'{'}
	for i, n := range a.names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, n)
		b = append(b, ':')
		b = append(b, a.vals[i]...)
	}
	return append(b, '}'), nil
}

// String is the JSON text, or the error, for messages and logs.
func (a Attrs) String() string {
	b, err := a.JSON()
	if err != nil {
		return "invalid attributes: " + err.Error()
	}
	if b == nil {
		return "{}"
	}
	return string(b)
}

// with returns a copy of a with name set to the JSON value v. The slices are
// copied, so Attrs built from a common base never share an array.
func (a Attrs) with(name, v string) Attrs {
	if a.err != nil {
		return a
	}
	if name == "" || !utf8.ValidString(name) {
		return a.fail(name, errors.New("an attribute name must be non-empty valid UTF-8"))
	}
	c := Attrs{names: slices.Clone(a.names), vals: slices.Clone(a.vals)}
	if i := slices.Index(c.names, name); i >= 0 {
		c.vals[i] = v
		return c
	}
	c.names = append(c.names, name)
	c.vals = append(c.vals, v)
	return c
}

func (a Attrs) fail(name string, err error) Attrs {
	if a.err != nil {
		return a
	}
	return Attrs{err: fmt.Errorf("sdk: attribute %q: %w", name, err)}
}

// appendFloat writes v as a JSON number that reads back as the same
// float32 and always has a fraction or an exponent, so the host reads it as
// a float.
func appendFloat(dst []byte, v float32) ([]byte, error) {
	if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, fmt.Errorf("%v cannot be written in JSON", v)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, float64(v), 'g', -1, 32)
	if !strings.ContainsAny(string(dst[start:]), ".eE") {
		dst = append(dst, ".0"...)
	}
	return dst, nil
}
