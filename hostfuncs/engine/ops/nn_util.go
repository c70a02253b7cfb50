package ops

import (
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Helpers shared by the nn family's operators. Names carry an nn prefix so
// they cannot clash with other families' helpers in this package.

// nnFloat is the element types the nn operators compute floating-point
// results in; half-precision data is computed in float32.
type nnFloat interface{ float32 | float64 }

// nnIsF32 reports whether F is float32.
func nnIsF32[F nnFloat]() bool {
	var z F
	_, ok := any(z).(float32)
	return ok
}

// nnComputeDType is the dtype whose Go element type is F.
func nnComputeDType[F nnFloat]() tensor.DType {
	if nnIsF32[F]() {
		return tensor.Float32
	}
	return tensor.Float64
}

// nnFloats returns t's values as []F: a view when t already holds F,
// otherwise a converted copy in scratch. t must be a floating-point
// tensor.
func nnFloats[F nnFloat](sc *Scratch, t *tensor.Tensor) []F {
	if t.DType == nnComputeDType[F]() {
		return tensor.Values[F](t)
	}
	dst := ScratchSlice[F](sc, t.Len())
	nnConvert(dst, t)
	return dst
}

// nnConvert writes a numeric tensor's values into dst as F.
func nnConvert[F nnFloat](dst []F, t *tensor.Tensor) {
	switch t.DType {
	case tensor.Float32:
		nnConvertFrom(dst, tensor.Values[float32](t))
	case tensor.Float64:
		nnConvertFrom(dst, tensor.Values[float64](t))
	case tensor.Float16:
		for i, v := range tensor.Values[tensor.F16](t) {
			dst[i] = F(v.Float32())
		}
	case tensor.BFloat16:
		for i, v := range tensor.Values[tensor.BF16](t) {
			dst[i] = F(v.Float32())
		}
	case tensor.Int8:
		nnConvertFrom(dst, tensor.Values[int8](t))
	case tensor.Uint8:
		nnConvertFrom(dst, tensor.Values[uint8](t))
	case tensor.Int16:
		nnConvertFrom(dst, tensor.Values[int16](t))
	case tensor.Uint16:
		nnConvertFrom(dst, tensor.Values[uint16](t))
	case tensor.Int32:
		nnConvertFrom(dst, tensor.Values[int32](t))
	case tensor.Uint32:
		nnConvertFrom(dst, tensor.Values[uint32](t))
	case tensor.Int64:
		nnConvertFrom(dst, tensor.Values[int64](t))
	case tensor.Uint64:
		nnConvertFrom(dst, tensor.Values[uint64](t))
	case tensor.Bool:
		for i, v := range tensor.Values[bool](t) {
			dst[i] = 0
			if v {
				dst[i] = 1
			}
		}
	}
}

type nnReal interface {
	int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64
}

func nnConvertFrom[F nnFloat, S nnReal](dst []F, src []S) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = F(v)
	}
}

// nnStore writes src into the floating-point tensor t, rounding once to
// t's dtype. It does nothing when src already is t's storage.
func nnStore[F nnFloat](t *tensor.Tensor, src []F) {
	switch t.DType {
	case tensor.Float32:
		d := tensor.Values[float32](t)
		if nnIsF32[F]() && nnSameSlice(any(d), any(src)) {
			return
		}
		for i, v := range src[:len(d)] {
			d[i] = float32(v)
		}
	case tensor.Float64:
		d := tensor.Values[float64](t)
		if !nnIsF32[F]() && nnSameSlice(any(d), any(src)) {
			return
		}
		for i, v := range src[:len(d)] {
			d[i] = float64(v)
		}
	case tensor.Float16:
		d := tensor.Values[tensor.F16](t)
		for i, v := range src[:len(d)] {
			d[i] = tensor.F16From(float32(v))
		}
	case tensor.BFloat16:
		d := tensor.Values[tensor.BF16](t)
		for i, v := range src[:len(d)] {
			d[i] = tensor.BF16From(float32(v))
		}
	}
}

// nnSameSlice reports whether two slices of one element type start at the
// same element.
func nnSameSlice(a, b any) bool {
	switch x := a.(type) {
	case []float32:
		y := b.([]float32)
		return len(x) > 0 && len(y) > 0 && &x[0] == &y[0]
	case []float64:
		y := b.([]float64)
		return len(x) > 0 && len(y) > 0 && &x[0] == &y[0]
	}
	return false
}

// nnOutFloats returns the storage to compute a float output in: the
// output's own values when it holds F, otherwise scratch that nnStore
// later rounds into it.
func nnOutFloats[F nnFloat](sc *Scratch, t *tensor.Tensor) []F {
	if t.DType == nnComputeDType[F]() {
		return tensor.Values[F](t)
	}
	return ScratchSlice[F](sc, t.Len())
}

// nnNeedsF64 reports whether any of the dtypes is float64, in which case a
// computation over them is carried out in float64.
func nnNeedsF64(dts ...tensor.DType) bool {
	for _, d := range dts {
		if d == tensor.Float64 {
			return true
		}
	}
	return false
}

// nnAxis resolves a possibly negative axis against rank r.
func nnAxis(axis int64, r int, what string) (int, error) {
	if axis < -int64(r) || axis >= int64(r) {
		return 0, fault.Errorf(fault.Invalid, "%s %d is out of range for rank %d", what, axis, r)
	}
	if axis < 0 {
		axis += int64(r)
	}
	return int(axis), nil
}

// nnScalarFloat reads a one-element numeric tensor as float64.
func nnScalarFloat(t *tensor.Tensor, what string) (float64, error) {
	if t.Len() != 1 {
		return 0, fault.Errorf(fault.Invalid, "%s must hold one value, got shape %v", what, []int(t.Shape))
	}
	return t.Float64At(0), nil
}

// nnDims returns the product of dims.
func nnDims(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}
