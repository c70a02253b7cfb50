package ops

import "github.com/wasmgate/wasmgate/hostfuncs/tensor"

// Half-precision tensors are computed in float32: widen the inputs into
// scratch, run the float32 kernel, narrow the result. Widening is exact, so
// only the final rounding differs from exact arithmetic.

// widen converts a FLOAT16 or BFLOAT16 tensor's values into dst.
func widen(dst []float32, t *tensor.Tensor) {
	switch t.DType {
	case tensor.Float16:
		for i, v := range tensor.Values[tensor.F16](t) {
			dst[i] = v.Float32()
		}
	case tensor.BFloat16:
		for i, v := range tensor.Values[tensor.BF16](t) {
			dst[i] = v.Float32()
		}
	}
}

// narrow rounds src into a FLOAT16 or BFLOAT16 tensor.
func narrow(t *tensor.Tensor, src []float32) {
	switch t.DType {
	case tensor.Float16:
		d := tensor.Values[tensor.F16](t)
		for i, v := range src[:len(d)] {
			d[i] = tensor.F16From(v)
		}
	case tensor.BFloat16:
		d := tensor.Values[tensor.BF16](t)
		for i, v := range src[:len(d)] {
			d[i] = tensor.BF16From(v)
		}
	}
}
