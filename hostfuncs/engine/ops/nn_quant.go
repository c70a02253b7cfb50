package ops

import (
	"context"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// The quantizers support the integer quantized types the tensor package
// holds. ONNX's float8, 4-bit and 2-bit types cannot be represented, so
// models using them are refused (as unsupported dtypes) when loaded.

func quantizeLinearSchemas() []Schema {
	i8 := []tensor.DType{tensor.Int8, tensor.Uint8}
	i16 := []tensor.DType{tensor.Int8, tensor.Uint8, tensor.Int16, tensor.Uint16}
	xs := []tensor.DType{tensor.Float32, tensor.Float16, tensor.BFloat16, tensor.Int32}
	v := func(since int64, scale string, types map[string][]tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("x:T1", "y_scale:"+scale, "y_zero_point:T2?"), Outputs: params("y:T2"),
			Types: types, Attrs: attrs, Build: buildQuantizeLinear,
		}
	}
	v23 := func(since int64) Schema {
		return Schema{
			Since: since, Inputs: params("x:T1", "y_scale:T2", "y_zero_point:T3?"), Outputs: params("y:T3"),
			Types: map[string][]tensor.DType{"T1": xs, "T2": xs, "T3": i16},
			Attrs: []string{"axis", "block_size", "output_dtype", "precision", "saturate"}, Build: buildQuantizeLinear,
		}
	}
	f32 := []tensor.DType{tensor.Float32}
	return []Schema{
		v(10, "S", map[string][]tensor.DType{"T1": {tensor.Float32, tensor.Int32}, "S": f32, "T2": i8}),
		v(13, "S", map[string][]tensor.DType{"T1": {tensor.Float32, tensor.Int32}, "S": f32, "T2": i8}, "axis"),
		v(19, "T1", map[string][]tensor.DType{"T1": xs, "T2": i8}, "axis", "saturate"),
		v(21, "T1", map[string][]tensor.DType{"T1": xs, "T2": i16}, "axis", "block_size", "output_dtype", "saturate"),
		v23(23), v23(24), v23(25),
	}
}

func dequantizeLinearSchemas() []Schema {
	i8 := []tensor.DType{tensor.Int8, tensor.Uint8, tensor.Int32}
	i16 := []tensor.DType{tensor.Int8, tensor.Uint8, tensor.Int16, tensor.Uint16, tensor.Int32}
	fs := []tensor.DType{tensor.Float32, tensor.Float16, tensor.BFloat16}
	old := func(since int64, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("x:T", "x_scale:S", "x_zero_point:T?"), Outputs: params("y:S"),
			Types: map[string][]tensor.DType{"T": i8, "S": {tensor.Float32}}, Attrs: attrs, Build: buildDequantizeLinear,
		}
	}
	v19 := func(since int64, t1 []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("x:T1", "x_scale:T2", "x_zero_point:T1?"), Outputs: params("y:T2"),
			Types: map[string][]tensor.DType{"T1": t1, "T2": fs}, Attrs: attrs, Build: buildDequantizeLinear,
		}
	}
	v23 := func(since int64) Schema {
		return Schema{
			Since: since, Inputs: params("x:T1", "x_scale:T2", "x_zero_point:T1?"), Outputs: params("y:T3"),
			Types: map[string][]tensor.DType{"T1": i16, "T2": fs, "T3": fs},
			Attrs: []string{"axis", "block_size", "output_dtype"}, Build: buildDequantizeLinear,
		}
	}
	return []Schema{
		old(10), old(13, "axis"),
		v19(19, i8, "axis"), v19(21, i16, "axis", "block_size"),
		v23(23), v23(24), v23(25),
	}
}

func dynamicQuantizeLinearSchemas() []Schema {
	return []Schema{{
		Since: 11, Inputs: params("x:T1"), Outputs: params("y:T2", "y_scale:S", "y_zero_point:T2"),
		Types: map[string][]tensor.DType{"T1": {tensor.Float32}, "T2": {tensor.Uint8}, "S": {tensor.Float32}},
		Build: func(*graph.Node, int64) (Kernel, error) { return KernelFunc(dynamicQuantizeLinear), nil },
	}}
}

