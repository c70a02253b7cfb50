package onnx

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

// field is one decoded protobuf field. Scalar wire types fill v; the
// length-delimited type fills b, which aliases the input.
type field struct {
	num protowire.Number
	typ protowire.Type
	v   uint64
	b   []byte
}

// nextField decodes the field at the start of b and returns it with the
// number of bytes it took. Groups are skipped whole (with protowire's own
// nesting limit) and reported with their wire type and no value.
func nextField(b []byte) (field, int, error) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return field{}, 0, malformed(n)
	}
	f := field{num: num, typ: typ}
	var m int
	switch typ {
	case protowire.VarintType:
		f.v, m = protowire.ConsumeVarint(b[n:])
	case protowire.Fixed32Type:
		var v uint32
		v, m = protowire.ConsumeFixed32(b[n:])
		f.v = uint64(v)
	case protowire.Fixed64Type:
		f.v, m = protowire.ConsumeFixed64(b[n:])
	case protowire.BytesType:
		f.b, m = protowire.ConsumeBytes(b[n:])
	default:
		m = protowire.ConsumeFieldValue(num, typ, b[n:])
	}
	if m < 0 {
		return field{}, 0, malformed(m)
	}
	return f, n + m, nil
}

// eachField calls fn for every field of a message in wire order.
func eachField(b []byte, fn func(f field) error) error {
	for len(b) > 0 {
		f, n, err := nextField(b)
		if err != nil {
			return err
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func malformed(code int) error {
	return fault.Errorf(fault.Invalid, "malformed protobuf: %w", protowire.ParseError(code))
}

func wrongWire(name string, f field) error {
	return fault.Errorf(fault.Invalid, "field %s (%d) has wire type %d", name, f.num, f.typ)
}

// str decodes a string field.
func str(name string, f field) (string, error) {
	if f.typ != protowire.BytesType {
		return "", wrongWire(name, f)
	}
	return string(f.b), nil
}

// sub returns the bytes of an embedded message field.
func sub(name string, f field) ([]byte, error) {
	if f.typ != protowire.BytesType {
		return nil, wrongWire(name, f)
	}
	return f.b, nil
}

// varint decodes a scalar varint field.
func varint(name string, f field) (uint64, error) {
	if f.typ != protowire.VarintType {
		return 0, wrongWire(name, f)
	}
	return f.v, nil
}

// int32Field decodes an int32 or enum field, which the wire carries
// sign-extended to 64 bits.
func int32Field(name string, f field) (int32, error) {
	v, err := varint(name, f)
	if err != nil {
		return 0, err
	}
	if int64(v) < math.MinInt32 || int64(v) > math.MaxInt32 {
		return 0, fault.Errorf(fault.Invalid, "field %s: %d does not fit int32", name, int64(v))
	}
	return int32(v), nil
}

// eachVarint calls fn with every value of a repeated varint field occurrence,
// packed or not.
func eachVarint(name string, f field, fn func(v uint64)) error {
	switch f.typ {
	case protowire.VarintType:
		fn(f.v)
		return nil
	case protowire.BytesType:
		for b := f.b; len(b) > 0; {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("field %s: %w", name, malformed(n))
			}
			fn(v)
			b = b[n:]
		}
		return nil
	}
	return wrongWire(name, f)
}

// appendVarints appends the values of a repeated varint field occurrence,
// which may be packed (one length-delimited run) or not (one varint). Each
// value takes at least one input byte, so growth follows the input size.
func appendVarints(dst []uint64, name string, f field) ([]uint64, error) {
	err := eachVarint(name, f, func(v uint64) { dst = append(dst, v) })
	return dst, err
}

// countVarints counts the values a repeated varint field occurrence holds,
// without decoding them; decoding later validates each one.
func countVarints(name string, f field) (int, error) {
	switch f.typ {
	case protowire.VarintType:
		return 1, nil
	case protowire.BytesType:
		n := 0
		for _, c := range f.b {
			if c < 0x80 {
				n++
			}
		}
		return n, nil
	}
	return 0, wrongWire(name, f)
}

// countFixed counts the values of a repeated fixed-width field occurrence
// of size bytes each (4 or 8), packed or not.
func countFixed(name string, f field, size int) (int, error) {
	switch {
	case f.typ == protowire.BytesType:
		if len(f.b)%size != 0 {
			return 0, fault.Errorf(fault.Invalid, "field %s: packed length %d is not a multiple of %d", name, len(f.b), size)
		}
		return len(f.b) / size, nil
	case size == 4 && f.typ == protowire.Fixed32Type, size == 8 && f.typ == protowire.Fixed64Type:
		return 1, nil
	}
	return 0, wrongWire(name, f)
}

// eachFixed calls fn with every value of a repeated fixed-width field
// occurrence already validated by countFixed.
func eachFixed(f field, size int, fn func(v uint64)) {
	if f.typ != protowire.BytesType {
		fn(f.v)
		return
	}
	for b := f.b; len(b) >= size; b = b[size:] {
		if size == 4 {
			v, _ := protowire.ConsumeFixed32(b)
			fn(uint64(v))
		} else {
			v, _ := protowire.ConsumeFixed64(b)
			fn(v)
		}
	}
}
