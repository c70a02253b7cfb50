package ops

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// MaxOpset is the newest ai.onnx opset the registry knows. A model importing
// a newer one may rely on operator changes the engine does not implement,
// so it is refused rather than run under older semantics.
const MaxOpset = 27

// Param is one formal input or output of an operator. Type names a type
// variable of the schema (as in the ONNX spec: "T", "I"); optional
// parameters come last.
type Param struct {
	Name     string
	Type     string
	Optional bool
	// Variadic marks the last parameter as repeating: Concat's inputs,
	// Split's outputs. It takes at least one argument unless Optional.
	Variadic bool
}

// MaxVariadic bounds how many arguments a variadic parameter takes, so a
// hostile node cannot make a kernel loop over millions of inputs.
const MaxVariadic = 4096

// param is the formal parameter of position i, the variadic one repeating.
func param(ps []Param, i int) (Param, bool) {
	if i < len(ps) {
		return ps[i], true
	}
	if n := len(ps); n > 0 && ps[n-1].Variadic {
		return ps[n-1], true
	}
	return Param{}, false
}

// Schema is one version of an operator: what it accepts from its Since
// opset until the next version's.
type Schema struct {
	Since   int64
	Inputs  []Param
	Outputs []Param
	// Types lists the dtypes each type variable allows.
	Types map[string][]tensor.DType
	// Attrs names the attributes this version defines; any other is an
	// error, so a model cannot rely on a later version's behaviour.
	Attrs []string
	Build Builder
	// Volatile marks an operator whose result is not a function of its
	// inputs and attributes alone (random generators), so it is never
	// evaluated once at load even when its inputs are all constant.
	Volatile bool
}

// arity returns the required and the maximum count of params.
func arity(ps []Param) (minN, maxN int) {
	for _, p := range ps {
		if !p.Optional {
			minN++
		}
	}
	if n := len(ps); n > 0 && ps[n-1].Variadic {
		return minN, n - 1 + MaxVariadic
	}
	return minN, len(ps)
}

// check validates a node's arity and attribute names against s.
func (s *Schema) check(n *graph.Node) error {
	lo, hi := arity(s.Inputs)
	if len(n.Inputs) < lo || len(n.Inputs) > hi {
		return fault.Errorf(fault.Invalid, "takes %s inputs, node has %d", span(lo, hi), len(n.Inputs))
	}
	for i := range lo {
		if n.Inputs[i] == "" {
			p, _ := param(s.Inputs, i)
			return fault.Errorf(fault.Invalid, "input %d (%s) is required", i, p.Name)
		}
	}
	lo, hi = arity(s.Outputs)
	if len(n.Outputs) < lo || len(n.Outputs) > hi {
		return fault.Errorf(fault.Invalid, "has %s outputs, node has %d", span(lo, hi), len(n.Outputs))
	}
	for i := range lo {
		if n.Outputs[i] == "" {
			p, _ := param(s.Outputs, i)
			return fault.Errorf(fault.Invalid, "output %d (%s) is required", i, p.Name)
		}
	}
	for name := range n.Attrs {
		if !slices.Contains(s.Attrs, name) {
			return fault.Errorf(fault.Invalid, "has no attribute %q in this opset", name)
		}
	}
	return nil
}

func span(lo, hi int) string {
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}

// InferTypes checks input dtypes against the schema's type constraints and
// returns the output dtypes. in[i] is tensor.Invalid for an omitted or
// not-yet-known input; an output whose type variable no input binds comes
// back as tensor.Invalid.
func (s *Schema) InferTypes(in []tensor.DType, nOut int) ([]tensor.DType, error) {
	bound := map[string]tensor.DType{}
	from := map[string]string{}
	for i, dt := range in {
		p, ok := param(s.Inputs, i)
		if !ok || dt == tensor.Invalid {
			continue
		}
		allowed := s.Types[p.Type]
		if !slices.Contains(allowed, dt) {
			return nil, fault.Errorf(fault.Unsupported, "input %s: dtype %s is not supported (%s: %s)", p.Name, dt.ONNXName(), p.Type, dtypeList(allowed))
		}
		if prev, ok := bound[p.Type]; ok && prev != dt {
			return nil, fault.Errorf(fault.Invalid, "input %s is %s but %s is %s; both must be the same type %s", p.Name, dt.ONNXName(), from[p.Type], prev.ONNXName(), p.Type)
		}
		bound[p.Type], from[p.Type] = dt, p.Name
	}
	out := make([]tensor.DType, nOut)
	for i := range out {
		p, ok := param(s.Outputs, i)
		if !ok {
			break
		}
		t := p.Type
		if dt, ok := bound[t]; ok {
			out[i] = dt
		} else if allowed := s.Types[t]; len(allowed) == 1 {
			out[i] = allowed[0]
		}
	}
	return out, nil
}

func dtypeList(ds []tensor.DType) string {
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.ONNXName()
	}
	return strings.Join(names, ", ")
}