// quantAttrs are the attributes QuantizeLinear and DequantizeLinear share.
type quantAttrs struct {
	axis      int64
	block     int
	perAxis   bool         // opset 13 on: a 1-D scale may be per axis
	outDType  tensor.DType // output_dtype; Invalid when not given
	precision tensor.DType // QuantizeLinear's precision; Invalid when not given
}

func readQuantAttrs(n *graph.Node, opset int64, op string) (quantAttrs, error) {
	a := quantAttrs{perAxis: opset >= 13}
	var err error
	if a.axis, err = n.AttrInt("axis", 1); err != nil {
		return a, err
	}
	b, err := n.AttrInt("block_size", 0)
	if err != nil {
		return a, err
	}
	if b < 0 || b > tensor.MaxElements {
		return a, fault.Errorf(fault.Invalid, "%s: block_size must not be negative, got %d", op, b)
	}
	a.block = int(b)
	od, err := n.AttrInt("output_dtype", 0)
	if err != nil {
		return a, err
	}
	if od != 0 {
		dt, ok := tensor.FromONNX(int32(od))
		if !ok || od != int64(int32(od)) {
			return a, fault.Errorf(fault.Unsupported, "%s: output_dtype %d is not a supported type", op, od)
		}
		a.outDType = dt
	}
	p, err := n.AttrInt("precision", 0)
	if err != nil {
		return a, err
	}
	if p != 0 {
		dt, ok := tensor.FromONNX(int32(p))
		if !ok || p != int64(int32(p)) || !(dt == tensor.Float32 || dt == tensor.Float16 || dt == tensor.BFloat16 || dt == tensor.Float64) {
			return a, fault.Errorf(fault.Unsupported, "%s: precision %d is not a supported floating-point type", op, p)
		}
		a.precision = dt
	}
	if s, err := n.AttrInt("saturate", 1); err != nil {
		return a, err
	} else if s != 0 && s != 1 {
		return a, fault.Errorf(fault.Invalid, "%s: saturate must be 0 or 1, got %d", op, s)
	}
	return a, nil
}

// quantGrain maps x's elements, seen as (outer, axis, inner), to their
// scale and zero-point index.
type quantGrain struct {
	outer, axisLen, inner int
	mode                  int // 0 per tensor, 1 per axis, 2 blocked
	block, scaleAxis      int
}

func (a *quantAttrs) grain(op string, x, scale, zp *tensor.Tensor) (quantGrain, error) {
	g := quantGrain{outer: 1, axisLen: 1, inner: x.Len()}
	fail := func(format string, args ...any) error {
		return fault.Errorf(fault.Invalid, op+": "+format, args...)
	}
	if zp != nil && !zp.Shape.Equal(scale.Shape) {
		return g, fail("zero point %v and scale %v differ in shape", []int(zp.Shape), []int(scale.Shape))
	}
	// A one-element scale quantizes per tensor, whatever its shape, as the
	// reference does.
	if scale.Len() == 1 && a.block == 0 {
		return g, nil
	}
	if len(x.Shape) == 0 {
		return g, fail("a scalar x needs a one-element scale, got %v", []int(scale.Shape))
	}
	ax, err := nnAxis(a.axis, len(x.Shape), "axis")
	if err != nil {
		return g, fault.Errorf(fault.Invalid, "%s: %w", op, err)
	}
	g.outer, g.axisLen, g.inner = nnDims(x.Shape[:ax]), x.Shape[ax], nnDims(x.Shape[ax+1:])
	if a.block == 0 {
		if !a.perAxis || len(scale.Shape) != 1 || scale.Shape[0] != g.axisLen {
			return g, fail("scale %v must be a scalar or 1-D of x's size %d along axis %d", []int(scale.Shape), g.axisLen, ax)
		}
		g.mode = 1
		return g, nil
	}
	if len(scale.Shape) != len(x.Shape) {
		return g, fail("a blocked scale %v must have x's rank %d", []int(scale.Shape), len(x.Shape))
	}
	for i, d := range scale.Shape {
		want := x.Shape[i]
		if i == ax {
			want = (want + a.block - 1) / a.block
		}
		if d != want {
			return g, fail("blocked scale %v does not fit x %v with block size %d on axis %d", []int(scale.Shape), []int(x.Shape), a.block, ax)
		}
	}
	g.mode, g.block, g.scaleAxis = 2, a.block, scale.Shape[ax]
	return g, nil
}

