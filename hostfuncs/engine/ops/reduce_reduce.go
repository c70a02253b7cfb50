package ops

import (
	"context"
	"math"
	"slices"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// redOp is one of the Reduce* operators.
type redOp int

const (
	redSum redOp = iota
	redMean
	redMax
	redMin
	redProd
	redSumSquare
	redL1
	redL2
	redLogSum
	redLogSumExp
)

var redOpNames = [...]string{
	redSum: "ReduceSum", redMean: "ReduceMean", redMax: "ReduceMax", redMin: "ReduceMin",
	redProd: "ReduceProd", redSumSquare: "ReduceSumSquare", redL1: "ReduceL1", redL2: "ReduceL2",
	redLogSum: "ReduceLogSum", redLogSumExp: "ReduceLogSumExp",
}

// redMode is what a sum-like reduction folds: the element, its absolute
// value or its square, added; or the element, multiplied.
type redMode int

const (
	redModeSum redMode = iota
	redModeAbs
	redModeSq
	redModeProd
)

func (op redOp) mode() redMode {
	switch op {
	case redL1:
		return redModeAbs
	case redSumSquare, redL2:
		return redModeSq
	case redProd:
		return redModeProd
	}
	return redModeSum
}

// reduceSchemas lists every version of a Reduce* operator. The axes
// attribute became an input at opset 13 for ReduceSum and at 18 for the
// others; ReduceMax and ReduceMin gained 8-bit types at 12 and BOOL at 20;
// BFLOAT16 arrived at 13.
func reduceSchemas(op redOp) []Schema {
	withAttr := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("data:T"), Outputs: params("reduced:T"),
			Types: map[string][]tensor.DType{"T": ts}, Attrs: []string{"axes", "keepdims"},
			Build: reduceBuilder(op),
		}
	}
	withInput := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("data:T", "axes:I?"), Outputs: params("reduced:T"),
			Types: map[string][]tensor.DType{"T": ts, "I": {tensor.Int64}}, Attrs: []string{"keepdims", "noop_with_empty_axes"},
			Build: reduceBuilder(op),
		}
	}
	base := func() []tensor.DType { return cat(floats(), wideInts()) }
	bf := []tensor.DType{tensor.BFloat16}
	switch op {
	case redSum:
		return []Schema{withAttr(1, base()), withAttr(11, base()), withInput(13, cat(base(), bf))}
	case redMax, redMin:
		i8 := []tensor.DType{tensor.Uint8, tensor.Int8}
		return []Schema{
			withAttr(1, base()), withAttr(11, base()), withAttr(12, cat(base(), i8)),
			withAttr(13, cat(base(), i8, bf)), withInput(18, cat(base(), i8, bf)),
			withInput(20, cat(base(), i8, bf, []tensor.DType{tensor.Bool})),
		}
	}
	return []Schema{withAttr(1, base()), withAttr(11, base()), withAttr(13, cat(base(), bf)), withInput(18, cat(base(), bf))}
}

type reduceKernel struct {
	op        redOp
	axes      []int64 // from the attribute, before axes became an input
	axesInput bool
	keepdims  bool
	noop      bool // empty axes mean no reduction rather than all axes
}

func reduceBuilder(op redOp) Builder {
	return func(n *graph.Node, opset int64) (Kernel, error) {
		k := reduceKernel{op: op, axesInput: opset >= 18 || (op == redSum && opset >= 13)}
		var err error
		if k.keepdims, err = redFlag(n, "keepdims", 1); err != nil {
			return nil, err
		}
		if k.noop, err = redFlag(n, "noop_with_empty_axes", 0); err != nil {
			return nil, err
		}
		axes, err := n.AttrInts("axes", nil)
		if err != nil {
			return nil, err
		}
		k.axes = slices.Clone(axes)
		return k, nil
	}
}

