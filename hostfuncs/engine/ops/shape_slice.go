package ops

import (
	"context"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func shapeSliceSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since:   since,
			Inputs:  params("data:T", "starts:Tind", "ends:Tind", "axes:Tind?", "steps:Tind?"),
			Outputs: params("output:T"),
			Types:   map[string][]tensor.DType{"T": ts, "Tind": {tensor.Int32, tensor.Int64}},
			Build:   buildShapeSlice,
		}
	}
	return []Schema{
		{
			Since: 1, Inputs: params("data:T"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": shapeNoBF16()}, Attrs: []string{"axes", "ends", "starts"},
			Build: buildShapeSlice,
		},
		v(10, shapeNoBF16()), v(11, shapeNoBF16()), v(13, allTypes()),
	}
}

type shapeSlice struct {
	attr               bool // opset 1 takes starts, ends and axes as attributes
	starts, ends, axes []int64
	negative           bool // negative axes count from the back from opset 11
}

func buildShapeSlice(n *graph.Node, opset int64) (Kernel, error) {
	k := shapeSlice{attr: opset < 10, negative: opset >= 11}
	if !k.attr {
		return k, nil
	}
	var ok bool
	var err error
	if k.starts, ok, err = shapeAxesAttr(n, "starts"); err != nil || !ok {
		return nil, shapeRequired(err, "Slice", "starts")
	}
	if k.ends, ok, err = shapeAxesAttr(n, "ends"); err != nil || !ok {
		return nil, shapeRequired(err, "Slice", "ends")
	}
	if k.axes, _, err = shapeAxesAttr(n, "axes"); err != nil {
		return nil, err
	}
	return k, nil
}

// shapeRequired is err, or the error for a missing required attribute.
func shapeRequired(err error, op, name string) error {
	if err != nil {
		return err
	}
	return fault.Errorf(fault.Invalid, "%s: attribute %s is required", op, name)
}

func (k shapeSlice) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	sc := ScratchFrom(ctx)
	starts, ends, axes := k.starts, k.ends, k.axes
	var steps []int64
	if !k.attr {
		var err error
		if starts, err = shapeIndexList(sc, "Slice", "starts", in[1]); err != nil {
			return err
		}
		if ends, err = shapeIndexList(sc, "Slice", "ends", in[2]); err != nil {
			return err
		}
		if len(in) > 3 && in[3] != nil {
			if axes, err = shapeIndexList(sc, "Slice", "axes", in[3]); err != nil {
				return err
			}
		}
		if len(in) > 4 && in[4] != nil {
			if steps, err = shapeIndexList(sc, "Slice", "steps", in[4]); err != nil {
				return err
			}
		}
	}
	n := len(starts)
	if len(ends) != n || (axes != nil && len(axes) != n) || (steps != nil && len(steps) != n) {
		return fault.Errorf(fault.Invalid, "Slice: starts, ends, axes and steps must have the same length, got %d, %d, %d and %d",
			n, len(ends), len(axes), len(steps))
	}
	r := len(x.Shape)
	var shape, strides [tensor.MaxRank]int
	copy(shape[:], x.Shape)
	shapeStrides(strides[:r], x.Shape)
	var seen [tensor.MaxRank]bool
	off := 0
	for i := range n {
		a := int64(i)
		if axes != nil {
			a = axes[i]
			if a < 0 && !k.negative {
				return fault.Errorf(fault.Invalid, "Slice: axis %d must not be negative before opset 11", a)
			}
		}
		ax, err := shapeAxis("Slice", a, r)
		if err != nil {
			return err
		}
		if seen[ax] {
			return fault.Errorf(fault.Invalid, "Slice: axis %d is given twice", a)
		}
		seen[ax] = true
		step64 := int64(1)
		if steps != nil {
			step64 = steps[i]
		}
		start, count, step, err := shapeSliceAxis(starts[i], ends[i], step64, x.Shape[ax])
		if err != nil {
			return err
		}
		shape[ax] = count
		if count > 0 {
			off += start * strides[ax]
			strides[ax] *= step
		}
	}
	y, err := Output(ctx, out[0], x.DType, shape[:r])
	if err != nil {
		return err
	}
	out[0] = y
	shapeStridedCopy(shapeBufOf(y), shapeBufOf(x), shape[:r], strides[:r], off)
	shapeOwnStrings(y)
	return nil
}

