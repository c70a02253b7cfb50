package ops

import (
	"context"
	"slices"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Shape, Size, Flatten, Squeeze and Unsqueeze: the operators that read or
// rename a shape. Later versions only admit types (float8, 4-bit) the
// tensor package cannot hold, so from 13 on the versions behave alike.

func shapeShapeSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("data:T"), Outputs: params("shape:T1"),
			Types: map[string][]tensor.DType{"T": ts, "T1": {tensor.Int64}}, Attrs: attrs, Build: buildShapeShape,
		}
	}
	all := allTypes()
	se := []string{"start", "end"}
	return []Schema{
		v(1, shapeNoBF16()), v(13, all), v(15, all, se...), v(19, all, se...), v(21, all, se...),
		v(23, all, se...), v(24, all, se...), v(25, all, se...),
	}
}

type shapeShape struct {
	start  int64
	end    int64
	hasEnd bool
}

func buildShapeShape(n *graph.Node, _ int64) (Kernel, error) {
	var k shapeShape
	var err error
	if k.start, err = n.AttrInt("start", 0); err != nil {
		return nil, err
	}
	if k.hasEnd = n.HasAttr("end"); k.hasEnd {
		if k.end, err = n.AttrInt("end", 0); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func (k shapeShape) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	dims := in[0].Shape
	r := int64(len(dims))
	clampAxis := func(a int64) int64 {
		if a < 0 {
			a += r
		}
		return min(max(a, 0), r)
	}
	start, end := clampAxis(k.start), r
	if k.hasEnd {
		end = clampAxis(k.end)
	}
	n := max(end-start, 0)
	y, err := Output(ctx, out[0], tensor.Int64, []int{int(n)})
	if err != nil {
		return err
	}
	out[0] = y
	v := tensor.Values[int64](y)
	for i := range v {
		v[i] = int64(dims[int(start)+i])
	}
	return nil
}

func shapeSizeSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("data:T"), Outputs: params("size:T1"),
			Types: map[string][]tensor.DType{"T": ts, "T1": {tensor.Int64}}, Build: buildShapeSize,
		}
	}
	all := allTypes()
	return []Schema{v(1, shapeNoBF16()), v(13, all), v(19, all), v(21, all), v(23, all), v(24, all), v(25, all)}
}

func buildShapeSize(*graph.Node, int64) (Kernel, error) {
	return KernelFunc(func(ctx context.Context, in, out []*tensor.Tensor) error {
		y, err := Output(ctx, out[0], tensor.Int64, nil)
		if err != nil {
			return err
		}
		out[0] = y
		tensor.Values[int64](y)[0] = int64(in[0].Shape.Size())
		return nil
	}), nil
}

func shapeFlattenSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("input:T"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": ts}, Attrs: []string{"axis"}, Build: buildShapeFlatten,
		}
	}
	all := allTypes()
	return []Schema{
		v(1, floats()), v(9, shapeNoBF16()), v(11, shapeNoBF16()), v(13, all),
		v(21, all), v(23, all), v(24, all), v(25, all),
	}
}

type shapeFlatten struct{ axis int64 }

func buildShapeFlatten(n *graph.Node, opset int64) (Kernel, error) {
	axis, err := n.AttrInt("axis", 1)
	if err != nil {
		return nil, err
	}
	if axis < 0 && opset < 11 {
		return nil, fault.Errorf(fault.Invalid, "Flatten: axis %d must not be negative before opset 11", axis)
	}
	return shapeFlatten{axis: axis}, nil
}

func (k shapeFlatten) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	r := int64(len(x.Shape))
	axis := k.axis
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis > r {
		return fault.Errorf(fault.Invalid, "Flatten: axis %d is out of range for rank %d", k.axis, r)
	}
	outer := tensor.Shape(x.Shape[:axis]).Size()
	inner := tensor.Shape(x.Shape[axis:]).Size()
	var err error
	out[0], err = shapeCopyAll(ctx, out[0], x, []int{outer, inner})
	return err
}

// Squeeze and Unsqueeze take their axes as an attribute before opset 13 and
// as an input from 13 on.

func shapeSqueezeSchemas() []Schema {
	attr := func(since int64) Schema {
		return Schema{
			Since: since, Inputs: params("data:T"), Outputs: params("squeezed:T"),
			Types: map[string][]tensor.DType{"T": shapeNoBF16()}, Attrs: []string{"axes"}, Build: buildShapeSqueeze,
		}
	}
	input := func(since int64) Schema {
		return Schema{
			Since: since, Inputs: params("data:T", "axes:I?"), Outputs: params("squeezed:T"),
			Types: map[string][]tensor.DType{"T": allTypes(), "I": {tensor.Int64}}, Build: buildShapeSqueeze,
		}
	}
	return []Schema{attr(1), attr(11), input(13), input(21), input(23), input(24), input(25)}
}

