package ops

import (
	"context"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// ConstantOfShape, EyeLike, OneHot and Range: operators that generate
// their output from a few values.

func shapeConstantOfShapeSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("input:T1"), Outputs: params("output:T2"),
			Types: map[string][]tensor.DType{"T1": {tensor.Int64}, "T2": ts}, Attrs: []string{"value"},
			Build: func(n *graph.Node, _ int64) (Kernel, error) { return buildShapeConstantOfShape(n, ts) },
		}
	}
	v9 := append(shapeNumericNoBF16(), tensor.Bool)
	v20 := append(shapeNumeric(), tensor.Bool)
	return []Schema{v(9, v9), v(20, v20), v(21, v20), v(23, v20), v(24, v20), v(25, v20)}
}

type shapeConstantOfShape struct {
	dt    tensor.DType
	value shapeFill
}

func buildShapeConstantOfShape(n *graph.Node, allowed []tensor.DType) (Kernel, error) {
	k := shapeConstantOfShape{dt: tensor.Float32} // value 0
	if n.HasAttr("value") {
		t, err := n.AttrTensor("value")
		if err != nil {
			return nil, err
		}
		if err := t.Validate(); err != nil {
			return nil, fault.Errorf(fault.Invalid, "ConstantOfShape: attribute value: %w", err)
		}
		if t.Len() != 1 {
			return nil, fault.Errorf(fault.Invalid, "ConstantOfShape: value must hold exactly one element, got %v", t)
		}
		if !shapeContains(allowed, t.DType) {
			return nil, fault.Errorf(fault.Unsupported, "ConstantOfShape: a value of %s is not supported in this opset", t.DType.ONNXName())
		}
		k.dt, k.value = t.DType, shapeFillOf(t, 0)
	}
	return k, nil
}

func shapeContains(ds []tensor.DType, d tensor.DType) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

func (k shapeConstantOfShape) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	spec, err := shapeIndexList(ScratchFrom(ctx), "ConstantOfShape", "input", in[0])
	if err != nil {
		return err
	}
	var buf [tensor.MaxRank]int
	shape, err := shapeDims(buf[:0], "ConstantOfShape", spec)
	if err != nil {
		return err
	}
	y, err := Output(ctx, out[0], k.dt, shape)
	if err != nil {
		return err
	}
	out[0] = y
	shapeBufOf(y).fill(0, y.Len(), k.value)
	return nil
}

func shapeEyeLikeSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("input:T1"), Outputs: params("output:T2"),
			Types: map[string][]tensor.DType{"T1": ts, "T2": ts}, Attrs: []string{"dtype", "k"},
			Build: func(n *graph.Node, _ int64) (Kernel, error) { return buildShapeEyeLike(n, ts) },
		}
	}
	return []Schema{v(9, append(shapeNumericNoBF16(), tensor.Bool)), v(22, append(shapeNumeric(), tensor.Bool))}
}

type shapeEyeLike struct {
	dt tensor.DType // Invalid: the input's
	k  int64
}

func buildShapeEyeLike(n *graph.Node, allowed []tensor.DType) (Kernel, error) {
	var e shapeEyeLike
	var err error
	if e.k, err = n.AttrInt("k", 0); err != nil {
		return nil, err
	}
	if n.HasAttr("dtype") {
		code, err := n.AttrInt("dtype", 0)
		if err != nil {
			return nil, err
		}
		dt, err := shapeDTypeCode("EyeLike", code)
		if err != nil {
			return nil, err
		}
		if !shapeContains(allowed, dt) {
			return nil, fault.Errorf(fault.Unsupported, "EyeLike: dtype %s is not supported", dt.ONNXName())
		}
		e.dt = dt
	}
	return e, nil
}

// shapeDTypeCode turns an ONNX TensorProto.DataType attribute into a dtype,
// saying which ONNX type it is when the tensor package cannot hold it.
func shapeDTypeCode(op string, code int64) (tensor.DType, error) {
	if code > 0 && code < 256 {
		if dt, ok := tensor.FromONNX(int32(code)); ok {
			return dt, nil
		}
	}
	if name := shapeUnheldType(code); name != "" {
		return tensor.Invalid, fault.Errorf(fault.Unsupported, "%s: data type %s (%d) is not supported by the engine", op, name, code)
	}
	return tensor.Invalid, fault.Errorf(fault.Invalid, "%s: %d is not an ONNX data type", op, code)
}

