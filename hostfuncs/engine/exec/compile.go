package exec

import (
	"container/heap"
	"context"
	"fmt"
	"runtime"
	"slices"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/device"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/fusion"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Option configures Compile.
type Option func(*config)

type config struct {
	maxIdle  int
	registry *ops.Registry
	compute  *kernels.Compute
	fold     int64 // bytes constant folding may allocate; 0 is unbounded
	noFusion bool
	device   device.Device
	dims     map[string]int64 // reference sizes of symbolic dimensions
}

// WithMaxIdleStates bounds how many warm run states the plan keeps between
// runs (default runtime.GOMAXPROCS(0)). Each holds WorkingBytes of buffers;
// runs beyond the bound still work but allocate their state afresh.
func WithMaxIdleStates(n int) Option { return func(c *config) { c.maxIdle = max(0, n) } }

// WithRegistry resolves operators through r instead of ops.Default().
func WithRegistry(r *ops.Registry) Option { return func(c *config) { c.registry = r } }

// WithCompute runs the plan's kernels on c, the process-wide compute budget
// (kernels.NewCompute, one per process, shared by every plan): each Run
// counts itself in c while it computes, and operators split over c's
// worker pool only when fewer runs than cores are computing. Without it,
// every kernel runs on the goroutine that called Run.
func WithCompute(c *kernels.Compute) Option { return func(cfg *config) { cfg.compute = c } }

// WithFoldBudget bounds the bytes constant folding may allocate while
// compiling, so an untrusted model whose constants expand (a
// ConstantOfShape of a huge constant shape) fails to compile with
// fault.TooLarge instead of taking the memory. Unbounded by default.
func WithFoldBudget(bytes int64) Option { return func(c *config) { c.fold = max(0, bytes) } }

// WithoutFusion compiles the graph as written, without the fusion pass
// (package fusion) that Compile otherwise applies: for comparing fused and
// unfused results, and for debugging a fused kernel.
func WithoutFusion() Option { return func(c *config) { c.noFusion = true } }

// WithDevice allocates the buffers of intermediate values through d
// instead of device.CPU. The CPU kernels need host memory, so d must be of
// kind device.Host.
func WithDevice(d device.Device) Option { return func(c *config) { c.device = d } }

// WithReferenceDims gives the sizes of symbolic input dimensions
// ("batch_size", "sequence_length") that the memory plan is laid out for
// and Report states its figures at. A symbol not given is reported at 1
// and laid out at 64, where the terms that grow fastest with it already
// dominate. The plan serves any size: this only tunes which values share
// a buffer.
func WithReferenceDims(dims map[string]int64) Option {
	return func(c *config) {
		c.dims = make(map[string]int64, len(dims))
		for k, v := range dims {
			c.dims[k] = v
		}
	}
}

// node is a graph node during compilation.
type node struct {
	n      *graph.Node
	kernel ops.Kernel
	schema *ops.Schema
}

// Compile turns a model into a runnable plan: it fuses operator chains,
// resolves and orders the nodes, folds constants, infers shapes and lays
// out the memory plan, once for every run of the model.
func Compile(m *graph.Model, opts ...Option) (*Plan, error) {
	cfg := config{maxIdle: runtime.GOMAXPROCS(0), registry: ops.Default(), device: device.CPU{}}
	for _, o := range opts {
		o(&cfg)
	}
	if m == nil || m.Graph == nil {
		return nil, fault.Errorf(fault.Invalid, "model has no graph")
	}
	if k := cfg.device.Kind(); k != device.Host {
		return nil, fault.Errorf(fault.Unsupported, "device %s has %s memory; the CPU kernels need host memory", cfg.device.Name(), k)
	}
	original := m
	var fused fusion.Counts
	var fuseErr error
	if !cfg.noFusion {
		if m, fused, fuseErr = fuse(original, cfg.registry); fuseErr != nil {
			m, fused = original, nil // run the graph as written rather than refuse it
		}
	}
	g := m.Graph

	consts := make(map[string]*tensor.Tensor, len(g.Initializers))
	for name, t := range g.Initializers {
		if err := t.Validate(); err != nil {
			return nil, fault.Errorf(fault.Invalid, "initializer %q: %w", name, err)
		}
		consts[name] = t
	}
	var inputs []graph.ValueInfo
	dtypes := map[string]tensor.DType{}
	for _, in := range g.Inputs {
		if _, isConst := consts[in.Name]; isConst {
			continue // an initializer listed as an input (IR < 4) is a weight
		}
		if in.Name == "" {
			return nil, fault.Errorf(fault.Invalid, "a graph input has no name")
		}
		if _, dup := dtypes[in.Name]; dup {
			return nil, fault.Errorf(fault.Invalid, "graph input %q is declared twice", in.Name)
		}
		if !in.DType.Valid() {
			return nil, fault.Errorf(fault.Unsupported, "graph input %q has unsupported dtype %v", in.Name, in.DType)
		}
		dtypes[in.Name] = in.DType
		inputs = append(inputs, in)
	}
	for name, t := range consts {
		dtypes[name] = t.DType
	}

	nodes := make([]*node, len(g.Nodes))
	for i, n := range g.Nodes {
		k, s, err := cfg.registry.Build(n, m.Opsets)
		if err != nil {
			return nil, err
		}
		nodes[i] = &node{n: n, kernel: k, schema: s}
	}
	order, err := sortNodes(nodes, dtypes)
	if err != nil {
		return nil, err
	}
	for _, out := range g.Outputs {
		if _, ok := dtypes[out.Name]; !ok && !produces(order, out.Name) {
			return nil, fault.Errorf(fault.Invalid, "graph output %q is not defined by any input, initializer or node", out.Name)
		}
	}
	foldCtx := context.Background()
	if cfg.fold > 0 {
		foldCtx = ops.WithAllocBudget(foldCtx, ops.NewAllocBudget(cfg.fold))
	}
	if order, err = inferAndFold(foldCtx, order, dtypes, consts); err != nil {
		return nil, err
	}
	order, consts = prune(order, consts, g.Outputs)
	p := newPlan(cfg, inputs, g.Outputs, order, consts)
	if m == original {
		original = nil // no rewrite to fall back from
	}
	vals := inferShapes(&cfg, original, m.Opsets, inputs, consts, order)
	p.prepack(vals)
	p.mem = planMemory(p, vals, dtypes, cfg.dims)
	p.fused, p.fuseErr = fused, fuseErr
	return p, nil
}

// fuse runs the fusion pass, turning a panic in it into an error: a bug
// in a rewrite must not take down a server loading a valid model.
func fuse(m *graph.Model, reg *ops.Registry) (out *graph.Model, counts fusion.Counts, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fault.Errorf(fault.Internal, "graph fusion panicked: %v", r)
		}
	}()
	out, counts, err = fusion.Fuse(m, reg)
	if err == nil && (out == nil || out.Graph == nil) {
		err = fault.Errorf(fault.Internal, "graph fusion returned no graph")
	}
	return out, counts, err
}

