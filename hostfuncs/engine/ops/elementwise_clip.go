package ops

import (
	"context"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Clip took its bounds as attributes before opset 11 and as optional
// scalar inputs from 11 on.
func ewClipSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		s := Schema{Since: since, Inputs: params("input:T", "min:T?", "max:T?"), Outputs: params("output:T"), Attrs: attrs, Build: ewBuildClip,
			Types: map[string][]tensor.DType{"T": ts}}
		if since < 11 {
			s.Inputs = params("input:T")
		}
		return s
	}
	return []Schema{
		v(1, floats(), "consumed_inputs", "max", "min"),
		v(6, floats(), "max", "min"),
		v(11, floats()),
		v(12, ewNumeric()),
		v(13, cat(ewNumeric(), ewBF16())),
	}
}

// ewClip is Clip; attrs marks the versions with attribute bounds lo, hi.
type ewClip struct {
	attrs  bool
	lo, hi float64
}

func ewBuildClip(n *graph.Node, opset int64) (Kernel, error) {
	if opset >= 11 {
		return &ewClip{}, nil
	}
	// Clip-1 leaves a missing bound unset; Clip-6 defaults it to the
	// float32 range.
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	if opset >= 6 {
		lo, hi = -3.402823e+38, 3.402823e+38
	}
	var err error
	if lo, err = n.AttrFloat("min", lo); err != nil {
		return nil, err
	}
	if hi, err = n.AttrFloat("max", hi); err != nil {
		return nil, err
	}
	return &ewClip{attrs: true, lo: float64(lo), hi: float64(hi)}, nil
}

func (k *ewClip) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	if !ewIsNumeric(x.DType) || (k.attrs && !x.DType.IsFloat()) {
		return fault.Errorf(fault.Unsupported, "Clip of %s", x.DType.ONNXName())
	}
	var lo, hi *tensor.Tensor
	if len(in) > 1 {
		lo = in[1]
	}
	if len(in) > 2 {
		hi = in[2]
	}
	for _, b := range [...]*tensor.Tensor{lo, hi} {
		if b == nil {
			continue
		}
		if b.DType != x.DType {
			return fault.Errorf(fault.Invalid, "Clip: a bound is %s but input is %s", b.DType.ONNXName(), x.DType.ONNXName())
		}
		// The spec asks for a scalar; a one-element tensor means the same.
		if b.Len() != 1 {
			return fault.Errorf(fault.Invalid, "Clip: bounds must be scalars, got shape %v", []int(b.Shape))
		}
	}
	y, err := Output(ctx, out[0], x.DType, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	switch x.DType {
	case tensor.Int8:
		ewClipTyped(y, x, lo, hi, tensor.Values[int8])
	case tensor.Int16:
		ewClipTyped(y, x, lo, hi, tensor.Values[int16])
	case tensor.Int32:
		ewClipTyped(y, x, lo, hi, tensor.Values[int32])
	case tensor.Int64:
		ewClipTyped(y, x, lo, hi, tensor.Values[int64])
	case tensor.Uint8:
		ewClipTyped(y, x, lo, hi, tensor.Values[uint8])
	case tensor.Uint16:
		ewClipTyped(y, x, lo, hi, tensor.Values[uint16])
	case tensor.Uint32:
		ewClipTyped(y, x, lo, hi, tensor.Values[uint32])
	case tensor.Uint64:
		ewClipTyped(y, x, lo, hi, tensor.Values[uint64])
	case tensor.Float32:
		ewClipFloat(k, tensor.Values[float32](y), tensor.Values[float32](x), lo, hi, ewFirstOf[float32])
	case tensor.Float64:
		ewClipFloat(k, tensor.Values[float64](y), tensor.Values[float64](x), lo, hi, ewFirstOf[float64])
	default: // 16-bit floats: clipping is exact in float32
		f := ewWiden(ScratchFrom(ctx), x)
		ewClipFloat(k, f, f, lo, hi, ewHalfFirst)
		narrow(y, f)
	}
	return nil
}

func ewClipTyped[T ewInt](y, x, lo, hi *tensor.Tensor, values func(*tensor.Tensor) []T) {
	var l, h T
	if lo != nil {
		l = values(lo)[0]
	}
	if hi != nil {
		h = values(hi)[0]
	}
	ewClipLoop(values(y), values(x), l, h, lo != nil, hi != nil)
}

// ewClipFloat clips to the attribute bounds or to the bound inputs, which
// bound reads.
func ewClipFloat[T ewFloat](k *ewClip, o, x []T, lo, hi *tensor.Tensor, bound func(*tensor.Tensor) T) {
	l, h := T(k.lo), T(k.hi)
	hasLo, hasHi := k.attrs, k.attrs
	if lo != nil {
		l, hasLo = bound(lo), true
	}
	if hi != nil {
		h, hasHi = bound(hi), true
	}
	ewClipLoop(o, x, l, h, hasLo, hasHi)
}

func ewFirstOf[T tensor.Elem](t *tensor.Tensor) T { return tensor.Values[T](t)[0] }

// ewHalfFirst is the first element of a 16-bit float tensor, widened.
func ewHalfFirst(t *tensor.Tensor) float32 {
	if t.DType == tensor.BFloat16 {
		return tensor.Values[tensor.BF16](t)[0].Float32()
	}
	return tensor.Values[tensor.F16](t)[0].Float32()
}

// ewClipLoop applies min(max(v, lo), hi), each bound only when set; NaN
// passes through, and lo > hi gives hi everywhere, as the spec says.
func ewClipLoop[T ewNum](o, x []T, lo, hi T, hasLo, hasHi bool) {
	ewMap(o, x, func(v T) T {
		if hasLo && v < lo {
			v = lo
		}
		if hasHi && v > hi {
			v = hi
		}
		return v
	})
}
