package ops

import (
	"context"
	"math"
	"sync"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// softKind is Softmax, LogSoftmax or Hardmax.
type softKind int

const (
	softMax softKind = iota
	softLogMax
	softHardMax
)

var softNames = [...]string{softMax: "Softmax", softLogMax: "LogSoftmax", softHardMax: "Hardmax"}

// softmaxSchemas lists the versions of Softmax, LogSoftmax or Hardmax.
// Before opset 13 the input is coerced to 2-D at axis (default 1) and the
// operation runs over the whole second dimension; from 13 it runs along
// the one axis (default -1).
func softmaxSchemas(kind softKind) []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("input:T"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": ts}, Attrs: []string{"axis"}, Build: softmaxBuilder(kind),
		}
	}
	return []Schema{v(1, floats()), v(11, floats()), v(13, floatsBF16())}
}

type softmaxKernel struct {
	kind   softKind
	axis   int64
	legacy bool // 2-D coercion (opsets before 13)
}

func softmaxBuilder(kind softKind) Builder {
	return func(n *graph.Node, opset int64) (Kernel, error) {
		k := softmaxKernel{kind: kind, legacy: opset < 13}
		def := int64(-1)
		if k.legacy {
			def = 1
		}
		var err error
		if k.axis, err = n.AttrInt("axis", def); err != nil {
			return nil, err
		}
		return k, nil
	}
}

func (k softmaxKernel) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	name := softNames[k.kind]
	x := in[0]
	if !x.DType.IsFloat() {
		return fault.Errorf(fault.Unsupported, "%s of %s", name, x.DType.ONNXName())
	}
	axis, err := redAxis(name, k.axis, len(x.Shape), k.legacy)
	if err != nil {
		return err
	}
	var outer, n, inner int
	if k.legacy {
		outer, n = redSplitAt(x.Shape, axis)
		inner = 1
	} else {
		outer, n, inner = redSplit(x.Shape, axis)
	}
	y, err := Output(ctx, out[0], x.DType, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	sc := ScratchFrom(ctx)
	if x.DType == tensor.Float64 {
		softmaxRun(k.kind, tensor.Values[float64](y), tensor.Values[float64](x), outer, n, inner, sc)
		return nil
	}
	ys := redOut32(sc, y)
	if inner == 1 && k.kind != softHardMax {
		softmaxRows32(ctx, k.kind == softLogMax, ys, redAs32(sc, x), outer, n)
	} else {
		softmaxRun(k.kind, ys, redAs32(sc, x), outer, n, inner, sc)
	}
	redStore32(y, ys)
	return nil
}

// softmaxRows32 is softmax (or its log) along contiguous float32 rows,
// the common case (the last axis), on the vector kernels: the row's
// maximum, then exp(x - max) and its sum in one pass, then one scaling
// pass. LogSoftmax computes (x - max) - log(sum) rather than x - (max +
// log(sum)), so a row whose largest term dominates keeps its small
// results. Special values come out as in softmaxOf: a NaN, or an infinity
// that makes the maximum infinite, gives NaN where the float64 code does.
// Many rows are split over the compute pool.
func softmaxRows32(ctx context.Context, log bool, y, x []float32, rows, n int) {
	c := ComputeFrom(ctx)
	parts := min(rows, c.Split(rows*n*8, splitElems))
	if parts <= 1 {
		softmaxRowRange(log, y, x, n, 0, rows)
		return
	}
	t := softmaxTasks.Get().(*softmaxTask)
	*t = softmaxTask{log: log, y: y, x: x, rows: rows, n: n, parts: parts}
	c.Parallel(parts, t)
	*t = softmaxTask{}
	softmaxTasks.Put(t)
}

func softmaxRowRange(log bool, y, x []float32, n, r0, r1 int) {
	for r := r0; r < r1; r++ {
		xs, ys := x[r*n:(r+1)*n], y[r*n:(r+1)*n]
		m := kernels.Max(xs)
		s := kernels.ExpShiftSum(ys, xs, m)
		if log {
			kernels.BinaryScalar(kernels.Sub, ys, xs, m)
			kernels.BinaryScalar(kernels.Sub, ys, ys, float32(math.Log(float64(s))))
			continue
		}
		kernels.BinaryScalar(kernels.Mul, ys, ys, float32(1/float64(s)))
	}
}

type softmaxTask struct {
	log            bool
	y, x           []float32
	rows, n, parts int
}

var softmaxTasks = sync.Pool{New: func() any { return new(softmaxTask) }}

func (t *softmaxTask) Part(i int) {
	softmaxRowRange(t.log, t.y, t.x, t.n, i*t.rows/t.parts, (i+1)*t.rows/t.parts)
}

func softmaxRun[F redFloat](kind softKind, y, x []F, outer, n, inner int, sc *Scratch) {
	if kind == softHardMax {
		hardmaxOf(y, x, outer, n, inner)
		return
	}
	softmaxOf(y, x, outer, n, inner, kind == softLogMax, ScratchSlice[float64](sc, inner), ScratchSlice[float64](sc, inner))
}

// softmaxOf computes softmax (or its log) along the middle axis of an
// [outer, n, inner] view in float64, shifting by the maximum so large
// inputs do not overflow. The inner positions are processed side by side,
// so memory is walked in order whatever the axis; m and s hold their
// maxima and sums.
func softmaxOf[F redFloat](y, x []F, outer, n, inner int, log bool, m, s []float64) {
	block := n * inner
	for o := range outer {
		xb, yb := x[o*block:(o+1)*block], y[o*block:(o+1)*block]
		for i := range m {
			m[i] = math.Inf(-1)
		}
		clear(s)
		for j := range n {
			for i, v := range xb[j*inner : (j+1)*inner] {
				if f := float64(v); f > m[i] || f != f {
					m[i] = f
				}
			}
		}
		// Keep the exponentials in y rather than compute them twice; for
		// float32 that adds one rounding to the result.
		for j := range n {
			row := yb[j*inner : (j+1)*inner]
			for i, v := range xb[j*inner : (j+1)*inner] {
				e := math.Exp(float64(v) - m[i])
				row[i] = F(e)
				s[i] += e
			}
		}
		if log {
			for i := range s {
				s[i] = m[i] + math.Log(s[i])
			}
			for j := range n {
				row := yb[j*inner : (j+1)*inner]
				for i, v := range xb[j*inner : (j+1)*inner] {
					row[i] = F(float64(v) - s[i])
				}
			}
			continue
		}
		for i := range s {
			s[i] = 1 / s[i]
		}
		for j := range n {
			row := yb[j*inner : (j+1)*inner]
			for i, e := range row {
				row[i] = F(float64(e) * s[i])
			}
		}
	}
}
