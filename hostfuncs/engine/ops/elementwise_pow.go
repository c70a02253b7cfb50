package ops

import (
	"context"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Before opset 12 the base and the exponent share one float type; from 12
// the exponent may be any numeric type.
func ewPowSchemas() []Schema {
	v := func(since int64, t, t1 []tensor.DType, attrs ...string) Schema {
		s := Schema{Since: since, Inputs: params("X:T", "Y:T1"), Outputs: params("Z:T"), Attrs: attrs, Build: ewBuildPow,
			Types: map[string][]tensor.DType{"T": t, "T1": t1}}
		if t1 == nil {
			s.Inputs = params("X:T", "Y:T")
			delete(s.Types, "T1")
		}
		return s
	}
	t12 := cat([]tensor.DType{tensor.Int32, tensor.Int64}, floats())
	return []Schema{
		v(1, floats(), nil, "axis", "broadcast"),
		v(7, floats(), nil),
		v(12, t12, ewNumeric()),
		v(13, cat(t12, ewBF16()), ewNumeric()),
		v(15, cat(t12, ewBF16()), cat(ewNumeric(), ewBF16())),
	}
}

type ewPow struct{ legacy ewLegacy }

func ewBuildPow(n *graph.Node, opset int64) (Kernel, error) {
	l, err := ewLegacyFrom(n, opset, 7)
	return &ewPow{legacy: l}, err
}

func (k *ewPow) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, y := in[0], in[1]
	switch x.DType {
	case tensor.Int32, tensor.Int64, tensor.Float16, tensor.BFloat16, tensor.Float32, tensor.Float64:
	default:
		return fault.Errorf(fault.Unsupported, "Pow of %s", x.DType.ONNXName())
	}
	if !ewIsNumeric(y.DType) {
		return fault.Errorf(fault.Unsupported, "Pow with a %s exponent", y.DType.ONNXName())
	}
	var shapeBuf, bBuf [tensor.MaxRank]int
	outShape, yShape, err := k.legacy.shapes("Pow", shapeBuf[:0], bBuf[:0], x.Shape, y.Shape)
	if err != nil {
		return err
	}
	bc, err := kernels.NewBroadcast(outShape, x.Shape, yShape)
	if err != nil {
		return fault.Errorf(fault.Invalid, "Pow: %w", err)
	}
	z, err := Output(ctx, out[0], x.DType, outShape)
	if err != nil {
		return err
	}
	out[0] = z
	s := ScratchFrom(ctx)
	switch x.DType {
	case tensor.Int32:
		ewPowInt[int32](s, &bc, z, x, y)
	case tensor.Int64:
		ewPowInt[int64](s, &bc, z, x, y)
	case tensor.Float32:
		ewDrive(&bc, 0, tensor.Values[float32](z), tensor.Values[float32](x), ewAsFloat64(s, y), ewPowFloat[float32])
	case tensor.Float64:
		ewDrive(&bc, 0, tensor.Values[float64](z), tensor.Values[float64](x), ewAsFloat64(s, y), ewPowFloat[float64])
	default: // 16-bit floats
		zf := ScratchSlice[float32](s, z.Len())
		ewDrive(&bc, 0, zf, ewWiden(s, x), ewAsFloat64(s, y), ewPowFloat[float32])
		narrow(z, zf)
	}
	return nil
}

// ewPowFloat computes in float64, which rounds a float32 result once.
func ewPowFloat[T ewFloat](_ ewOp, o, x []T, e []float64, sa, sb int) {
	ewZip(o, x, e, sa, sb, func(v T, p float64) T { return T(math.Pow(float64(v), p)) })
}

// ewPowInt raises integers exactly (wrapping on overflow, as numpy does)
// when the exponent is an integer, and through float64, truncating, when
// it is a float.
func ewPowInt[T int32 | int64](s *Scratch, bc *kernels.Broadcast, z, x, y *tensor.Tensor) {
	o, b := tensor.Values[T](z), tensor.Values[T](x)
	if ewIsInt(y.DType) {
		e := ScratchSlice[int64](s, y.Len())
		ewConvertTo(e, y)
		ewDrive(bc, 0, o, b, e, func(_ ewOp, o, x []T, e []int64, sa, sb int) {
			ewZip(o, x, e, sa, sb, ewIPow[T])
		})
		return
	}
	ewDrive(bc, 0, o, b, ewAsFloat64(s, y), func(_ ewOp, o, x []T, e []float64, sa, sb int) {
		ewZip(o, x, e, sa, sb, func(v T, p float64) T { return ewFromFloat[T](math.Pow(float64(v), p)) })
	})
}

// ewIPow is x**n by squaring. A negative n gives the truncated reciprocal:
// ±1 for a base of ±1 and 0 otherwise, 0 included (which has none).
func ewIPow[T int32 | int64](x T, n int64) T {
	if n < 0 {
		switch {
		case x == 1:
			return 1
		case x == -1 && n&1 == 1:
			return -1
		case x == -1:
			return 1
		}
		return 0
	}
	r := T(1)
	for ; n > 0; n >>= 1 {
		if n&1 == 1 {
			r *= x
		}
		x *= x
	}
	return r
}

// ewAsFloat64 returns a numeric tensor's values as float64 in scratch.
func ewAsFloat64(s *Scratch, t *tensor.Tensor) []float64 {
	f := ScratchSlice[float64](s, t.Len())
	ewConvertTo(f, t)
	return f
}

// ewConvertTo converts a numeric tensor's values into dst.
func ewConvertTo[D int64 | float64](dst []D, t *tensor.Tensor) {
	switch t.DType {
	case tensor.Int8:
		ewConvert(dst, tensor.Values[int8](t))
	case tensor.Int16:
		ewConvert(dst, tensor.Values[int16](t))
	case tensor.Int32:
		ewConvert(dst, tensor.Values[int32](t))
	case tensor.Int64:
		ewConvert(dst, tensor.Values[int64](t))
	case tensor.Uint8:
		ewConvert(dst, tensor.Values[uint8](t))
	case tensor.Uint16:
		ewConvert(dst, tensor.Values[uint16](t))
	case tensor.Uint32:
		ewConvert(dst, tensor.Values[uint32](t))
	case tensor.Uint64:
		ewConvert(dst, tensor.Values[uint64](t))
	case tensor.Float32:
		ewConvert(dst, tensor.Values[float32](t))
	case tensor.Float64:
		ewConvert(dst, tensor.Values[float64](t))
	case tensor.Float16:
		for i, v := range tensor.Values[tensor.F16](t) {
			dst[i] = D(v.Float32())
		}
	case tensor.BFloat16:
		for i, v := range tensor.Values[tensor.BF16](t) {
			dst[i] = D(v.Float32())
		}
	}
}

func ewConvert[D int64 | float64, S ewNum](dst []D, src []S) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = D(v)
	}
}
