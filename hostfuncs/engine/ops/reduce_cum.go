package ops

import (
	"context"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// cumSchemas lists CumSum's versions (half precision from 14), or
// CumProd's one.
func cumSchemas(prod bool) []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("x:T", "axis:T2"), Outputs: params("y:T"),
			Types: map[string][]tensor.DType{"T": ts, "T2": {tensor.Int32, tensor.Int64}},
			Attrs: []string{"exclusive", "reverse"}, Build: cumBuilder(prod),
		}
	}
	if prod {
		return []Schema{v(26, cat(floatsBF16(), wideInts()))}
	}
	v11 := []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int32, tensor.Int64, tensor.Uint32, tensor.Uint64}
	return []Schema{v(11, v11), v(14, cat(floatsBF16(), wideInts()))}
}

type cumKernel struct {
	prod      bool
	exclusive bool
	reverse   bool
}

func cumBuilder(prod bool) Builder {
	return func(n *graph.Node, _ int64) (Kernel, error) {
		k := cumKernel{prod: prod}
		var err error
		if k.exclusive, err = redFlag(n, "exclusive", 0); err != nil {
			return nil, err
		}
		if k.reverse, err = redFlag(n, "reverse", 0); err != nil {
			return nil, err
		}
		return k, nil
	}
}

func (k cumKernel) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	name := "CumSum"
	if k.prod {
		name = "CumProd"
	}
	x := in[0]
	a, err := redScalarInt(name, "axis", in[1])
	if err != nil {
		return err
	}
	axis, err := redAxis(name, a, len(x.Shape), false)
	if err != nil {
		return err
	}
	outer, n, inner := redSplit(x.Shape, axis)
	y, err := Output(ctx, out[0], x.DType, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	sc := ScratchFrom(ctx)
	switch x.DType {
	case tensor.Float32:
		redCumOf(tensor.Values[float32](y), tensor.Values[float32](x), ScratchSlice[float64](sc, inner), outer, n, inner, k)
	case tensor.Float64:
		redCumOf(tensor.Values[float64](y), tensor.Values[float64](x), ScratchSlice[float64](sc, inner), outer, n, inner, k)
	case tensor.Float16, tensor.BFloat16:
		xs := redF64(sc, x)
		ys := redF64Out(sc, y)
		redCumOf(ys, xs, ScratchSlice[float64](sc, inner), outer, n, inner, k)
		redStore(y, ys)
	case tensor.Int32:
		redCumOf(tensor.Values[int32](y), tensor.Values[int32](x), ScratchSlice[int32](sc, inner), outer, n, inner, k)
	case tensor.Int64:
		redCumOf(tensor.Values[int64](y), tensor.Values[int64](x), ScratchSlice[int64](sc, inner), outer, n, inner, k)
	case tensor.Uint32:
		redCumOf(tensor.Values[uint32](y), tensor.Values[uint32](x), ScratchSlice[uint32](sc, inner), outer, n, inner, k)
	case tensor.Uint64:
		redCumOf(tensor.Values[uint64](y), tensor.Values[uint64](x), ScratchSlice[uint64](sc, inner), outer, n, inner, k)
	default:
		return fault.Errorf(fault.Unsupported, "%s of %s", name, x.DType.ONNXName())
	}
	return nil
}

// redCumOf accumulates along the middle axis of an [outer, n, inner] view,
// all inner positions side by side in acc (float64 for floats, so float32
// sums round once per output; integers wrap in their own type).
func redCumOf[T, A redReal](y, x []T, acc []A, outer, n, inner int, k cumKernel) {
	var init A
	if k.prod {
		init = 1
	}
	block := n * inner
	for o := range outer {
		for i := range acc {
			acc[i] = init
		}
		for jj := range n {
			j := jj
			if k.reverse {
				j = n - 1 - jj
			}
			off := o*block + j*inner
			xs, ys := x[off:off+inner], y[off:off+inner]
			switch {
			case k.exclusive && k.prod:
				for i, v := range xs {
					ys[i] = T(acc[i])
					acc[i] *= A(v)
				}
			case k.exclusive:
				for i, v := range xs {
					ys[i] = T(acc[i])
					acc[i] += A(v)
				}
			case k.prod:
				for i, v := range xs {
					acc[i] *= A(v)
					ys[i] = T(acc[i])
				}
			default:
				for i, v := range xs {
					acc[i] += A(v)
					ys[i] = T(acc[i])
				}
			}
		}
	}
}
