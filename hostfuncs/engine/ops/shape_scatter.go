package ops

import (
	"context"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// ScatterElements, ScatterND and the deprecated Scatter: a copy of data
// with elements replaced, or combined, by updates at indexed positions.
// Updates apply in the order of their elements, so with reduction "none"
// a duplicated index keeps the last update, as the reference does.

type shapeReduction uint8

const (
	shapeReduceNone shapeReduction = iota
	shapeReduceAdd
	shapeReduceMul
	shapeReduceMax
	shapeReduceMin
)

// shapeReductionAttr reads the reduction attribute: add and mul from opset
// 16, max and min from 18.
func shapeReductionAttr(n *graph.Node, op string, opset int64) (shapeReduction, error) {
	s, err := n.AttrString("reduction", "none")
	if err != nil {
		return 0, err
	}
	switch {
	case s == "none":
		return shapeReduceNone, nil
	case s == "add" && opset >= 16:
		return shapeReduceAdd, nil
	case s == "mul" && opset >= 16:
		return shapeReduceMul, nil
	case s == "max" && opset >= 18:
		return shapeReduceMax, nil
	case s == "min" && opset >= 18:
		return shapeReduceMin, nil
	}
	return 0, fault.Errorf(fault.Invalid, "%s: unknown reduction %q in opset %d", op, s, opset)
}

func shapeScatterElementsSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("data:T", "indices:Tind", "updates:T"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": ts, "Tind": {tensor.Int32, tensor.Int64}},
			Attrs: attrs, Build: buildShapeScatterElements,
		}
	}
	return []Schema{
		v(11, shapeNoBF16(), "axis"), v(13, allTypes(), "axis"),
		v(16, allTypes(), "axis", "reduction"), v(18, allTypes(), "axis", "reduction"),
	}
}

// shapeScatterSchemas is the deprecated Scatter: ScatterElements under
// another name in opsets 9 and 10, withdrawn from opset 11.
func shapeScatterSchemas() []Schema {
	return []Schema{
		{
			Since: 9, Inputs: params("data:T", "indices:Tind", "updates:T"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": shapeNoBF16(), "Tind": {tensor.Int32, tensor.Int64}},
			Attrs: []string{"axis"}, Build: buildShapeScatterElements,
		},
		{
			Since: 11, Inputs: params("data:T", "indices:Tind", "updates:T"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": shapeNoBF16(), "Tind": {tensor.Int32, tensor.Int64}},
			Attrs: []string{"axis"},
			Build: func(*graph.Node, int64) (Kernel, error) {
				return nil, fault.Errorf(fault.Invalid, "Scatter is deprecated from opset 11; use ScatterElements")
			},
		},
	}
}

type shapeScatterElements struct {
	axis int64
	red  shapeReduction
}

func buildShapeScatterElements(n *graph.Node, opset int64) (Kernel, error) {
	var k shapeScatterElements
	var err error
	if k.axis, err = n.AttrInt("axis", 0); err != nil {
		return nil, err
	}
	if k.red, err = shapeReductionAttr(n, "ScatterElements", opset); err != nil {
		return nil, err
	}
	return k, nil
}

func (k shapeScatterElements) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, ind, upd := in[0], in[1], in[2]
	if upd.DType != x.DType {
		return fault.Errorf(fault.Invalid, "ScatterElements: updates are %s but data is %s", upd.DType.ONNXName(), x.DType.ONNXName())
	}
	if !upd.Shape.Equal(ind.Shape) {
		return fault.Errorf(fault.Invalid, "ScatterElements: updates shape %v differs from indices shape %v", []int(upd.Shape), []int(ind.Shape))
	}
	pos, err := shapeElementTargets(ScratchFrom(ctx), "ScatterElements", x.Shape, ind, k.axis)
	if err != nil {
		return err
	}
	return shapeScatterApply(ctx, out, x, upd, pos, k.red, "ScatterElements")
}

func shapeScatterNDSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("data:T", "indices:I", "updates:T"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": ts, "I": {tensor.Int64}}, Attrs: attrs, Build: buildShapeScatterND,
		}
	}
	return []Schema{
		v(11, shapeNoBF16()), v(13, allTypes()),
		v(16, allTypes(), "reduction"), v(18, allTypes(), "reduction"),
	}
}

type shapeScatterND struct{ red shapeReduction }

func buildShapeScatterND(n *graph.Node, opset int64) (Kernel, error) {
	red, err := shapeReductionAttr(n, "ScatterND", opset)
	if err != nil {
		return nil, err
	}
	return shapeScatterND{red}, nil
}

