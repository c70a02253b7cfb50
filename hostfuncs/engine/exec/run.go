package exec

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/device"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Run computes the graph's outputs, in graph order, from named inputs. The
// inputs are only read. The outputs belong to the caller: later runs never
// touch them.
func (p *Plan) Run(ctx context.Context, inputs []tensor.Named) ([]tensor.Named, error) {
	p.compute.Enter() // nil-safe: a plan without a budget counts nothing
	defer p.compute.Exit()
	st := p.acquire()
	outs, err := p.runOn(ctx, st, inputs)
	if err == nil || fault.KindOf(err) != fault.Internal {
		p.release(st)
	} else {
		p.free(st) // after a kernel bug, the state is not trusted again
	}
	return outs, err
}

// runOn binds the inputs to st, runs the graph on it and unbinds them.
func (p *Plan) runOn(ctx context.Context, st *state, inputs []tensor.Named) ([]tensor.Named, error) {
	defer p.unbind(st)
	if err := p.bind(st, inputs); err != nil {
		return nil, err
	}
	return p.run(ctx, st)
}

// bind validates the caller's inputs against the declared inputs and puts
// them in their slots.
func (p *Plan) bind(st *state, inputs []tensor.Named) error {
	for _, in := range inputs {
		i := p.inputIndex(in.Name)
		if i < 0 {
			return fault.Errorf(fault.Invalid, "unknown input %q; the model's inputs are %s", in.Name, p.inputList())
		}
		slot := p.inSlots[i]
		if st.vals[slot] != nil {
			return fault.Errorf(fault.Invalid, "input %q is given twice", in.Name)
		}
		t, err := accept(p.inputs[i], in.Tensor)
		if err != nil {
			return err
		}
		st.vals[slot] = t
	}
	for i, slot := range p.inSlots {
		if st.vals[slot] == nil {
			return fault.Errorf(fault.Invalid, "missing input %q (%v)", p.inputs[i].Name, p.inputs[i])
		}
	}
	return nil
}

func (p *Plan) inputIndex(name string) int {
	for i, in := range p.inputs {
		if in.Name == name {
			return i
		}
	}
	return -1
}

func (p *Plan) inputList() string {
	s := ""
	for i, in := range p.inputs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q %v", in.Name, in)
	}
	if s == "" {
		return "none"
	}
	return s
}

// accept checks a tensor against its declaration: dtype, rank and every
// fixed dimension. A tensor whose data is not aligned for its dtype (a
// slice of a larger buffer) is copied, because kernels view data in place.
func accept(decl graph.ValueInfo, t *tensor.Tensor) (*tensor.Tensor, error) {
	if t == nil {
		return nil, fault.Errorf(fault.Invalid, "input %q: no tensor given", decl.Name)
	}
	if err := t.Validate(); err != nil {
		return nil, fault.Errorf(fault.Invalid, "input %q: %w", decl.Name, err)
	}
	mismatch := t.DType != decl.DType
	if !decl.UnknownRank {
		mismatch = mismatch || len(t.Shape) != len(decl.Dims)
		for i := 0; !mismatch && i < len(decl.Dims); i++ {
			mismatch = decl.Dims[i].Fixed() && int64(t.Shape[i]) != decl.Dims[i].Size
		}
	}
	if mismatch {
		return nil, fault.Errorf(fault.Invalid, "input %q: expected %v, got %v%v", decl.Name, decl, t.DType, shapeString(t.Shape))
	}
	if !tensor.Aligned(t.Data, t.DType) {
		return t.Clone(), nil
	}
	return t, nil
}

func shapeString(s tensor.Shape) string {
	out := "["
	for i, d := range s {
		if i > 0 {
			out += ","
		}
		out += fmt.Sprint(d)
	}
	return out + "]"
}

// unbind drops the caller's tensors from the input slots, so an idle state
// does not keep them alive.
func (p *Plan) unbind(st *state) {
	for _, slot := range p.inSlots {
		st.vals[slot] = nil
	}
}

// run executes the steps on a bound state and detaches the outputs.
func (p *Plan) run(ctx context.Context, st *state) (outs []tensor.Named, err error) {
	kctx := ops.WithScratch(ctx, &st.scratch)
	if p.compute != nil {
		kctx = ops.WithCompute(kctx, p.compute)
	}
	p.sizeBuffers(st)
	prof := stepTimesFrom(ctx)
	if prof != nil {
		prof.begin(p)
	}
	for i := range p.steps {
		s := &p.steps[i]
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("run stopped before node %v: %w", s.node, err)
		}
		var t0 time.Time
		if prof != nil {
			t0 = time.Now()
		}
		if err := p.runStep(kctx, st, s); err != nil {
			return nil, err
		}
		if prof != nil {
			prof.Times[i] = append(prof.Times[i], time.Since(t0))
		}
	}
	if n := len(p.steps); n > 0 {
		// A long kernel stops early when the context ends and leaves its
		// output unfinished, so the last one's output is not trusted either.
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("run stopped in node %v: %w", p.steps[n-1].node, err)
		}
	}
	outs = make([]tensor.Named, len(p.outputs))
	for i, slot := range p.outSlots {
		var t *tensor.Tensor
		switch j := p.earlierOutput(i, slot); {
		case j >= 0: // listed twice: the first took the tensor
			t = outs[j].Clone()
		case p.slotKind[slot] == slotIntermediate:
			t, st.vals[slot] = st.vals[slot], nil // ownership passes to the caller
		default: // a constant or an input, which the caller must not alias
			t = st.vals[slot].Clone()
		}
		outs[i] = tensor.Named{Name: p.outputs[i].Name, Tensor: t}
	}
	total, arena := p.heldBytes(st)
	storeMax(&p.working, total)
	storeMax(&p.arena, arena)
	return outs, nil
}

