package fusion

import (
	"math"
	"slices"
	"strings"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// layerNorm matches the nine-node LayerNorm exporters write below opset
// 17, anchored at its first ReduceMean:
//
//	mean = ReduceMean(x, axes=[-1], keepdims=1)
//	d    = Sub(x, mean)
//	v    = ReduceMean(Pow(d, 2) or Mul(d, d), axes=[-1], keepdims=1)
//	y    = Div(d, Sqrt(Add(v, eps)))
//	out  = Add(Mul(y, gamma), beta)
//
// with eps a scalar constant and gamma, beta 1-D constants (the
// normalised axis's scale and shift), and writes LayerNormalization(x,
// gamma, beta, axis=-1, epsilon=eps).
func (r *rewriter) layerNorm(m1 *graph.Node) {
	if !op(m1, "ReduceMean") || !r.lastAxisMean(m1) {
		return
	}
	x := m1.Inputs[0]
	if !r.f32(x) {
		return
	}
	sub := r.soleOut(m1)
	if !op(sub, "Sub") || len(sub.Inputs) != 2 || sub.Inputs[0] != x || sub.Inputs[1] != m1.Outputs[0] {
		return
	}
	d := sub.Outputs[0]
	if r.outputs[d] {
		return
	}
	// d feeds the square and the division, and nothing else.
	var sq, div *graph.Node
	uses := r.users[d]
	switch len(uses) {
	case 2:
		for _, u := range uses {
			switch {
			case op(u, "Pow") && len(u.Inputs) == 2 && u.Inputs[0] == d && r.isScalar(u.Inputs[1], 2, 0):
				sq = u
			case op(u, "Div") && len(u.Inputs) == 2 && u.Inputs[0] == d:
				div = u
			}
		}
	case 3: // Mul(d, d) uses d twice
		for _, u := range uses {
			switch {
			case op(u, "Mul") && len(u.Inputs) == 2 && u.Inputs[0] == d && u.Inputs[1] == d:
				sq = u
			case op(u, "Div") && len(u.Inputs) == 2 && u.Inputs[0] == d:
				div = u
			}
		}
	}
	if sq == nil || div == nil || r.removed[sq] || r.removed[div] {
		return
	}
	m2 := r.soleOut(sq)
	if !op(m2, "ReduceMean") || m2.Inputs[0] != sq.Outputs[0] || !r.lastAxisMean(m2) {
		return
	}
	addEps := r.soleOut(m2)
	if !op(addEps, "Add") {
		return
	}
	eps, ok := r.scalar(other(addEps, m2.Outputs[0]))
	if !ok || eps < 0 {
		return
	}
	sqrt := r.soleOut(addEps)
	if !op(sqrt, "Sqrt") || r.soleOut(sqrt) != div || div.Inputs[1] != sqrt.Outputs[0] {
		return
	}
	mul := r.soleOut(div)
	if !op(mul, "Mul") {
		return
	}
	gamma := other(mul, div.Outputs[0])
	addBeta := r.soleOut(mul)
	if !op(addBeta, "Add") {
		return
	}
	beta := other(addBeta, mul.Outputs[0])
	if !r.vector(gamma) || !r.vector(beta) {
		return
	}
	ln := &graph.Node{OpType: "LayerNormalization", Inputs: []string{x, gamma, beta},
		Attrs: graph.Attrs(graph.IntAttr("axis", -1), graph.FloatAttr("epsilon", eps))}
	r.replace("LayerNorm", ln, m1, sub, sq, m2, addEps, sqrt, div, mul, addBeta)
}

// lastAxisMean reports whether ReduceMean node n averages over the last
// axis alone, keeping it: axes [-1] as an attribute (before opset 18) or
// a constant input (from 18), keepdims 1.
func (r *rewriter) lastAxisMean(n *graph.Node) bool {
	if len(n.Inputs) == 0 || n.Inputs[0] == "" || len(n.Outputs) != 1 {
		return false
	}
	if keep, err := n.AttrInt("keepdims", 1); err != nil || keep != 1 {
		return false
	}
	var axes []int64
	if r.opsetOf(n) < 18 {
		a, err := n.AttrInts("axes", nil)
		if err != nil || len(n.Inputs) != 1 {
			return false
		}
		axes = a
	} else {
		if len(n.Inputs) != 2 {
			return false
		}
		t := r.consts[n.Inputs[1]]
		if t == nil || t.DType != tensor.Int64 {
			return false
		}
		axes = tensor.Values[int64](t)
	}
	return len(axes) == 1 && axes[0] == -1
}

// vector reports whether v is a float32 constant of rank 1 with more
// than one element: a per-feature scale or shift along the last axis,
// which LayerNormalization broadcasts exactly as Mul and Add do (a
// one-element vector could widen a last axis of size one, which
// LayerNormalization would not).
func (r *rewriter) vector(v string) bool {
	t := r.consts[v]
	return t != nil && t.DType == tensor.Float32 && len(t.Shape) == 1 && t.Shape[0] > 1
}

// gelu matches the exact GELU as exporters write it below opset 20,
// anchored at its Erf:
//
//	e   = Erf(Div(x, √2) or Mul(x, 1/√2))
//	a   = Add(e, 1)
//	out = Mul(Mul(x, a), 0.5) or Mul(Mul(x, 0.5), a)
//
// and writes Gelu(x) (ops.FusedDomain's, ONNX Gelu's semantics).
func (r *rewriter) gelu(erf *graph.Node) {
	if !op(erf, "Erf") || len(erf.Inputs) != 1 {
		return
	}
	scaled := r.producer[erf.Inputs[0]]
	if scaled == nil || r.removed[scaled] || r.soleOut(scaled) != erf || len(scaled.Inputs) != 2 {
		return
	}
	x := scaled.Inputs[0]
	switch {
	case op(scaled, "Div") && r.isScalar(scaled.Inputs[1], math.Sqrt2, 1e-6):
	case op(scaled, "Mul") && r.isScalar(scaled.Inputs[1], 1/math.Sqrt2, 1e-6):
	case op(scaled, "Mul") && r.isScalar(scaled.Inputs[0], 1/math.Sqrt2, 1e-6):
		x = scaled.Inputs[1]
	default:
		return
	}
	if !r.f32(x) {
		return
	}
	add1 := r.soleOut(erf)
	if !op(add1, "Add") || !r.isScalar(other(add1, erf.Outputs[0]), 1, 0) {
		return
	}
	mul := r.soleOut(add1)
	if !op(mul, "Mul") {
		return
	}
	var chain []*graph.Node
	if f := other(mul, add1.Outputs[0]); f == x {
		// Mul(x, a), then the half.
		half := r.soleOut(mul)
		if !op(half, "Mul") || !r.isScalar(other(half, mul.Outputs[0]), 0.5, 0) {
			return
		}
		chain = []*graph.Node{scaled, erf, add1, mul, half}
	} else {
		// Mul(Mul(x, 0.5), a).
		h := r.from(f, "Mul")
		if h == nil || r.soleOut(h) != mul || !r.isScalar(other(h, x), 0.5, 0) {
			return
		}
		chain = []*graph.Node{h, scaled, erf, add1, mul}
	}
	r.replace("Gelu", &graph.Node{OpType: "Gelu", Inputs: []string{x}}, chain...)
}

// attention matches scaled dot-product attention, anchored at its
// Softmax:
//
//	s   = MatMul(Q, Kt)
//	s   = Div(s, c) or Mul(s, c) or Mul(c, s)   (optional; c a scalar constant)
//	s   = Add(s, mask)                          (optional)
//	out = MatMul(Softmax(s, axis=-1), V)
//
// and writes FusedAttention(Q, Kt, V, mask, scale=c, scale_op=Div|Mul).
func (r *rewriter) attention(sm *graph.Node) {
	if !op(sm, "Softmax") || len(sm.Inputs) != 1 || len(sm.Outputs) != 1 {
		return
	}
	def := int64(-1)
	if r.opsetOf(sm) < 13 {
		def = 1 // and a 2-D coercion, which on the last axis is the same
	}
	if axis, err := sm.AttrInt("axis", def); err != nil || axis != -1 {
		return
	}
	pv := r.soleOut(sm)
	if !op(pv, "MatMul") || len(pv.Inputs) != 2 || pv.Inputs[0] != sm.Outputs[0] {
		return
	}
	chain := []*graph.Node{sm, pv}
	s := sm.Inputs[0]
	mask := ""
	if add := r.from(s, "Add"); add != nil && r.soleOut(add) == sm && len(add.Inputs) == 2 {
		// The scores are the operand made by the scaling or the product.
		for i, in := range add.Inputs {
			if p := r.producer[in]; p != nil && !r.removed[p] && r.soleOut(p) == add && (r.scaling(p) != "" || op(p, "MatMul")) {
				s, mask = in, add.Inputs[1-i]
				break
			}
		}
		if mask == "" || !r.f32(mask) {
			return
		}
		chain = append([]*graph.Node{add}, chain...)
	}
	scaleOp, scale := "", float32(1)
	if p := r.producer[s]; p != nil && !r.removed[p] && r.soleOut(p) == chain[0] {
		if scaleOp = r.scaling(p); scaleOp != "" {
			c := p.Inputs[1]
			s = p.Inputs[0]
			if op(p, "Mul") && r.consts[p.Inputs[0]] != nil {
				c, s = p.Inputs[0], p.Inputs[1]
			}
			scale, _ = r.scalar(c)
			chain = append([]*graph.Node{p}, chain...)
		}
	}
	qk := r.from(s, "MatMul")
	if qk == nil || r.soleOut(qk) != chain[0] || len(qk.Inputs) != 2 || !r.f32(qk.Inputs[0]) || !r.f32(pv.Inputs[1]) {
		return
	}
	chain = append([]*graph.Node{qk}, chain...)
	attrs := []*graph.Attr{}
	if scaleOp != "" {
		attrs = append(attrs, graph.FloatAttr("scale", scale), graph.StringAttr("scale_op", scaleOp))
	}
	inputs := []string{qk.Inputs[0], qk.Inputs[1], pv.Inputs[1]}
	if mask != "" {
		inputs = append(inputs, mask)
	}
	fused := &graph.Node{OpType: "FusedAttention", Inputs: inputs, Attrs: graph.Attrs(attrs...)}
	r.replace("Attention", fused, chain...)
}

// scaling returns "Div" or "Mul" when n divides or multiplies a value by
// a scalar constant (the divisor second), else "".
func (r *rewriter) scaling(n *graph.Node) string {
	if n == nil || len(n.Inputs) != 2 {
		return ""
	}
	_, second := r.scalar(n.Inputs[1])
	_, first := r.scalar(n.Inputs[0])
	switch {
	case op(n, "Div") && second:
		return "Div"
	case op(n, "Mul") && (second || first):
		return "Mul"
	}
	return ""
}

// matmulBias matches a Linear layer: MatMul(A, B), then Add of a float32
// constant bias whose every dimension but the last is one, then
// optionally Relu or Gelu, and writes FusedMatMul(A, B, bias,
// activation).
func (r *rewriter) matmulBias(mm *graph.Node) {
	if !op(mm, "MatMul") || len(mm.Inputs) != 2 || !r.f32(mm.Inputs[0]) || !r.f32(mm.Inputs[1]) {
		return
	}
	add := r.soleOut(mm)
	if !op(add, "Add") {
		return
	}
	bias := other(add, mm.Outputs[0])
	if !r.rowVector(bias) {
		return
	}
	chain := []*graph.Node{mm, add}
	kind := "MatMul+Bias"
	act := r.activation(add)
	if act != nil {
		chain = append(chain, act)
		kind += "+" + act.OpType
	}
	fused := &graph.Node{OpType: "FusedMatMul", Inputs: []string{mm.Inputs[0], mm.Inputs[1], bias}}
	if act != nil {
		fused.Attrs = graph.Attrs(graph.StringAttr("activation", act.OpType))
	}
	r.replace(kind, fused, chain...)
}

// rowVector reports whether v is a float32 constant with at least one
// dimension, all but the last of size one: a bias along the last axis.
func (r *rewriter) rowVector(v string) bool {
	t := r.consts[v]
	if t == nil || t.DType != tensor.Float32 || len(t.Shape) == 0 {
		return false
	}
	return t.Len() == t.Shape[len(t.Shape)-1]
}

// activation returns the Relu or exact Gelu that alone uses n's output.
func (r *rewriter) activation(n *graph.Node) *graph.Node {
	a := r.soleOut(n)
	switch {
	case a == nil || len(a.Inputs) != 1 || len(a.Outputs) != 1:
		return nil
	case op(a, "Relu"):
		return a
	case a.OpType == "Gelu" && (isDefault(a.Domain) || a.Domain == ops.FusedDomain):
		if approx, err := a.AttrString("approximate", "none"); err == nil && approx == "none" {
			return a
		}
	}
	return nil
}

// gemmRelu matches Gemm then Relu and writes FusedGemm with the Relu as
// its activation. Gemm before opset 7 broadcast C differently; it is left
// alone.
func (r *rewriter) gemmRelu(gm *graph.Node) {
	if !op(gm, "Gemm") || r.opsetOf(gm) < 7 || len(gm.Inputs) < 2 || !r.f32(gm.Inputs[0]) {
		return
	}
	act := r.activation(gm)
	if act == nil || act.OpType != "Relu" {
		return
	}
	fused := &graph.Node{OpType: "FusedGemm", Inputs: slices.Clone(gm.Inputs), Attrs: map[string]*graph.Attr{}}
	for name, a := range gm.Attrs {
		fused.Attrs[name] = a
	}
	fused.Attrs["activation"] = graph.StringAttr("activation", "Relu")
	r.replace("Gemm+Relu", fused, gm, act)
}

// conv matches a Conv and what follows it that FusedConv does in its
// epilogue: Add of a per-channel float32 constant (folded into the
// Conv's bias), Add of another value (a residual), and Relu, each
// optional but in this order, and writes FusedConv. The weight must be a
// constant, which fixes the output's rank and channel count.
func (r *rewriter) conv(c *graph.Node) {
	if !op(c, "Conv") || len(c.Inputs) < 2 || len(c.Outputs) != 1 || !r.f32(c.Inputs[0]) {
		return
	}
	w := r.consts[c.Inputs[1]]
	if w == nil || w.DType != tensor.Float32 || len(w.Shape) < 3 {
		return
	}
	channels, spatial := w.Shape[0], len(w.Shape)-2
	bias := ""
	if len(c.Inputs) > 2 {
		bias = c.Inputs[2]
	}
	chain := []*graph.Node{c}
	var kind []string
	last, residual := c, ""
	if add := r.soleOut(last); op(add, "Add") {
		if b := other(add, last.Outputs[0]); r.channelBias(b, channels, spatial) {
			merged, ok := r.mergeBias(c, bias, b, channels)
			if ok {
				bias = merged
				chain, last = append(chain, add), add
				kind = append(kind, "Bias")
			}
		}
	}
	if add := r.soleOut(last); op(add, "Add") {
		if z := other(add, last.Outputs[0]); z != "" && r.consts[z] == nil && r.f32(z) {
			residual = z
			chain, last = append(chain, add), add
			kind = append(kind, "Add")
		}
	}
	act := r.activation(last)
	if act != nil && act.OpType != "Relu" {
		act = nil
	}
	if act != nil {
		chain = append(chain, act)
		kind = append(kind, "Relu")
	}
	if len(chain) == 1 {
		return
	}
	inputs := []string{c.Inputs[0], c.Inputs[1], bias}
	if residual != "" {
		inputs = append(inputs, residual)
	}
	fused := &graph.Node{OpType: "FusedConv", Inputs: inputs, Attrs: map[string]*graph.Attr{}}
	for name, a := range c.Attrs {
		fused.Attrs[name] = a
	}
	if act != nil {
		fused.Attrs["activation"] = graph.StringAttr("activation", "Relu")
	}
	r.replace("Conv+"+strings.Join(kind, "+"), fused, chain...)
}

// channelBias reports whether v is a float32 constant that an Add
// broadcasts along the channel axis of a Conv's output of rank spatial+2:
// channels values on the axis that lines up with the channel axis, ones
// elsewhere, and no more dimensions than the output.
func (r *rewriter) channelBias(v string, channels, spatial int) bool {
	t := r.consts[v]
	if t == nil || t.DType != tensor.Float32 || len(t.Shape) > spatial+2 || len(t.Shape) < spatial+1 {
		return false
	}
	axis := len(t.Shape) - spatial - 1
	for i, d := range t.Shape {
		if (i == axis && d != channels) || (i != axis && d != 1) {
			return false
		}
	}
	return true
}

// mergeBias returns the name of a constant holding the Conv's bias (the
// constant named have, or none when "") plus the per-channel values of
// add, as a new initializer.
func (r *rewriter) mergeBias(c *graph.Node, have, add string, channels int) (string, bool) {
	sum := make([]float32, channels)
	copy(sum, tensor.Values[float32](r.consts[add]))
	if have != "" {
		t := r.consts[have]
		if t == nil || t.DType != tensor.Float32 || len(t.Shape) != 1 || t.Shape[0] != channels {
			return "", false
		}
		for i, v := range tensor.Values[float32](t) {
			sum[i] += v
		}
	}
	base := c.Name
	if base == "" {
		base = c.Outputs[0]
	}
	return r.addInitializer(base+"_fused_bias", tensor.MustFrom(tensor.Shape{channels}, sum)), true
}