// shapeUnheldType names an ONNX data type the tensor package does not
// hold, for error messages; "" for any other code.
func shapeUnheldType(code int64) string {
	switch code {
	case 14:
		return "COMPLEX64"
	case 15:
		return "COMPLEX128"
	case 17:
		return "FLOAT8E4M3FN"
	case 18:
		return "FLOAT8E4M3FNUZ"
	case 19:
		return "FLOAT8E5M2"
	case 20:
		return "FLOAT8E5M2FNUZ"
	case 21:
		return "UINT4"
	case 22:
		return "INT4"
	case 23:
		return "FLOAT4E2M1"
	case 24:
		return "FLOAT8E8M0"
	case 25:
		return "UINT2"
	case 26:
		return "INT2"
	}
	return ""
}

func (e shapeEyeLike) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	if len(x.Shape) != 2 {
		return fault.Errorf(fault.Invalid, "EyeLike: input must be 2-D, got shape %v", []int(x.Shape))
	}
	dt := e.dt
	if dt == tensor.Invalid {
		dt = x.DType
	}
	one, ok := shapeOne(dt)
	if !ok {
		return fault.Errorf(fault.Unsupported, "EyeLike: output type %s is not supported", dt.ONNXName())
	}
	y, err := Output(ctx, out[0], dt, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	rows, cols := x.Shape[0], x.Shape[1]
	b := shapeBufOf(y)
	b.fill(0, rows*cols, shapeFill{})
	for i := range rows {
		j := int64(i) + e.k
		if j >= 0 && j < int64(cols) {
			b.fill(i*cols+int(j), 1, one)
		}
	}
	return nil
}

// shapeOne is the value 1 of a numeric or boolean dtype.
func shapeOne(dt tensor.DType) (shapeFill, bool) {
	var f shapeFill
	var bits uint64
	switch dt {
	case tensor.Float32:
		bits = uint64(math.Float32bits(1))
	case tensor.Float64:
		bits = math.Float64bits(1)
	case tensor.Float16:
		bits = uint64(tensor.F16From(1))
	case tensor.BFloat16:
		bits = uint64(tensor.BF16From(1))
	case tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64,
		tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64, tensor.Bool:
		bits = 1
	default:
		return f, false
	}
	for i := range f.b {
		f.b[i] = byte(bits >> (8 * i))
	}
	return f, true
}

func shapeOneHotSchemas() []Schema {
	v := func(since int64) Schema {
		return Schema{
			Since: since, Inputs: params("indices:T1", "depth:T2", "values:T3"), Outputs: params("output:T3"),
			Types: map[string][]tensor.DType{
				"T1": shapeNumericNoBF16(), "T2": shapeNumericNoBF16(), "T3": shapeNoBF16(),
			},
			Attrs: []string{"axis"}, Build: buildShapeOneHot,
		}
	}
	return []Schema{v(9), v(11)}
}

type shapeOneHot struct {
	axis     int64
	negative bool // indices may count back from depth from opset 11
}

func buildShapeOneHot(n *graph.Node, opset int64) (Kernel, error) {
	axis, err := n.AttrInt("axis", -1)
	if err != nil {
		return nil, err
	}
	return shapeOneHot{axis: axis, negative: opset >= 11}, nil
}

func (k shapeOneHot) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	ind, dep, vals := in[0], in[1], in[2]
	if dep.Len() != 1 || len(dep.Shape) > 1 {
		return fault.Errorf(fault.Invalid, "OneHot: depth must hold a single value, got shape %v", []int(dep.Shape))
	}
	dv := dep.Float64At(0)
	if math.IsNaN(dv) || dv < 0 || dv > tensor.MaxElements {
		return fault.Errorf(fault.Invalid, "OneHot: depth %v is not a valid size", dv)
	}
	depth := int(dv)
	if len(vals.Shape) != 1 || vals.Shape[0] != 2 {
		return fault.Errorf(fault.Invalid, "OneHot: values must be a 1-D tensor of [off, on], got shape %v", []int(vals.Shape))
	}
	r := len(ind.Shape)
	if r+1 > tensor.MaxRank {
		return fault.Errorf(fault.TooLarge, "OneHot: output rank %d exceeds the maximum of %d", r+1, tensor.MaxRank)
	}
	axis, err := shapeAxis("OneHot", k.axis, r+1)
	if err != nil {
		return err
	}
	var buf [tensor.MaxRank]int
	shape := append(append(append(buf[:0], ind.Shape[:axis]...), depth), ind.Shape[axis:]...)
	y, err := Output(ctx, out[0], vals.DType, shape)
	if err != nil {
		return err
	}
	out[0] = y
	idx, err := shapeToInt64s(ScratchFrom(ctx), "OneHot", ind)
	if err != nil {
		return err
	}
	outer := tensor.Shape(ind.Shape[:axis]).Size()
	inner := tensor.Shape(ind.Shape[axis:]).Size()
	b, src := shapeBufOf(y), shapeBufOf(vals)
	b.fill(0, y.Len(), shapeFillOf(vals, 0))
	for o := range outer {
		for i := range inner {
			c := idx[o*inner+i]
			if c < 0 && k.negative {
				c += int64(depth)
			}
			if c >= 0 && c < int64(depth) {
				b.copyFrom((o*depth+int(c))*inner+i, src, 1, 1)
			}
		}
	}
	shapeOwnStrings(y)
	return nil
}

