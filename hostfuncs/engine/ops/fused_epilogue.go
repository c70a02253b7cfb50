package ops

import (
	"context"
	"sync"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// activation is the function a fused kernel applies to its result, as its
// "activation" attribute names it: "" (none), "Relu" or "Gelu" (exact,
// erf-based).
type activation struct {
	op  kernels.UnaryOp
	set bool
}

func readActivation(n *graph.Node) (activation, error) {
	s, err := n.AttrString("activation", "")
	if err != nil {
		return activation{}, err
	}
	switch s {
	case "":
		return activation{}, nil
	case "Relu":
		return activation{op: kernels.Relu, set: true}, nil
	case "Gelu":
		return activation{op: kernels.Gelu, set: true}, nil
	}
	return activation{}, fault.Errorf(fault.Invalid, `activation must be "", "Relu" or "Gelu", got %q`, s)
}

// epilogueChunk is how many elements the epilogue finishes at a time:
// small enough that the add and the activation find them in L1.
const epilogueChunk = 4096

// fusedEpilogue finishes a fused kernel's result in place: y (rows of n
// values) gets bias (n values, nil: none) added to every row, then z (as
// long as y, nil: none) added, then act applied, a chunk at a time so each
// element is loaded once; a large y splits over the compute pool.
func fusedEpilogue(ctx context.Context, y []float32, n int, bias, z []float32, act activation) {
	if (bias == nil && z == nil && !act.set) || len(y) == 0 {
		return
	}
	cost := 1
	if act.set {
		cost += ewUnaryCost(act.op)
	}
	rows := len(y) / n
	c := ComputeFrom(ctx)
	parts := c.Split(len(y)*cost, splitElems)
	if bias != nil {
		parts = min(parts, rows)
	}
	if parts <= 1 {
		epilogueRange(y, n, bias, z, act, 0, len(y))
		return
	}
	t := epilogueTasks.Get().(*epilogueTask)
	*t = epilogueTask{y: y, n: n, bias: bias, z: z, act: act, parts: parts}
	c.Parallel(parts, t)
	*t = epilogueTask{}
	epilogueTasks.Put(t)
}

type epilogueTask struct {
	y, bias, z []float32
	n, parts   int
	act        activation
}

var epilogueTasks = sync.Pool{New: func() any { return new(epilogueTask) }}

func (t *epilogueTask) Part(i int) {
	if t.bias != nil { // whole rows, so each part starts a row
		rows := len(t.y) / t.n
		epilogueRange(t.y, t.n, t.bias, t.z, t.act, i*rows/t.parts*t.n, (i+1)*rows/t.parts*t.n)
		return
	}
	lo, hi := ewChunk(len(t.y), i, t.parts)
	epilogueRange(t.y, t.n, t.bias, t.z, t.act, lo, hi)
}

// epilogueRange does elements [lo, hi) of y; with a bias, lo is the start
// of a row.
func epilogueRange(y []float32, n int, bias, z []float32, act activation, lo, hi int) {
	step := epilogueChunk
	if bias != nil {
		step = max(1, epilogueChunk/n) * n
	}
	for c0 := lo; c0 < hi; c0 += step {
		c1 := min(c0+step, hi)
		if bias != nil {
			for r := c0; r < c1; r += n {
				row := y[r : r+n]
				kernels.Binary(kernels.Add, row, row, bias)
			}
		}
		if z != nil {
			kernels.Binary(kernels.Add, y[c0:c1], y[c0:c1], z[c0:c1])
		}
		if act.set {
			kernels.Unary(act.op, y[c0:c1], y[c0:c1])
		}
	}
}

// addBroadcast computes a + b with Add's numpy broadcasting into a new
// tensor: the general case a fused kernel falls back to when an operand's
// shape is not the one its fast path handles.
func addBroadcast(ctx context.Context, a, b *tensor.Tensor) (*tensor.Tensor, error) {
	out := []*tensor.Tensor{nil}
	if err := (add{}).Run(ctx, []*tensor.Tensor{a, b}, out); err != nil {
		return nil, err
	}
	return out[0], nil
}
