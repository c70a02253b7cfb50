package ops

import (
	"context"
	"slices"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func reshapeSchemas() []Schema {
	withShape := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("data:T", "shape:I"), Outputs: params("reshaped:T"),
			Types: map[string][]tensor.DType{"T": ts, "I": {tensor.Int64}}, Attrs: attrs, Build: buildReshape,
		}
	}
	all := allTypes()
	withoutBF16 := slices.DeleteFunc(allTypes(), func(d tensor.DType) bool { return d == tensor.BFloat16 })
	return []Schema{
		{
			Since: 1, Inputs: params("data:T"), Outputs: params("reshaped:T"),
			Types: map[string][]tensor.DType{"T": floats()},
			Attrs: []string{"shape", "consumed_inputs"}, Build: buildReshape,
		},
		withShape(5, withoutBF16),
		withShape(13, all),
		withShape(14, all, "allowzero"),
		withShape(19, all, "allowzero"),
		withShape(21, all, "allowzero"),
		withShape(23, all, "allowzero"),
		withShape(24, all, "allowzero"),
		withShape(25, all, "allowzero"),
	}
}

type reshape struct {
	shape     []int64 // opset 1 takes the shape as an attribute
	allowZero bool    // a 0 in the shape means 0, not "keep the input's size"
}

func buildReshape(n *graph.Node, opset int64) (Kernel, error) {
	var k reshape
	if opset < 5 {
		if !n.HasAttr("shape") {
			return nil, fault.Errorf(fault.Invalid, "attribute shape is required before opset 5")
		}
		s, err := n.AttrInts("shape", nil)
		if err != nil {
			return nil, err
		}
		k.shape = slices.Clone(s)
		if k.shape == nil {
			k.shape = []int64{} // a scalar
		}
	}
	az, err := n.AttrInt("allowzero", 0)
	if err != nil {
		return nil, err
	}
	if az != 0 && az != 1 {
		return nil, fault.Errorf(fault.Invalid, "allowzero must be 0 or 1, got %d", az)
	}
	k.allowZero = az == 1
	return k, nil
}

func (k reshape) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, spec := in[0], k.shape
	if spec == nil {
		s := in[1]
		if s.DType != tensor.Int64 || len(s.Shape) != 1 {
			return fault.Errorf(fault.Invalid, "Reshape: shape must be a 1-D INT64 tensor, got %v", s)
		}
		spec = tensor.Values[int64](s)
	}
	var buf [tensor.MaxRank]int
	shape, err := reshapeTo(buf[:0], x.Shape, spec, k.allowZero)
	if err != nil {
		return err
	}
	out[0], err = copyInto(ctx, out[0], x, shape)
	return err
}

// reshapeTo resolves a Reshape shape specification against the input shape:
// -1 is inferred from the element count, 0 copies the input's size at that
// position unless allowZero.
func reshapeTo(dst []int, in tensor.Shape, spec []int64, allowZero bool) ([]int, error) {
	fail := func(why string) error {
		return fault.Errorf(fault.Invalid, "Reshape: cannot reshape %v to %v: %s", []int(in), spec, why)
	}
	if len(spec) > tensor.MaxRank {
		return nil, fail("too many dimensions")
	}
	infer, known := -1, 1
	zero, overflow := false, false
	for i, d := range spec {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fail("more than one -1")
			}
			infer = i
			dst = append(dst, -1)
			continue
		case d < -1:
			return nil, fail("negative size")
		case d == 0 && !allowZero:
			if i >= len(in) {
				return nil, fail("a 0 beyond the input's rank")
			}
			d = int64(in[i])
		}
		if d > tensor.MaxElements {
			overflow = true
		} else if v := int(d); v == 0 {
			zero = true
		} else if known > tensor.MaxElements/v {
			overflow = true
		} else {
			known *= v
		}
		dst = append(dst, int(d))
	}
	total := in.Size()
	switch {
	case zero && infer >= 0:
		return nil, fail("a -1 cannot be inferred next to a size of 0")
	case zero:
		known = 0
	case overflow:
		return nil, fail("the element counts differ")
	}
	if infer >= 0 {
		if total%known != 0 {
			return nil, fail("the element count is not divisible")
		}
		dst[infer] = total / known
	} else if known != total {
		return nil, fail("the element counts differ")
	}
	return dst, nil
}