// shapeToInt64s converts a numeric tensor's values to int64 (floats
// truncated toward zero; NaN and out-of-range values saturate), into
// scratch unless it already is INT64.
func shapeToInt64s(sc *Scratch, op string, t *tensor.Tensor) ([]int64, error) {
	if t.DType == tensor.Int64 {
		return tensor.Values[int64](t), nil
	}
	dst := ScratchSlice[int64](sc, t.Len())
	switch t.DType {
	case tensor.Int8:
		widenInts(dst, tensor.Values[int8](t))
	case tensor.Int16:
		widenInts(dst, tensor.Values[int16](t))
	case tensor.Int32:
		widenInts(dst, tensor.Values[int32](t))
	case tensor.Uint8:
		widenInts(dst, tensor.Values[uint8](t))
	case tensor.Uint16:
		widenInts(dst, tensor.Values[uint16](t))
	case tensor.Uint32:
		widenInts(dst, tensor.Values[uint32](t))
	case tensor.Uint64:
		for i, v := range tensor.Values[uint64](t) {
			dst[i] = int64(min(v, math.MaxInt64))
		}
	case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
		for i := range dst {
			dst[i] = shapeFloatToInt64(t.Float64At(i))
		}
	default:
		return nil, fault.Errorf(fault.Invalid, "%s: expected a numeric tensor, got %s", op, t.DType.ONNXName())
	}
	return dst, nil
}

func widenInts[S int8 | int16 | int32 | uint8 | uint16 | uint32](dst []int64, src []S) {
	for i, v := range src {
		dst[i] = int64(v)
	}
}

// shapeFloatToInt64 truncates toward zero, saturating out-of-range values;
// NaN, for which the spec defines no result, becomes 0.
func shapeFloatToInt64(v float64) int64 {
	switch {
	case v != v:
		return 0
	case v >= 9223372036854775807:
		return math.MaxInt64
	case v <= -9223372036854775808:
		return math.MinInt64
	}
	return int64(v)
}

func shapeRangeSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("start:T", "limit:T", "delta:T"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": ts}, Attrs: attrs, Build: buildShapeRange,
		}
	}
	v11 := []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int16, tensor.Int32, tensor.Int64}
	return []Schema{v(11, v11), v(27, append(v11, tensor.Float16, tensor.BFloat16), "stash_type")}
}

type shapeRange struct{ stash int64 }

func buildShapeRange(n *graph.Node, _ int64) (Kernel, error) {
	stash, err := n.AttrInt("stash_type", int64(tensor.Float32))
	if err != nil {
		return nil, err
	}
	switch stash {
	case int64(tensor.Float32), int64(tensor.Float64), int64(tensor.Float16), int64(tensor.BFloat16):
		return shapeRange{stash: stash}, nil
	}
	return nil, fault.Errorf(fault.Invalid, "Range: stash_type %d is not FLOAT, DOUBLE, FLOAT16 or BFLOAT16", stash)
}

func (k shapeRange) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	dt := in[0].DType
	for i, name := range []string{"start", "limit", "delta"} {
		t := in[i]
		if t.DType != dt {
			return fault.Errorf(fault.Invalid, "Range: %s is %s but start is %s", name, t.DType.ONNXName(), dt.ONNXName())
		}
		if t.Len() != 1 || len(t.Shape) > 1 {
			return fault.Errorf(fault.Invalid, "Range: %s must be a scalar, got shape %v", name, []int(t.Shape))
		}
	}
	switch dt {
	case tensor.Int16:
		return shapeRangeInt[int16](ctx, in, out)
	case tensor.Int32:
		return shapeRangeInt[int32](ctx, in, out)
	case tensor.Int64:
		return shapeRangeInt[int64](ctx, in, out)
	case tensor.Float32:
		return shapeRangeFloat[float32](ctx, in, out)
	case tensor.Float64:
		return shapeRangeFloat[float64](ctx, in, out)
	case tensor.Float16, tensor.BFloat16:
		return k.half(ctx, in, out)
	}
	return fault.Errorf(fault.Unsupported, "Range of %s", dt.ONNXName())
}