func (k reduceKernel) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	name := redOpNames[k.op]
	x := in[0]
	axes := k.axes
	if k.axesInput && len(in) > 1 && in[1] != nil {
		a := in[1]
		if a.DType != tensor.Int64 || len(a.Shape) > 1 {
			return fault.Errorf(fault.Invalid, "%s: axes must be a 1-D INT64 tensor, got %s%v", name, a.DType.ONNXName(), []int(a.Shape))
		}
		axes = tensor.Values[int64](a)
	}
	if len(x.Shape) > tensor.MaxRank {
		return fault.Errorf(fault.TooLarge, "%s: rank %d exceeds %d", name, len(x.Shape), tensor.MaxRank)
	}
	var mask [tensor.MaxRank]bool
	if len(axes) == 0 {
		if !k.noop {
			for i := range x.Shape {
				mask[i] = true
			}
		}
	} else {
		var err error
		if mask, err = redMask(name, axes, len(x.Shape)); err != nil {
			return err
		}
	}
	p := newRedPlan(x.Shape, &mask)
	var buf [tensor.MaxRank]int
	y, err := Output(ctx, out[0], x.DType, redOutShape(buf[:0], x.Shape, &mask, k.keepdims))
	if err != nil {
		return err
	}
	out[0] = y
	sc := ScratchFrom(ctx)
	switch x.DType {
	case tensor.Float32:
		redFloats(k.op, &p, sc, tensor.Values[float32](x), tensor.Values[float32](y))
	case tensor.Float64:
		redFloats(k.op, &p, sc, tensor.Values[float64](x), tensor.Values[float64](y))
	case tensor.Float16, tensor.BFloat16:
		xs := ScratchSlice[float32](sc, x.Len())
		widen(xs, x)
		ys := ScratchSlice[float32](sc, y.Len())
		redFloats(k.op, &p, sc, xs, ys)
		narrow(y, ys)
	case tensor.Int8:
		redInts[int8, int64](k.op, &p, sc, tensor.Values[int8](x), tensor.Values[int8](y))
	case tensor.Int16:
		redInts[int16, int64](k.op, &p, sc, tensor.Values[int16](x), tensor.Values[int16](y))
	case tensor.Int32:
		redInts[int32, int64](k.op, &p, sc, tensor.Values[int32](x), tensor.Values[int32](y))
	case tensor.Int64:
		redInts[int64, int64](k.op, &p, sc, tensor.Values[int64](x), tensor.Values[int64](y))
	case tensor.Uint8:
		redInts[uint8, uint64](k.op, &p, sc, tensor.Values[uint8](x), tensor.Values[uint8](y))
	case tensor.Uint16:
		redInts[uint16, uint64](k.op, &p, sc, tensor.Values[uint16](x), tensor.Values[uint16](y))
	case tensor.Uint32:
		redInts[uint32, uint64](k.op, &p, sc, tensor.Values[uint32](x), tensor.Values[uint32](y))
	case tensor.Uint64:
		redInts[uint64, uint64](k.op, &p, sc, tensor.Values[uint64](x), tensor.Values[uint64](y))
	case tensor.Bool:
		if k.op != redMax && k.op != redMin {
			return fault.Errorf(fault.Unsupported, "%s of BOOL", name)
		}
		// False < True: max is "any", min is "all", over the 0/1 bytes.
		var init uint8
		if k.op == redMin {
			init = 1
		}
		redExtreme(&p, x.Data, y.Data, k.op == redMax, init)
	default:
		return fault.Errorf(fault.Unsupported, "%s of %s", name, x.DType.ONNXName())
	}
	return nil
}

// redFloats reduces float32 or float64 data, accumulating in float64.
func redFloats[T float32 | float64](op redOp, p *redPlan, sc *Scratch, x, y []T) {
	switch op {
	case redMax, redMin:
		lo, hi := redLimits[T]()
		init := lo
		if op == redMin {
			init = hi
		}
		redExtreme(p, x, y, op == redMax, init)
		return
	case redLogSumExp:
		acc := redLogSumExpF64(p, sc, x)
		for i, v := range acc {
			y[i] = T(v)
		}
		return
	}
	acc := ScratchSlice[float64](sc, p.nOut)
	redAccumulate(p, x, acc, op.mode())
	redFinishF64(op, p, acc)
	for i, v := range acc {
		y[i] = T(v)
	}
}

