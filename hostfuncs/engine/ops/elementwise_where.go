package ops

import (
	"context"
	"fmt"
	"slices"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func ewWhereSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{Since: since, Inputs: params("condition:B", "X:T", "Y:T"), Outputs: params("output:T"), Build: ewBuildWhere,
			Types: map[string][]tensor.DType{"B": ewBools(), "T": ts}}
	}
	return []Schema{
		v(9, ewWithout(allTypes(), tensor.BFloat16)),
		v(16, allTypes()),
	}
}

func ewBuildWhere(*graph.Node, int64) (Kernel, error) { return KernelFunc(ewWhere), nil }

func ewWhere(ctx context.Context, in, out []*tensor.Tensor) error {
	c, x, y := in[0], in[1], in[2]
	if c.DType != tensor.Bool {
		return fault.Errorf(fault.Invalid, "Where: condition is %s, not BOOL", c.DType.ONNXName())
	}
	if x.DType != y.DType {
		return fault.Errorf(fault.Invalid, "Where: X is %s but Y is %s", x.DType.ONNXName(), y.DType.ONNXName())
	}
	var b1, b2 [tensor.MaxRank]int
	shape, err := kernels.BroadcastShape(b1[:0], c.Shape, x.Shape)
	if err == nil {
		shape, err = kernels.BroadcastShape(b2[:0], shape, y.Shape)
	}
	if err != nil {
		return fault.Errorf(fault.Invalid, "Where: %w", err)
	}
	it, err := ewNewIter3(shape, c.Shape, x.Shape, y.Shape)
	if err != nil {
		return fault.Errorf(fault.Invalid, "Where: %w", err)
	}
	o, err := Output(ctx, out[0], x.DType, shape)
	if err != nil {
		return err
	}
	out[0] = o
	cond := tensor.Values[bool](c)
	switch x.DType {
	case tensor.Bool:
		ewSelect(&it, tensor.Values[bool](o), cond, tensor.Values[bool](x), tensor.Values[bool](y))
	case tensor.Int8:
		ewSelect(&it, tensor.Values[int8](o), cond, tensor.Values[int8](x), tensor.Values[int8](y))
	case tensor.Uint8:
		ewSelect(&it, tensor.Values[uint8](o), cond, tensor.Values[uint8](x), tensor.Values[uint8](y))
	case tensor.Int16:
		ewSelect(&it, tensor.Values[int16](o), cond, tensor.Values[int16](x), tensor.Values[int16](y))
	case tensor.Uint16:
		ewSelect(&it, tensor.Values[uint16](o), cond, tensor.Values[uint16](x), tensor.Values[uint16](y))
	case tensor.Float16:
		ewSelect(&it, tensor.Values[tensor.F16](o), cond, tensor.Values[tensor.F16](x), tensor.Values[tensor.F16](y))
	case tensor.BFloat16:
		ewSelect(&it, tensor.Values[tensor.BF16](o), cond, tensor.Values[tensor.BF16](x), tensor.Values[tensor.BF16](y))
	case tensor.Int32:
		ewSelect(&it, tensor.Values[int32](o), cond, tensor.Values[int32](x), tensor.Values[int32](y))
	case tensor.Uint32:
		ewSelect(&it, tensor.Values[uint32](o), cond, tensor.Values[uint32](x), tensor.Values[uint32](y))
	case tensor.Float32:
		ewSelect(&it, tensor.Values[float32](o), cond, tensor.Values[float32](x), tensor.Values[float32](y))
	case tensor.Int64:
		ewSelect(&it, tensor.Values[int64](o), cond, tensor.Values[int64](x), tensor.Values[int64](y))
	case tensor.Uint64:
		ewSelect(&it, tensor.Values[uint64](o), cond, tensor.Values[uint64](x), tensor.Values[uint64](y))
	case tensor.Float64:
		ewSelect(&it, tensor.Values[float64](o), cond, tensor.Values[float64](x), tensor.Values[float64](y))
	case tensor.Bytes:
		// Copy the bytes: the output must not share memory with an input.
		n := it.inner()
		s0, s1, s2 := it.steps()
		for r := it.runs(); r.next(); {
			dst, cc, xx, yy := o.Strings[r.out:r.out+n], cond[r.off[0]:], x.Strings[r.off[1]:], y.Strings[r.off[2]:]
			for i := range dst {
				src := yy[i*s2]
				if cc[i*s0] {
					src = xx[i*s1]
				}
				dst[i] = append(dst[i][:0], src...)
			}
		}
	default:
		return fault.Errorf(fault.Unsupported, "Where of %s", x.DType.ONNXName())
	}
	return nil
}

