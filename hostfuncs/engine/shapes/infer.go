package shapes

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Value is what inference knows of one value.
type Value struct {
	DType tensor.DType // tensor.Invalid when not known
	// Shape is the value's shape when Known.
	Shape Shape
	Known bool
	// Elems is the content of a small integer tensor of rank 0 or 1 (a
	// shape, an axis, a dimension), symbolic where it comes from a
	// symbolic shape; nil when not followed.
	Elems []Dim
	// concrete is the content of a small constant, for evaluating nodes
	// whose inputs are all such constants.
	concrete *tensor.Tensor
}

// Limits of value-level inference: tensors beyond them are followed by
// shape only.
const (
	maxElems    = 64   // elements of a symbolic integer vector
	maxConcrete = 4096 // elements of a constant kept for evaluation
)

// Inferrer infers shapes node by node, in an order where every value is
// defined before it is used. It is not safe for concurrent use.
type Inferrer struct {
	reg      *ops.Registry
	opsets   map[string]int64
	vals     map[string]*Value
	fallback map[string]Value
	unknown  int // unknown symbols minted so far
}

// New returns an Inferrer that resolves operators as reg does under the
// model's opset imports (to evaluate constant nodes and type outputs).
func New(reg *ops.Registry, opsets map[string]int64) *Inferrer {
	return &Inferrer{reg: reg, opsets: opsets, vals: map[string]*Value{}}
}

// InputSymbol is the symbol of a graph input's non-fixed dimension: its
// name when the model names it, else "input[axis]".
func InputSymbol(vi graph.ValueInfo, axis int) string {
	if d := vi.Dims[axis]; d.Param != "" {
		return d.Param
	}
	return vi.Name + "[" + strconv.Itoa(axis) + "]"
}

// Input declares a graph input.
func (in *Inferrer) Input(vi graph.ValueInfo) {
	v := &Value{DType: vi.DType, Known: !vi.UnknownRank}
	if v.Known {
		v.Shape = make(Shape, len(vi.Dims))
		for i, d := range vi.Dims {
			if d.Fixed() {
				v.Shape[i] = Fixed(d.Size)
			} else {
				v.Shape[i] = Symbol(InputSymbol(vi, i))
			}
		}
	}
	in.vals[vi.Name] = v
}

// Const declares a constant (an initializer, a folded value).
func (in *Inferrer) Const(name string, t *tensor.Tensor) { in.vals[name] = constValue(t) }

func constValue(t *tensor.Tensor) *Value {
	v := &Value{DType: t.DType, Known: true, Shape: make(Shape, len(t.Shape))}
	for i, d := range t.Shape {
		v.Shape[i] = Fixed(int64(d))
	}
	if t.Len() <= maxConcrete {
		v.concrete = t
	}
	if len(t.Shape) <= 1 && t.Len() <= maxElems {
		switch t.DType {
		case tensor.Int64:
			for _, x := range tensor.Values[int64](t) {
				v.Elems = append(v.Elems, Fixed(x))
			}
		case tensor.Int32:
			for _, x := range tensor.Values[int32](t) {
				v.Elems = append(v.Elems, Fixed(int64(x)))
			}
		}
		if v.Elems == nil && t.Len() == 0 && (t.DType == tensor.Int64 || t.DType == tensor.Int32) {
			v.Elems = []Dim{}
		}
	}
	return v
}

// Fallback gives shapes to use for outputs of nodes that have no rule,
// by value name: those inferred on the same model before a rewrite (graph
// fusion) that kept the names of the values it did not remove.
func (in *Inferrer) Fallback(vals map[string]Value) { in.fallback = vals }

// Value returns what is known of the named value.
func (in *Inferrer) Value(name string) (Value, bool) {
	v, ok := in.vals[name]
	if !ok {
		return Value{}, false
	}
	return *v, true
}

// Values returns everything inferred so far, by value name.
func (in *Inferrer) Values() map[string]Value {
	out := make(map[string]Value, len(in.vals))
	for name, v := range in.vals {
		out[name] = *v
	}
	return out
}

