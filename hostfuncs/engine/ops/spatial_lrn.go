package ops

import (
	"context"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func lrnSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("X:T"), Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": ts},
			Attrs: []string{"alpha", "beta", "bias", "size"},
			Build: buildLRN,
		}
	}
	return []Schema{v(1, floats()), v(13, floatsBF16())}
}

type lrn struct {
	alpha, beta, bias float64
	size              int
}

func buildLRN(n *graph.Node, _ int64) (Kernel, error) {
	if !n.HasAttr("size") {
		return nil, fault.Errorf(fault.Invalid, "attribute size is required")
	}
	size, err := n.AttrInt("size", 0)
	if err != nil {
		return nil, err
	}
	if size < 1 || size > tensor.MaxElements {
		return nil, fault.Errorf(fault.Invalid, "size must be at least 1, got %d", size)
	}
	k := lrn{size: int(size)}
	for _, a := range []struct {
		name string
		def  float32
		dst  *float64
	}{{"alpha", 1e-4, &k.alpha}, {"beta", 0.75, &k.beta}, {"bias", 1, &k.bias}} {
		v, err := n.AttrFloat(a.name, a.def)
		if err != nil {
			return nil, err
		}
		*a.dst = float64(v)
	}
	return k, nil
}

func (k lrn) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	if len(x.Shape) < 2 {
		return fault.Errorf(fault.Invalid, "LRN: X %v must have rank 2 or more", []int(x.Shape))
	}
	y, err := Output(ctx, out[0], x.DType, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	n, c := x.Shape[0], x.Shape[1]
	plane := 1
	for _, d := range x.Shape[2:] {
		plane *= d
	}
	sc := ScratchFrom(ctx)
	sum := ScratchSlice[float64](sc, plane)
	switch x.DType {
	case tensor.Float32:
		lrnTyped(&k, tensor.Values[float32](x), tensor.Values[float32](y), sum, n, c, plane)
	case tensor.Float64:
		lrnTyped(&k, tensor.Values[float64](x), tensor.Values[float64](y), sum, n, c, plane)
	case tensor.Float16, tensor.BFloat16:
		xf, yf := ScratchSlice[float32](sc, x.Len()), ScratchSlice[float32](sc, y.Len())
		widen(xf, x)
		lrnTyped(&k, xf, yf, sum, n, c, plane)
		narrow(y, yf)
	default:
		return fault.Errorf(fault.Unsupported, "LRN of %s", x.DType.ONNXName())
	}
	return nil
}

// lrnTyped divides each element by (bias + alpha/size · Σx²)^beta, the sum
// over the channels c − ⌊(size−1)/2⌋ … c + ⌈(size−1)/2⌉ that exist.
func lrnTyped[T float32 | float64](k *lrn, x, y []T, sum []float64, n, c, plane int) {
	before, after := (k.size-1)/2, k.size/2 // ⌈(size−1)/2⌉ = ⌊size/2⌋
	scale := k.alpha / float64(k.size)
	for b := range n {
		xb, yb := x[b*c*plane:(b+1)*c*plane], y[b*c*plane:(b+1)*c*plane]
		for ch := range c {
			clear(sum)
			for j := max(0, ch-before); j <= min(c-1, ch+after); j++ {
				for i, v := range xb[j*plane : (j+1)*plane] {
					f := float64(v)
					sum[i] += f * f
				}
			}
			yc, xc := yb[ch*plane:(ch+1)*plane], xb[ch*plane:(ch+1)*plane]
			for i, v := range xc {
				yc[i] = T(float64(v) / math.Pow(k.bias+scale*sum[i], k.beta))
			}
		}
	}
}