// shapeSliceAxis resolves one axis of a Slice as the spec describes:
// negative bounds count from the end, then start and end are clamped to
// [0, dim] for forward steps and to [0, dim-1] and [-1, dim-1] for backward
// ones. It returns the first index, the count and the step (1 when at most
// one element is taken, so no stride arithmetic can overflow).
func shapeSliceAxis(start, end, step int64, dim int) (int, int, int, error) {
	if step == 0 {
		return 0, 0, 0, fault.Errorf(fault.Invalid, "Slice: steps must not be 0")
	}
	d := int64(dim)
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	var count int64
	if step > 0 {
		start = min(max(start, 0), d)
		end = min(max(end, 0), d)
		if end > start {
			count = (end-start-1)/step + 1
		}
	} else {
		start = min(max(start, 0), d-1)
		end = min(max(end, -1), d-1)
		if start > end {
			if step == math.MinInt64 {
				count = 1
			} else {
				count = (start-end-1)/(-step) + 1
			}
		}
	}
	if count <= 1 {
		step = 1
	}
	return int(start), int(count), int(step), nil
}

func shapePadSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, inputs []Param) Schema {
		return Schema{
			Since: since, Inputs: inputs, Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": ts, "I": {tensor.Int64}, "Tind": {tensor.Int32, tensor.Int64}},
			Attrs: []string{"mode"}, Build: buildShapePad,
		}
	}
	in11 := params("data:T", "pads:I", "constant_value:T?")
	in18 := params("data:T", "pads:I", "constant_value:T?", "axes:Tind?")
	all := allTypes()
	return []Schema{
		{
			Since: 1, Inputs: params("data:T"), Outputs: params("output:T"), Types: map[string][]tensor.DType{"T": floats()},
			Attrs: []string{"mode", "paddings", "value"}, Build: buildShapePad,
		},
		{
			Since: 2, Inputs: params("data:T"), Outputs: params("output:T"), Types: map[string][]tensor.DType{"T": floats()},
			Attrs: []string{"mode", "pads", "value"}, Build: buildShapePad,
		},
		v(11, shapeNumericNoBF16(), in11),
		v(13, all, in11),
		v(18, all, in18), v(19, all, in18), v(21, all, in18), v(23, all, in18), v(24, all, in18), v(25, all, in18),
	}
}

type shapePadMode uint8

const (
	shapePadConstant shapePadMode = iota
	shapePadReflect
	shapePadEdge
	shapePadWrap
)

type shapePad struct {
	mode  shapePadMode
	pads  []int64 // attribute, before opset 11
	value float64 // attribute, before opset 11
	attr  bool
}

func buildShapePad(n *graph.Node, opset int64) (Kernel, error) {
	k := shapePad{attr: opset < 11}
	mode, err := n.AttrString("mode", "constant")
	if err != nil {
		return nil, err
	}
	switch {
	case mode == "constant":
	case mode == "reflect":
		k.mode = shapePadReflect
	case mode == "edge":
		k.mode = shapePadEdge
	case mode == "wrap" && opset >= 19:
		k.mode = shapePadWrap
	default:
		return nil, fault.Errorf(fault.Invalid, "Pad: unknown mode %q in opset %d", mode, opset)
	}
	if k.attr {
		name := "pads"
		if opset < 2 {
			name = "paddings"
		}
		var ok bool
		if k.pads, ok, err = shapeAxesAttr(n, name); err != nil || !ok {
			return nil, shapeRequired(err, "Pad", name)
		}
		v, err := n.AttrFloat("value", 0)
		if err != nil {
			return nil, err
		}
		k.value = float64(v)
	}
	return k, nil
}