// redFinishF64 applies the step a composite reduction takes after folding.
func redFinishF64(op redOp, p *redPlan, acc []float64) {
	switch op {
	case redMean:
		// An empty set gives 0/0, NaN, as numpy's mean does.
		c := float64(p.count)
		for i := range acc {
			acc[i] /= c
		}
	case redL2:
		for i, v := range acc {
			acc[i] = math.Sqrt(v)
		}
	case redLogSum:
		for i, v := range acc {
			acc[i] = math.Log(v)
		}
	}
}

// redInts reduces integer data. Sums and products wrap as the element
// type does (A is int64 or uint64 by the signedness of T, so every
// partial result is exact modulo 2^64); the mean divides the exact sum;
// L2, LogSum and LogSumExp go through float64 and truncate.
func redInts[T redInt, A int64 | uint64](op redOp, p *redPlan, sc *Scratch, x, y []T) {
	switch op {
	case redMax, redMin:
		lo, hi := redLimits[T]()
		init := lo
		if op == redMin {
			init = hi
		}
		redExtreme(p, x, y, op == redMax, init)
		return
	case redL2, redLogSum:
		acc := ScratchSlice[float64](sc, p.nOut)
		redAccumulate(p, x, acc, op.mode())
		redFinishF64(op, p, acc)
		for i, v := range acc {
			y[i] = T(v)
		}
		return
	case redLogSumExp:
		for i, v := range redLogSumExpF64(p, sc, x) {
			y[i] = T(v)
		}
		return
	}
	acc := ScratchSlice[A](sc, p.nOut)
	redAccumulateInt(p, x, acc, op.mode())
	if op == redMean {
		c := A(p.count)
		for i, v := range acc {
			if c == 0 {
				y[i] = 0 // the mean of nothing; integers have no NaN
			} else {
				y[i] = T(v / c)
			}
		}
		return
	}
	for i, v := range acc {
		y[i] = T(v)
	}
}

// redAccumulate folds x into float64 accumulators, one per output.
func redAccumulate[T redReal](p *redPlan, x []T, acc []float64, mode redMode) {
	init := 0.0
	if mode == redModeProd {
		init = 1
	}
	for i := range acc {
		acc[i] = init
	}
	n := p.inner()
	red := p.innerReduced()
	if x32, ok := any(x).([]float32); ok && red && n >= ewVecMin && (mode == redModeSum || mode == redModeSq) {
		// Contiguous float32 runs fold through the vector kernels, which
		// also accumulate in float64.
		for r := p.runs(); r.next(); {
			xs := x32[r.In : r.In+n]
			if mode == redModeSum {
				acc[r.Out] += kernels.Sum(xs)
			} else {
				acc[r.Out] += kernels.SumSquares(xs)
			}
		}
		return
	}
	for r := p.runs(); r.next(); {
		xs := x[r.In : r.In+n]
		if red {
			s := acc[r.Out]
			switch mode {
			case redModeSum:
				for _, v := range xs {
					s += float64(v)
				}
			case redModeAbs:
				for _, v := range xs {
					s += math.Abs(float64(v))
				}
			case redModeSq:
				for _, v := range xs {
					f := float64(v)
					s += f * f
				}
			case redModeProd:
				for _, v := range xs {
					s *= float64(v)
				}
			}
			acc[r.Out] = s
			continue
		}
		as := acc[r.Out : r.Out+n]
		switch mode {
		case redModeSum:
			for i, v := range xs {
				as[i] += float64(v)
			}
		case redModeAbs:
			for i, v := range xs {
				as[i] += math.Abs(float64(v))
			}
		case redModeSq:
			for i, v := range xs {
				f := float64(v)
				as[i] += f * f
			}
		case redModeProd:
			for i, v := range xs {
				as[i] *= float64(v)
			}
		}
	}
}

