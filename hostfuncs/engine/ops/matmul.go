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

func matmulSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("A:T", "B:T"), Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": ts}, Build: buildMatMul,
		}
	}
	v9 := cat(floats(), wideInts())
	return []Schema{v(1, floats()), v(9, v9), v(13, cat(v9, []tensor.DType{tensor.BFloat16}))}
}

func buildMatMul(*graph.Node, int64) (Kernel, error) { return KernelFunc(matmul), nil }

// mmShape is a MatMul's geometry under numpy.matmul rules.
type mmShape struct {
	m, n, k      int
	batch        []int // broadcast batch dimensions
	aBat, bBat   []int // each operand's own batch dimensions
	bc           kernels.Broadcast
	out          []int
	bBatchSingle bool // B has one matrix, shared by every batch entry
}

// matmulShape applies numpy.matmul's rules: a 1-D A is a row vector and a
// 1-D B a column vector (the added dimension is dropped from the result);
// dimensions before the last two are batch dimensions and broadcast.
func matmulShape(a, b tensor.Shape, batchBuf, outBuf []int) (mmShape, error) {
	var s mmShape
	ra, rb := len(a), len(b)
	if ra == 0 || rb == 0 {
		return s, fault.Errorf(fault.Invalid, "MatMul: operands must have rank 1 or more, got %v and %v", []int(a), []int(b))
	}
	var kb int
	dropM, dropN := ra == 1, rb == 1
	if dropM {
		s.m, s.k = 1, a[0]
	} else {
		s.m, s.k = a[ra-2], a[ra-1]
		s.aBat = a[:ra-2]
	}
	if dropN {
		kb, s.n = b[0], 1
	} else {
		kb, s.n = b[rb-2], b[rb-1]
		s.bBat = b[:rb-2]
	}
	if kb != s.k {
		return s, fault.Errorf(fault.Invalid, "MatMul: shapes %v and %v: inner dimensions %d and %d differ", []int(a), []int(b), s.k, kb)
	}
	var err error
	if s.batch, err = kernels.BroadcastShape(batchBuf, s.aBat, s.bBat); err != nil {
		return s, fault.Errorf(fault.Invalid, "MatMul: batch dimensions: %w", err)
	}
	if s.bc, err = kernels.NewBroadcast(s.batch, s.aBat, s.bBat); err != nil {
		return s, fault.Errorf(fault.Invalid, "MatMul: batch dimensions: %w", err)
	}
	s.bBatchSingle = prod(s.bBat) == 1
	s.out = append(outBuf, s.batch...)
	if !dropM {
		s.out = append(s.out, s.m)
	}
	if !dropN {
		s.out = append(s.out, s.n)
	}
	return s, nil
}

func matmul(ctx context.Context, in, out []*tensor.Tensor) error {
	a, b := in[0], in[1]
	if a.DType != b.DType {
		return fault.Errorf(fault.Invalid, "MatMul: operands are %s and %s", a.DType.ONNXName(), b.DType.ONNXName())
	}
	var batchBuf, outBuf [tensor.MaxRank]int
	s, err := matmulShape(a.Shape, b.Shape, batchBuf[:0], outBuf[:0])
	if err != nil {
		return err
	}
	y, err := Output(ctx, out[0], a.DType, s.out)
	if err != nil {
		return err
	}
	out[0] = y
	switch a.DType {
	case tensor.Float32:
		return matmulF32(ctx, &s, tensor.Values[float32](a), tensor.Values[float32](b), tensor.Values[float32](y))
	case tensor.Float64:
		return batched(ctx, &s, tensor.Values[float64](a), tensor.Values[float64](b), tensor.Values[float64](y), floatGemm[float64])
	case tensor.Int32:
		return batched(ctx, &s, tensor.Values[int32](a), tensor.Values[int32](b), tensor.Values[int32](y), intGemm[int32])
	case tensor.Int64:
		return batched(ctx, &s, tensor.Values[int64](a), tensor.Values[int64](b), tensor.Values[int64](y), intGemm[int64])
	case tensor.Uint32:
		return batched(ctx, &s, tensor.Values[uint32](a), tensor.Values[uint32](b), tensor.Values[uint32](y), intGemm[uint32])
	case tensor.Uint64:
		return batched(ctx, &s, tensor.Values[uint64](a), tensor.Values[uint64](b), tensor.Values[uint64](y), intGemm[uint64])
	case tensor.Float16, tensor.BFloat16:
		sc := ScratchFrom(ctx)
		af, bf, yf := ScratchSlice[float32](sc, a.Len()), ScratchSlice[float32](sc, b.Len()), ScratchSlice[float32](sc, y.Len())
		widen(af, a)
		widen(bf, b)
		if err := matmulF32(ctx, &s, af, bf, yf); err != nil {
			return err
		}
		narrow(y, yf)
		return nil
	}
	return fault.Errorf(fault.Unsupported, "MatMul of %s", a.DType.ONNXName())
}