func ewSelect[T any](it *ewIter3, o []T, c []bool, x, y []T) {
	n := it.inner()
	s0, s1, s2 := it.steps()
	for r := it.runs(); r.next(); {
		dst, cc, xx, yy := o[r.out:r.out+n], c[r.off[0]:], x[r.off[1]:], y[r.off[2]:]
		for i := range dst {
			if cc[i*s0] {
				dst[i] = xx[i*s1]
			} else {
				dst[i] = yy[i*s2]
			}
		}
	}
}

// ewIter3 is kernels.Broadcast for three operands: it maps an output shape
// onto three operands broadcast to it and iterates runs of the merged
// innermost dimension.
type ewIter3 struct {
	rank  int
	out   [tensor.MaxRank]int    // merged output dimensions
	st    [3][tensor.MaxRank]int // operand strides per merged dimension; 0 where broadcast
	total int
}

func ewNewIter3(out, a, b, c []int) (ewIter3, error) {
	var it ewIter3
	r := len(out)
	shapes := [3][]int{a, b, c}
	if r > tensor.MaxRank {
		return it, ewIterMismatch(out, a, b, c)
	}
	for _, s := range shapes {
		if len(s) > r {
			return it, ewIterMismatch(out, a, b, c)
		}
	}
	it.total = 1
	// Drop size-1 output dimensions and merge a dimension into the
	// previous one when every operand spans both or broadcasts over both.
	var prev [3]bool
	for i := range r {
		o := out[i]
		var has [3]bool
		for k, s := range shapes {
			d := 1
			if j := i - (r - len(s)); j >= 0 {
				d = s[j]
			}
			if d != o && d != 1 {
				return it, ewIterMismatch(out, a, b, c)
			}
			has[k] = d == o
		}
		it.total *= o
		if o == 1 {
			continue
		}
		if it.rank > 0 && has == prev {
			it.out[it.rank-1] *= o
			continue
		}
		it.out[it.rank] = o
		for k := range has {
			if has[k] {
				it.st[k][it.rank] = 1
			}
		}
		it.rank++
		prev = has
	}
	if it.total == 0 {
		it.rank = 0
	}
	for k := range it.st {
		acc := 1
		for i := it.rank - 1; i >= 0; i-- {
			if it.st[k][i] != 0 {
				it.st[k][i] = acc
				acc *= it.out[i]
			}
		}
	}
	return it, nil
}

// ewIterMismatch formats copies of the shapes, so callers' shape buffers
// can stay on the stack.
func ewIterMismatch(out, a, b, c []int) error {
	return fmt.Errorf("shapes %v, %v and %v do not broadcast to %v", slices.Clone(a), slices.Clone(b), slices.Clone(c), slices.Clone(out))
}

// inner is the length of every run.
func (it *ewIter3) inner() int {
	if it.total == 0 {
		return 0
	}
	if it.rank == 0 {
		return 1
	}
	return it.out[it.rank-1]
}

// steps are the operands' strides within a run (0 or 1).
func (it *ewIter3) steps() (int, int, int) {
	if it.rank == 0 {
		return 0, 0, 0
	}
	i := it.rank - 1
	return it.st[0][i], it.st[1][i], it.st[2][i]
}

type ewRuns3 struct {
	it       *ewIter3
	idx      [tensor.MaxRank]int
	off      [3]int // operand offsets of the current run's start
	out      int    // output offset of the current run's start
	started  bool
	finished bool
}

func (it *ewIter3) runs() ewRuns3 { return ewRuns3{it: it, finished: it.total == 0} }

func (r *ewRuns3) next() bool {
	if r.finished {
		return false
	}
	if !r.started {
		r.started = true
		return true
	}
	it := r.it
	r.out += it.inner()
	for d := it.rank - 2; d >= 0; d-- {
		r.idx[d]++
		for k := range r.off {
			r.off[k] += it.st[k][d]
		}
		if r.idx[d] < it.out[d] {
			return true
		}
		for k := range r.off {
			r.off[k] -= it.st[k][d] * it.out[d]
		}
		r.idx[d] = 0
	}
	r.finished = true
	return false
}
