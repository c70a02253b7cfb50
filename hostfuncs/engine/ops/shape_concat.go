package ops

import (
	"context"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func shapeConcatSchemas() []Schema {
	inputs := shapeVariadic("inputs", "T")
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: inputs, Outputs: params("concat_result:T"),
			Types: map[string][]tensor.DType{"T": ts}, Attrs: []string{"axis"}, Build: buildShapeConcat,
		}
	}
	return []Schema{v(1, floats()), v(4, shapeNoBF16()), v(11, shapeNoBF16()), v(13, allTypes())}
}

type shapeConcat struct{ axis int64 }

func buildShapeConcat(n *graph.Node, opset int64) (Kernel, error) {
	if opset >= 4 && !n.HasAttr("axis") {
		return nil, fault.Errorf(fault.Invalid, "Concat: attribute axis is required from opset 4")
	}
	axis, err := n.AttrInt("axis", 1) // opset 1 defaults to 1
	if err != nil {
		return nil, err
	}
	if axis < 0 && opset < 11 {
		return nil, fault.Errorf(fault.Invalid, "Concat: axis %d must not be negative before opset 11", axis)
	}
	return shapeConcat{axis}, nil
}

func (k shapeConcat) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	first := in[0]
	r := len(first.Shape)
	if r == 0 {
		return fault.Errorf(fault.Invalid, "Concat: inputs must have rank 1 or more, got a scalar")
	}
	axis, err := shapeAxis("Concat", k.axis, r)
	if err != nil {
		return err
	}
	var buf [tensor.MaxRank]int
	shape := append(buf[:0], first.Shape...)
	total := 0
	for i, x := range in {
		if x == nil {
			return fault.Errorf(fault.Invalid, "Concat: input %d is omitted", i)
		}
		if x.DType != first.DType {
			return fault.Errorf(fault.Invalid, "Concat: input %d is %s but input 0 is %s", i, x.DType.ONNXName(), first.DType.ONNXName())
		}
		if len(x.Shape) != r {
			return fault.Errorf(fault.Invalid, "Concat: input %d has shape %v, input 0 has %v", i, []int(x.Shape), []int(first.Shape))
		}
		for d := range r {
			if d != axis && x.Shape[d] != first.Shape[d] {
				return fault.Errorf(fault.Invalid, "Concat: input %d has shape %v, input 0 has %v; only axis %d may differ", i, []int(x.Shape), []int(first.Shape), axis)
			}
		}
		if total += x.Shape[axis]; total > tensor.MaxElements {
			return fault.Errorf(fault.TooLarge, "Concat: the result has more than %d elements", tensor.MaxElements)
		}
	}
	shape[axis] = total
	y, err := Output(ctx, out[0], first.DType, shape)
	if err != nil {
		return err
	}
	out[0] = y
	outer := tensor.Shape(shape[:axis]).Size()
	inner := tensor.Shape(shape[axis+1:]).Size()
	dst := shapeBufOf(y)
	row := total * inner
	at := 0
	for _, x := range in {
		n := x.Shape[axis] * inner
		src := shapeBufOf(x)
		for o := range outer {
			dst.copyFrom(o*row+at, src, o*n, n)
		}
		at += n
	}
	shapeOwnStrings(y)
	return nil
}

func shapeSplitSchemas() []Schema {
	outputs := shapeVariadic("outputs", "T")
	v := func(since int64, inputs []Param, ts map[string][]tensor.DType, attrs ...string) Schema {
		return Schema{Since: since, Inputs: inputs, Outputs: outputs, Types: ts, Attrs: attrs, Build: buildShapeSplit}
	}
	noBF16 := map[string][]tensor.DType{"T": shapeNoBF16()}
	withInput := map[string][]tensor.DType{"T": allTypes(), "I": {tensor.Int64}}
	return []Schema{
		v(1, params("input:T", "split:T?"), map[string][]tensor.DType{"T": floats()}, "axis", "split"),
		v(2, params("input:T"), noBF16, "axis", "split"),
		v(11, params("input:T"), noBF16, "axis", "split"),
		v(13, params("input:T", "split:I?"), withInput, "axis"),
		v(18, params("input:T", "split:I?"), withInput, "axis", "num_outputs"),
	}
}

type shapeSplit struct {
	axis       int64
	split      []int64 // from the attribute, before opset 13
	numOutputs int64   // from opset 18; 0 when absent
}