// scaleIndex fills idx with every element's scale index.
func (g *quantGrain) scaleIndex(idx []int32) {
	if g.mode == 0 {
		clear(idx)
		return
	}
	i := 0
	for o := range g.outer {
		for ax := range g.axisLen {
			s := ax
			if g.mode == 2 {
				s = (o*g.scaleAxis + ax/g.block) * g.inner
			}
			for in := range g.inner {
				idx[i] = int32(s)
				if g.mode == 2 {
					idx[i] = int32(s + in)
				}
				i++
			}
		}
	}
}

type quantizeLinear struct{ quantAttrs }

func buildQuantizeLinear(n *graph.Node, opset int64) (Kernel, error) {
	a, err := readQuantAttrs(n, opset, "QuantizeLinear")
	if err != nil {
		return nil, err
	}
	if a.outDType != tensor.Invalid {
		switch a.outDType {
		case tensor.Int8, tensor.Uint8, tensor.Int16, tensor.Uint16:
		default:
			return nil, fault.Errorf(fault.Unsupported, "QuantizeLinear: output_dtype %s is not supported", a.outDType.ONNXName())
		}
	}
	return quantizeLinear{a}, nil
}

// quantRange is the saturation range of an integer quantized type.
func quantRange(dt tensor.DType) (lo, hi float64, ok bool) {
	switch dt {
	case tensor.Int8:
		return math.MinInt8, math.MaxInt8, true
	case tensor.Uint8:
		return 0, math.MaxUint8, true
	case tensor.Int16:
		return math.MinInt16, math.MaxInt16, true
	case tensor.Uint16:
		return 0, math.MaxUint16, true
	}
	return 0, 0, false
}

func (k quantizeLinear) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	const op = "QuantizeLinear"
	x, scale := in[0], in[1]
	var zp *tensor.Tensor
	if len(in) > 2 {
		zp = in[2]
	}
	dt := tensor.Uint8
	switch {
	case zp != nil:
		if k.outDType != tensor.Invalid && k.outDType != zp.DType {
			return fault.Errorf(fault.Invalid, "%s: output_dtype %s differs from the zero point's %s", op, k.outDType.ONNXName(), zp.DType.ONNXName())
		}
		dt = zp.DType
	case k.outDType != tensor.Invalid:
		dt = k.outDType
	}
	lo, hi, ok := quantRange(dt)
	if !ok {
		return fault.Errorf(fault.Unsupported, "%s to %s", op, dt.ONNXName())
	}
	g, err := k.grain(op, x, scale, zp)
	if err != nil {
		return err
	}
	y, err := Output(ctx, out[0], dt, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	sc := ScratchFrom(ctx)
	q := ScratchSlice[float64](sc, x.Len())
	nnConvert(q, x)
	s := ScratchSlice[float64](sc, scale.Len())
	nnConvert(s, scale)
	var z []float64
	if zp != nil {
		z = ScratchSlice[float64](sc, zp.Len())
		nnConvert(z, zp)
	}
	idx := ScratchSlice[int32](sc, len(q))
	g.scaleIndex(idx)
	for i, j := range idx {
		q[i] /= s[j]
	}
	// The quotient is rounded to the division's precision before rounding
	// to an integer, so ties are found where the reference finds them.
	switch k.divPrecision(x.DType, scale.DType) {
	case tensor.Float32:
		for i, v := range q {
			q[i] = float64(float32(v))
		}
	case tensor.Float16:
		for i, v := range q {
			q[i] = float64(tensor.F16From(float32(v)).Float32())
		}
	case tensor.BFloat16:
		for i, v := range q {
			q[i] = float64(tensor.BF16From(float32(v)).Float32())
		}
	}
	for i, v := range q {
		if math.IsNaN(v) {
			v = 0 // undefined; quantized as 0 is
		}
		v = math.RoundToEven(v)
		if z != nil {
			v += z[idx[i]]
		}
		q[i] = min(hi, max(lo, v))
	}
	quantStore(y, q)
	return nil
}

// divPrecision is the type x / y_scale is computed in: the precision
// attribute, or else the type numpy's promotion gives the reference's
// division (the scale's type when x shares it).
func (k quantizeLinear) divPrecision(x, scale tensor.DType) tensor.DType {
	switch {
	case k.precision != tensor.Invalid:
		return k.precision
	case x == tensor.Int32 || scale == tensor.Int32:
		return tensor.Float64
	case x == scale:
		return x
	}
	return tensor.Float32
}