// Node infers the outputs of n from its inputs, which must have been
// declared or inferred before. Outputs it cannot tell are left not known.
func (in *Inferrer) Node(n *graph.Node) {
	c := &call{in: in, n: n, args: make([]*Value, len(n.Inputs))}
	for i, name := range n.Inputs {
		if name == "" {
			continue
		}
		if v, ok := in.vals[name]; ok {
			c.args[i] = v
		} else {
			c.args[i] = &Value{}
		}
	}
	outs := make([]*Value, len(n.Outputs))
	for i := range outs {
		outs[i] = &Value{}
	}
	c.outs = outs
	c.typeOutputs()
	if !c.evaluate() {
		if r, ok := rules[ruleKey{graph.NormalizeDomain(n.Domain), n.OpType}]; ok {
			c.safely(r)
		} else {
			c.fromFallback()
		}
	}
	for i, name := range n.Outputs {
		if name != "" {
			in.vals[name] = outs[i]
		}
	}
}

// call is one node being inferred.
type call struct {
	in   *Inferrer
	n    *graph.Node
	args []*Value // by input; nil where omitted
	outs []*Value
}

// typeOutputs sets the output dtypes from the operator's schema.
func (c *call) typeOutputs() {
	domain := graph.NormalizeDomain(c.n.Domain)
	s, err := c.in.reg.Lookup(domain, c.n.OpType, c.in.opsets[domain])
	if err != nil {
		return
	}
	types := make([]tensor.DType, len(c.args))
	for i, a := range c.args {
		if a != nil {
			types[i] = a.DType
		}
	}
	out, err := s.InferTypes(types, len(c.outs))
	if err != nil {
		return
	}
	for i, dt := range out {
		c.outs[i].DType = dt
	}
	// Outputs whose type an attribute picks rather than an input.
	if to, err := c.n.AttrInt("to", 0); err == nil && to != 0 && len(c.outs) > 0 && c.outs[0].DType == tensor.Invalid {
		if dt := tensor.DType(to); dt.Valid() {
			c.outs[0].DType = dt
		}
	}
	if c.n.OpType == "ConstantOfShape" && len(c.outs) > 0 {
		c.outs[0].DType = tensor.Float32
		if t, err := c.n.AttrTensor("value"); err == nil && t != nil {
			c.outs[0].DType = t.DType
		}
	}
}

// evaluate runs the node's kernel when every input is a small constant,
// and reports whether it did.
func (c *call) evaluate() bool {
	in := make([]*tensor.Tensor, len(c.args))
	for i, a := range c.args {
		if a == nil {
			continue
		}
		if a.concrete == nil {
			return false
		}
		in[i] = a.concrete
	}
	k, s, err := c.in.reg.Build(c.n, c.in.opsets)
	if err != nil || s.Volatile {
		return false
	}
	out := make([]*tensor.Tensor, len(c.outs))
	if !runKernel(k, in, out) {
		return false
	}
	for i, t := range out {
		if t == nil || t.Validate() != nil {
			return false
		}
		*c.outs[i] = *constValue(t)
	}
	return true
}

// runKernel runs k under a small allocation budget, turning a kernel's
// panic into a failure: inference must never bring a model down.
func runKernel(k ops.Kernel, in, out []*tensor.Tensor) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	ctx := ops.WithAllocBudget(context.Background(), ops.NewAllocBudget(16*maxConcrete))
	return k.Run(ctx, in, out) == nil
}

// safely applies a rule; a rule that meets inputs it does not expect (an
// index out of range on a malformed model) leaves the outputs unknown.
func (c *call) safely(r rule) {
	defer func() {
		if recover() != nil {
			for _, o := range c.outs {
				o.Known, o.Shape, o.Elems = false, nil, nil
			}
		}
	}()
	r(c)
}

func (c *call) fromFallback() {
	for i, name := range c.n.Outputs {
		if v, ok := c.in.fallback[name]; ok && v.Known {
			c.outs[i].Known, c.outs[i].Shape = true, v.Shape
		}
	}
}

// arg is input i, or nil when it is omitted or not given.
func (c *call) arg(i int) *Value {
	if i < len(c.args) {
		return c.args[i]
	}
	return nil
}