func (k shapePad) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	sc := ScratchFrom(ctx)
	r := len(x.Shape)
	pads := k.pads
	var axes []int64
	var fill shapeFill
	if k.attr {
		var ok bool
		if fill, ok = shapeFloatFill(x.DType, k.value); !ok {
			return fault.Errorf(fault.Unsupported, "Pad of %s", x.DType.ONNXName())
		}
	} else {
		var err error
		if pads, err = shapeIndexList(sc, "Pad", "pads", in[1]); err != nil {
			return err
		}
		if len(in) > 2 && in[2] != nil {
			cv := in[2]
			if cv.DType != x.DType {
				return fault.Errorf(fault.Invalid, "Pad: constant_value is %s but data is %s", cv.DType.ONNXName(), x.DType.ONNXName())
			}
			switch cv.Len() {
			case 0: // an empty tensor stands for the default
			case 1:
				fill = shapeFillOf(cv, 0)
			default:
				return fault.Errorf(fault.Invalid, "Pad: constant_value must be a scalar, got shape %v", []int(cv.Shape))
			}
		}
		if len(in) > 3 && in[3] != nil {
			if axes, err = shapeIndexList(sc, "Pad", "axes", in[3]); err != nil {
				return err
			}
		}
	}
	nAxes := r
	if axes != nil {
		nAxes = len(axes)
	}
	if len(pads) != 2*nAxes {
		return fault.Errorf(fault.Invalid, "Pad: pads has %d entries; %d axes need %d", len(pads), nAxes, 2*nAxes)
	}
	var begin, end [tensor.MaxRank]int64
	var seen [tensor.MaxRank]bool
	for i := range nAxes {
		ax := i
		if axes != nil {
			var err error
			if ax, err = shapeAxis("Pad", axes[i], r); err != nil {
				return err
			}
			if seen[ax] {
				return fault.Errorf(fault.Invalid, "Pad: axis %d is given twice", axes[i])
			}
			seen[ax] = true
		}
		begin[ax], end[ax] = pads[i], pads[i+nAxes]
	}
	y, err := shapePadTo(ctx, sc, out[0], x, begin[:r], end[:r], k.mode, fill)
	if err != nil {
		return err
	}
	out[0] = y
	return nil
}

// shapePadTo pads (positive counts) or crops (negative ones) every axis of
// x. Negative counts crop first and the mode then applies to what remains,
// as the reference implementation slices before it pads.
func shapePadTo(ctx context.Context, sc *Scratch, prev, x *tensor.Tensor, begin, end []int64, mode shapePadMode, fill shapeFill) (*tensor.Tensor, error) {
	r := len(x.Shape)
	var shape [tensor.MaxRank]int
	var mapsBuf [tensor.MaxRank][]int64
	maps := mapsBuf[:r]
	limit := int64(tensor.MaxElements)
	for i, d := range x.Shape {
		b, e := begin[i], end[i]
		if b < -limit || b > limit || e < -limit || e > limit {
			return nil, fault.Errorf(fault.TooLarge, "Pad: pad count out of range on axis %d: %d, %d", i, b, e)
		}
		lo, hi := max(0, -b), int64(d)-max(0, -e)
		if hi < lo {
			return nil, fault.Errorf(fault.Invalid, "Pad: pads %d and %d leave a negative size on axis %d of size %d", b, e, i, d)
		}
		m, pb, pe := hi-lo, max(0, b), max(0, e)
		size := pb + m + pe
		if size > limit {
			return nil, fault.Errorf(fault.TooLarge, "Pad: the result has more than %d elements", tensor.MaxElements)
		}
		shape[i] = int(size)
		if b == 0 && e == 0 {
			continue
		}
		if m == 0 && size > 0 && mode != shapePadConstant {
			return nil, fault.Errorf(fault.Invalid, "Pad: cannot pad an empty axis %d in this mode", i)
		}
		if _, ok := numElements(shape[:i+1]); !ok {
			return nil, fault.Errorf(fault.TooLarge, "Pad: the result has more than %d elements", tensor.MaxElements)
		}
		mp := ScratchSlice[int64](sc, int(size))
		for o := range mp {
			j := int64(o) - pb
			switch {
			case j >= 0 && j < m:
			case mode == shapePadConstant:
				mp[o] = -1
				continue
			case mode == shapePadEdge:
				j = min(max(j, 0), m-1)
			case mode == shapePadWrap:
				j = ((j % m) + m) % m
			case m == 1: // reflect
				j = 0
			default:
				// Reflection about the first and last elements repeats
				// with period 2(m-1).
				p := 2 * (m - 1)
				j = ((j % p) + p) % p
				if j >= m {
					j = p - j
				}
			}
			mp[o] = lo + j
		}
		maps[i] = mp
	}
	y, err := Output(ctx, prev, x.DType, shape[:r])
	if err != nil {
		return nil, err
	}
	shapeAxisGather(shapeBufOf(y), shapeBufOf(x), shape[:r], x.Shape, maps, fill)
	shapeOwnStrings(y)
	return y, nil
}

