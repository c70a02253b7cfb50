package ops

import (
	"context"
	"fmt"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func maxUnpoolSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("X:T1", "I:T2", "output_shape:T2?"), Outputs: params("output:T1"),
			Types: map[string][]tensor.DType{"T1": ts, "T2": {tensor.Int64}},
			Attrs: []string{"kernel_shape", "pads", "strides"},
			Build: buildMaxUnpool,
		}
	}
	return []Schema{v(9, floats()), v(11, floats()), v(22, floatsBF16())}
}

type maxUnpool struct{ w window }

func buildMaxUnpool(n *graph.Node, _ int64) (Kernel, error) {
	w, err := spatialReadPoolWindow(n)
	if err != nil {
		return nil, err
	}
	return maxUnpool{w: w}, nil
}

// Run places each X value at the flat position its index names in the
// unpooled tensor whose spatial size inverts the pooling, (in−1)·s − pads
// + k, zeros elsewhere. With output_shape, that tensor is then embedded at
// the origin of a zero tensor of the given shape, as the spec's reference
// does: the indices count positions of the inverted pooling's shape.
func (k maxUnpool) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, idx := in[0], in[1]
	r := len(x.Shape)
	if r < 3 {
		return fault.Errorf(fault.Invalid, "MaxUnpool: X %v must have rank 3 or more", []int(x.Shape))
	}
	if idx.DType != tensor.Int64 || (len(in) > 2 && in[2] != nil && in[2].DType != tensor.Int64) {
		return fault.Errorf(fault.Invalid, "MaxUnpool: I and output_shape must be int64")
	}
	if !x.Shape.Equal(idx.Shape) {
		return fault.Errorf(fault.Invalid, "MaxUnpool: I %v must have X's shape %v", []int(idx.Shape), []int(x.Shape))
	}
	nd := r - 2
	for _, a := range k.w.axes() {
		if a.n != 0 && a.n != nd {
			return fault.Errorf(fault.Invalid, "MaxUnpool: %s has %d spatial axes, X has %d", a.name, a.n, nd)
		}
	}
	var inferred, shape [tensor.MaxRank]int
	inferred[0], inferred[1] = x.Shape[0], x.Shape[1]
	for i := range nd {
		s, pb, pe := 1, 0, 0
		if k.w.strides != nil {
			s = k.w.strides[i]
		}
		if k.w.pads != nil {
			pb, pe = k.w.pads[i], k.w.pads[i+nd]
		}
		d := (x.Shape[i+2]-1)*s - pb - pe + k.w.kernel[i]
		if d < 0 || d > tensor.MaxElements {
			return fault.Errorf(fault.Invalid, "MaxUnpool: spatial axis %d unpools to size %d", i, d)
		}
		inferred[i+2] = d
	}
	shape = inferred
	if len(in) > 2 && in[2] != nil {
		os := in[2]
		if len(os.Shape) != 1 || os.Len() != r {
			return fault.Errorf(fault.Invalid, "MaxUnpool: output_shape %v must be 1-D with %d values", []int(os.Shape), r)
		}
		for i, v := range tensor.Values[int64](os) {
			if v < int64(inferred[i]) || v > tensor.MaxElements {
				return fault.Errorf(fault.Invalid, "MaxUnpool: output_shape %v is smaller than the unpooled shape %v", tensor.Values[int64](os), inferred[:r])
			}
			shape[i] = int(v)
		}
	}
	y, err := Output(ctx, out[0], x.DType, shape[:r])
	if err != nil {
		return err
	}
	out[0] = y
	if _, ok := numElements(inferred[:r]); !ok {
		return fault.Errorf(fault.TooLarge, "MaxUnpool: the unpooled shape %v is too large", inferred[:r])
	}
	p := unpoolProblem{r: r, inferred: &inferred, shape: &shape, idx: tensor.Values[int64](idx)}
	switch x.DType {
	case tensor.Float32:
		err = maxUnpoolTyped(&p, tensor.Values[float32](x), tensor.Values[float32](y))
	case tensor.Float64:
		err = maxUnpoolTyped(&p, tensor.Values[float64](x), tensor.Values[float64](y))
	case tensor.Float16:
		err = maxUnpoolTyped(&p, tensor.Values[tensor.F16](x), tensor.Values[tensor.F16](y))
	case tensor.BFloat16:
		err = maxUnpoolTyped(&p, tensor.Values[tensor.BF16](x), tensor.Values[tensor.BF16](y))
	default:
		return fault.Errorf(fault.Unsupported, "MaxUnpool of %s", x.DType.ONNXName())
	}
	if err != nil {
		return fmt.Errorf("MaxUnpool: %w", err)
	}
	return nil
}

type unpoolProblem struct {
	r               int
	inferred, shape *[tensor.MaxRank]int
	idx             []int64
}

// maxUnpoolTyped scatters x into y. Later elements win where indices repeat.
func maxUnpoolTyped[T tensor.Elem](p *unpoolProblem, x, y []T) error {
	clear(y)
	total := prod(p.inferred[:p.r])
	same := *p.inferred == *p.shape
	var stride [tensor.MaxRank]int
	acc := 1
	for j := p.r - 1; j >= 0; j-- {
		stride[j] = acc
		acc *= p.shape[j]
	}
	for e, v := range x {
		at := p.idx[e]
		if at < 0 || at >= int64(total) {
			return fault.Errorf(fault.Invalid, "index %d at position %d is outside the unpooled tensor's %d elements", at, e, total)
		}
		off := int(at)
		if !same {
			rest := off
			off = 0
			for j := p.r - 1; j >= 0; j-- {
				off += rest % p.inferred[j] * stride[j]
				rest /= p.inferred[j]
			}
		}
		y[off] = v
	}
	return nil
}