// shape is input i's shape, or false when it is not known.
func (c *call) shape(i int) (Shape, bool) {
	a := c.arg(i)
	if a == nil || !a.Known {
		return nil, false
	}
	return a.Shape, true
}

// set gives output i a shape.
func (c *call) set(i int, s Shape) {
	if i < len(c.outs) {
		c.outs[i].Known, c.outs[i].Shape = true, s
	}
}

// setElems gives output i a symbolic content (and the matching shape).
func (c *call) setElems(i int, e []Dim, scalar bool) {
	if i >= len(c.outs) || len(e) > maxElems {
		return
	}
	c.outs[i].Elems = e
	if scalar && len(e) == 1 {
		c.set(i, Shape{})
		return
	}
	c.set(i, Shape{Fixed(int64(len(e)))})
}

// fresh mints a dimension no input binds, for a size inference cannot tell.
func (c *call) fresh() Dim {
	c.in.unknown++
	return Symbol("?" + strconv.Itoa(c.in.unknown))
}

// ints is input i's content as fixed integers, or false.
func (c *call) ints(i int) ([]int64, bool) {
	a := c.arg(i)
	if a == nil || a.Elems == nil {
		return nil, false
	}
	out := make([]int64, len(a.Elems))
	for j, d := range a.Elems {
		v, ok := d.Value()
		if !ok {
			return nil, false
		}
		out[j] = v
	}
	return out, true
}

// attrInts reads an integer list attribute, or false when absent or malformed.
func (c *call) attrInts(name string) ([]int64, bool) {
	if !c.n.HasAttr(name) {
		return nil, false
	}
	v, err := c.n.AttrInts(name, nil)
	return v, err == nil
}

// attrInt reads an integer attribute with a default.
func (c *call) attrInt(name string, def int64) int64 {
	v, err := c.n.AttrInt(name, def)
	if err != nil {
		panic(fmt.Sprintf("attribute %s: %v", name, err))
	}
	return v
}

// axis normalises a possibly negative axis against rank r.
func axis(a int64, r int) int {
	if a < 0 {
		a += int64(r)
	}
	if a < 0 || a >= int64(r) {
		panic(fmt.Sprintf("axis %d out of range for rank %d", a, r))
	}
	return int(a)
}

// HasRule reports whether inference has a rule for the operator, so a
// caller can tell whether nodes it did not write (a rewrite's) need
// Fallback shapes.
func HasRule(domain, opType string) bool {
	_, ok := rules[ruleKey{graph.NormalizeDomain(domain), opType}]
	return ok
}

// Infer infers every value of m: its inputs, initializers and the outputs
// of its nodes, taken in an order where each value is defined before it is
// used (nodes on a cycle or using undefined values are left out).
func Infer(m *graph.Model, reg *ops.Registry) *Inferrer {
	in := New(reg, m.Opsets)
	if m.Graph == nil {
		return in
	}
	g := m.Graph
	for _, vi := range g.Inputs {
		if _, isConst := g.Initializers[vi.Name]; !isConst {
			in.Input(vi)
		}
	}
	for name, t := range g.Initializers {
		in.Const(name, t)
	}
	for _, n := range topological(g) {
		in.Node(n)
	}
	return in
}

// topological orders g's nodes so every value is produced before it is
// used, keeping file order where it already is.
func topological(g *graph.Graph) []*graph.Node {
	producer := map[string]int{}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				producer[o] = i
			}
		}
	}
	pending := make([]int, len(g.Nodes))
	users := make([][]int, len(g.Nodes))
	for i, n := range g.Nodes {
		for _, name := range n.Inputs {
			if j, ok := producer[name]; ok && name != "" {
				pending[i]++
				users[j] = append(users[j], i)
			}
		}
	}
	var ready, order []int
	for i, p := range pending {
		if p == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		i := slices.Min(ready)
		ready = slices.DeleteFunc(ready, func(j int) bool { return j == i })
		order = append(order, i)
		for _, u := range users[i] {
			if pending[u]--; pending[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	out := make([]*graph.Node, len(order))
	for k, i := range order {
		out[k] = g.Nodes[i]
	}
	return out
}
