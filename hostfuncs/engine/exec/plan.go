package exec

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/device"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/fusion"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/shapes"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Plan is a compiled graph, ready to run concurrently.
type Plan struct {
	inputs  []graph.ValueInfo // caller-supplied inputs, in graph order
	outputs []graph.ValueInfo
	steps   []step
	nSlots  int
	// slotKind says what each value slot holds, so a run knows which
	// tensors it owns.
	slotKind []slotKind
	consts   []*tensor.Tensor // by slot; nil where not constant
	inSlots  []int            // slot of each input
	outSlots []int            // slot of each output
	maxIn    int              // widest node's input count
	maxOut   int

	mem     memPlan
	device  device.Device
	fused   fusion.Counts
	fuseErr error // why fusion was skipped, if it failed

	weights int64
	working atomic.Int64     // largest held bytes of a warm state
	arena   atomic.Int64     // largest bytes of a warm state's value buffers
	compute *kernels.Compute // nil: kernels run on the caller alone

	maxIdle int
	mu      sync.Mutex
	idle    []*state
}

type slotKind uint8

const (
	slotIntermediate slotKind = iota // produced by a node; owned by the run state
	slotInput                        // supplied by the caller for one run
	slotConst                        // owned by the plan, read-only
)

// step is one node to run, with its value slots (-1 for an omitted input).
type step struct {
	node   *graph.Node
	kernel ops.Kernel
	in     []int
	out    []int
}

// newPlan lays out the slots and steps of a plan; the memory plan is made
// afterwards, from them.
func newPlan(cfg config, inputs, outputs []graph.ValueInfo, order []*node, consts map[string]*tensor.Tensor) *Plan {
	p := &Plan{inputs: inputs, outputs: outputs, maxIdle: cfg.maxIdle, compute: cfg.compute, device: cfg.device}
	slots := map[string]int{}
	slot := func(name string, kind slotKind) int {
		if s, ok := slots[name]; ok {
			return s
		}
		s := p.nSlots
		p.nSlots++
		p.slotKind = append(p.slotKind, kind)
		if name != "" { // omitted outputs each get a private slot
			slots[name] = s
		}
		return s
	}
	for _, in := range inputs {
		p.inSlots = append(p.inSlots, slot(in.Name, slotInput))
	}
	// Sorted so slot numbering, and so WeightsBytes' sum, is deterministic.
	names := make([]string, 0, len(consts))
	for name := range consts {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		slot(name, slotConst)
		p.weights += int64(consts[name].ByteSize())
	}
	for _, nd := range order {
		st := step{node: nd.n, kernel: nd.kernel}
		for _, name := range nd.n.Inputs {
			s := -1
			if name != "" {
				s = slots[name]
			}
			st.in = append(st.in, s)
		}
		for _, name := range nd.n.Outputs {
			st.out = append(st.out, slot(name, slotIntermediate))
		}
		p.maxIn, p.maxOut = max(p.maxIn, len(st.in)), max(p.maxOut, len(st.out))
		p.steps = append(p.steps, st)
	}
	p.consts = make([]*tensor.Tensor, p.nSlots)
	for _, name := range names {
		p.consts[slots[name]] = consts[name]
	}
	for _, out := range outputs {
		p.outSlots = append(p.outSlots, slots[out.Name])
	}
	return p
}

// prepack lets the kernels that can (ops.Prepacker) prepare their
// constant inputs once, such as convolutions packing their filters, and
// counts what that holds with the weights. A constant that its only
// reader took over (ops.Prepared.Stands) is replaced by the reader's
// data-free stand-in and no longer counted, so packing the filters does
// not hold them twice.
func (p *Plan) prepack(vals map[string]shapes.Value) {
	readers := make([]int, p.nSlots) // node inputs reading each slot, graph outputs
	for _, st := range p.steps {
		for _, s := range st.in {
			if s >= 0 {
				readers[s]++
			}
		}
	}
	for _, s := range p.outSlots {
		readers[s]++
	}
	for i := range p.steps {
		st := &p.steps[i]
		pk, ok := st.kernel.(ops.Prepacker)
		if !ok {
			continue
		}
		consts := make([]*tensor.Tensor, len(st.in))
		dims := make([][]int, len(st.in))
		sole := make([]bool, len(st.in))
		hasConst := false
		for j, s := range st.in {
			if s < 0 {
				continue
			}
			if consts[j] = p.consts[s]; consts[j] != nil {
				hasConst = true
				sole[j] = readers[s] == 1
			}
			if v, ok := vals[st.node.Inputs[j]]; ok && v.Known {
				dims[j] = make([]int, len(v.Shape))
				for d, dim := range v.Shape {
					dims[j][d] = -1
					if n, fixed := dim.Value(); fixed && n <= int64(tensor.MaxElements) {
						dims[j][d] = int(n)
					}
				}
			}
		}
		if !hasConst {
			continue
		}
		pr := pk.Prepack(consts, dims, sole)
		if pr.Kernel == nil {
			continue
		}
		st.kernel = pr.Kernel
		p.weights += pr.Bytes
		for j, stand := range pr.Stands {
			if stand == nil || j >= len(st.in) || !sole[j] {
				continue
			}
			s := st.in[j]
			p.weights -= int64(p.consts[s].ByteSize())
			p.consts[s] = stand
		}
	}
}