type shapeSqueeze struct {
	axes     []int64 // from the attribute before opset 13; nil: all size-1 axes
	attr     bool
	negative bool
}

func buildShapeSqueeze(n *graph.Node, opset int64) (Kernel, error) {
	k := shapeSqueeze{attr: opset < 13, negative: opset >= 11}
	if k.attr {
		var err error
		if k.axes, _, err = shapeAxesAttr(n, "axes"); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func (k shapeSqueeze) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	axes := k.axes
	given := k.attr && axes != nil
	if !k.attr && len(in) > 1 && in[1] != nil {
		var err error
		if axes, err = shapeIndexList(ScratchFrom(ctx), "Squeeze", "axes", in[1]); err != nil {
			return err
		}
		given = true
	}
	r := len(x.Shape)
	var drop [tensor.MaxRank]bool
	if given {
		for _, a := range axes {
			if a < 0 && !k.negative {
				return fault.Errorf(fault.Invalid, "Squeeze: axis %d must not be negative before opset 11", a)
			}
			ax, err := shapeAxis("Squeeze", a, r)
			if err != nil {
				return err
			}
			if x.Shape[ax] != 1 {
				return fault.Errorf(fault.Invalid, "Squeeze: axis %d of shape %v has size %d, not 1", a, []int(x.Shape), x.Shape[ax])
			}
			drop[ax] = true
		}
	} else {
		for i, d := range x.Shape {
			drop[i] = d == 1
		}
	}
	var buf [tensor.MaxRank]int
	shape := buf[:0]
	for i, d := range x.Shape {
		if !drop[i] {
			shape = append(shape, d)
		}
	}
	var err error
	out[0], err = shapeCopyAll(ctx, out[0], x, shape)
	return err
}

func shapeUnsqueezeSchemas() []Schema {
	attr := func(since int64) Schema {
		return Schema{
			Since: since, Inputs: params("data:T"), Outputs: params("expanded:T"),
			Types: map[string][]tensor.DType{"T": shapeNoBF16()}, Attrs: []string{"axes"}, Build: buildShapeUnsqueeze,
		}
	}
	input := func(since int64) Schema {
		return Schema{
			Since: since, Inputs: params("data:T", "axes:I"), Outputs: params("expanded:T"),
			Types: map[string][]tensor.DType{"T": allTypes(), "I": {tensor.Int64}}, Build: buildShapeUnsqueeze,
		}
	}
	return []Schema{attr(1), attr(11), input(13), input(21), input(23), input(24), input(25)}
}

type shapeUnsqueeze struct {
	axes     []int64
	attr     bool
	negative bool
}

func buildShapeUnsqueeze(n *graph.Node, opset int64) (Kernel, error) {
	k := shapeUnsqueeze{attr: opset < 13, negative: opset >= 11}
	if k.attr {
		axes, ok, err := shapeAxesAttr(n, "axes")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fault.Errorf(fault.Invalid, "Unsqueeze: attribute axes is required before opset 13")
		}
		k.axes = axes
	}
	return k, nil
}

func (k shapeUnsqueeze) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	axes := k.axes
	if !k.attr {
		var err error
		if axes, err = shapeIndexList(ScratchFrom(ctx), "Unsqueeze", "axes", in[1]); err != nil {
			return err
		}
	}
	r := len(x.Shape) + len(axes)
	if r > tensor.MaxRank {
		return fault.Errorf(fault.TooLarge, "Unsqueeze: output rank %d exceeds the maximum of %d", r, tensor.MaxRank)
	}
	var ins [tensor.MaxRank]bool
	for _, a := range axes {
		if a < 0 && !k.negative {
			return fault.Errorf(fault.Invalid, "Unsqueeze: axis %d must not be negative before opset 11", a)
		}
		ax, err := shapeAxis("Unsqueeze", a, r)
		if err != nil {
			return err
		}
		if ins[ax] {
			return fault.Errorf(fault.Invalid, "Unsqueeze: axis %d is given twice in %v", a, slices.Clone(axes))
		}
		ins[ax] = true
	}
	var buf [tensor.MaxRank]int
	shape := buf[:r]
	j := 0
	for i := range shape {
		if ins[i] {
			shape[i] = 1
		} else {
			shape[i] = x.Shape[j]
			j++
		}
	}
	var err error
	out[0], err = shapeCopyAll(ctx, out[0], x, shape)
	return err
}
