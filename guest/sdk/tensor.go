package sdk

import (
	"errors"
	"fmt"
	"unsafe"
)

// Limits of the ABI (docs/ABI.md §2).
const (
	MaxTensors  = 256
	MaxNameLen  = 1024
	MaxRank     = 16
	MaxElements = 1 << 30
)

// Tensor is a named, dense, row-major tensor as it crosses the ABI.
//
// For fixed-size dtypes Data holds the elements as little-endian bytes and
// Strings is nil; for BYTES Strings holds one element each and Data is nil.
//
// A tensor whose Handle is not 0 is host-held (docs/ABI.md §2): its data
// stays on the host, Data and Strings are empty, and DType and Shape say what
// the handle holds. Inputs larger than the host's inline limit arrive this
// way; Load reads one into guest memory, and Put, Op and RunModel take its
// handle without copying. Run may return host-held tensors (for example the
// outputs of RunModel, made with Handle.Tensor): the host takes them back by
// handle.
//
// Tensors handed to Stage.Run point into the SDK's input buffer: they are
// valid until the call ends (so Run may return them, or views of them, as
// outputs), and are overwritten by the next call. Clone what a module keeps.
// Handles, too, end with the call.
type Tensor struct {
	Name    string
	DType   DType
	Shape   []int64
	Data    []byte
	Strings [][]byte
	// Handle names the host tensor that holds the data; 0 for an inline
	// tensor.
	Handle Handle
}

// Elem is every Go type that is the element of a fixed-size dtype (FP16 and
// BF16 have none: use Data).
type Elem interface {
	bool | uint8 | int8 | uint16 | int16 | uint32 | int32 | uint64 | int64 | float32 | float64
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
	}
	return Undefined
}

// New wraps v, without copying, as a tensor. A length that does not match
// the shape is reported when the tensor is returned from Run.
func New[T Elem](name string, shape []int64, v []T) Tensor {
	return Tensor{Name: name, DType: DTypeOf[T](), Shape: shape, Data: bytesOf(v)}
}

// NewFloat32 wraps v as an FP32 tensor.
func NewFloat32(name string, shape []int64, v []float32) Tensor { return New(name, shape, v) }

// NewFloat64 wraps v as an FP64 tensor.
func NewFloat64(name string, shape []int64, v []float64) Tensor { return New(name, shape, v) }

// NewInt32 wraps v as an INT32 tensor.
func NewInt32(name string, shape []int64, v []int32) Tensor { return New(name, shape, v) }

// NewInt64 wraps v as an INT64 tensor.
func NewInt64(name string, shape []int64, v []int64) Tensor { return New(name, shape, v) }

// NewUint8 wraps v as a UINT8 tensor.
func NewUint8(name string, shape []int64, v []uint8) Tensor { return New(name, shape, v) }

// NewBool wraps v as a BOOL tensor.
func NewBool(name string, shape []int64, v []bool) Tensor { return New(name, shape, v) }

// NewBytes wraps v as a BYTES tensor.
func NewBytes(name string, shape []int64, v [][]byte) Tensor {
	return Tensor{Name: name, DType: Bytes, Shape: shape, Strings: v}
}

// View is a typed view of t's elements. Writes go through to t when Data is
// aligned for T, which every tensor the SDK decodes, loads or New builds is;
// an unaligned Data is copied. It panics if T does not match t's dtype, or if
// t is host-held (Load it first), which inside Run becomes status 2.
func View[T Elem](t Tensor) []T {
	if want := DTypeOf[T](); t.DType != want {
		panic(fmt.Sprintf("sdk: %v view of %v tensor %q", want, t.DType, t.Name))
	}
	if t.Handle != 0 {
		panic(fmt.Sprintf("sdk: view of host-held tensor %q (handle %d): Load it first", t.Name, t.Handle))
	}
	var z T
	size := int(unsafe.Sizeof(z))
	n := len(t.Data) / size
	if n == 0 {
		return nil
	}
	p := unsafe.Pointer(unsafe.SliceData(t.Data))
	if uintptr(p)%unsafe.Alignof(z) != 0 {
		v := make([]T, n)
		copy(bytesOf(v), t.Data)
		return v
	}
	return unsafe.Slice((*T)(p), n)
}