// shapeRangeInt counts in unsigned 64-bit arithmetic, where the distance
// between any two int64 values is exact, and writes start + i·delta with
// wrapping arithmetic, exact because every value lies between start and
// limit.
func shapeRangeInt[T int16 | int32 | int64](ctx context.Context, in, out []*tensor.Tensor) error {
	start := int64(tensor.Values[T](in[0])[0])
	limit := int64(tensor.Values[T](in[1])[0])
	delta := int64(tensor.Values[T](in[2])[0])
	if delta == 0 {
		return fault.Errorf(fault.Invalid, "Range: delta must not be 0")
	}
	var n uint64
	switch {
	case delta > 0 && limit > start:
		span, step := uint64(limit)-uint64(start), uint64(delta)
		n = span / step
		if span%step != 0 {
			n++
		}
	case delta < 0 && limit < start:
		span, step := uint64(start)-uint64(limit), -uint64(delta)
		n = span / step
		if span%step != 0 {
			n++
		}
	}
	if n > tensor.MaxElements {
		return fault.Errorf(fault.TooLarge, "Range: %d elements exceed the maximum of %d", n, tensor.MaxElements)
	}
	y, err := Output(ctx, out[0], tensor.DTypeOf[T](), []int{int(n)})
	if err != nil {
		return err
	}
	out[0] = y
	v := tensor.Values[T](y)
	for i := range v {
		v[i] = T(int64(uint64(start) + uint64(i)*uint64(delta)))
	}
	return nil
}

// shapeRangeCount is max(ceil(q), 0) for q = (limit-start)/delta, checked.
func shapeRangeCount(q, delta float64) (int, error) {
	if delta == 0 {
		return 0, fault.Errorf(fault.Invalid, "Range: delta must not be 0")
	}
	q = math.Ceil(q)
	if math.IsNaN(q) {
		return 0, fault.Errorf(fault.Invalid, "Range: the element count of a range over NaN is undefined")
	}
	if q > tensor.MaxElements {
		return 0, fault.Errorf(fault.TooLarge, "Range: %v elements exceed the maximum of %d", q, tensor.MaxElements)
	}
	return int(max(q, 0)), nil
}

// shapeRangeFloat computes in the type's own precision, as both numpy's
// arange and onnxruntime do: the count from (limit-start)/delta rounded in
// T, element i as start + i·delta.
func shapeRangeFloat[T float32 | float64](ctx context.Context, in, out []*tensor.Tensor) error {
	start := tensor.Values[T](in[0])[0]
	limit := tensor.Values[T](in[1])[0]
	delta := tensor.Values[T](in[2])[0]
	span := T(limit - start)
	n, err := shapeRangeCount(float64(T(span/delta)), float64(delta))
	if err != nil {
		return err
	}
	y, err := Output(ctx, out[0], tensor.DTypeOf[T](), []int{n})
	if err != nil {
		return err
	}
	out[0] = y
	v := tensor.Values[T](y)
	for i := range v {
		step := T(T(i) * delta) // rounded before the sum: no fused multiply-add
		v[i] = start + step
	}
	return nil
}

// half computes a FLOAT16 or BFLOAT16 range in the stash type: float or
// double, or the half type itself with every operation rounded to it.
func (k shapeRange) half(ctx context.Context, in, out []*tensor.Tensor) error {
	dt := in[0].DType
	var start, limit, delta float64
	round := func(v float64) float64 { return v }
	switch dt {
	case tensor.Float16:
		start = float64(tensor.Values[tensor.F16](in[0])[0].Float32())
		limit = float64(tensor.Values[tensor.F16](in[1])[0].Float32())
		delta = float64(tensor.Values[tensor.F16](in[2])[0].Float32())
	default:
		start = float64(tensor.Values[tensor.BF16](in[0])[0].Float32())
		limit = float64(tensor.Values[tensor.BF16](in[1])[0].Float32())
		delta = float64(tensor.Values[tensor.BF16](in[2])[0].Float32())
	}
	switch tensor.DType(k.stash) {
	case tensor.Float32:
		round = func(v float64) float64 { return float64(float32(v)) }
	case tensor.Float16:
		round = func(v float64) float64 { return float64(shapeF64ToF16(v).Float32()) }
	case tensor.BFloat16:
		round = func(v float64) float64 { return float64(shapeF64ToBF16(v).Float32()) }
	}
	n, err := shapeRangeCount(round(round(limit-start)/delta), delta)
	if err != nil {
		return err
	}
	y, err := Output(ctx, out[0], dt, []int{n})
	if err != nil {
		return err
	}
	out[0] = y
	if dt == tensor.Float16 {
		v := tensor.Values[tensor.F16](y)
		for i := range v {
			v[i] = shapeF64ToF16(round(start + round(float64(i)*delta)))
		}
	} else {
		v := tensor.Values[tensor.BF16](y)
		for i := range v {
			v[i] = shapeF64ToBF16(round(start + round(float64(i)*delta)))
		}
	}
	return nil
}