// InputInfo declares the inputs a run takes, in graph order. Initializers
// that old files also list as inputs are weights, not inputs, and are not
// listed.
func (p *Plan) InputInfo() []graph.ValueInfo { return slices.Clone(p.inputs) }

// OutputInfo declares the outputs a run returns, in graph order.
func (p *Plan) OutputInfo() []graph.ValueInfo { return slices.Clone(p.outputs) }

// WeightsBytes is the memory the plan's constants hold: initializers still
// in use and the values computed from them at compile time.
func (p *Plan) WeightsBytes() int64 { return p.weights }

// WorkingBytes is the memory one warm run state holds between runs: the
// buffers of its intermediate values and its scratch, as measured after the
// largest run so far (0 before the first run). Outputs are not included:
// they belong to the caller. Report has the planned figure, known before
// any run.
func (p *Plan) WorkingBytes() int64 { return p.working.Load() }

// state is one run's working memory, reused by later runs.
type state struct {
	vals    []*tensor.Tensor // by slot
	in, out []*tensor.Tensor // argument lists for one kernel call
	scratch ops.Scratch

	// bufs holds the memory plan's buffers, each as the tensor of the
	// value last placed in it, handed to the kernel of the next value
	// placed in it so Output reuses its memory; mem is the device buffer
	// behind each, the zero Buffer where a kernel brought its own memory.
	bufs []*tensor.Tensor
	mem  []device.Buffer
	// bind is the symbol binding of the run in progress (or the last), and
	// need the buffer sizes it implies, computed when the binding changes;
	// sized is false when the inputs did not bind every symbol.
	bind  []int64
	need  []int64
	sized bool
}

func (p *Plan) newState() *state {
	st := &state{
		vals: slices.Clone(p.consts),
		in:   make([]*tensor.Tensor, p.maxIn),
		out:  make([]*tensor.Tensor, p.maxOut),
		bufs: make([]*tensor.Tensor, p.mem.buffers),
		mem:  make([]device.Buffer, p.mem.buffers),
		bind: make([]int64, len(p.mem.symbols)),
		need: make([]int64, p.mem.buffers),
	}
	for i := range st.bufs {
		st.bufs[i] = &tensor.Tensor{}
	}
	for i := range st.bind {
		st.bind[i] = -1 // no run has bound it yet
	}
	return st
}

// free gives a state's device buffers back.
func (p *Plan) free(st *state) {
	for i, b := range st.mem {
		p.device.Free(b)
		st.mem[i] = device.Buffer{}
	}
}

// acquire takes an idle state or makes one.
func (p *Plan) acquire() *state {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		st := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		return st
	}
	return p.newState()
}

// release keeps st for a later run unless enough states are idle already,
// in which case its buffers go back to the device.
func (p *Plan) release(st *state) {
	p.mu.Lock()
	if len(p.idle) < p.maxIdle {
		p.idle = append(p.idle, st)
		st = nil
	}
	p.mu.Unlock()
	if st != nil {
		p.free(st)
	}
}

// heldBytes is the memory st holds between runs, and the part of it that
// is value buffers rather than scratch. Graph outputs have been handed to
// the caller by then, so the value buffers are the memory plan's.
func (p *Plan) heldBytes(st *state) (total, arena int64) {
	for _, t := range st.bufs {
		arena += int64(cap(t.Data))
		for _, b := range t.Strings {
			arena += int64(cap(b))
		}
	}
	return arena + int64(st.scratch.Bytes()), arena
}

// IdleStates is the number of warm run states the plan holds now.
func (p *Plan) IdleStates() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}
