package ops

import (
	"context"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func shapeExpandSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("input:T", "shape:I"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": ts, "I": {tensor.Int64}}, Build: buildShapeExpand,
		}
	}
	return []Schema{v(8, shapeNoBF16()), v(13, allTypes())}
}

func buildShapeExpand(*graph.Node, int64) (Kernel, error) { return KernelFunc(shapeExpand), nil }

func shapeExpand(ctx context.Context, in, out []*tensor.Tensor) error {
	x, s := in[0], in[1]
	spec, err := shapeIndexList(ScratchFrom(ctx), "Expand", "shape", s)
	if err != nil {
		return err
	}
	if len(spec) > tensor.MaxRank {
		return fault.Errorf(fault.TooLarge, "Expand: rank %d exceeds the maximum of %d", len(spec), tensor.MaxRank)
	}
	// Sizes are checked one by one: the product of the target may exceed
	// the limit where a size of 0 in the input makes the result empty.
	var sbuf, obuf [tensor.MaxRank]int
	target := sbuf[:len(spec)]
	for i, d := range spec {
		if d < 0 || d > tensor.MaxElements {
			return fault.Errorf(fault.Invalid, "Expand: invalid size %d in shape %v", d, spec)
		}
		target[i] = int(d)
	}
	shape, err := kernels.BroadcastShape(obuf[:0], x.Shape, target)
	if err != nil {
		return fault.Errorf(fault.Invalid, "Expand: %v", err)
	}
	y, err := Output(ctx, out[0], x.DType, shape)
	if err != nil {
		return err
	}
	out[0] = y
	r := len(shape)
	var xstr, strides [tensor.MaxRank]int
	shapeStrides(xstr[:len(x.Shape)], x.Shape)
	for i := range r {
		j := i - (r - len(x.Shape)) // the input's aligned axis
		if j >= 0 && x.Shape[j] == shape[i] {
			strides[i] = xstr[j]
		}
	}
	shapeStridedCopy(shapeBufOf(y), shapeBufOf(x), shape, strides[:r], 0)
	shapeOwnStrings(y)
	return nil
}

func shapeTileSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("input:T", "repeats:T1"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": ts, "T1": {tensor.Int64}}, Build: buildShapeTile,
		}
	}
	// Tile-1 repeats the input along one axis; its tiles and axis inputs
	// are typed like the data but the spec also names int64 for them.
	legacyCounts := append(floats(), tensor.Int64)
	return []Schema{
		{
			Since: 1, Inputs: params("input:T", "tiles:T1", "axis:T1"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": floats(), "T1": legacyCounts}, Build: buildShapeTile,
		},
		v(6, shapeNoBF16()),
		v(13, allTypes()),
	}
}

type shapeTile struct{ legacy bool }

func buildShapeTile(_ *graph.Node, opset int64) (Kernel, error) {
	return shapeTile{legacy: opset < 6}, nil
}

func (k shapeTile) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	r := len(x.Shape)
	sc := ScratchFrom(ctx)
	var reps [tensor.MaxRank]int64
	if k.legacy {
		tiles, err := shapeLegacyCount("tiles", in[1])
		if err != nil {
			return err
		}
		axis, err := shapeLegacyCount("axis", in[2])
		if err != nil {
			return err
		}
		ax, err := shapeAxis("Tile", axis, r)
		if err != nil {
			return err
		}
		for i := range r {
			reps[i] = 1
		}
		reps[ax] = tiles
	} else {
		rv, err := shapeIndexList(sc, "Tile", "repeats", in[1])
		if err != nil {
			return err
		}
		if in[1].DType != tensor.Int64 {
			return fault.Errorf(fault.Invalid, "Tile: repeats must be INT64, got %s", in[1].DType.ONNXName())
		}
		if len(rv) != r {
			return fault.Errorf(fault.Invalid, "Tile: repeats has %d entries but the input has rank %d", len(rv), r)
		}
		copy(reps[:], rv)
	}
	var shape [tensor.MaxRank]int
	var mapsBuf [tensor.MaxRank][]int64
	maps := mapsBuf[:r]
	for i, d := range x.Shape {
		rp := reps[i]
		if rp < 0 {
			return fault.Errorf(fault.Invalid, "Tile: repeats must not be negative, got %d", rp)
		}
		if rp > 0 && int64(d) > tensor.MaxElements/rp {
			return fault.Errorf(fault.TooLarge, "Tile: the result has more than %d elements", tensor.MaxElements)
		}
		shape[i] = d * int(rp)
	}
	if _, ok := numElements(shape[:r]); !ok {
		return fault.Errorf(fault.TooLarge, "Tile: the result has more than %d elements", tensor.MaxElements)
	}
	for i, d := range x.Shape {
		if reps[i] != 1 {
			m := ScratchSlice[int64](sc, shape[i])
			for o := range m {
				m[o] = int64(o % d)
			}
			maps[i] = m
		}
	}
	y, err := Output(ctx, out[0], x.DType, shape[:r])
	if err != nil {
		return err
	}
	out[0] = y
	shapeAxisGather(shapeBufOf(y), shapeBufOf(x), shape[:r], x.Shape, maps, shapeFill{})
	shapeOwnStrings(y)
	return nil
}

// shapeLegacyCount reads a scalar count of Tile-1, stored as a float or
// an integer.
func shapeLegacyCount(what string, t *tensor.Tensor) (int64, error) {
	if t.Len() != 1 {
		return 0, fault.Errorf(fault.Invalid, "Tile: %s must hold a single value, got shape %v", what, []int(t.Shape))
	}
	if t.DType == tensor.Int64 {
		return tensor.Values[int64](t)[0], nil
	}
	f := t.Float64At(0)
	if f != math.Trunc(f) || math.Abs(f) > tensor.MaxElements {
		return 0, fault.Errorf(fault.Invalid, "Tile: %s %v is not a valid integer", what, f)
	}
	return int64(f), nil
}