type opKey struct{ domain, opType string }

// Registry maps operators to their schema versions. It is immutable once
// built, so one registry serves every concurrent load.
type Registry struct {
	ops map[opKey][]Schema // each list sorted by Since, ascending
}

// Lookup returns the schema that applies to (domain, opType) under a model
// importing the given opset of that domain.
func (r *Registry) Lookup(domain, opType string, opset int64) (*Schema, error) {
	domain = graph.NormalizeDomain(domain)
	unsupported := func(why string) error {
		return fault.Errorf(fault.Unsupported, "unsupported operator %q (domain %s, opset %d)%s", opType, graph.DomainName(domain), opset, why)
	}
	versions := r.ops[opKey{domain, opType}]
	if len(versions) == 0 {
		return nil, unsupported("")
	}
	if domain == graph.DefaultDomain && opset > MaxOpset {
		return nil, unsupported(fmt.Sprintf(": the engine knows opsets up to %d", MaxOpset))
	}
	for i := len(versions) - 1; i >= 0; i-- {
		if versions[i].Since <= opset {
			return &versions[i], nil
		}
	}
	return nil, unsupported(fmt.Sprintf(": the operator first appears in opset %d", versions[0].Since))
}

// Build resolves a node under the model's opset imports and returns its
// kernel with the schema that admitted it.
func (r *Registry) Build(n *graph.Node, opsets map[string]int64) (Kernel, *Schema, error) {
	domain := graph.NormalizeDomain(n.Domain)
	opset, ok := opsets[domain]
	if !ok {
		return nil, nil, fault.Errorf(fault.Invalid, "node %v: the model imports no opset for domain %s", n, graph.DomainName(domain))
	}
	s, err := r.Lookup(domain, n.OpType, opset)
	if err != nil {
		return nil, nil, fmt.Errorf("node %v: %w", n, err)
	}
	wrap := func(err error) error {
		return fmt.Errorf("node %v (domain %s, opset %d): %w", n, graph.DomainName(domain), opset, err)
	}
	if err := s.check(n); err != nil {
		return nil, nil, wrap(err)
	}
	k, err := s.Build(n, opset)
	if err != nil {
		return nil, nil, wrap(err)
	}
	return k, s, nil
}

// Ops lists the registered (domain, op type) pairs, for diagnostics.
func (r *Registry) Ops() []string {
	var out []string
	for k := range r.ops {
		out = append(out, graph.DomainName(k.domain)+"/"+k.opType)
	}
	slices.Sort(out)
	return out
}

// With returns a new registry that has every operator of r plus opType in
// domain with the given versions (replacing any it had). r is unchanged, so
// registries stay safe to share.
func (r *Registry) With(domain, opType string, versions ...Schema) *Registry {
	out := &Registry{ops: maps.Clone(r.ops)}
	versions = slices.Clone(versions)
	slices.SortFunc(versions, func(a, b Schema) int { return cmp.Compare(a.Since, b.Since) })
	out.ops[opKey{graph.NormalizeDomain(domain), opType}] = versions
	return out
}

// newRegistry builds a registry from per-operator schema lists.
func newRegistry(defs map[string][]Schema) *Registry {
	r := &Registry{ops: make(map[opKey][]Schema, len(defs))}
	for op, versions := range defs {
		versions = slices.Clone(versions)
		slices.SortFunc(versions, func(a, b Schema) int { return cmp.Compare(a.Since, b.Since) })
		r.ops[opKey{graph.DefaultDomain, op}] = versions
	}
	return r
}

// defaultRegistry is built once at package initialisation and never
// written again.
var defaultRegistry = newRegistry(allSchemas()).withDomain(FusedDomain, fusedFamily())

// families lists the functions that define groups of operators, each in its
// own file, so operators can be added without touching a shared table.
var families = []func() map[string][]Schema{
	basicFamily,
	elementwiseFamily,
	shapeFamily,
	reduceFamily,
	nnFamily,
	spatialFamily,
}

// allSchemas merges the families; an operator defined twice is a
// programming error caught at start.
func allSchemas() map[string][]Schema {
	all := map[string][]Schema{}
	for _, f := range families {
		for op, versions := range f() {
			if _, dup := all[op]; dup {
				panic("ops: operator " + op + " is defined by two families")
			}
			all[op] = versions
		}
	}
	return all
}

// basicFamily holds the operators the first engine shipped with.
func basicFamily() map[string][]Schema {
	return map[string][]Schema{
		"Add":      addSchemas(),
		"Constant": constantSchemas(),
		"Conv":     convSchemas(),
		"Identity": identitySchemas(),
		"MatMul":   matmulSchemas(),
		"MaxPool":  maxPoolSchemas(),
		"Relu":     reluSchemas(),
		"Reshape":  reshapeSchemas(),
	}
}

// Default is the registry of every operator the engine implements.
func Default() *Registry { return defaultRegistry }
