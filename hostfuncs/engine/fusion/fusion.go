package fusion

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Counts is how many fusions of each kind were applied, by name
// ("Conv+Relu", "Gelu", ...).
type Counts map[string]int

// Total is the number of fusions applied.
func (c Counts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// String lists the counts by name, for logs.
func (c Counts) String() string {
	names := slices.Sorted(maps.Keys(c))
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s=%d", name, c[name])
	}
	return strings.Join(parts, " ")
}

// Fuse rewrites m's graph (a copy; m is not modified) so that chains of
// operators the engine has one kernel for run as that kernel: the
// patterns are listed in the package documentation. A pattern fires only
// when rewriting cannot change what the graph computes: every value it
// removes is used by the pattern alone and is neither a graph output nor
// named in a subgraph, every operand is float32, and the constants it
// relies on (biases, epsilons, the GELU and attention scalars) are
// initializers or Constant nodes of the right value and shape. The fused operators live in ops.FusedDomain;
// a registry without them, or a model that already imports that domain at
// another version, is left as it is, and when nothing fuses Fuse returns m
// itself. The result computes the same outputs as m within float32
// rounding.
func Fuse(m *graph.Model, reg *ops.Registry) (*graph.Model, Counts, error) {
	counts := Counts{}
	if m == nil || m.Graph == nil {
		return m, counts, nil
	}
	if v, ok := m.Opsets[ops.FusedDomain]; ok && v != fusedVersion {
		return m, counts, nil
	}
	if reg == nil {
		reg = ops.Default()
	}
	out := *m
	out.Opsets = maps.Clone(m.Opsets)
	if out.Opsets == nil {
		out.Opsets = map[string]int64{}
	}
	out.Opsets[ops.FusedDomain] = fusedVersion
	g := *m.Graph
	g.Initializers = maps.Clone(m.Graph.Initializers)
	if g.Initializers == nil {
		g.Initializers = map[string]*tensor.Tensor{}
	}
	g.Nodes = slices.Clone(m.Graph.Nodes)
	out.Graph = &g

	r := &rewriter{m: &out, g: &g, reg: reg, counts: counts}
	for _, p := range passes {
		if !r.has(p.ops...) {
			continue
		}
		r.index()
		for _, n := range r.g.Nodes {
			if !r.removed[n] {
				p.match(r, n)
			}
		}
		r.apply()
	}
	if counts.Total() == 0 {
		return m, counts, nil
	}
	r.dropDeadConstants()
	return &out, counts, nil
}

// fusedVersion is the version of ops.FusedDomain the fused nodes use.
const fusedVersion = 1

// pass is one kind of rewrite: match is tried on every node of the graph
// in turn; ops are the fused operators it emits, which the registry must
// have.
type pass struct {
	ops   []string
	match func(r *rewriter, n *graph.Node)
}

// passes run in this order: the composite patterns first (LayerNorm,
// GELU, attention), so that the Linear layers feeding a GELU then take it
// as their activation.
var passes = []pass{
	{[]string{"LayerNormalization"}, (*rewriter).layerNorm},
	{[]string{"Gelu"}, (*rewriter).gelu},
	{[]string{"FusedAttention"}, (*rewriter).attention},
	{[]string{"FusedMatMul"}, (*rewriter).matmulBias},
	{[]string{"FusedGemm"}, (*rewriter).gemmRelu},
	{[]string{"FusedConv"}, (*rewriter).conv},
}

// rewriter holds the graph being rewritten and an index of it, rebuilt
// after each pass.
type rewriter struct {
	m      *graph.Model
	g      *graph.Graph
	reg    *ops.Registry
	counts Counts

	consts   map[string]*tensor.Tensor // initializers and Constant nodes' values
	producer map[string]*graph.Node
	users    map[string][]*graph.Node // one entry per use
	outputs  map[string]bool
	dtypes   map[string]tensor.DType

	removed  map[*graph.Node]bool
	replaced map[*graph.Node]*graph.Node // last node of a match → the fused node
}

// has reports whether the registry defines each fused operator.
func (r *rewriter) has(names ...string) bool {
	for _, name := range names {
		if _, err := r.reg.Lookup(ops.FusedDomain, name, fusedVersion); err != nil {
			return false
		}
	}
	return true
}