// shapeFloatFill encodes a float attribute value as an element of dt.
func shapeFloatFill(dt tensor.DType, v float64) (shapeFill, bool) {
	var f shapeFill
	var bits uint64
	switch dt {
	case tensor.Float32:
		bits = uint64(math.Float32bits(float32(v)))
	case tensor.Float64:
		bits = math.Float64bits(v)
	case tensor.Float16:
		bits = uint64(shapeF64ToF16(v))
	case tensor.BFloat16:
		bits = uint64(shapeF64ToBF16(v))
	default:
		return f, false
	}
	for i := range f.b {
		f.b[i] = byte(bits >> (8 * i))
	}
	return f, true
}

func shapeCenterCropPadSchemas() []Schema {
	return []Schema{{
		Since: 18, Inputs: params("input_data:T", "shape:Tind"), Outputs: params("output_data:T"),
		Types: map[string][]tensor.DType{"T": allTypes(), "Tind": {tensor.Int32, tensor.Int64}},
		Attrs: []string{"axes"}, Build: buildShapeCenterCropPad,
	}}
}

type shapeCenterCropPad struct{ axes []int64 }

func buildShapeCenterCropPad(n *graph.Node, _ int64) (Kernel, error) {
	axes, _, err := shapeAxesAttr(n, "axes")
	if err != nil {
		return nil, err
	}
	return shapeCenterCropPad{axes}, nil
}

func (k shapeCenterCropPad) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	sc := ScratchFrom(ctx)
	target, err := shapeIndexList(sc, "CenterCropPad", "shape", in[1])
	if err != nil {
		return err
	}
	r := len(x.Shape)
	n := r
	if k.axes != nil {
		n = len(k.axes)
	}
	if len(target) != n {
		return fault.Errorf(fault.Invalid, "CenterCropPad: shape has %d entries for %d axes", len(target), n)
	}
	var begin, end [tensor.MaxRank]int64
	var seen [tensor.MaxRank]bool
	for i, s := range target {
		ax := i
		if k.axes != nil {
			if ax, err = shapeAxis("CenterCropPad", k.axes[i], r); err != nil {
				return err
			}
			if seen[ax] {
				return fault.Errorf(fault.Invalid, "CenterCropPad: axis %d is given twice", k.axes[i])
			}
			seen[ax] = true
		}
		if s < 0 || s > tensor.MaxElements {
			return fault.Errorf(fault.Invalid, "CenterCropPad: invalid target size %d", s)
		}
		// Cropping rounds the window's start down; padding puts the odd
		// element at the end.
		diff := s - int64(x.Shape[ax])
		if diff < 0 {
			begin[ax] = diff / 2 // toward zero: the smaller crop in front
			end[ax] = diff - begin[ax]
		} else {
			begin[ax] = diff / 2
			end[ax] = diff - begin[ax]
		}
	}
	y, err := shapePadTo(ctx, sc, out[0], x, begin[:r], end[:r], shapePadConstant, shapeFill{})
	if err != nil {
		return err
	}
	out[0] = y
	return nil
}