func produces(order []*node, name string) bool {
	for _, n := range order {
		if slices.Contains(n.n.Outputs, name) {
			return true
		}
	}
	return false
}

// sortNodes orders nodes so every value is produced before it is used,
// keeping file order where it already is valid, and rejects values defined
// twice, values never defined and cycles. defined holds the graph inputs
// and constants.
func sortNodes(nodes []*node, defined map[string]tensor.DType) ([]*node, error) {
	producer := map[string]int{}
	for i, nd := range nodes {
		for _, out := range nd.n.Outputs {
			if out == "" {
				continue
			}
			if _, ok := defined[out]; ok {
				return nil, fault.Errorf(fault.Invalid, "node %v: output %q redefines a graph input or initializer", nd.n, out)
			}
			if j, ok := producer[out]; ok {
				return nil, fault.Errorf(fault.Invalid, "value %q is produced by both node %v and node %v", out, nodes[j].n, nd.n)
			}
			producer[out] = i
		}
	}
	pending := make([]int, len(nodes)) // inputs not yet produced, per node
	users := make([][]int, len(nodes))
	for i, nd := range nodes {
		for _, in := range nd.n.Inputs {
			if in == "" {
				continue
			}
			if _, ok := defined[in]; ok {
				continue
			}
			j, ok := producer[in]
			if !ok {
				return nil, fault.Errorf(fault.Invalid, "node %v: input %q is not defined by any graph input, initializer or node", nd.n, in)
			}
			pending[i]++
			users[j] = append(users[j], i)
		}
	}
	// Kahn's algorithm, always taking the ready node that comes first in
	// the file.
	ready := &intHeap{}
	for i, p := range pending {
		if p == 0 {
			heap.Push(ready, i)
		}
	}
	order := make([]*node, 0, len(nodes))
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		order = append(order, nodes[i])
		for _, u := range users[i] {
			if pending[u]--; pending[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	if len(order) < len(nodes) {
		for i, p := range pending {
			if p > 0 {
				return nil, fault.Errorf(fault.Invalid, "the graph has a cycle through node %v", nodes[i].n)
			}
		}
	}
	return order, nil
}

// inferAndFold walks the ordered nodes once. It checks each node's input
// dtypes against its schema's type constraints and records the output
// dtypes; and it runs, once, every node whose inputs are all constants,
// turning its outputs into constants (weights an exporter reshapes at run
// time, Constant nodes). It returns the nodes left to run.
func inferAndFold(ctx context.Context, order []*node, dtypes map[string]tensor.DType, consts map[string]*tensor.Tensor) ([]*node, error) {
	var rest []*node
	for _, nd := range order {
		inTypes := make([]tensor.DType, len(nd.n.Inputs))
		in := make([]*tensor.Tensor, len(nd.n.Inputs))
		foldable := true
		for i, name := range nd.n.Inputs {
			if name == "" {
				continue
			}
			inTypes[i] = dtypes[name] // Invalid where not known
			in[i] = consts[name]
			foldable = foldable && in[i] != nil
		}
		foldable = foldable && !nd.schema.Volatile
		outTypes, err := nd.schema.InferTypes(inTypes, len(nd.n.Outputs))
		if err != nil {
			return nil, fmt.Errorf("node %v (operator version %d): %w", nd.n, nd.schema.Since, err)
		}
		if !foldable {
			for i, name := range nd.n.Outputs {
				dtypes[name] = outTypes[i]
			}
			rest = append(rest, nd)
			continue
		}
		out := make([]*tensor.Tensor, len(nd.n.Outputs))
		if err := callKernel(ctx, nd.n, nd.kernel, in, out); err != nil {
			return nil, fmt.Errorf("evaluating constant inputs: %w", err)
		}
		for i, name := range nd.n.Outputs {
			if name != "" && out[i] != nil {
				consts[name], dtypes[name] = out[i], out[i].DType
			}
		}
	}
	return rest, nil
}

// prune drops nodes and constants that no graph output depends on.
func prune(order []*node, consts map[string]*tensor.Tensor, outputs []graph.ValueInfo) ([]*node, map[string]*tensor.Tensor) {
	needed := map[string]bool{}
	for _, o := range outputs {
		needed[o.Name] = true
	}
	var live []*node
	for i := len(order) - 1; i >= 0; i-- {
		nd := order[i]
		if !slices.ContainsFunc(nd.n.Outputs, func(o string) bool { return needed[o] }) {
			continue
		}
		live = append(live, nd)
		for _, in := range nd.n.Inputs {
			needed[in] = true
		}
	}
	slices.Reverse(live)
	kept := map[string]*tensor.Tensor{}
	for name, t := range consts {
		if needed[name] {
			kept[name] = t
		}
	}
	return live, kept
}

// intHeap is a min-heap of node indices.
type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
