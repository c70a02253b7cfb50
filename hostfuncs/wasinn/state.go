package wasinn

import (
	"sync"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Limits on what one instance holds.
const (
	// MaxGraphs bounds the live graphs of an instance; a load past it is
	// Busy until the guest unloads one.
	MaxGraphs = 64
	// MaxContexts bounds the live execution contexts of an instance; an
	// init_execution_context past it is Busy. Contexts end with their graph.
	MaxContexts = 256
	// MaxInputs bounds the input index of a graph whose inputs are not
	// known (a load_by_name through a runner without ModelDescriber).
	MaxInputs = 256
	// MaxNameBytes bounds a load_by_name name.
	MaxNameBytes = 256
	// MaxConfigBytes bounds a load_by_name_with_config config.
	MaxConfigBytes = 64 << 10
)

// spec is a declared input or output of a graph. A dim of -1 matches any
// size; a spec with an unknown rank matches any shape.
type spec struct {
	name        string
	dtype       tensor.DType
	dims        []int64
	unknownRank bool
	optional    bool
}

// graph is a loaded graph: an engine plan (load) or a repository model
// (load_by_name), whose declared inputs and outputs are known unless it is
// a model the runner cannot describe.
type graph struct {
	run     runFunc
	name    string // the model's name (load_by_name) or "onnx graph"
	known   bool   // inputs and outputs are known
	inputs  []spec
	outputs []spec
	charge  int64 // host memory it holds
	working int64 // of which the plan's run buffers, which compute allocates
	// bounded: a guest-supplied graph runs under an allocation budget
	bounded bool
}

// execCtx is an execution context: the inputs set and the outputs of the
// last compute.
type execCtx struct {
	g        *graph
	gh       uint32 // its graph's handle
	inputs   []*tensor.Tensor
	inCharge []int64
	outputs  []*tensor.Tensor // nil until a compute succeeds
	outBytes int64
}

// Instance is one Wasm instance's wasi-nn resources: its graphs and
// execution contexts, which outlive a single call. The modules layer owns
// one per instance, hands it to calls with WithCall, and releases it when it
// closes the instance.
type Instance = state

// state is one instance's wasi-nn resources.
type state struct {
	mu           sync.Mutex
	graphs       map[uint32]*graph
	ctxs         map[uint32]*execCtx
	nextG, nextC uint32
	used         int64 // host memory held by graphs and tensors
	closed       bool  // released: nothing more is added
}

// NewInstance makes the wasi-nn state of a new Wasm instance.
func NewInstance() *Instance {
	return &state{graphs: map[uint32]*graph{}, ctxs: map[uint32]*execCtx{}}
}

// Release ends every graph and execution context of the instance and frees
// what they hold. The modules layer calls it when it closes the instance.
func (s *state) Release() { s.release() }

// HeldBytes is the host memory the instance's wasi-nn resources hold:
// compiled graphs, input tensors and outputs.
func (s *state) HeldBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

func (s *state) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.graphs, s.ctxs, s.used, s.closed = map[uint32]*graph{}, map[uint32]*execCtx{}, 0, true
}

// addGraph takes g under a new handle, charging its memory against limit.
func (s *state) addGraph(g *graph, limit int64) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return 0, errf(Busy, "the instance is closing")
	case len(s.graphs) >= MaxGraphs:
		return 0, errf(Busy, "%d graphs are loaded, the most an instance may hold; unload one first", MaxGraphs)
	case s.nextG == ^uint32(0):
		return 0, errf(Busy, "graph handles are exhausted")
	case s.used+g.charge > limit:
		return 0, errf(TooLarge, "the graph needs %d bytes of host memory; %d of the quota of %d are in use", g.charge, s.used, limit)
	}
	h := s.nextG
	s.nextG++
	s.graphs[h] = g
	s.used += g.charge
	return h, nil
}

// graph returns the graph of handle h.
func (s *state) graph(h uint32) (*graph, error) {
	if g, ok := s.graphs[h]; ok {
		return g, nil
	}
	return nil, errf(InvalidArgument, "no graph with handle %d", h)
}

// execCtx returns the execution context of handle h.
func (s *state) execCtx(h uint32) (*execCtx, error) {
	if c, ok := s.ctxs[h]; ok {
		return c, nil
	}
	return nil, errf(InvalidArgument, "no execution context with handle %d", h)
}

// dropOutputs forgets c's outputs, returning their memory.
func (s *state) dropOutputs(c *execCtx) {
	s.used -= c.outBytes
	c.outputs, c.outBytes = nil, 0
}

// unload ends graph h and the execution contexts made from it.
func (s *state) unload(h uint32) error {
	g, err := s.graph(h)
	if err != nil {
		return err
	}
	for ch, c := range s.ctxs {
		if c.gh == h {
			s.dropOutputs(c)
			for _, n := range c.inCharge {
				s.used -= n
			}
			delete(s.ctxs, ch)
		}
	}
	s.used -= g.charge
	delete(s.graphs, h)
	return nil
}
