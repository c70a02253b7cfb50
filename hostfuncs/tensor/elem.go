package tensor

import (
	"math"
	"unsafe"
)

// F16 is an IEEE 754 half-precision value, held as its bits.
type F16 uint16

// BF16 is a bfloat16 value, held as its bits.
type BF16 uint16

// Elem is every Go type that is the element of a fixed-size dtype.
type Elem interface {
	bool | uint8 | int8 | uint16 | int16 | uint32 | int32 | uint64 | int64 |
		float32 | float64 | F16 | BF16
}

// DTypeOf is the dtype whose elements are T.
func DTypeOf[T Elem]() DType {
	var z T
	switch any(z).(type) {
	case bool:
		return Bool
	case uint8:
		return Uint8
	case int8:
		return Int8
	case uint16:
		return Uint16
	case int16:
		return Int16
	case uint32:
		return Uint32
	case int32:
		return Int32
	case uint64:
		return Uint64
	case int64:
		return Int64
	case float32:
		return Float32
	case float64:
		return Float64
	case F16:
		return Float16
	case BF16:
		return BFloat16
	}
	return Invalid
}

// Float32 converts a half-precision value.
func (h F16) Float32() float32 {
	b := uint32(h)
	sign := (b >> 15) & 1
	exp := (b >> 10) & 0x1f
	frac := b & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float32frombits(sign<<31 | 0xff<<23 | frac<<13)
	case exp == 0:
		if frac == 0 {
			return math.Float32frombits(sign << 31)
		}
		// Subnormal: value = frac * 2^-24.
		v := float32(frac) * (1.0 / (1 << 24))
		if sign == 1 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign<<31 | (exp+127-15)<<23 | frac<<13)
}

// F16From rounds a float32 to half precision (round to nearest even).
func F16From(f float32) F16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32((b>>23)&0xff) - 127 + 15
	frac := b & 0x7fffff
	switch {
	case (b>>23)&0xff == 0xff: // inf or NaN
		if frac != 0 {
			return F16(sign | 0x7e00)
		}
		return F16(sign | 0x7c00)
	case exp >= 0x1f:
		return F16(sign | 0x7c00)
	case exp <= 0:
		if exp < -10 {
			return F16(sign)
		}
		m := frac | 0x800000
		shift := uint32(14 - exp)
		half := uint32(1) << (shift - 1)
		r := m >> shift
		rem := m & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return F16(sign | uint16(r))
	}
	r := uint32(exp)<<10 | frac>>13
	rem := frac & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which is the correct rounding
	}
	return F16(sign | uint16(r))
}

// Float32 converts a bfloat16 value.
func (h BF16) Float32() float32 { return math.Float32frombits(uint32(h) << 16) }

// BF16From rounds a float32 to bfloat16 (round to nearest even).
func BF16From(f float32) BF16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN stays NaN
		return BF16(b>>16 | 0x40)
	}
	b += 0x7fff + (b>>16)&1
	return BF16(b >> 16)
}

// viewAs reinterprets raw little-endian bytes as elements of T. wasmgate only
// builds for little-endian targets, where this is the identity.
func viewAs[T Elem](b []byte) []T {
	var z T
	n := len(b) / int(unsafe.Sizeof(z))
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// bytesOf is the inverse of viewAs.
func bytesOf[T Elem](v []T) []byte {
	var z T
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*int(unsafe.Sizeof(z)))
}