// quantStore writes integral values already within y's range.
func quantStore(y *tensor.Tensor, v []float64) {
	switch y.DType {
	case tensor.Int8:
		quantStoreAs(tensor.Values[int8](y), v)
	case tensor.Uint8:
		quantStoreAs(tensor.Values[uint8](y), v)
	case tensor.Int16:
		quantStoreAs(tensor.Values[int16](y), v)
	case tensor.Uint16:
		quantStoreAs(tensor.Values[uint16](y), v)
	}
}

func quantStoreAs[T int8 | uint8 | int16 | uint16](dst []T, v []float64) {
	for i, x := range v[:len(dst)] {
		dst[i] = T(x)
	}
}

type dequantizeLinear struct{ quantAttrs }

func buildDequantizeLinear(n *graph.Node, opset int64) (Kernel, error) {
	a, err := readQuantAttrs(n, opset, "DequantizeLinear")
	if err != nil {
		return nil, err
	}
	switch a.outDType {
	case tensor.Invalid, tensor.Float32, tensor.Float16, tensor.BFloat16:
	default:
		return nil, fault.Errorf(fault.Invalid, "DequantizeLinear: output_dtype %s is not a float type", a.outDType.ONNXName())
	}
	return dequantizeLinear{a}, nil
}

func (k dequantizeLinear) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	const op = "DequantizeLinear"
	x, scale := in[0], in[1]
	var zp *tensor.Tensor
	if len(in) > 2 {
		zp = in[2]
	}
	if zp != nil && zp.DType != x.DType {
		return fault.Errorf(fault.Invalid, "%s: x is %s but its zero point is %s", op, x.DType.ONNXName(), zp.DType.ONNXName())
	}
	dt := scale.DType
	if k.outDType != tensor.Invalid {
		dt = k.outDType
	}
	g, err := k.grain(op, x, scale, zp)
	if err != nil {
		return err
	}
	y, err := Output(ctx, out[0], dt, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	sc := ScratchFrom(ctx)
	v := ScratchSlice[float64](sc, x.Len())
	nnConvert(v, x)
	s := ScratchSlice[float64](sc, scale.Len())
	nnConvert(s, scale)
	var z []float64
	if zp != nil {
		z = ScratchSlice[float64](sc, zp.Len())
		nnConvert(z, zp)
	}
	idx := ScratchSlice[int32](sc, len(v))
	g.scaleIndex(idx)
	for i, j := range idx {
		d := v[i]
		if z != nil {
			d -= z[j]
		}
		v[i] = d * s[j]
	}
	nnStore(y, v)
	return nil
}

// dynamicQuantizeLinear follows the reference step by step in float32, so
// the scale, zero point and rounding ties agree with it exactly.
func dynamicQuantizeLinear(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	if x.DType != tensor.Float32 {
		return fault.Errorf(fault.Unsupported, "DynamicQuantizeLinear of %s", x.DType.ONNXName())
	}
	xs := tensor.Values[float32](x)
	var lo, hi float32 // the range, widened to include 0
	for _, v := range xs {
		lo, hi = min(lo, v), max(hi, v)
	}
	scale := float32(1)
	if hi != lo {
		scale = (hi - lo) / 255
	}
	zp := float32(math.RoundToEven(float64(min(255, max(0, 0-lo/scale)))))
	if zp != zp { // NaN in x
		zp = 0
	}
	var err error
	if out[0], err = Output(ctx, out[0], tensor.Uint8, x.Shape); err != nil {
		return err
	}
	if out[1], err = Output(ctx, out[1], tensor.Float32, nil); err != nil {
		return err
	}
	if out[2], err = Output(ctx, out[2], tensor.Uint8, nil); err != nil {
		return err
	}
	y := tensor.Values[uint8](out[0])
	for i, v := range xs {
		q := float32(math.RoundToEven(float64(v/scale))) + zp
		if q != q { // NaN
			q = 0
		}
		y[i] = uint8(min(255, max(0, q)))
	}
	tensor.Values[float32](out[1])[0] = scale
	tensor.Values[uint8](out[2])[0] = uint8(zp)
	return nil
}