func (k shapeScatterND) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, ind, upd := in[0], in[1], in[2]
	if upd.DType != x.DType {
		return fault.Errorf(fault.Invalid, "ScatterND: updates are %s but data is %s", upd.DType.ONNXName(), x.DType.ONNXName())
	}
	sc := ScratchFrom(ctx)
	offs, slice, err := shapeNDSlices(sc, "ScatterND", x.Shape, ind, 0)
	if err != nil {
		return err
	}
	q := len(ind.Shape)
	kk := ind.Shape[q-1]
	// updates must be indices.shape[:-1] ++ data.shape[k:].
	want := len(ind.Shape) - 1 + len(x.Shape) - kk
	ok := len(upd.Shape) == want
	for i := 0; ok && i < q-1; i++ {
		ok = upd.Shape[i] == ind.Shape[i]
	}
	for i := 0; ok && i < len(x.Shape)-kk; i++ {
		ok = upd.Shape[q-1+i] == x.Shape[kk+i]
	}
	if !ok {
		return fault.Errorf(fault.Invalid, "ScatterND: updates shape %v does not match indices %v and data %v",
			[]int(upd.Shape), []int(ind.Shape), []int(x.Shape))
	}
	pos := ScratchSlice[int64](sc, len(offs)*slice)
	for t, off := range offs {
		for j := range slice {
			pos[t*slice+j] = off + int64(j)
		}
	}
	return shapeScatterApply(ctx, out, x, upd, pos, k.red, "ScatterND")
}

// shapeScatterApply writes out[0] = data with update i applied at flat
// position pos[i].
func shapeScatterApply(ctx context.Context, out []*tensor.Tensor, x, upd *tensor.Tensor, pos []int64, red shapeReduction, op string) error {
	if red != shapeReduceNone && x.DType == tensor.Bytes {
		return fault.Errorf(fault.Unsupported, "%s: reductions over STRING tensors are not supported", op)
	}
	y, err := Output(ctx, out[0], x.DType, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	dst, src := shapeBufOf(y), shapeBufOf(upd)
	dst.copyFrom(0, shapeBufOf(x), 0, x.Len())
	switch {
	case red == shapeReduceNone:
		for i, p := range pos {
			dst.copyFrom(int(p), src, i, 1)
		}
	case x.DType == tensor.Float32:
		scatterReduce(tensor.Values[float32](y), tensor.Values[float32](upd), pos, red)
	case x.DType == tensor.Float64:
		scatterReduce(tensor.Values[float64](y), tensor.Values[float64](upd), pos, red)
	case x.DType == tensor.Int8:
		scatterReduce(tensor.Values[int8](y), tensor.Values[int8](upd), pos, red)
	case x.DType == tensor.Int16:
		scatterReduce(tensor.Values[int16](y), tensor.Values[int16](upd), pos, red)
	case x.DType == tensor.Int32:
		scatterReduce(tensor.Values[int32](y), tensor.Values[int32](upd), pos, red)
	case x.DType == tensor.Int64:
		scatterReduce(tensor.Values[int64](y), tensor.Values[int64](upd), pos, red)
	case x.DType == tensor.Uint8:
		scatterReduce(tensor.Values[uint8](y), tensor.Values[uint8](upd), pos, red)
	case x.DType == tensor.Uint16:
		scatterReduce(tensor.Values[uint16](y), tensor.Values[uint16](upd), pos, red)
	case x.DType == tensor.Uint32:
		scatterReduce(tensor.Values[uint32](y), tensor.Values[uint32](upd), pos, red)
	case x.DType == tensor.Uint64:
		scatterReduce(tensor.Values[uint64](y), tensor.Values[uint64](upd), pos, red)
	case x.DType == tensor.Float16:
		scatterReduceHalf(tensor.Values[tensor.F16](y), tensor.Values[tensor.F16](upd), pos, red, tensor.F16From)
	case x.DType == tensor.BFloat16:
		scatterReduceHalf(tensor.Values[tensor.BF16](y), tensor.Values[tensor.BF16](upd), pos, red, tensor.BF16From)
	case x.DType == tensor.Bool:
		// As numpy combines booleans: add and max are or, mul and min and.
		d, u := tensor.Values[bool](y), tensor.Values[bool](upd)
		for i, p := range pos {
			if red == shapeReduceAdd || red == shapeReduceMax {
				d[p] = d[p] || u[i]
			} else {
				d[p] = d[p] && u[i]
			}
		}
	default:
		return fault.Errorf(fault.Unsupported, "%s with a reduction over %s", op, x.DType.ONNXName())
	}
	shapeOwnStrings(y)
	return nil
}

type shapeReal interface {
	int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64
}

// scatterReduce combines with max and min as numpy's maximum and minimum
// do: a NaN on either side wins.
func scatterReduce[T shapeReal](d, u []T, pos []int64, red shapeReduction) {
	switch red {
	case shapeReduceAdd:
		for i, p := range pos {
			d[p] += u[i]
		}
	case shapeReduceMul:
		for i, p := range pos {
			d[p] *= u[i]
		}
	case shapeReduceMax:
		for i, p := range pos {
			if v := u[i]; d[p] == d[p] && (v != v || v > d[p]) {
				d[p] = v
			}
		}
	case shapeReduceMin:
		for i, p := range pos {
			if v := u[i]; d[p] == d[p] && (v != v || v < d[p]) {
				d[p] = v
			}
		}
	}
}

// scatterReduceHalf combines in float32 and rounds each result once.
func scatterReduceHalf[T interface{ Float32() float32 }](d, u []T, pos []int64, red shapeReduction, round func(float32) T) {
	for i, p := range pos {
		a, b := d[p].Float32(), u[i].Float32()
		switch red {
		case shapeReduceAdd:
			a += b
		case shapeReduceMul:
			a *= b
		case shapeReduceMax:
			if a == a && (b != b || b > a) {
				a = b
			}
		case shapeReduceMin:
			if a == a && (b != b || b < a) {
				a = b
			}
		}
		d[p] = round(a)
	}
}
