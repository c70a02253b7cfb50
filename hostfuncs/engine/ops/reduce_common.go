package ops

import (
	"math"
	"unsafe"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Helpers shared by the reduce family: axis handling, the iteration of a
// reduction over any set of axes, and float64 working copies of float
// tensors.

// redInt is every integer element type.
type redInt interface {
	int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64
}

// redReal is every element type with native ordering and arithmetic.
type redReal interface {
	redInt | float32 | float64
}

// redFlag reads a 0/1 INT attribute.
func redFlag(n *graph.Node, name string, def int64) (bool, error) {
	v, err := n.AttrInt(name, def)
	if err != nil {
		return false, err
	}
	if v != 0 && v != 1 {
		return false, fault.Errorf(fault.Invalid, "%s must be 0 or 1, got %d", name, v)
	}
	return v == 1, nil
}

// redAxis resolves a possibly negative axis against a rank; the accepted
// range is [-rank, rank-1], or [-rank, rank] when past is set (the
// softmax-like operators of opsets before 13 coerce to 2-D at axis, and
// axis == rank is a valid split there).
func redAxis(op string, axis int64, rank int, past bool) (int, error) {
	hi := int64(rank) - 1
	if past {
		hi++
	}
	a := axis
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a > hi {
		return 0, fault.Errorf(fault.Invalid, "%s: axis %d is out of range for rank %d", op, axis, rank)
	}
	return int(a), nil
}

// redSplit views shape as [outer, n, inner] around axis.
func redSplit(shape []int, axis int) (outer, n, inner int) {
	outer, n, inner = 1, 1, 1
	for i, d := range shape {
		switch {
		case i < axis:
			outer *= d
		case i == axis:
			n = d
		default:
			inner *= d
		}
	}
	return outer, n, inner
}

// redSplitAt views shape as [outer, rest] split before axis.
func redSplitAt(shape []int, axis int) (outer, rest int) {
	outer, rest = 1, 1
	for i, d := range shape {
		if i < axis {
			outer *= d
		} else {
			rest *= d
		}
	}
	return outer, rest
}

// redScalarInt reads an integer input that must hold exactly one value
// (a 0-D tensor, or a 1-D tensor of one element as some exporters write).
func redScalarInt(op, what string, t *tensor.Tensor) (int64, error) {
	if t == nil || len(t.Shape) > 1 || t.Len() != 1 {
		return 0, fault.Errorf(fault.Invalid, "%s: %s must be a single integer", op, what)
	}
	switch t.DType {
	case tensor.Int64:
		return tensor.Values[int64](t)[0], nil
	case tensor.Int32:
		return int64(tensor.Values[int32](t)[0]), nil
	}
	return 0, fault.Errorf(fault.Invalid, "%s: %s must be INT32 or INT64, got %s", op, what, t.DType.ONNXName())
}

// redMask marks the axes a reduction folds. Axes may be negative; each may
// appear once.
func redMask(op string, axes []int64, rank int) ([tensor.MaxRank]bool, error) {
	var m [tensor.MaxRank]bool
	for _, a := range axes {
		i, err := redAxis(op, a, rank, false)
		if err != nil {
			return m, err
		}
		if m[i] {
			return m, fault.Errorf(fault.Invalid, "%s: axis %d appears more than once in %v", op, a, axes)
		}
		m[i] = true
	}
	return m, nil
}

// redPlan describes a reduction of a row-major tensor over a set of axes.
// Size-1 dimensions are dropped and neighbouring dimensions that are both
// reduced or both kept are merged, so the input is walked in order as runs
// of the innermost merged dimension: a run either folds into one output
// element or maps element-wise onto a run of outputs.
type redPlan struct {
	rank    int
	dims    [tensor.MaxRank]int
	reduced [tensor.MaxRank]bool
	ostride [tensor.MaxRank]int // output stride per merged dimension; 0 where reduced
	nIn     int
	nOut    int
	count   int // input elements folded into each output element
}

func newRedPlan(shape []int, mask *[tensor.MaxRank]bool) redPlan {
	p := redPlan{nIn: 1, nOut: 1, count: 1}
	for i, d := range shape {
		p.nIn *= d
		if mask[i] {
			p.count *= d
		} else {
			p.nOut *= d
		}
		if d == 1 {
			continue
		}
		if p.rank > 0 && p.reduced[p.rank-1] == mask[i] {
			p.dims[p.rank-1] *= d
			continue
		}
		p.dims[p.rank], p.reduced[p.rank] = d, mask[i]
		p.rank++
	}
	acc := 1
	for i := p.rank - 1; i >= 0; i-- {
		if !p.reduced[i] {
			p.ostride[i] = acc
			acc *= p.dims[i]
		}
	}
	return p
}

// redOutShape is the shape of a reduction's result.
func redOutShape(dst []int, shape []int, mask *[tensor.MaxRank]bool, keepdims bool) []int {
	for i, d := range shape {
		switch {
		case !mask[i]:
			dst = append(dst, d)
		case keepdims:
			dst = append(dst, 1)
		}
	}
	return dst
}

// inner is the length of every run.
func (p *redPlan) inner() int {
	if p.rank == 0 {
		return 1
	}
	return p.dims[p.rank-1]
}

// innerReduced reports whether each run folds into a single output.
func (p *redPlan) innerReduced() bool { return p.rank > 0 && p.reduced[p.rank-1] }

// redRuns walks the runs of a plan: In and Out are the element offsets
// of the current run in the input and the output.
type redRuns struct {
	p       *redPlan
	idx     [tensor.MaxRank]int
	In, Out int
	left    int
	started bool
}

func (p *redPlan) runs() redRuns {
	r := redRuns{p: p}
	if p.nIn > 0 {
		r.left = p.nIn / p.inner()
	}
	return r
}

func (r *redRuns) next() bool {
	if r.left == 0 {
		return false
	}
	r.left--
	if !r.started {
		r.started = true
		return true
	}
	p := r.p
	r.In += p.inner()
	for d := p.rank - 2; d >= 0; d-- {
		r.idx[d]++
		r.Out += p.ostride[d]
		if r.idx[d] < p.dims[d] {
			break
		}
		r.Out -= p.ostride[d] * p.dims[d]
		r.idx[d] = 0
	}
	return true
}

// redF64 returns t's values as float64: t's own data for DOUBLE, a scratch
// copy for the other float types.
func redF64(sc *Scratch, t *tensor.Tensor) []float64 {
	switch t.DType {
	case tensor.Float64:
		return tensor.Values[float64](t)
	case tensor.Float32:
		src := tensor.Values[float32](t)
		dst := ScratchSlice[float64](sc, len(src))
		for i, v := range src {
			dst[i] = float64(v)
		}
		return dst
	case tensor.Float16:
		src := tensor.Values[tensor.F16](t)
		dst := ScratchSlice[float64](sc, len(src))
		for i, v := range src {
			dst[i] = float64(v.Float32())
		}
		return dst
	case tensor.BFloat16:
		src := tensor.Values[tensor.BF16](t)
		dst := ScratchSlice[float64](sc, len(src))
		for i, v := range src {
			dst[i] = float64(v.Float32())
		}
		return dst
	}
	return nil
}

// redF64Out returns a float64 buffer for a float output: y's own data for
// DOUBLE, scratch otherwise, which redStore then rounds into y.
func redF64Out(sc *Scratch, y *tensor.Tensor) []float64 {
	if y.DType == tensor.Float64 {
		return tensor.Values[float64](y)
	}
	return ScratchSlice[float64](sc, y.Len())
}

// redStore rounds src into the float tensor y (for DOUBLE, copies it,
// unless src is y's own data). Half precision goes through float32, whose
// rounding is exact for every value a half can end up as except on
// exact ties, which a float64 intermediate result essentially never hits.
func redStore(y *tensor.Tensor, src []float64) {
	switch y.DType {
	case tensor.Float64:
		if d := tensor.Values[float64](y); len(d) > 0 && &d[0] != &src[0] {
			copy(d, src)
		}
	case tensor.Float32:
		d := tensor.Values[float32](y)
		for i, v := range src[:len(d)] {
			d[i] = float32(v)
		}
	case tensor.Float16:
		d := tensor.Values[tensor.F16](y)
		for i, v := range src[:len(d)] {
			d[i] = tensor.F16From(float32(v))
		}
	case tensor.BFloat16:
		d := tensor.Values[tensor.BF16](y)
		for i, v := range src[:len(d)] {
			d[i] = tensor.BF16From(float32(v))
		}
	}
}

// redFloat is the working type of the float kernels: float64 for DOUBLE
// data, float32 for the other float types, which widen into it exactly.
type redFloat interface{ float32 | float64 }

// redAs32 returns t's values as float32: t's own data for FLOAT, a scratch
// copy for the other float types (rounded, for DOUBLE).
func redAs32(sc *Scratch, t *tensor.Tensor) []float32 {
	switch t.DType {
	case tensor.Float32:
		return tensor.Values[float32](t)
	case tensor.Float64:
		src := tensor.Values[float64](t)
		dst := ScratchSlice[float32](sc, len(src))
		for i, v := range src {
			dst[i] = float32(v)
		}
		return dst
	}
	dst := ScratchSlice[float32](sc, t.Len())
	widen(dst, t)
	return dst
}

// redOut32 returns a float32 buffer for a float output other than DOUBLE:
// y's own data for FLOAT, scratch otherwise, which redStore32 then rounds
// into y.
func redOut32(sc *Scratch, y *tensor.Tensor) []float32 {
	if y.DType == tensor.Float32 {
		return tensor.Values[float32](y)
	}
	return ScratchSlice[float32](sc, y.Len())
}

// redStore32 rounds src into a FLOAT16 or BFLOAT16 y; FLOAT data is
// already in place.
func redStore32(y *tensor.Tensor, src []float32) {
	if y.DType != tensor.Float32 {
		narrow(y, src)
	}
}

// redLimits returns the smallest and largest values of T (infinities for
// floats), computed without boxing so a run does not allocate.
func redLimits[T redReal]() (lo, hi T) {
	half, inf := 0.5, math.Inf(1)
	if T(half) != 0 {
		return T(-inf), T(inf)
	}
	var zero T
	one := zero + 1
	if zero-one > zero { // unsigned: 0 - 1 wraps to the maximum
		return zero, zero - one
	}
	lo = -one
	for range unsafe.Sizeof(zero)*8 - 1 {
		lo *= 2
	}
	return lo, -(lo + one)
}
