package tensor

import (
	"errors"
	"fmt"
	"math"
)

// MaxElements bounds the element count of any tensor wasmgate creates from
// untrusted sizes (1 GiB of bytes at one byte per element).
const MaxElements = 1 << 30

// MaxRank bounds the number of dimensions.
const MaxRank = 16

// Shape lists dimension sizes, outermost first. A scalar has an empty shape.
type Shape []int

// NumElements is the product of the dimensions, or an error if a dimension
// is negative or the product exceeds MaxElements.
func (s Shape) NumElements() (int, error) {
	if len(s) > MaxRank {
		return 0, fmt.Errorf("rank %d exceeds the maximum of %d", len(s), MaxRank)
	}
	n := 1
	for _, d := range s {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, []int(s))
		}
		if d != 0 && n > MaxElements/d {
			return 0, fmt.Errorf("shape %v has more than %d elements", []int(s), MaxElements)
		}
		n *= d
	}
	return n, nil
}

// Size is NumElements for shapes already known to be valid.
func (s Shape) Size() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Equal reports whether two shapes are the same.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy that does not alias s.
func (s Shape) Clone() Shape {
	if s == nil {
		return nil
	}
	return append(Shape(make([]int, 0, len(s))), s...)
}

// Strides returns the row-major element strides of s.
func (s Shape) Strides() []int {
	st := make([]int, len(s))
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= s[i]
	}
	return st
}

// Tensor is a dense, row-major tensor.
//
// For fixed-size dtypes Data holds exactly NumElements*DType.Size() bytes,
// little-endian; Strings is nil. For BYTES Strings holds one element each and
// Data is nil.
type Tensor struct {
	DType   DType
	Shape   Shape
	Data    []byte
	Strings [][]byte
}

// Named is a tensor with the name it travels under (a request input, a graph
// value, a module output).
type Named struct {
	Name string
	*Tensor
}

// New allocates a zeroed tensor. It fails on an invalid dtype or shape.
func New(dt DType, shape Shape) (*Tensor, error) {
	if !dt.Valid() {
		return nil, fmt.Errorf("unsupported dtype %v", dt)
	}
	n, err := shape.NumElements()
	if err != nil {
		return nil, err
	}
	t := &Tensor{DType: dt, Shape: shape.Clone()}
	if dt == Bytes {
		t.Strings = make([][]byte, n)
	} else {
		t.Data = make([]byte, n*dt.Size())
	}
	return t, nil
}

// MustNew is New for dtypes and shapes the caller controls.
func MustNew(dt DType, shape Shape) *Tensor {
	t, err := New(dt, shape)
	if err != nil {
		panic(err)
	}
	return t
}

// From wraps v (without copying) as a tensor of the given shape.
func From[T Elem](shape Shape, v []T) (*Tensor, error) {
	n, err := shape.NumElements()
	if err != nil {
		return nil, err
	}
	if n != len(v) {
		return nil, fmt.Errorf("shape %v needs %d elements, got %d", []int(shape), n, len(v))
	}
	return &Tensor{DType: DTypeOf[T](), Shape: shape.Clone(), Data: bytesOf(v)}, nil
}

// MustFrom is From for shapes the caller controls.
func MustFrom[T Elem](shape Shape, v []T) *Tensor {
	t, err := From(shape, v)
	if err != nil {
		panic(err)
	}
	return t
}

// FromStrings wraps BYTES elements (without copying them).
func FromStrings(shape Shape, v [][]byte) (*Tensor, error) {
	n, err := shape.NumElements()
	if err != nil {
		return nil, err
	}
	if n != len(v) {
		return nil, fmt.Errorf("shape %v needs %d elements, got %d", []int(shape), n, len(v))
	}
	return &Tensor{DType: Bytes, Shape: shape.Clone(), Strings: v}, nil
}

// Values is a typed view of t's data; writes go through to t. It panics if
// T does not match t's dtype, which is a programming error.
func Values[T Elem](t *Tensor) []T {
	if want := DTypeOf[T](); t.DType != want {
		panic(fmt.Sprintf("tensor: %v view of a %v tensor", want, t.DType))
	}
	return viewAs[T](t.Data)
}

// Len is the number of elements.
func (t *Tensor) Len() int {
	if t.DType == Bytes {
		return len(t.Strings)
	}
	if s := t.DType.Size(); s > 0 {
		return len(t.Data) / s
	}
	return 0
}

// ByteSize is the memory held by the element data.
func (t *Tensor) ByteSize() int {
	if t.DType != Bytes {
		return len(t.Data)
	}
	n := 24 * len(t.Strings) // slice headers
	for _, s := range t.Strings {
		n += len(s)
	}
	return n
}

// Validate checks that the data length agrees with dtype and shape.
func (t *Tensor) Validate() error {
	if t == nil {
		return errors.New("nil tensor")
	}
	if !t.DType.Valid() {
		return fmt.Errorf("unsupported dtype %v", t.DType)
	}
	n, err := t.Shape.NumElements()
	if err != nil {
		return err
	}
	if t.DType == Bytes {
		if len(t.Strings) != n {
			return fmt.Errorf("shape %v needs %d BYTES elements, got %d", []int(t.Shape), n, len(t.Strings))
		}
		return nil
	}
	if want := n * t.DType.Size(); len(t.Data) != want {
		return fmt.Errorf("shape %v of %v needs %d bytes, got %d", []int(t.Shape), t.DType, want, len(t.Data))
	}
	return nil
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	c := &Tensor{DType: t.DType, Shape: t.Shape.Clone()}
	if t.Data != nil {
		c.Data = append(make([]byte, 0, len(t.Data)), t.Data...)
	}
	if t.Strings != nil {
		c.Strings = make([][]byte, len(t.Strings))
		for i, s := range t.Strings {
			c.Strings[i] = append([]byte(nil), s...)
		}
	}
	return c
}

// Float64At returns element i of a numeric tensor as float64 (for tests,
// comparisons and diagnostics, not for kernels).
func (t *Tensor) Float64At(i int) float64 {
	switch t.DType {
	case Float32:
		return float64(viewAs[float32](t.Data)[i])
	case Float64:
		return viewAs[float64](t.Data)[i]
	case Float16:
		return float64(viewAs[F16](t.Data)[i].Float32())
	case BFloat16:
		return float64(viewAs[BF16](t.Data)[i].Float32())
	case Int8:
		return float64(int8(t.Data[i]))
	case Uint8:
		return float64(t.Data[i])
	case Int16:
		return float64(viewAs[int16](t.Data)[i])
	case Uint16:
		return float64(viewAs[uint16](t.Data)[i])
	case Int32:
		return float64(viewAs[int32](t.Data)[i])
	case Uint32:
		return float64(viewAs[uint32](t.Data)[i])
	case Int64:
		return float64(viewAs[int64](t.Data)[i])
	case Uint64:
		return float64(viewAs[uint64](t.Data)[i])
	case Bool:
		if t.Data[i] != 0 {
			return 1
		}
		return 0
	}
	return math.NaN()
}

// String summarises the tensor for logs and error messages.
func (t *Tensor) String() string {
	return fmt.Sprintf("%v%v", t.DType, []int(t.Shape))
}