func (r *rewriter) index() {
	r.consts = maps.Clone(r.g.Initializers)
	r.producer = map[string]*graph.Node{}
	r.users = map[string][]*graph.Node{}
	r.outputs = map[string]bool{}
	r.removed = map[*graph.Node]bool{}
	r.replaced = map[*graph.Node]*graph.Node{}
	for _, o := range r.g.Outputs {
		r.outputs[o.Name] = true
	}
	for _, n := range r.g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				r.producer[o] = n
			}
		}
		for _, in := range n.Inputs {
			if in != "" {
				r.users[in] = append(r.users[in], n)
			}
		}
		r.markSubgraphs(n)
		if n.OpType == "Constant" && isDefault(n.Domain) && len(n.Outputs) == 1 {
			if t := constantValue(n); t != nil {
				r.consts[n.Outputs[0]] = t
			}
		}
	}
	r.inferTypes()
}

// markCaptured keeps every value a subgraph (an If branch, a Loop body)
// names as if it were a graph output: a subgraph may read values of the
// enclosing graph, uses the index of its nodes does not see.
func (r *rewriter) markCaptured(g *graph.Graph) {
	if g == nil {
		return
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			r.outputs[in] = true
		}
		r.markSubgraphs(n)
	}
	for _, o := range g.Outputs {
		r.outputs[o.Name] = true
	}
}

// markSubgraphs applies markCaptured to n's subgraph attributes.
func (r *rewriter) markSubgraphs(n *graph.Node) {
	for _, a := range n.Attrs {
		r.markCaptured(a.Graph)
		for _, sub := range a.Graphs {
			r.markCaptured(sub)
		}
	}
}

// inferTypes records the dtype of every value it can derive: graph
// inputs, constants, and node outputs through the registry's type rules,
// walking the nodes until nothing changes (they need not be in order).
func (r *rewriter) inferTypes() {
	r.dtypes = map[string]tensor.DType{}
	for _, in := range r.g.Inputs {
		r.dtypes[in.Name] = in.DType
	}
	for name, t := range r.consts {
		r.dtypes[name] = t.DType
	}
	done := map[*graph.Node]bool{}
	for changed := true; changed; {
		changed = false
		for _, n := range r.g.Nodes {
			if done[n] {
				continue
			}
			in := make([]tensor.DType, len(n.Inputs))
			ready := true
			for i, name := range n.Inputs {
				if name == "" {
					continue
				}
				dt, ok := r.dtypes[name]
				ready = ready && ok
				in[i] = dt
			}
			if !ready {
				continue
			}
			done[n], changed = true, true
			domain := graph.NormalizeDomain(n.Domain)
			s, err := r.reg.Lookup(domain, n.OpType, r.m.Opsets[domain])
			if err != nil {
				continue
			}
			outs, err := s.InferTypes(in, len(n.Outputs))
			if err != nil {
				continue
			}
			if n.OpType == "Cast" && isDefault(n.Domain) {
				if to, err := n.AttrInt("to", 0); err == nil {
					if dt, ok := tensor.FromONNX(int32(to)); ok && len(outs) == 1 {
						outs[0] = dt
					}
				}
			}
			for i, o := range n.Outputs {
				if o != "" && outs[i] != tensor.Invalid {
					r.dtypes[o] = outs[i]
				}
			}
		}
	}
}

// constantValue is a Constant node's value, for the attributes fusion
// reads constants from (value, value_float); nil otherwise.
func constantValue(n *graph.Node) *tensor.Tensor {
	if a, ok := n.Attrs["value"]; ok && a.Type == graph.AttrTensor && a.Tensor != nil {
		if a.Tensor.Validate() == nil {
			return a.Tensor
		}
		return nil
	}
	if a, ok := n.Attrs["value_float"]; ok && a.Type == graph.AttrFloat {
		return tensor.MustFrom(tensor.Shape{}, []float32{a.Float})
	}
	return nil
}

func isDefault(domain string) bool { return graph.NormalizeDomain(domain) == graph.DefaultDomain }

// op reports whether n is the standard operator opType.
func op(n *graph.Node, opType string) bool {
	return n != nil && n.OpType == opType && isDefault(n.Domain)
}