// batched runs one m×k by k×n product per batch entry, or a single
// (batch·m)×k by k×n product when every entry shares B and A's entries are
// contiguous, which gives the GEMM one large problem instead of many small.
func batched[T any](ctx context.Context, s *mmShape, a, b, c []T, mul func(m, n, k int, a, b, c []T)) error {
	m, n, k := s.m, s.n, s.k
	if s.bBatchSingle && prod(s.aBat) == s.bc.Len() {
		mul(s.bc.Len()*m, n, k, a, b, c)
		return nil
	}
	inner := s.bc.Inner()
	sa, sb := s.bc.Steps()
	for r := s.bc.Runs(); r.Next(); {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("MatMul: %w", err)
		}
		for i := range inner {
			ao, bo, co := (r.A+i*sa)*m*k, (r.B+i*sb)*k*n, (r.Out+i)*m*n
			mul(m, n, k, a[ao:ao+m*k], b[bo:bo+k*n], c[co:co+m*n])
		}
	}
	return nil
}

func floatGemm[T kernels.Float](m, n, k int, a, b, c []T) {
	kernels.Gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
}

// matmulF32 is float32 MatMul, the one entry point to the GEMM for it.
// When cores are free (ComputeFrom), a batch of products too small to
// split one by one (attention's per-head products) is spread over the
// pool a range of entries per thread; otherwise each product is
// SgemmParallel, which splits those large enough.
func matmulF32(ctx context.Context, s *mmShape, a, b, c []float32) error {
	cmp := ComputeFrom(ctx)
	m, n, k := s.m, s.n, s.k
	entries := s.bc.Len()
	if s.bBatchSingle && prod(s.aBat) == entries {
		m, entries = entries*m, 1 // one tall product, see batched
	}
	flops := 2 * m * n * k
	if parts := min(entries, cmp.Split(entries*flops, 1<<20)); parts > 1 && flops < 2<<20 {
		t := mmTasks.Get().(*mmTask)
		*t = mmTask{bc: s.bc, m: m, n: n, k: k, a: a, b: b, c: c, entries: entries, parts: parts, stop: stopOf(ctx)}
		cmp.Parallel(parts, t)
		*t = mmTask{}
		mmTasks.Put(t)
		return ctx.Err()
	}
	pool, threads, stop := cmp.Pool(), cmp.Threads(), stopOf(ctx)
	if err := batched(ctx, s, a, b, c, func(m, n, k int, a, b, c []float32) {
		kernels.SgemmParallelStop(pool, threads, stop, false, false, m, n, k, 1, a, k, b, n, 0, c, n)
	}); err != nil {
		return err
	}
	return ctx.Err() // a stopped GEMM left c unfinished
}

// mmTask is a batched MatMul split over entries. It holds copies of the
// shape's values, not the caller's mmShape, whose slices live on the
// caller's stack.
type mmTask struct {
	bc             kernels.Broadcast
	m, n, k        int
	a, b, c        []float32
	entries, parts int
	stop           kernels.Stop
}

var mmTasks = sync.Pool{New: func() any { return new(mmTask) }}

func (t *mmTask) Part(i int) {
	m, n, k := t.m, t.n, t.k
	e0, e1 := i*t.entries/t.parts, (i+1)*t.entries/t.parts
	inner := t.bc.Inner()
	sa, sb := t.bc.Steps()
	// Entry e is run e/inner, position e%inner: walk from the first run.
	for r := t.bc.RunsFrom(e0 / inner); e0 < e1 && r.Next(); {
		if t.stop.Stopped() {
			return
		}
		for j := e0 % inner; j < inner && e0 < e1; j++ {
			ao, bo, co := (r.A+j*sa)*m*k, (r.B+j*sb)*k*n, (r.Out+j)*m*n
			kernels.Sgemm(false, false, m, n, k, 1, t.a[ao:ao+m*k], k, t.b[bo:bo+k*n], n, 0, t.c[co:co+m*n], n)
			e0++
		}
	}
}

// intGemm multiplies integer matrices exactly, wrapping on overflow as
// numpy does.
func intGemm[T int32 | int64 | uint32 | uint64](m, n, k int, a, b, c []T) {
	clear(c[:m*n])
	for i := range m {
		row := c[i*n : (i+1)*n]
		for p, av := range a[i*k : (i+1)*k] {
			if av == 0 {
				continue
			}
			for j, bv := range b[p*n : (p+1)*n] {
				row[j] += av * bv
			}
		}
	}
}
