package ops

import (
	"context"
	"fmt"
	"sync"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// fusedAttention is FusedDomain's FusedAttention, scaled dot-product
// attention as exporters write it: Y = Softmax(Q·Kt op scale + Mask)·V,
// with Kt the keys already transposed ([..., D, T]), op "Div" or "Mul"
// (scale_op; "" for no scaling), the softmax over the last axis and Mask
// optional. It computes one batch entry (a head of one sequence) at a time:
// the scores of an entry stay in a cache-sized scratch buffer, scaled,
// masked and normalised row by row, and are multiplied by V before the
// next entry's, so the [..., S, T] score tensors the unfused graph writes
// and reads three times never reach memory. Entries split over the compute
// pool. Each step is the unfused operator's float32 arithmetic in the
// same order, so the result is the unfused graph's.
type fusedAttention struct {
	scale   float32
	scaleOp string
}

func buildFusedAttention(n *graph.Node, _ int64) (Kernel, error) {
	k := fusedAttention{}
	var err error
	if k.scale, err = n.AttrFloat("scale", 1); err != nil {
		return nil, err
	}
	if k.scaleOp, err = n.AttrString("scale_op", ""); err != nil {
		return nil, err
	}
	switch k.scaleOp {
	case "", "Div", "Mul":
	default:
		return nil, fault.Errorf(fault.Invalid, `scale_op must be "", "Div" or "Mul", got %q`, k.scaleOp)
	}
	return k, nil
}

// attnShape is the geometry of the fast path: entries independent
// products of S×D by D×T, and of S×T by T×E.
type attnShape struct {
	entries, s, d, t, e int
	// The batch dimensions (nb of them) and the mask's strides: per batch
	// dimension, per score row, per score column (0 where the mask
	// repeats). Arrays, not slices, so the task holding a copy does not
	// pin the caller's stack.
	nb         int
	batchDims  [tensor.MaxRank]int
	maskStride [tensor.MaxRank]int
	rowStride  int
	colStride  int
}

// shape checks the operands fit the fast path: equal ranks of at least 2,
// equal batch dimensions, matching inner sizes, a mask that broadcasts
// into the scores without enlarging them.
func (k fusedAttention) shape(q, kt, v, mask *tensor.Tensor) (attnShape, bool) {
	r := len(q.Shape)
	if r < 2 || len(kt.Shape) != r || len(v.Shape) != r {
		return attnShape{}, false
	}
	for i := range r - 2 {
		if kt.Shape[i] != q.Shape[i] || v.Shape[i] != q.Shape[i] {
			return attnShape{}, false
		}
	}
	a := attnShape{s: q.Shape[r-2], d: q.Shape[r-1], t: kt.Shape[r-1], e: v.Shape[r-1]}
	if kt.Shape[r-2] != a.d || v.Shape[r-2] != a.t {
		return attnShape{}, false
	}
	a.entries = prod(q.Shape[:r-2])
	a.nb = r - 2
	copy(a.batchDims[:], q.Shape[:r-2])
	if mask == nil {
		return a, true
	}
	mr := len(mask.Shape)
	if mr > r {
		return attnShape{}, false
	}
	stride := 1
	for i := r - 1; i >= 0; i-- {
		size := a.t // the scores' dimension i
		if i < r-1 {
			size = q.Shape[i]
		}
		mi := i - (r - mr)
		st := 0
		if mi >= 0 {
			switch md := mask.Shape[mi]; {
			case md == size:
				st = stride
				stride *= md
			case md != 1:
				return attnShape{}, false
			}
		}
		switch {
		case i == r-1:
			a.colStride = st
		case i == r-2:
			a.rowStride = st
		default:
			a.maskStride[i] = st
		}
	}
	return a, true
}

func (k fusedAttention) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	q, kt, v := in[0], in[1], in[2]
	var mask *tensor.Tensor
	if len(in) > 3 {
		mask = in[3]
	}
	a, ok := k.shape(q, kt, v, mask)
	if !ok {
		return k.unfused(ctx, q, kt, v, mask, out)
	}
	var shapeBuf [tensor.MaxRank]int
	shape := append(append(shapeBuf[:0], q.Shape[:len(q.Shape)-1]...), a.e)
	y, err := Output(ctx, out[0], tensor.Float32, shape)
	if err != nil {
		return err
	}
	out[0] = y
	if a.entries == 0 || a.s == 0 || a.e == 0 {
		return nil
	}
	cmp := ComputeFrom(ctx)
	flops := 2 * a.s * a.t * (a.d + a.e)
	parts := min(a.entries, cmp.Split(a.entries*flops, 1<<20))
	scores, stride := PartScratch[float32](ScratchFrom(ctx), parts, a.s*a.t)
	t := attnTasks.Get().(*attnTask)
	*t = attnTask{k: k, a: a, q: tensor.Values[float32](q), kt: tensor.Values[float32](kt), v: tensor.Values[float32](v),
		y: tensor.Values[float32](y), parts: parts, stop: stopOf(ctx), scores: scores, stride: stride}
	if mask != nil {
		t.mask = tensor.Values[float32](mask)
	}
	cmp.Parallel(parts, t)
	*t = attnTask{}
	attnTasks.Put(t)
	return ctx.Err()
}