// sole returns the one node that uses value v, when v has exactly one use
// and is not a graph output: the condition for a match to absorb v.
func (r *rewriter) sole(v string) *graph.Node {
	if v == "" || r.outputs[v] || len(r.users[v]) != 1 {
		return nil
	}
	u := r.users[v][0]
	if r.removed[u] {
		return nil
	}
	return u
}

// soleOut is sole of n's only output.
func (r *rewriter) soleOut(n *graph.Node) *graph.Node {
	if len(n.Outputs) != 1 {
		return nil
	}
	return r.sole(n.Outputs[0])
}

// from returns the producer of v when it is the standard operator opType
// and not yet part of a match.
func (r *rewriter) from(v, opType string) *graph.Node {
	p := r.producer[v]
	if !op(p, opType) || r.removed[p] {
		return nil
	}
	return p
}

func (r *rewriter) f32(v string) bool { return r.dtypes[v] == tensor.Float32 }

// scalar returns the value of a float32 constant holding one element with
// rank at most 1 (so broadcasting it never adds dimensions).
func (r *rewriter) scalar(v string) (float32, bool) {
	t := r.consts[v]
	if t == nil || t.DType != tensor.Float32 || t.Len() != 1 || len(t.Shape) > 1 {
		return 0, false
	}
	return tensor.Values[float32](t)[0], true
}

// isScalar reports whether v is a constant scalar within rel of want.
func (r *rewriter) isScalar(v string, want, rel float64) bool {
	s, ok := r.scalar(v)
	return ok && math.Abs(float64(s)-want) <= rel*math.Abs(want)
}

// other returns the operand of binary node n that is not v, or "" when
// n does not use v exactly once.
func other(n *graph.Node, v string) string {
	if len(n.Inputs) != 2 || (n.Inputs[0] == v) == (n.Inputs[1] == v) {
		return ""
	}
	if n.Inputs[0] == v {
		return n.Inputs[1]
	}
	return n.Inputs[0]
}

// opsetOf is the version of n's domain the model imports.
func (r *rewriter) opsetOf(n *graph.Node) int64 {
	return r.m.Opsets[graph.NormalizeDomain(n.Domain)]
}

// replace records a match: the nodes of chain (in data order, its last
// producing the fused node's outputs) give way to fused, counted as kind.
func (r *rewriter) replace(kind string, fused *graph.Node, chain ...*graph.Node) {
	for _, n := range chain {
		r.removed[n] = true
	}
	last := chain[len(chain)-1]
	fused.Domain = ops.FusedDomain
	if fused.Name == "" {
		fused.Name = last.Name
	}
	fused.Outputs = slices.Clone(last.Outputs)
	r.replaced[last] = fused
	r.counts[kind]++
}

// apply swaps the matched chains for their fused nodes, each where the
// chain's last node was.
func (r *rewriter) apply() {
	if len(r.removed) == 0 {
		return
	}
	kept := r.g.Nodes[:0:0]
	for _, n := range r.g.Nodes {
		if f, ok := r.replaced[n]; ok {
			kept = append(kept, f)
			continue
		}
		if !r.removed[n] {
			kept = append(kept, n)
		}
	}
	r.g.Nodes = kept
}

// dropDeadConstants removes Constant nodes that fused patterns absorbed
// (their outputs no longer used).
func (r *rewriter) dropDeadConstants() {
	r.index()
	kept := r.g.Nodes[:0:0]
	for _, n := range r.g.Nodes {
		if op(n, "Constant") && len(n.Outputs) == 1 && len(r.users[n.Outputs[0]]) == 0 && !r.outputs[n.Outputs[0]] {
			continue
		}
		kept = append(kept, n)
	}
	r.g.Nodes = kept
}

// addInitializer adds a new constant under a name no value has yet.
func (r *rewriter) addInitializer(base string, t *tensor.Tensor) string {
	name := base
	for i := 1; r.taken(name); i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	r.g.Initializers[name] = t
	r.consts[name] = t
	r.dtypes[name] = t.DType
	return name
}

func (r *rewriter) taken(name string) bool {
	if _, ok := r.g.Initializers[name]; ok {
		return true
	}
	if _, ok := r.producer[name]; ok {
		return true
	}
	return slices.ContainsFunc(r.g.Inputs, func(v graph.ValueInfo) bool { return v.Name == name })
}
