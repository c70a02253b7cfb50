package exec

import (
	"cmp"
	"hash/fnv"
	"slices"
	"strconv"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/shapes"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// memPlan is a plan's memory plan: which buffer each intermediate value
// lives in, and how to size the buffers for a run's inputs.
//
// Intermediate values (neither inputs, constants nor graph outputs) share
// buffers when their lifetimes, from the step that produces them to the
// last step that reads them, do not overlap. The lifetimes are closed
// intervals, so a step's outputs never share a buffer with its inputs
// (kernels assume no aliasing) nor with each other. The assignment is made
// once, greedily by size at the reference dimensions: largest value first,
// into the smallest buffer that is free for its whole lifetime, else a new
// one. It does not depend on the sizes of a run: a buffer is sized, per
// run, to the largest value placed in it under that run's dimensions, so
// one plan serves every batch size.
type memPlan struct {
	buffer  []int32    // by slot: buffer index, -1 for a slot outside the arena
	size    []sizeExpr // by slot: bytes of an arena value
	buffers int
	// symbols are the dimension symbols of the graph inputs, each bound at
	// run time from the first input axis that declares it.
	symbols []string
	from    []axisRef // by symbol
	ref     []int64   // by symbol: the size the figures of Report are at
	layout  uint64    // fingerprint of the assignment
	values  int       // arena values
	unsized int       // arena values whose size inference could not tell
}

// sizeExpr is a value's size in bytes as k times the product of symbols
// (indices into memPlan.symbols); ok is false when it is not known.
type sizeExpr struct {
	k    int64
	syms []int32
	ok   bool
}

// eval is the size under a binding of the symbols, or -1 when unknown or
// out of range.
func (e *sizeExpr) eval(bind []int64) int64 {
	if !e.ok {
		return -1
	}
	n := e.k
	for _, s := range e.syms {
		v := bind[s]
		if v < 0 || (v > 0 && n > maxBufferBytes/v) {
			return -1
		}
		n *= v
	}
	return n
}

// layoutDim is the size a symbol without a reference size (WithReferenceDims)
// has when the planner orders values by size: large enough that the terms
// that grow fastest (attention scores, quadratic in the sequence) already
// dominate as they do in real use, which a size of 1 would hide.
const layoutDim = 64

// maxBufferBytes bounds the buffers the executor sizes ahead of a kernel:
// the largest output ops.Output allows (tensor.MaxElements of 8-byte
// elements). A value inferred larger is left to its kernel, whose checks
// run before it allocates.
const maxBufferBytes = tensor.MaxElements * 8

// axisRef is an input axis.
type axisRef struct{ input, axis int }

// lifetime is the span of steps over which a value must keep its buffer.
type lifetime struct{ def, last int }

func (a lifetime) overlaps(b lifetime) bool { return a.def <= b.last && b.def <= a.last }

// planMemory assigns the intermediate slots of a plan to buffers. vals are
// the inferred values by name, dtypes the executor's own, refDims the
// reference sizes of symbols (1 for any not given).
func planMemory(p *Plan, vals map[string]shapes.Value, dtypes map[string]tensor.DType, refDims map[string]int64) memPlan {
	mp := memPlan{buffer: make([]int32, p.nSlots), size: make([]sizeExpr, p.nSlots)}
	symIndex := map[string]int32{}
	var layout []int64 // by symbol: the size values are ordered by
	for i, in := range p.inputs {
		if in.UnknownRank {
			continue
		}
		for ax, d := range in.Dims {
			if d.Fixed() {
				continue
			}
			name := shapes.InputSymbol(in, ax)
			if _, ok := symIndex[name]; ok {
				continue
			}
			symIndex[name] = int32(len(mp.symbols))
			mp.symbols = append(mp.symbols, name)
			mp.from = append(mp.from, axisRef{input: i, axis: ax})
			ref, lay := int64(1), int64(layoutDim)
			if v, ok := refDims[name]; ok && v >= 0 {
				ref, lay = v, v
			}
			mp.ref = append(mp.ref, ref)
			layout = append(layout, lay)
		}
	}

	// Lifetimes of the slots the steps produce.
	life := make([]lifetime, p.nSlots)
	names := make([]string, p.nSlots)
	for i := range life {
		life[i] = lifetime{-1, -1}
		mp.buffer[i] = -1
	}
	for i, st := range p.steps {
		for j, s := range st.out {
			life[s] = lifetime{i, i}
			names[s] = st.node.Outputs[j]
		}
		for _, s := range st.in {
			if s >= 0 && life[s].def >= 0 {
				life[s].last = i
			}
		}
	}
	isOutput := make([]bool, p.nSlots)
	for _, s := range p.outSlots {
		isOutput[s] = true
	}

	// Sized values share buffers; the others get one each.
	type cand struct {
		slot int
		ref  int64
	}
	var sized []cand
	for s := range p.nSlots {
		if p.slotKind[s] != slotIntermediate || isOutput[s] {
			continue
		}
		mp.values++
		mp.size[s] = sizeOf(names[s], vals, dtypes, symIndex)
		if ref := mp.size[s].eval(layout); mp.size[s].ok && ref >= 0 {
			sized = append(sized, cand{s, ref})
			continue
		}
		mp.size[s] = sizeExpr{}
		mp.unsized++
		mp.buffer[s] = int32(mp.buffers)
		mp.buffers++
	}
	slices.SortStableFunc(sized, func(a, b cand) int {
		if c := cmp.Compare(b.ref, a.ref); c != 0 {
			return c
		}
		return cmp.Compare(life[a.slot].def, life[b.slot].def)
	})
	type shared struct {
		index int32
		ref   int64
		lives []lifetime
	}
	var pool []*shared
	for _, v := range sized {
		lt := life[v.slot]
		var best *shared
		for _, b := range pool {
			if slices.ContainsFunc(b.lives, lt.overlaps) {
				continue
			}
			if best == nil || b.ref < best.ref {
				best = b
			}
		}
		if best == nil {
			best = &shared{index: int32(mp.buffers), ref: v.ref}
			mp.buffers++
			pool = append(pool, best)
		}
		best.lives = append(best.lives, lt)
		mp.buffer[v.slot] = best.index
	}

	h := fnv.New64a()
	for _, b := range mp.buffer {
		h.Write(strconv.AppendInt(nil, int64(b), 10))
		h.Write([]byte{','})
	}
	mp.layout = h.Sum64()
	return mp
}

// sizeOf is the size expression of a value from its inferred shape and
// dtype; not ok unless every dimension is fixed or a symbol of the inputs.
func sizeOf(name string, vals map[string]shapes.Value, dtypes map[string]tensor.DType, symIndex map[string]int32) sizeExpr {
	v, ok := vals[name]
	if !ok || !v.Known {
		return sizeExpr{}
	}
	dt := dtypes[name]
	if dt == tensor.Invalid {
		dt = v.DType
	}
	if !dt.Valid() || dt == tensor.Bytes || dt.Size() <= 0 {
		return sizeExpr{}
	}
	e := sizeExpr{k: int64(dt.Size()), ok: true}
	for _, d := range v.Shape {
		if e.k > maxBufferBytes/max(1, d.Coefficient()) {
			return sizeExpr{}
		}
		e.k *= d.Coefficient()
		for _, s := range d.Symbols() {
			i, ok := symIndex[s]
			if !ok {
				return sizeExpr{}
			}
			e.syms = append(e.syms, i)
		}
	}
	return e
}

// bufferSizes sets need to each buffer's size under a binding: the largest
// value placed in it, 0 for a buffer whose size is not known.
func (mp *memPlan) bufferSizes(need []int64, bind []int64) {
	clear(need)
	for s, b := range mp.buffer {
		if b < 0 {
			continue
		}
		if n := mp.size[s].eval(bind); n > need[b] {
			need[b] = n
		}
	}
}

// figures are the planned and the naive bytes of the intermediates under a
// binding: the buffers the plan holds, and one buffer per value.
func (mp *memPlan) figures(bind []int64) (planned, naive int64) {
	need := make([]int64, mp.buffers)
	mp.bufferSizes(need, bind)
	for _, n := range need {
		planned += n
	}
	for s, b := range mp.buffer {
		if b >= 0 {
			naive += max(0, mp.size[s].eval(bind))
		}
	}
	return planned, naive
}

// binding is the reference binding with the sizes of dims replacing it.
func (mp *memPlan) binding(dims map[string]int64) []int64 {
	bind := slices.Clone(mp.ref)
	for i, name := range mp.symbols {
		if v, ok := dims[name]; ok {
			bind[i] = v
		}
	}
	return bind
}

// inferShapes infers the shapes of the compiled graph: inputs, constants
// and the steps' outputs. A node no rule covers (one a rewrite introduced)
// takes the shapes inferred on the model as written, by value name.
func inferShapes(cfg *config, original *graph.Model, opsets map[string]int64, inputs []graph.ValueInfo, consts map[string]*tensor.Tensor, order []*node) map[string]shapes.Value {
	inf := shapes.New(cfg.registry, opsets)
	for _, in := range inputs {
		inf.Input(in)
	}
	for name, t := range consts {
		inf.Const(name, t)
	}
	for _, nd := range order {
		if !shapes.HasRule(nd.n.Domain, nd.n.OpType) && original != nil {
			inf.Fallback(shapes.Infer(original, cfg.registry).Values())
			original = nil // once
		}
		inf.Node(nd.n)
	}
	return inf.Values()
}