func bytesOf[T Elem](v []T) []byte {
	var z T
	if len(v) == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v)*int(unsafe.Sizeof(z)))
}

// Float32s is View[float32].
func (t Tensor) Float32s() []float32 { return View[float32](t) }

// Float64s is View[float64].
func (t Tensor) Float64s() []float64 { return View[float64](t) }

// Int32s is View[int32].
func (t Tensor) Int32s() []int32 { return View[int32](t) }

// Int64s is View[int64].
func (t Tensor) Int64s() []int64 { return View[int64](t) }

// Bools is View[bool].
func (t Tensor) Bools() []bool { return View[bool](t) }

// Present reports whether t holds a tensor: an optional input the request
// left out is the zero Tensor.
func (t Tensor) Present() bool { return t.Name != "" }

// Held reports whether t's data is held by the host (Handle is not 0).
func (t Tensor) Held() bool { return t.Handle != 0 }

// Len is the number of elements held: in Data or Strings, or, for a
// host-held tensor, on the host (the product of its shape).
func (t Tensor) Len() int {
	if t.Handle != 0 {
		n, _ := NumElements(t.Shape)
		return n
	}
	if t.DType == Bytes {
		return len(t.Strings)
	}
	if s := t.DType.Size(); s > 0 {
		return len(t.Data) / s
	}
	return 0
}

// Clone returns a deep copy that shares no memory with t. A host-held
// tensor's clone has the same handle (Load copies the data).
func (t Tensor) Clone() Tensor {
	c := Tensor{Name: t.Name, DType: t.DType, Shape: append([]int64(nil), t.Shape...), Handle: t.Handle}
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

// NumElements is the product of shape's dims, or an error if the rank,
// a dim or the product is outside the ABI's limits.
func NumElements(shape []int64) (int, error) {
	if len(shape) > MaxRank {
		return 0, fmt.Errorf("rank %d exceeds the maximum of %d", len(shape), MaxRank)
	}
	n := int64(1)
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("dim %d is negative (%d)", i, d)
		}
		if d != 0 && n > MaxElements/d {
			return 0, fmt.Errorf("shape %v has more than %d elements", shape, MaxElements)
		}
		n *= d
	}
	return int(n), nil
}

// Validate checks that t can be encoded: a valid name, dtype and shape and
// data that agrees with them (for a host-held tensor, no data: the host
// checks its handle's dtype and shape when it takes it).
func (t Tensor) Validate() error {
	if err := checkName(t.Name); err != nil {
		return err
	}
	if !t.DType.Valid() {
		return fmt.Errorf("unsupported dtype %v", t.DType)
	}
	n, err := NumElements(t.Shape)
	if err != nil {
		return err
	}
	if t.Handle != 0 {
		if len(t.Data) != 0 || len(t.Strings) != 0 {
			return fmt.Errorf("host-held tensor (handle %d) with Data or Strings set", t.Handle)
		}
		return nil
	}
	if t.DType == Bytes {
		if len(t.Data) != 0 {
			return errors.New("BYTES tensor with Data set (elements go in Strings)")
		}
		if len(t.Strings) != n {
			return fmt.Errorf("shape %v needs %d BYTES elements, got %d", t.Shape, n, len(t.Strings))
		}
		for i, s := range t.Strings {
			if uint64(len(s)) > 1<<32-1 {
				return fmt.Errorf("BYTES element %d is longer than 2^32-1 bytes", i)
			}
		}
		return nil
	}
	if len(t.Strings) != 0 {
		return fmt.Errorf("%v tensor with Strings set", t.DType)
	}
	if want := n * t.DType.Size(); len(t.Data) != want {
		return fmt.Errorf("shape %v of %v needs %d bytes, got %d", t.Shape, t.DType, want, len(t.Data))
	}
	if t.DType == Bool {
		if i := badBool(t.Data); i >= 0 {
			return fmt.Errorf("BOOL element %d is %d, not 0 or 1", i, t.Data[i])
		}
	}
	return nil
}
