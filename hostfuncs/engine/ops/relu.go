package ops

import (
	"context"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func reluSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("X:T"), Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": ts}, Attrs: attrs, Build: buildRelu,
		}
	}
	signedInts := []tensor.DType{tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64}
	return []Schema{
		v(1, floats(), "consumed_inputs"), // a legacy memory-reuse hint; nothing to honour
		v(6, floats()),
		v(13, floatsBF16()),
		v(14, cat(floatsBF16(), signedInts)),
	}
}

func buildRelu(*graph.Node, int64) (Kernel, error) { return KernelFunc(relu), nil }

func relu(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	y, err := Output(ctx, out[0], x.DType, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	switch x.DType {
	case tensor.Float32:
		ewF32Unary(ctx, kernels.Relu, tensor.Values[float32](y), tensor.Values[float32](x))
	case tensor.Float64:
		reluOf(tensor.Values[float64](y), tensor.Values[float64](x))
	case tensor.Int8:
		reluOf(tensor.Values[int8](y), tensor.Values[int8](x))
	case tensor.Int16:
		reluOf(tensor.Values[int16](y), tensor.Values[int16](x))
	case tensor.Int32:
		reluOf(tensor.Values[int32](y), tensor.Values[int32](x))
	case tensor.Int64:
		reluOf(tensor.Values[int64](y), tensor.Values[int64](x))
	case tensor.Float16:
		reluHalf(tensor.Values[tensor.F16](y), tensor.Values[tensor.F16](x), 0x7c00)
	case tensor.BFloat16:
		reluHalf(tensor.Values[tensor.BF16](y), tensor.Values[tensor.BF16](x), 0x7f80)
	default:
		return fault.Errorf(fault.Unsupported, "Relu of %s", x.DType.ONNXName())
	}
	return nil
}

// reluOf writes max(0, x); NaN fails the comparison and passes through.
func reluOf[T int8 | int16 | int32 | int64 | float32 | float64](y, x []T) {
	y = y[:len(x)]
	for i, v := range x {
		if v < 0 {
			v = 0
		}
		y[i] = v
	}
}

// reluHalf applies Relu to 16-bit floats by their bits: a set sign bit on a
// non-NaN value (magnitude bits at most inf) means negative, including -0,
// which becomes +0.
func reluHalf[T tensor.F16 | tensor.BF16](y, x []T, inf T) {
	y = y[:len(x)]
	for i, v := range x {
		if v&0x8000 != 0 && v&0x7fff <= inf {
			v = 0
		}
		y[i] = v
	}
}
