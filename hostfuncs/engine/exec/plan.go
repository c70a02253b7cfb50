package exec

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
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

	weights int64
	working atomic.Int64
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

func newPlan(cfg config, inputs, outputs []graph.ValueInfo, order []*node, consts map[string]*tensor.Tensor) *Plan {
	p := &Plan{inputs: inputs, outputs: outputs, maxIdle: cfg.maxIdle, compute: cfg.compute}
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
// they belong to the caller.
func (p *Plan) WorkingBytes() int64 { return p.working.Load() }

// state is one run's working memory, reused by later runs.
type state struct {
	vals    []*tensor.Tensor // by slot
	in, out []*tensor.Tensor // argument lists for one kernel call
	scratch ops.Scratch
}

func (p *Plan) newState() *state {
	st := &state{
		vals: slices.Clone(p.consts),
		in:   make([]*tensor.Tensor, p.maxIn),
		out:  make([]*tensor.Tensor, p.maxOut),
	}
	return st
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

// release keeps st for a later run unless enough states are idle already.
func (p *Plan) release(st *state) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) < p.maxIdle {
		p.idle = append(p.idle, st)
	}
}

// heldBytes is the memory st holds between runs.
func (p *Plan) heldBytes(st *state) int64 {
	n := int64(st.scratch.Bytes())
	for s, t := range st.vals {
		if t == nil || p.slotKind[s] != slotIntermediate {
			continue
		}
		n += int64(cap(t.Data))
		for _, b := range t.Strings {
			n += int64(cap(b))
		}
	}
	return n
}

// IdleStates is the number of warm run states the plan holds now.
func (p *Plan) IdleStates() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}
