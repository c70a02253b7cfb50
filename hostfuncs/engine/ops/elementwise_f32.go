package ops

import (
	"context"
	"sync"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
)

// The float32 fast paths of the elementwise family. Every float32 Add, Sub,
// Mul and Div goes through ewF32Binary and every float32 activation that
// has a vector kernel through ewF32Unary: one entry point each, which walks
// the broadcast runs, hands each to the vector kernels of package kernels
// and, for large tensors when cores are free, splits the work over the
// process's compute pool.

// ewVecMin is the shortest run handed to a vector kernel: below it, the
// call costs more than the Go loop.
const ewVecMin = 8

// ewUnaryVec maps the unary operators that have a float32 vector kernel to
// it.
func ewUnaryVec(op ewUOp) (kernels.UnaryOp, bool) {
	switch op {
	case ewUExp:
		return kernels.Exp, true
	case ewUErf:
		return kernels.Erf, true
	case ewUTanh:
		return kernels.Tanh, true
	case ewUSigmoid:
		return kernels.Sigmoid, true
	case ewUGelu:
		return kernels.Gelu, true
	case ewUGeluTanh:
		return kernels.GeluTanh, true
	}
	return 0, false
}

// ewBinaryVec maps the arithmetic operators to their vector kernel.
func ewBinaryVec(op ewOp) (kernels.BinOp, bool) {
	switch op {
	case ewAdd:
		return kernels.Add, true
	case ewSub:
		return kernels.Sub, true
	case ewMul:
		return kernels.Mul, true
	case ewDiv:
		return kernels.Div, true
	}
	return 0, false
}

// ewUnaryCost is the work of one element of op in units of a memory-bound
// element (a copy), for sizing the parallel split.
func ewUnaryCost(op kernels.UnaryOp) int {
	switch op {
	case kernels.Relu:
		return 1
	case kernels.Exp:
		return 4
	}
	return 16
}

// ewF32Binary computes c = a op b over the runs of bc: each run through
// the vector kernel of its shape (both operands spanning it, or one of
// them a repeated element), and parts of a large operation on other cores.
func ewF32Binary(ctx context.Context, op kernels.BinOp, bc *kernels.Broadcast, c, a, b []float32) {
	runs, n := bc.NumRuns(), bc.Inner()
	parts := ComputeFrom(ctx).Split(bc.Len(), splitElems)
	if parts <= 1 {
		ewF32BinaryRuns(op, bc, c, a, b, 0, runs, 0, n)
		return
	}
	t := ewBinTasks.Get().(*ewBinTask)
	t.op, t.bc, t.c, t.a, t.b, t.parts = op, *bc, c, a, b, parts
	ComputeFrom(ctx).Parallel(parts, t)
	*t = ewBinTask{}
	ewBinTasks.Put(t)
}

// ewBinTask is a parallel ewF32Binary: each part takes a range of runs,
// or of the elements of the run when there is only one.
type ewBinTask struct {
	op      kernels.BinOp
	bc      kernels.Broadcast
	c, a, b []float32
	parts   int
}

var ewBinTasks = sync.Pool{New: func() any { return new(ewBinTask) }}

func (t *ewBinTask) Part(i int) {
	runs, n := t.bc.NumRuns(), t.bc.Inner()
	if runs == 1 {
		lo, hi := ewChunk(n, i, t.parts)
		ewF32BinaryRuns(t.op, &t.bc, t.c, t.a, t.b, 0, 1, lo, hi)
		return
	}
	r0, r1 := i*runs/t.parts, (i+1)*runs/t.parts
	ewF32BinaryRuns(t.op, &t.bc, t.c, t.a, t.b, r0, r1, 0, n)
}

// ewChunk is part i of n elements cut in parts, in whole cache lines.
func ewChunk(n, i, parts int) (lo, hi int) {
	lo = (i * n / parts) &^ 15
	hi = ((i + 1) * n / parts) &^ 15
	if i == parts-1 {
		hi = n
	}
	return lo, hi
}

// ewF32BinaryRuns computes elements [lo, hi) of runs [r0, r1).
func ewF32BinaryRuns(op kernels.BinOp, bc *kernels.Broadcast, c, a, b []float32, r0, r1, lo, hi int) {
	sa, sb := bc.Steps()
	n := hi - lo
	k := r0
	for r := bc.RunsFrom(r0); k < r1 && r.Next(); k++ {
		o := c[r.Out+lo : r.Out+hi]
		switch {
		case n < ewVecMin:
			ewFloatArith(ewOpOf(op), o, a[r.A+lo*sa:], b[r.B+lo*sb:], sa, sb)
		case sa == 1 && sb == 1:
			kernels.Binary(op, o, a[r.A+lo:r.A+hi], b[r.B+lo:r.B+hi])
		case sa == 1:
			kernels.BinaryScalar(op, o, a[r.A+lo:r.A+hi], b[r.B])
		case sb == 1:
			kernels.ScalarBinary(op, o, a[r.A], b[r.B+lo:r.B+hi])
		default:
			ewFloatArith(ewOpOf(op), o, a[r.A:], b[r.B:], 0, 0)
		}
	}
}

// ewOpOf is the family's op code of a vector operation.
func ewOpOf(op kernels.BinOp) ewOp {
	return [...]ewOp{kernels.Add: ewAdd, kernels.Sub: ewSub, kernels.Mul: ewMul, kernels.Div: ewDiv}[op]
}

// ewF32Unary sets y = op(x), splitting a large tensor over the compute
// pool. y may be x.
func ewF32Unary(ctx context.Context, op kernels.UnaryOp, y, x []float32) {
	c := ComputeFrom(ctx)
	parts := c.Split(len(x)*ewUnaryCost(op), splitElems)
	if parts <= 1 {
		kernels.Unary(op, y[:len(x)], x)
		return
	}
	t := ewUnaryTasks.Get().(*ewUnaryTask)
	t.op, t.y, t.x, t.parts = op, y, x, parts
	c.Parallel(parts, t)
	*t = ewUnaryTask{}
	ewUnaryTasks.Put(t)
}

type ewUnaryTask struct {
	op    kernels.UnaryOp
	y, x  []float32
	parts int
}

var ewUnaryTasks = sync.Pool{New: func() any { return new(ewUnaryTask) }}

func (t *ewUnaryTask) Part(i int) {
	lo, hi := ewChunk(len(t.x), i, t.parts)
	kernels.Unary(t.op, t.y[lo:hi], t.x[lo:hi])
}
