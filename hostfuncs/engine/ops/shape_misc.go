package ops

import (
	"context"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func shapeTriluSchemas() []Schema {
	return []Schema{{
		Since: 14, Inputs: params("input:T", "k:I?"), Outputs: params("output:T"),
		Types: map[string][]tensor.DType{"T": allTypes(), "I": {tensor.Int64}},
		Attrs: []string{"upper"}, Build: buildShapeTrilu,
	}}
}

type shapeTrilu struct{ upper bool }

func buildShapeTrilu(n *graph.Node, _ int64) (Kernel, error) {
	upper, err := shapeBoolAttr(n, "upper", true)
	if err != nil {
		return nil, err
	}
	return shapeTrilu{upper}, nil
}

// Run keeps the elements (i, j) of each trailing matrix with j-i >= k
// (upper) or j-i <= k (lower) and zeroes the rest ("" for strings).
func (t shapeTrilu) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	r := len(x.Shape)
	if r < 2 {
		return fault.Errorf(fault.Invalid, "Trilu: input must have rank 2 or more, got shape %v", []int(x.Shape))
	}
	k := int64(0)
	if len(in) > 1 && in[1] != nil {
		var err error
		if k, err = shapeScalarInt("Trilu", "k", in[1]); err != nil {
			return err
		}
	}
	y, err := Output(ctx, out[0], x.DType, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	rows, cols := x.Shape[r-2], x.Shape[r-1]
	dst, src := shapeBufOf(y), shapeBufOf(x)
	dst.copyFrom(0, src, 0, x.Len())
	// Clamp k so row+k cannot overflow; beyond ±(rows+cols) nothing changes.
	lim := int64(rows + cols + 1)
	k = min(max(k, -lim), lim)
	mats := 0
	if rows*cols > 0 {
		mats = x.Len() / (rows * cols)
	}
	for m := range mats {
		for i := range rows {
			row := (m*rows + i) * cols
			d := int64(i) + k // the diagonal column in this row
			if t.upper {
				n := int(min(max(d, 0), int64(cols)))
				dst.fill(row, n, shapeFill{})
			} else {
				from := int(min(max(d+1, 0), int64(cols)))
				dst.fill(row+from, cols-from, shapeFill{})
			}
		}
	}
	shapeOwnStrings(y)
	return nil
}

func shapeReverseSequenceSchemas() []Schema {
	return []Schema{{
		Since: 10, Inputs: params("input:T", "sequence_lens:I"), Outputs: params("Y:T"),
		Types: map[string][]tensor.DType{"T": shapeNoBF16(), "I": {tensor.Int64}},
		Attrs: []string{"batch_axis", "time_axis"}, Build: buildShapeReverseSequence,
	}}
}

type shapeReverseSequence struct{ batchAxis, timeAxis int }

func buildShapeReverseSequence(n *graph.Node, _ int64) (Kernel, error) {
	b, err := n.AttrInt("batch_axis", 1)
	if err != nil {
		return nil, err
	}
	t, err := n.AttrInt("time_axis", 0)
	if err != nil {
		return nil, err
	}
	if (b != 0 && b != 1) || (t != 0 && t != 1) || b == t {
		return nil, fault.Errorf(fault.Invalid, "ReverseSequence: batch_axis and time_axis must be 0 and 1 in some order, got %d and %d", b, t)
	}
	return shapeReverseSequence{batchAxis: int(b), timeAxis: int(t)}, nil
}

func (k shapeReverseSequence) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, lens := in[0], in[1]
	if len(x.Shape) < 2 {
		return fault.Errorf(fault.Invalid, "ReverseSequence: input must have rank 2 or more, got shape %v", []int(x.Shape))
	}
	batch, steps := x.Shape[k.batchAxis], x.Shape[k.timeAxis]
	if lens.DType != tensor.Int64 || len(lens.Shape) != 1 || lens.Shape[0] != batch {
		return fault.Errorf(fault.Invalid, "ReverseSequence: sequence_lens must be a 1-D INT64 tensor of %d lengths, got %v", batch, lens)
	}
	lv := tensor.Values[int64](lens)
	for _, l := range lv {
		if l < 0 || l > int64(steps) {
			return fault.Errorf(fault.Invalid, "ReverseSequence: sequence length %d is outside [0, %d]", l, steps)
		}
	}
	y, err := Output(ctx, out[0], x.DType, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	inner := tensor.Shape(x.Shape[2:]).Size()
	// Time and batch are the two leading axes, in either order; each
	// (time, batch) pair owns a contiguous block of the remaining axes.
	tStride, bStride := x.Shape[1]*inner, inner
	if k.timeAxis == 1 {
		tStride, bStride = inner, x.Shape[1]*inner
	}
	dst, src := shapeBufOf(y), shapeBufOf(x)
	for b := range batch {
		l := int(lv[b])
		for t := range steps {
			from := t
			if t < l {
				from = l - 1 - t
			}
			dst.copyFrom(t*tStride+b*bStride, src, from*tStride+b*bStride, inner)
		}
	}
	shapeOwnStrings(y)
	return nil
}