// redAccumulateInt folds integers into wrapping 64-bit accumulators.
func redAccumulateInt[T redInt, A int64 | uint64](p *redPlan, x []T, acc []A, mode redMode) {
	var init A
	if mode == redModeProd {
		init = 1
	}
	for i := range acc {
		acc[i] = init
	}
	n := p.inner()
	red := p.innerReduced()
	for r := p.runs(); r.next(); {
		xs := x[r.In : r.In+n]
		if red {
			s := acc[r.Out]
			switch mode {
			case redModeSum:
				for _, v := range xs {
					s += A(v)
				}
			case redModeAbs:
				for _, v := range xs {
					if v < 0 {
						s -= A(v)
					} else {
						s += A(v)
					}
				}
			case redModeSq:
				for _, v := range xs {
					s += A(v) * A(v)
				}
			case redModeProd:
				for _, v := range xs {
					s *= A(v)
				}
			}
			acc[r.Out] = s
			continue
		}
		as := acc[r.Out : r.Out+n]
		switch mode {
		case redModeSum:
			for i, v := range xs {
				as[i] += A(v)
			}
		case redModeAbs:
			for i, v := range xs {
				if v < 0 {
					as[i] -= A(v)
				} else {
					as[i] += A(v)
				}
			}
		case redModeSq:
			for i, v := range xs {
				as[i] += A(v) * A(v)
			}
		case redModeProd:
			for i, v := range xs {
				as[i] *= A(v)
			}
		}
	}
}

// redExtreme computes the maximum (or minimum) into y, which starts at
// init, the result for an empty set. A NaN wins, as numpy's maximum and
// minimum propagate it.
func redExtreme[T redReal](p *redPlan, x, y []T, isMax bool, init T) {
	for i := range y {
		y[i] = init
	}
	n := p.inner()
	red := p.innerReduced()
	if x32, ok := any(x).([]float32); ok && red && isMax && n >= ewVecMin {
		y32 := any(y).([]float32)
		for r := p.runs(); r.next(); {
			if m := kernels.Max(x32[r.In : r.In+n]); m > y32[r.Out] || m != m {
				if y32[r.Out] == y32[r.Out] { // a NaN already there stays
					y32[r.Out] = m
				}
			}
		}
		return
	}
	for r := p.runs(); r.next(); {
		xs := x[r.In : r.In+n]
		if red {
			m := y[r.Out]
			if isMax {
				for _, v := range xs {
					if v > m || v != v {
						m = v
					}
				}
			} else {
				for _, v := range xs {
					if v < m || v != v {
						m = v
					}
				}
			}
			y[r.Out] = m
			continue
		}
		ys := y[r.Out : r.Out+n]
		if isMax {
			for i, v := range xs {
				if v > ys[i] || v != v {
					ys[i] = v
				}
			}
		} else {
			for i, v := range xs {
				if v < ys[i] || v != v {
					ys[i] = v
				}
			}
		}
	}
}

// redLogSumExpF64 computes log(sum(exp(x))) per output in float64,
// shifting by the maximum so large inputs do not overflow. An empty set
// or all -inf gives -inf; a +inf gives +inf; a NaN gives NaN.
func redLogSumExpF64[T redReal](p *redPlan, sc *Scratch, x []T) []float64 {
	m := ScratchSlice[float64](sc, p.nOut)
	for i := range m {
		m[i] = math.Inf(-1)
	}
	n := p.inner()
	red := p.innerReduced()
	for r := p.runs(); r.next(); {
		xs := x[r.In : r.In+n]
		if red {
			v := m[r.Out]
			for _, e := range xs {
				if f := float64(e); f > v || f != f {
					v = f
				}
			}
			m[r.Out] = v
			continue
		}
		ms := m[r.Out : r.Out+n]
		for i, e := range xs {
			if f := float64(e); f > ms[i] || f != f {
				ms[i] = f
			}
		}
	}
	// Shift by finite maxima only: exp(-inf - -inf) would be NaN.
	for i, v := range m {
		if math.IsInf(v, 0) {
			m[i] = 0
		}
	}
	s := ScratchSlice[float64](sc, p.nOut)
	clear(s)
	for r := p.runs(); r.next(); {
		xs := x[r.In : r.In+n]
		if red {
			sh, acc := m[r.Out], s[r.Out]
			for _, e := range xs {
				acc += math.Exp(float64(e) - sh)
			}
			s[r.Out] = acc
			continue
		}
		ms, ss := m[r.Out:r.Out+n], s[r.Out:r.Out+n]
		for i, e := range xs {
			ss[i] += math.Exp(float64(e) - ms[i])
		}
	}
	for i := range s {
		s[i] = m[i] + math.Log(s[i])
	}
	return s
}