// storeMax raises a to v if v is larger.
func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// sizeBuffers works out the buffer sizes of the run st is bound for, from
// its inputs' dimensions; they are computed again only when those change.
func (p *Plan) sizeBuffers(st *state) {
	changed := !st.sized
	for i, f := range p.mem.from {
		t := st.vals[p.inSlots[f.input]]
		if f.axis >= len(t.Shape) { // a rank mismatch the kernels will report
			st.sized = false
			return
		}
		if v := int64(t.Shape[f.axis]); v != st.bind[i] {
			st.bind[i], changed = v, true
		}
	}
	if changed {
		p.mem.bufferSizes(st.need, st.bind)
		st.sized = true
	}
}

// grow gives buffer b the device memory for st.need[b] bytes, charged to
// the context's allocation budget as an output of that size would be.
func (p *Plan) grow(ctx context.Context, st *state, b int32) error {
	n := st.need[b]
	if err := ops.Charge(ctx, n); err != nil {
		return err
	}
	buf, err := p.device.Alloc(int(n))
	if err != nil {
		return err
	}
	p.device.Free(st.mem[b])
	st.mem[b] = buf
	t := st.bufs[b]
	t.Data, t.Strings = buf.Bytes[:0], nil
	return nil
}

// keep records the tensor a kernel produced for a slot in buffer b. A
// kernel that brought its own memory (a value larger than planned, or of a
// size the plan could not tell) takes the buffer's place, and the device
// buffer goes back.
func (p *Plan) keep(st *state, b int32, t *tensor.Tensor) {
	if t == nil {
		return
	}
	if m := st.mem[b]; m.Size > 0 && (cap(t.Data) == 0 || unsafe.SliceData(t.Data) != unsafe.SliceData(m.Bytes)) {
		p.device.Free(m)
		st.mem[b] = device.Buffer{}
	}
	st.bufs[b] = t
}

// earlierOutput is the index of an earlier graph output with the same
// slot, or -1.
func (p *Plan) earlierOutput(i, slot int) int {
	for j, s := range p.outSlots[:i] {
		if s == slot {
			return j
		}
	}
	return -1
}

// runStep runs one node on st's values.
func (p *Plan) runStep(ctx context.Context, st *state, s *step) error {
	in, out := st.in[:len(s.in)], st.out[:len(s.out)]
	for i, slot := range s.in {
		in[i] = nil
		if slot >= 0 {
			in[i] = st.vals[slot]
		}
	}
	defer clear(in) // the argument lists must not keep tensors alive
	defer clear(out)
	for i, slot := range s.out {
		b := p.mem.buffer[slot]
		if b < 0 {
			out[i] = st.vals[slot]
			continue
		}
		if st.sized && st.need[b] > int64(cap(st.bufs[b].Data)) {
			if err := p.grow(ctx, st, b); err != nil {
				return fmt.Errorf("node %v: %w", s.node, err)
			}
		}
		out[i] = st.bufs[b]
	}
	st.scratch.Reset()
	if err := callKernel(ctx, s.node, s.kernel, in, out); err != nil {
		return err
	}
	for i, slot := range s.out {
		if b := p.mem.buffer[slot]; b >= 0 {
			p.keep(st, b, out[i])
		}
		st.vals[slot] = out[i]
	}
	return nil
}

// callKernel runs a node's kernel and checks that it produced every output
// the node names. A kernel that panics is a bug in the engine, and a model
// must not be able to turn it into a crash of the server: the panic becomes
// an Internal error.
func callKernel(ctx context.Context, n *graph.Node, k ops.Kernel, in, out []*tensor.Tensor) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fault.Errorf(fault.Internal, "node %v: kernel panicked: %v", n, r)
		}
	}()
	if err := k.Run(ctx, in, out); err != nil {
		return fmt.Errorf("node %v: %w", n, err)
	}
	for i, name := range n.Outputs {
		if name != "" && out[i] == nil {
			return fault.Errorf(fault.Internal, "node %v: kernel produced no output %q", n, name)
		}
	}
	return nil
}

// Warm runs the graph n times on zero-filled inputs, each on its own run
// state, so up to n warm states wait for real runs and WorkingBytes is
// known. It does nothing when an input has a dimension that is not fixed.
func (p *Plan) Warm(ctx context.Context, n int) error {
	inputs := make([]tensor.Named, len(p.inputs))
	for i, decl := range p.inputs {
		if !decl.Fixed() {
			return nil
		}
		shape := make(tensor.Shape, len(decl.Dims))
		for j, d := range decl.Dims {
			shape[j] = int(d.Size)
		}
		t, err := tensor.New(decl.DType, shape)
		if err != nil {
			return fault.Errorf(fault.Invalid, "input %q: %w", decl.Name, err)
		}
		inputs[i] = tensor.Named{Name: decl.Name, Tensor: t}
	}
	n = min(n, p.maxIdle)
	states := make([]*state, 0, n)
	defer func() {
		for _, st := range states {
			p.release(st)
		}
	}()
	for range n {
		st := p.acquire() // already-warm idle states count towards n
		if _, err := p.runOn(ctx, st, inputs); err != nil {
			return fmt.Errorf("warming up: %w", err)
		}
		states = append(states, st)
	}
	return nil
}