type attnTask struct {
	k                 fusedAttention
	a                 attnShape
	q, kt, v, mask, y []float32
	scores            []float32
	stride            int // between the parts' scores
	parts             int
	stop              kernels.Stop // polled between entries and inside their GEMMs
}

var attnTasks = sync.Pool{New: func() any { return new(attnTask) }}

func (t *attnTask) Part(i int) {
	a := &t.a
	sc := t.scores[i*t.stride:][:a.s*a.t]
	for e := i * a.entries / t.parts; e < (i+1)*a.entries/t.parts && !t.stop.Stopped(); e++ {
		kernels.SgemmBiasStop(nil, 1, t.stop, false, false, a.s, a.t, a.d, 1, t.q[e*a.s*a.d:], a.d, t.kt[e*a.d*a.t:], a.t, 0, sc, a.t, nil)
		moff := 0
		if t.mask != nil { // the entry's mask offset, from its batch index
			rest := e
			for j := a.nb - 1; j >= 0; j-- {
				moff += rest % a.batchDims[j] * a.maskStride[j]
				rest /= a.batchDims[j]
			}
		}
		for r := range a.s {
			row := sc[r*a.t : (r+1)*a.t]
			switch t.k.scaleOp {
			case "Div":
				kernels.BinaryScalar(kernels.Div, row, row, t.k.scale)
			case "Mul":
				kernels.BinaryScalar(kernels.Mul, row, row, t.k.scale)
			}
			if t.mask != nil {
				mo := moff + r*a.rowStride
				if a.colStride == 0 {
					kernels.BinaryScalar(kernels.Add, row, row, t.mask[mo])
				} else {
					kernels.Binary(kernels.Add, row, row, t.mask[mo:mo+a.t])
				}
			}
			softmaxRowRange(false, row, row, a.t, 0, 1)
		}
		kernels.SgemmBiasStop(nil, 1, t.stop, false, false, a.s, a.e, a.t, 1, sc, a.t, t.v[e*a.t*a.e:], a.e, 0, t.y[e*a.s*a.e:], a.e, nil)
	}
}

// unfused computes the operator step by step with the standard kernels,
// for operands the fast path does not take (broadcast batch dimensions,
// 1-D operands, a mask that enlarges the scores): the unfused graph's
// result, shapes and errors included.
func (k fusedAttention) unfused(ctx context.Context, q, kt, v, mask *tensor.Tensor, out []*tensor.Tensor) error {
	s := []*tensor.Tensor{nil}
	if err := matmul(ctx, []*tensor.Tensor{q, kt}, s); err != nil {
		return fmt.Errorf("FusedAttention: %w", err)
	}
	scores := tensor.Values[float32](s[0])
	switch k.scaleOp {
	case "Div":
		kernels.BinaryScalar(kernels.Div, scores, scores, k.scale)
	case "Mul":
		kernels.BinaryScalar(kernels.Mul, scores, scores, k.scale)
	}
	x := s[0]
	if mask != nil {
		var err error
		if x, err = addBroadcast(ctx, x, mask); err != nil {
			return fmt.Errorf("FusedAttention: %w", err)
		}
	}
	p := []*tensor.Tensor{nil}
	if err := (softmaxKernel{kind: softMax, axis: -1}).Run(ctx, []*tensor.Tensor{x}, p); err != nil {
		return fmt.Errorf("FusedAttention: %w", err)
	}
	if err := matmul(ctx, []*tensor.Tensor{p[0], v}, out); err != nil {
		return fmt.Errorf("FusedAttention: %w", err)
	}
	return nil
}
