package ops

import (
	"context"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

var qconvAttrs = []string{"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}

func convIntegerSchemas() []Schema {
	i8 := []tensor.DType{tensor.Int8, tensor.Uint8}
	return []Schema{{
		Since: 10, Inputs: params("x:T1", "w:T2", "x_zero_point:T1?", "w_zero_point:T2?"), Outputs: params("y:T3"),
		Types: map[string][]tensor.DType{"T1": i8, "T2": i8, "T3": {tensor.Int32}},
		Attrs: qconvAttrs, Build: buildQConv(false),
	}}
}

func qlinearConvSchemas() []Schema {
	i8 := []tensor.DType{tensor.Int8, tensor.Uint8}
	return []Schema{{
		Since: 10,
		Inputs: params("x:T1", "x_scale:S", "x_zero_point:T1", "w:T2", "w_scale:S", "w_zero_point:T2",
			"y_scale:S", "y_zero_point:T3", "B:T4?"),
		Outputs: params("y:T3"),
		Types:   map[string][]tensor.DType{"T1": i8, "T2": i8, "T3": i8, "T4": {tensor.Int32}, "S": {tensor.Float32}},
		Attrs:   qconvAttrs, Build: buildQConv(true),
	}}
}

// qconv is ConvInteger, or QLinearConv when linear is set. The integer
// convolution of the zero-point-shifted operands runs on Conv's float64
// kernel: every product and sum of 8-bit values is exact in float64 (up
// to 2^53), so the result is the exact integer.
type qconv struct {
	w      window
	group  int
	linear bool
}

func buildQConv(linear bool) Builder {
	return func(n *graph.Node, _ int64) (Kernel, error) {
		w, err := readWindow(n)
		if err != nil {
			return nil, err
		}
		g, err := n.AttrInt("group", 1)
		if err != nil {
			return nil, err
		}
		if g < 1 || g > tensor.MaxElements {
			return nil, fault.Errorf(fault.Invalid, "group must be at least 1, got %d", g)
		}
		return qconv{w: w, group: int(g), linear: linear}, nil
	}
}

func (k qconv) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	op := "ConvInteger"
	opt := func(i int) *tensor.Tensor {
		if len(in) > i {
			return in[i]
		}
		return nil
	}
	var x, w, xz, wz, bias *tensor.Tensor
	if k.linear {
		op = "QLinearConv"
		x, xz, w, wz, bias = in[0], in[2], in[3], in[5], opt(8)
	} else {
		x, w, xz, wz = in[0], in[1], opt(2), opt(3)
	}
	fail := func(format string, args ...any) error {
		return fault.Errorf(fault.Invalid, op+": "+format, args...)
	}
	if len(x.Shape) < 3 || len(w.Shape) != len(x.Shape) {
		return fail("x %v and w %v must have the same rank, at least 3", []int(x.Shape), []int(w.Shape))
	}
	c, m, cg := x.Shape[1], w.Shape[0], w.Shape[1]
	if cg*k.group != c || m%k.group != 0 {
		return fail("x %v and w %v do not fit group %d", []int(x.Shape), []int(w.Shape), k.group)
	}
	if k.w.kernel != nil && !tensor.Shape(k.w.kernel).Equal(w.Shape[2:]) {
		return fail("kernel_shape %v does not match w %v", k.w.kernel, []int(w.Shape))
	}
	if (xz != nil && (xz.DType != x.DType || xz.Len() != 1)) || (wz != nil && wz.DType != w.DType) {
		return fail("zero points must have their operand's dtype, and x's must be a scalar")
	}
	if wz != nil && wz.Len() != 1 && (len(wz.Shape) != 1 || wz.Shape[0] != m) {
		return fail("w_zero_point %v must be a scalar or 1-D of the %d output channels", []int(wz.Shape), m)
	}
	if bias != nil && (len(bias.Shape) != 1 || bias.Shape[0] != m) {
		return fail("B %v must be 1-D of size %d", []int(bias.Shape), m)
	}
	geom, err := k.w.resolve(x.Shape[2:], w.Shape[2:])
	if err != nil {
		return fault.Errorf(fault.Invalid, "%s: %w", op, err)
	}
	var shapeBuf [tensor.MaxRank]int
	shape := append(shapeBuf[:0], x.Shape[0], m)
	shape = append(shape, geom.o[:geom.nd]...)
	dt := tensor.Int32
	if k.linear {
		dt = in[7].DType
	}
	y, err := Output(ctx, out[0], dt, shape)
	if err != nil {
		return err
	}
	out[0] = y
	sc := ScratchFrom(ctx)
	xf := ScratchSlice[float64](sc, x.Len())
	nnConvert(xf, x)
	if xz != nil {
		z := xz.Float64At(0)
		for i := range xf {
			xf[i] -= z
		}
	}
	wf := ScratchSlice[float64](sc, w.Len())
	nnConvert(wf, w)
	if wz != nil {
		z := ScratchSlice[float64](sc, wz.Len())
		nnConvert(z, wz)
		per := w.Len() / max(1, m) // weights per output channel
		for i := range wf {
			if len(z) == 1 {
				wf[i] -= z[0]
			} else {
				wf[i] -= z[i/per]
			}
		}
	}
	var bf []float64
	if bias != nil {
		bf = ScratchSlice[float64](sc, m)
		nnConvert(bf, bias)
	}
	yf := ScratchSlice[float64](sc, y.Len())
	p := convProblem{g: &geom, n: x.Shape[0], c: c, m: m, groups: k.group, colBudget: colBudget}
	if err := convFloat(ctx, sc, &p, xf, wf, bf, yf); err != nil {
		return err
	}
	if !k.linear {
		// Wrap as int32 accumulation would.
		yi := tensor.Values[int32](y)
		for i, v := range yf {
			yi[i] = int32(int64(v))
		}
		return nil
	}
	return k.requantize(op, sc, in, y, yf, m)
}

// requantize maps the integer convolution to the output's quantization:
// y = saturate(round(acc · x_scale·w_scale/y_scale) + y_zero_point), the
// combined scale formed in float32 as the reference forms it.
func (k qconv) requantize(op string, sc *Scratch, in []*tensor.Tensor, y *tensor.Tensor, acc []float64, m int) error {
	xs, err := nnScalarFloat(in[1], op+": x_scale")
	if err != nil {
		return err
	}
	ys, err := nnScalarFloat(in[6], op+": y_scale")
	if err != nil {
		return err
	}
	yz, err := nnScalarFloat(in[7], op+": y_zero_point")
	if err != nil {
		return err
	}
	ws := in[4]
	if ws.Len() != 1 && (len(ws.Shape) != 1 || ws.Shape[0] != m) {
		return fault.Errorf(fault.Invalid, "%s: w_scale %v must be a scalar or 1-D of the %d output channels", op, []int(ws.Shape), m)
	}
	lo, hi, _ := quantRange(y.DType)
	mult := ScratchSlice[float64](sc, m)
	nnConvert(mult[:ws.Len()], ws)
	w0 := mult[0]
	for ch := range mult {
		wsc := w0
		if ws.Len() != 1 {
			wsc = mult[ch]
		}
		mult[ch] = float64(float32(float32(xs)*float32(wsc)) / float32(ys))
	}
	per := len(acc) / max(1, y.Shape[0]*m) // output positions per channel
	for i, v := range acc {
		ch := (i / max(1, per)) % m
		acc[i] = min(hi, max(lo, math.RoundToEven(v*mult[ch]+yz)))
	}
	quantStore(y, acc)
	return nil
}