func buildShapeSplit(n *graph.Node, opset int64) (Kernel, error) {
	var k shapeSplit
	var err error
	if k.axis, err = n.AttrInt("axis", 0); err != nil {
		return nil, err
	}
	if k.axis < 0 && opset < 11 {
		return nil, fault.Errorf(fault.Invalid, "Split: axis %d must not be negative before opset 11", k.axis)
	}
	if k.split, _, err = shapeAxesAttr(n, "split"); err != nil {
		return nil, err
	}
	if n.HasAttr("num_outputs") {
		if k.numOutputs, err = n.AttrInt("num_outputs", 0); err != nil {
			return nil, err
		}
		if k.numOutputs < 1 {
			return nil, fault.Errorf(fault.Invalid, "Split: num_outputs must be positive, got %d", k.numOutputs)
		}
		if k.numOutputs != int64(len(n.Outputs)) {
			return nil, fault.Errorf(fault.Invalid, "Split: num_outputs is %d but the node has %d outputs", k.numOutputs, len(n.Outputs))
		}
		if len(n.Inputs) > 1 && n.Inputs[1] != "" {
			return nil, fault.Errorf(fault.Invalid, "Split: num_outputs and the split input cannot both be given")
		}
	}
	return k, nil
}

func (k shapeSplit) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	r := len(x.Shape)
	if r == 0 {
		return fault.Errorf(fault.Invalid, "Split: the input must have rank 1 or more, got a scalar")
	}
	axis, err := shapeAxis("Split", k.axis, r)
	if err != nil {
		return err
	}
	dim := x.Shape[axis]
	nOut := len(out)
	sizes := ScratchSlice[int64](ScratchFrom(ctx), nOut)
	split := k.split
	if len(in) > 1 && in[1] != nil {
		if split, err = shapeSplitInput(ctx, in[1]); err != nil {
			return err
		}
	}
	switch {
	case split != nil:
		if len(split) != nOut {
			return fault.Errorf(fault.Invalid, "Split: split has %d entries but the node has %d outputs", len(split), nOut)
		}
		sum := int64(0)
		for _, s := range split {
			if s < 0 || s > int64(dim) {
				return fault.Errorf(fault.Invalid, "Split: split sizes must be between 0 and %d, got %d", dim, s)
			}
			sum += s
		}
		if sum != int64(dim) {
			return fault.Errorf(fault.Invalid, "Split: split sizes sum to %d but axis %d has size %d", sum, axis, dim)
		}
		copy(sizes, split)
	case k.numOutputs > 0:
		// The last part takes what remains after parts of ceil(dim/n).
		chunk := (dim + nOut - 1) / nOut
		last := dim - chunk*(nOut-1)
		if last < 0 {
			return fault.Errorf(fault.Invalid, "Split: axis %d of size %d cannot be split into %d parts of %d", axis, dim, nOut, chunk)
		}
		for i := range sizes {
			sizes[i] = int64(chunk)
		}
		sizes[nOut-1] = int64(last)
	default:
		if dim%nOut != 0 {
			return fault.Errorf(fault.Invalid, "Split: axis %d of size %d does not split evenly into %d outputs", axis, dim, nOut)
		}
		for i := range sizes {
			sizes[i] = int64(dim / nOut)
		}
	}
	var buf [tensor.MaxRank]int
	shape := append(buf[:0], x.Shape...)
	outer := tensor.Shape(x.Shape[:axis]).Size()
	inner := tensor.Shape(x.Shape[axis+1:]).Size()
	row := dim * inner
	src := shapeBufOf(x)
	at := 0
	for i, s := range sizes {
		shape[axis] = int(s)
		y, err := Output(ctx, out[i], x.DType, shape)
		if err != nil {
			return err
		}
		out[i] = y
		n := int(s) * inner
		dst := shapeBufOf(y)
		for o := range outer {
			dst.copyFrom(o*n, src, o*row+at, n)
		}
		at += n
		shapeOwnStrings(y)
	}
	return nil
}

// shapeSplitInput reads the split sizes input: INT64 from opset 13, the
// data's own float type in opset 1.
func shapeSplitInput(ctx context.Context, t *tensor.Tensor) ([]int64, error) {
	if len(t.Shape) > 1 {
		return nil, fault.Errorf(fault.Invalid, "Split: split must be a 1-D tensor, got shape %v", []int(t.Shape))
	}
	if t.DType == tensor.Int64 {
		return tensor.Values[int64](t), nil
	}
	if !t.DType.IsFloat() {
		return nil, fault.Errorf(fault.Invalid, "Split: split must be INT64, got %s", t.DType.ONNXName())
	}
	v := ScratchSlice[int64](ScratchFrom(ctx), t.Len())
	for i := range v {
		f := t.Float64At(i)
		if f != math.Trunc(f) || math.Abs(f) > tensor.MaxElements {
			return nil, fault.Errorf(fault.Invalid, "Split: split size %v is not a valid length", f)
		}
		v[i] = int64(f)
	}
	return v, nil
}
