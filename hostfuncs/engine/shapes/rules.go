package shapes

import (
	"math"
	"slices"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// rule infers a node's outputs from its inputs. It may panic on inputs a
// malformed model gives it; Node turns that into unknown outputs.
type rule func(c *call)

type ruleKey struct{ domain, op string }

// rules is built once at package initialisation and never written again.
var rules = ruleTable()

func ruleTable() map[ruleKey]rule {
	r := map[ruleKey]rule{}
	std := func(f rule, names ...string) {
		for _, n := range names {
			r[ruleKey{graph.DefaultDomain, n}] = f
		}
	}
	std(sameShape, "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Erf", "Sqrt", "Exp", "Log",
		"Abs", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Tan", "Asin", "Acos",
		"Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Elu", "Selu", "Celu", "Softplus",
		"Softsign", "HardSigmoid", "HardSwish", "Mish", "Gelu", "ThresholdedRelu", "Not", "IsNaN",
		"IsInf", "Softmax", "LogSoftmax", "Hardmax", "Clip", "Shrink", "BatchNormalization",
		"InstanceNormalization", "LpNormalization", "MeanVarianceNormalization", "LRN", "Dropout",
		"QuantizeLinear", "DequantizeLinear", "Trilu", "CumSum", "GroupNormalization",
		"BitwiseNot", "Bernoulli", "RandomNormalLike", "RandomUniformLike")
	std(passThrough, "Identity", "Cast", "CastLike", "Neg")
	std(broadcastRule, "Pow", "Max", "Min", "Sum", "Mean", "Equal", "Less", "Greater",
		"LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Mod", "BitShift", "Where", "PRelu",
		"BitwiseAnd", "BitwiseOr", "BitwiseXor")
	std(arithmetic(mul), "Mul")
	std(arithmetic(add), "Add")
	std(arithmetic(sub), "Sub")
	std(arithmetic(div), "Div")
	std(matmulRule, "MatMul")
	std(gemmRule, "Gemm")
	std(poolRule(true), "Conv")
	std(poolRule(false), "MaxPool", "AveragePool", "LpPool")
	std(globalPool, "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
	std(flattenRule, "Flatten")
	std(reshapeRule, "Reshape")
	std(transposeRule, "Transpose")
	std(squeezeRule, "Squeeze")
	std(unsqueezeRule, "Unsqueeze")
	std(concatRule, "Concat")
	std(gatherRule, "Gather")
	std(sliceRule, "Slice")
	std(shapeRule, "Shape")
	std(sizeRule, "Size")
	std(expandRule, "Expand")
	std(constantOfShape, "ConstantOfShape")
	std(constantRule, "Constant")
	std(splitRule, "Split")
	std(reduceRule, "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd",
		"ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")
	std(argReduce, "ArgMax", "ArgMin")
	std(layerNormRule, "LayerNormalization")
	std(tileRule, "Tile")
	std(padRule, "Pad")

	// The engine's fused operators take the shapes of the chains they
	// replace.
	fused := func(f rule, name string) { r[ruleKey{ops.FusedDomain, name}] = f }
	fused(poolRule(true), "FusedConv")
	fused(matmulRule, "FusedMatMul")
	fused(gemmRule, "FusedGemm")
	fused(attentionRule, "FusedAttention")
	fused(sameShape, "Gelu")
	fused(layerNormRule, "LayerNormalization")
	return r
}

// sameShape: every output has input 0's shape (an activation, a
// normalisation, Dropout and its mask).
func sameShape(c *call) {
	if s, ok := c.shape(0); ok {
		for i := range c.outs {
			c.set(i, s)
		}
	}
}

// passThrough is sameShape that also carries an integer vector's content.
func passThrough(c *call) {
	sameShape(c)
	a := c.arg(0)
	if a != nil && a.Elems != nil && isInt(c.outs[0].DType) && c.n.OpType != "Neg" {
		c.outs[0].Elems = a.Elems
	}
}

func isInt(dt tensor.DType) bool { return dt == tensor.Int64 || dt == tensor.Int32 }

// broadcast is the shape of the inputs broadcast together, numpy-style. A
// symbolic dimension against a fixed one other than 1 takes the fixed size
// (the only one that can broadcast); two different symbols give an
// unknown size.
func (c *call) broadcast(shapes ...Shape) Shape {
	r := 0
	for _, s := range shapes {
		r = max(r, len(s))
	}
	out := make(Shape, r)
	for i := range r {
		var dims []Dim
		for _, s := range shapes {
			if j := i - (r - len(s)); j >= 0 && s[j] != Fixed(1) {
				dims = append(dims, s[j])
			}
		}
		out[i] = c.unify(dims)
	}
	return out
}

// unify is the broadcast size of dims, none of which is 1.
func (c *call) unify(dims []Dim) Dim {
	if len(dims) == 0 {
		return Fixed(1)
	}
	for _, d := range dims[1:] {
		if d != dims[0] {
			for _, f := range dims {
				if _, fixed := f.Value(); fixed {
					return f
				}
			}
			return c.fresh()
		}
	}
	return dims[0]
}

// broadcastRule gives output 0 the inputs' broadcast shape.
func broadcastRule(c *call) {
	var shapes []Shape
	for i, a := range c.args {
		if a == nil {
			continue
		}
		s, ok := c.shape(i)
		if !ok {
			return
		}
		shapes = append(shapes, s)
	}
	c.set(0, c.broadcast(shapes...))
}

// arithmetic is broadcastRule that also computes integer vectors (the
// exporter's shape arithmetic), element by element, a scalar or 1-element
// operand applying to every element.
func arithmetic(f func(a, b Dim) (Dim, bool)) rule {
	return func(c *call) {
		broadcastRule(c)
		a, b := c.arg(0), c.arg(1)
		if a == nil || b == nil || a.Elems == nil || b.Elems == nil || !isInt(c.outs[0].DType) {
			return
		}
		n := max(len(a.Elems), len(b.Elems))
		if (len(a.Elems) != n && len(a.Elems) != 1) || (len(b.Elems) != n && len(b.Elems) != 1) {
			return
		}
		out := make([]Dim, n)
		for i := range out {
			x, y := a.Elems[min(i, len(a.Elems)-1)], b.Elems[min(i, len(b.Elems)-1)]
			r, ok := f(x, y)
			if !ok {
				return
			}
			out[i] = r
		}
		if s := c.outs[0].Shape; c.outs[0].Known && len(s) <= 1 {
			c.outs[0].Elems = out
		}
	}
}

// matmulShape is numpy's matmul of shapes a and b.
func (c *call) matmulShape(a, b Shape) Shape {
	if len(a) == 0 || len(b) == 0 {
		panic("MatMul of a scalar")
	}
	va, vb := len(a) == 1, len(b) == 1
	if va {
		a = Shape{Fixed(1), a[0]}
	}
	if vb {
		b = Shape{b[0], Fixed(1)}
	}
	batch := c.broadcast(a[:len(a)-2], b[:len(b)-2])
	out := append(batch, a[len(a)-2], b[len(b)-1])
	if vb {
		out = slices.Delete(out, len(out)-1, len(out))
	}
	if va {
		out = slices.Delete(out, len(out)-2, len(out)-1)
	}
	return out
}

func matmulRule(c *call) {
	a, ok1 := c.shape(0)
	b, ok2 := c.shape(1)
	if ok1 && ok2 {
		c.set(0, c.matmulShape(a, b))
	}
}

// attentionRule: softmax(Q·Kt)·V keeps Q·Kt·V's shape.
func attentionRule(c *call) {
	q, ok1 := c.shape(0)
	kt, ok2 := c.shape(1)
	v, ok3 := c.shape(2)
	if ok1 && ok2 && ok3 {
		c.set(0, c.matmulShape(c.matmulShape(q, kt), v))
	}
}

func gemmRule(c *call) {
	a, ok1 := c.shape(0)
	b, ok2 := c.shape(1)
	if !ok1 || !ok2 || len(a) != 2 || len(b) != 2 {
		return
	}
	m, n := a[0], b[1]
	if c.attrInt("transA", 0) != 0 {
		m = a[1]
	}
	if c.attrInt("transB", 0) != 0 {
		n = b[0]
	}
	c.set(0, Shape{m, n})
}

// poolRule is the shape of a convolution (conv: channels from the weights)
// or a pooling window over N×C×spatial input.
func poolRule(conv bool) rule {
	return func(c *call) {
		x, ok := c.shape(0)
		if !ok || len(x) < 3 {
			return
		}
		nd := len(x) - 2
		ch := x[1]
		kernel, hasKernel := c.attrInts("kernel_shape")
		if conv {
			w, ok := c.shape(1)
			if !ok || len(w) != nd+2 {
				return
			}
			ch = w[0]
			if !hasKernel {
				kernel = make([]int64, nd)
				for i := range nd {
					v, fixed := w[2+i].Value()
					if !fixed {
						return
					}
					kernel[i] = v
				}
			}
		} else if !hasKernel {
			return
		}
		strides := c.intsOr("strides", nd, 1)
		dil := c.intsOr("dilations", nd, 1)
		pads := c.intsOr("pads", 2*nd, 0)
		autoPad, _ := c.n.AttrString("auto_pad", "NOTSET")
		ceil := c.attrInt("ceil_mode", 0) != 0
		out := Shape{x[0], ch}
		for i := range nd {
			out = append(out, c.window(x[2+i], kernel[i], strides[i], dil[i], pads[i]+pads[nd+i], autoPad, ceil))
		}
		for i := range c.outs {
			c.set(i, out) // MaxPool's indices have the output's shape
		}
	}
}

// intsOr reads an integer list attribute of n values, or n copies of def.
func (c *call) intsOr(name string, n int, def int64) []int64 {
	v, ok := c.attrInts(name)
	if !ok || len(v) != n {
		v = make([]int64, n)
		for i := range v {
			v[i] = def
		}
	}
	return v
}

// window is a spatial output size: ONNX's formulas for explicit padding
// and the auto_pad modes.
func (c *call) window(in Dim, k, s, d, pad int64, autoPad string, ceil bool) Dim {
	ek := (k-1)*d + 1 // effective kernel extent
	size, fixed := in.Value()
	switch autoPad {
	case "SAME_UPPER", "SAME_LOWER":
		if s == 1 {
			return in
		}
		if fixed {
			return Fixed((size + s - 1) / s)
		}
	case "VALID":
		if fixed {
			return Fixed((size - ek + s) / s)
		}
	default:
		if s == 1 && pad == ek-1 {
			return in
		}
		if fixed {
			span := size + pad - ek
			if ceil {
				return Fixed((span+s-1)/s + 1)
			}
			return Fixed(span/s + 1)
		}
	}
	return c.fresh()
}

func globalPool(c *call) {
	x, ok := c.shape(0)
	if !ok || len(x) < 2 {
		return
	}
	out := Shape{x[0], x[1]}
	for range len(x) - 2 {
		out = append(out, Fixed(1))
	}
	c.set(0, out)
}

// product multiplies dims, or mints an unknown size on overflow.
func (c *call) product(dims []Dim) Dim {
	n, ok := Shape(dims).Elements()
	if !ok {
		return c.fresh()
	}
	return n
}

func flattenRule(c *call) {
	x, ok := c.shape(0)
	if !ok {
		return
	}
	a := c.attrInt("axis", 1)
	if a < 0 {
		a += int64(len(x))
	}
	if a < 0 || a > int64(len(x)) {
		return
	}
	c.set(0, Shape{c.product(x[:a]), c.product(x[a:])})
}

func reshapeRule(c *call) {
	t := c.arg(1)
	if t == nil || t.Elems == nil {
		if s, ok := c.shape(1); ok && len(s) == 1 {
			if n, fixed := s[0].Value(); fixed { // only the rank is known
				out := make(Shape, n)
				for i := range out {
					out[i] = c.fresh()
				}
				c.set(0, out)
			}
		}
		return
	}
	x, xKnown := c.shape(0)
	allowZero := c.attrInt("allowzero", 0) != 0
	out := make(Shape, len(t.Elems))
	infer := -1
	for i, d := range t.Elems {
		v, fixed := d.Value()
		switch {
		case fixed && v == 0 && !allowZero:
			if !xKnown || i >= len(x) {
				return
			}
			out[i] = x[i]
		case fixed && v == -1:
			infer = i
		case fixed && v < 0:
			return
		default:
			out[i] = d
		}
	}
	if infer >= 0 {
		out[infer] = c.fresh()
		if xKnown {
			known := slices.Delete(slices.Clone(out), infer, infer+1)
			if total, ok := x.Elements(); ok {
				if rest, ok := Shape(known).Elements(); ok {
					if d, ok := div(total, rest); ok {
						out[infer] = d
					}
				}
			}
		}
	}
	c.set(0, out)
	if a := c.arg(0); a != nil && a.Elems != nil && len(out) <= 1 {
		c.outs[0].Elems = a.Elems
	}
}

func transposeRule(c *call) {
	x, ok := c.shape(0)
	if !ok {
		return
	}
	perm, ok := c.attrInts("perm")
	if !ok {
		perm = make([]int64, len(x))
		for i := range perm {
			perm[i] = int64(len(x) - 1 - i)
		}
	}
	if len(perm) != len(x) {
		return
	}
	out := make(Shape, len(x))
	for i, p := range perm {
		out[i] = x[axis(p, len(x))]
	}
	c.set(0, out)
}

// axesOf reads the axes of Squeeze, Unsqueeze and the reductions: the
// attribute in older opsets, input 1 in newer ones. It reports false when
// the axes are given but not known.
func (c *call) axesOf() (axes []int64, given, ok bool) {
	if v, has := c.attrInts("axes"); has {
		return v, true, true
	}
	if c.arg(1) == nil {
		return nil, false, true
	}
	v, ok := c.ints(1)
	return v, true, ok
}

func squeezeRule(c *call) {
	x, ok := c.shape(0)
	axes, given, known := c.axesOf()
	if !ok || !known {
		return
	}
	drop := make([]bool, len(x))
	for _, a := range axes {
		drop[axis(a, len(x))] = true
	}
	var out Shape
	for i, d := range x {
		if !given && d == Fixed(1) {
			continue
		}
		if !drop[i] {
			out = append(out, d)
		}
	}
	c.set(0, out)
	if a := c.arg(0); a != nil && a.Elems != nil && len(out) <= 1 {
		c.outs[0].Elems = a.Elems
	}
}

func unsqueezeRule(c *call) {
	x, ok := c.shape(0)
	axes, _, known := c.axesOf()
	if !ok || !known {
		return
	}
	r := len(x) + len(axes)
	ins := make([]bool, r)
	for _, a := range axes {
		ins[axis(a, r)] = true
	}
	out := make(Shape, 0, r)
	j := 0
	for i := range r {
		if ins[i] {
			out = append(out, Fixed(1))
			continue
		}
		out = append(out, x[j])
		j++
	}
	c.set(0, out)
	if a := c.arg(0); a != nil && a.Elems != nil && len(out) <= 1 {
		c.outs[0].Elems = a.Elems
	}
}

func concatRule(c *call) {
	var shapes []Shape
	for i := range c.args {
		s, ok := c.shape(i)
		if !ok {
			return
		}
		shapes = append(shapes, s)
	}
	if len(shapes) == 0 {
		return
	}
	a := axis(c.attrInt("axis", 0), len(shapes[0]))
	out := slices.Clone(shapes[0])
	for _, s := range shapes[1:] {
		if len(s) != len(out) {
			return
		}
		d, ok := add(out[a], s[a])
		if !ok {
			d = c.fresh()
		}
		out[a] = d
	}
	c.set(0, out)
	if len(out) != 1 {
		return
	}
	var elems []Dim
	for _, arg := range c.args {
		if arg.Elems == nil {
			return
		}
		elems = append(elems, arg.Elems...)
	}
	c.setElems(0, elems, false)
}

func gatherRule(c *call) {
	x, ok1 := c.shape(0)
	idx, ok2 := c.shape(1)
	if !ok1 || !ok2 {
		return
	}
	a := axis(c.attrInt("axis", 0), len(x))
	out := slices.Concat(x[:a], idx, x[a+1:])
	c.set(0, out)
	data := c.arg(0)
	is, known := c.ints(1)
	if data.Elems == nil || !known || len(x) != 1 || len(idx) > 1 {
		return
	}
	elems := make([]Dim, len(is))
	for i, j := range is {
		if j < 0 {
			j += int64(len(data.Elems))
		}
		if j < 0 || j >= int64(len(data.Elems)) {
			return
		}
		elems[i] = data.Elems[j]
	}
	c.outs[0].Elems = elems
}

// sliceRule handles Slice's two forms (attributes before opset 10, inputs
// since). A symbolic end is taken to be within the axis, as an exporter's
// x[:, :seq] is; other symbolic cases give unknown sizes.
func sliceRule(c *call) {
	x, ok := c.shape(0)
	if !ok {
		return
	}
	var starts, ends []Dim
	var axes, steps []int64
	if c.n.HasAttr("starts") {
		s, _ := c.attrInts("starts")
		e, _ := c.attrInts("ends")
		starts, ends = fixedDims(s), fixedDims(e)
		axes, _ = c.attrInts("axes")
	} else {
		st, en := c.arg(1), c.arg(2)
		if st == nil || en == nil || st.Elems == nil || en.Elems == nil {
			out := make(Shape, len(x))
			for i := range out {
				out[i] = c.fresh()
			}
			c.set(0, out)
			return
		}
		starts, ends = st.Elems, en.Elems
		var known bool
		if c.arg(3) != nil {
			if axes, known = c.ints(3); !known {
				return
			}
		}
		if c.arg(4) != nil {
			if steps, known = c.ints(4); !known {
				return
			}
		}
	}
	if len(ends) != len(starts) {
		return
	}
	if axes == nil {
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	out := slices.Clone(x)
	elemsOK := true
	var sliced [3]int64 // start, end, step of a sliced vector's only axis
	for i, a := range axes {
		ax := axis(a, len(x))
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		d, bounds, ok := sliceDim(x[ax], starts[i], ends[i], step)
		if !ok {
			d, elemsOK = c.fresh(), false
		}
		out[ax], sliced = d, bounds
	}
	c.set(0, out)
	data := c.arg(0)
	if data.Elems == nil || len(x) != 1 || !elemsOK {
		return
	}
	var elems []Dim
	if len(axes) == 0 {
		elems = data.Elems
	} else if n, fixed := out[0].Value(); fixed {
		for i := range n {
			elems = append(elems, data.Elems[sliced[0]+i*sliced[2]])
		}
	} else {
		return
	}
	c.setElems(0, elems, false)
}

func fixedDims(v []int64) []Dim {
	out := make([]Dim, len(v))
	for i, x := range v {
		out[i] = Fixed(x)
	}
	return out
}

// sliceDim is the length of dim[start:end:step], with the start, end and
// step it resolved to when all are fixed.
func sliceDim(dim, start, end Dim, step int64) (Dim, [3]int64, bool) {
	n, nFixed := dim.Value()
	s, sFixed := start.Value()
	e, eFixed := end.Value()
	switch {
	case step == 0 || !sFixed:
		return Dim{}, [3]int64{}, false
	case nFixed && eFixed:
		lo, hi := clampIndex(s, n, step), clampIndex(e, n, step)
		if step > 0 {
			return Fixed(max(0, (hi-lo+step-1)/step)), [3]int64{lo, hi, step}, true
		}
		return Fixed(max(0, (lo-hi-step-1)/-step)), [3]int64{lo, hi, step}, true
	case step == 1 && s == 0 && eFixed && e >= math.MaxInt32:
		return dim, [3]int64{}, true // to the end of a symbolic axis
	case step == 1 && s == 0 && !eFixed:
		return end, [3]int64{}, true // x[:seq], seq within the axis
	}
	return Dim{}, [3]int64{}, false
}

// clampIndex resolves a Slice bound against an axis of n, as ONNX does.
func clampIndex(i, n, step int64) int64 {
	if i < 0 {
		i += n
	}
	if step > 0 {
		return min(max(i, 0), n)
	}
	return min(max(i, -1), n-1)
}

func shapeRule(c *call) {
	x, ok := c.shape(0)
	if !ok {
		return
	}
	r := int64(len(x))
	clampBound := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end := clampBound(c.attrInt("start", 0)), clampBound(c.attrInt("end", r))
	dims := slices.Clone(x[start:max(start, end)])
	if len(dims) > maxElems {
		c.set(0, Shape{Fixed(int64(len(dims)))})
		return
	}
	c.setElems(0, dims, false)
}

func sizeRule(c *call) {
	if x, ok := c.shape(0); ok {
		c.setElems(0, []Dim{c.product(x)}, true)
	}
}

// shapeFromInput is the shape an integer vector input holds.
func (c *call) shapeFromInput(i int) (Shape, bool) {
	a := c.arg(i)
	if a == nil || a.Elems == nil {
		return nil, false
	}
	return Shape(a.Elems), true
}

func expandRule(c *call) {
	x, ok1 := c.shape(0)
	s, ok2 := c.shapeFromInput(1)
	if ok1 && ok2 {
		c.set(0, c.broadcast(x, s))
	}
}

func constantOfShape(c *call) {
	if s, ok := c.shapeFromInput(0); ok {
		c.set(0, slices.Clone(s))
	}
}

func constantRule(c *call) {
	if t, err := c.n.AttrTensor("value"); err == nil && t != nil {
		*c.outs[0] = *constValue(t)
	}
}

func splitRule(c *call) {
	x, ok := c.shape(0)
	if !ok {
		return
	}
	a := axis(c.attrInt("axis", 0), len(x))
	sizes, has := c.attrInts("split")
	if !has && c.arg(1) != nil {
		if sizes, has = c.ints(1); !has {
			return
		}
	}
	for i := range c.outs {
		out := slices.Clone(x)
		switch {
		case has && i < len(sizes):
			out[a] = Fixed(sizes[i])
		case has:
			return
		default:
			n := int64(len(c.outs))
			d, ok := div(x[a], Fixed(n))
			if !ok {
				d = c.fresh()
			}
			out[a] = d
		}
		c.set(i, out)
	}
}

func reduceRule(c *call) {
	x, ok := c.shape(0)
	axes, _, known := c.axesOf()
	if !ok || !known {
		return
	}
	if len(axes) == 0 && c.attrInt("noop_with_empty_axes", 0) != 0 {
		c.set(0, x)
		return
	}
	keep := c.attrInt("keepdims", 1) != 0
	reduced := make([]bool, len(x))
	for _, a := range axes {
		reduced[axis(a, len(x))] = true
	}
	if len(axes) == 0 {
		for i := range reduced {
			reduced[i] = true
		}
	}
	c.set(0, reduceShape(x, reduced, keep))
}

func reduceShape(x Shape, reduced []bool, keep bool) Shape {
	out := Shape{}
	for i, d := range x {
		switch {
		case !reduced[i]:
			out = append(out, d)
		case keep:
			out = append(out, Fixed(1))
		}
	}
	return out
}

func argReduce(c *call) {
	x, ok := c.shape(0)
	if !ok {
		return
	}
	reduced := make([]bool, len(x))
	reduced[axis(c.attrInt("axis", 0), len(x))] = true
	c.set(0, reduceShape(x, reduced, c.attrInt("keepdims", 1) != 0))
}

// layerNormRule: Y has X's shape; Mean and InvStdDev keep the axes before
// axis and are 1 from it on.
func layerNormRule(c *call) {
	x, ok := c.shape(0)
	if !ok {
		return
	}
	c.set(0, x)
	a := axis(c.attrInt("axis", -1), len(x))
	stat := slices.Clone(x)
	for i := a; i < len(stat); i++ {
		stat[i] = Fixed(1)
	}
	for i := 1; i < len(c.outs); i++ {
		c.set(i, stat)
	}
}

func tileRule(c *call) {
	x, ok1 := c.shape(0)
	reps, ok2 := c.shapeFromInput(1)
	if !ok1 || !ok2 || len(reps) != len(x) {
		return
	}
	out := make(Shape, len(x))
	for i := range x {
		d, ok := mul(x[i], reps[i])
		if !ok {
			d = c.fresh()
		}
		out[i] = d
	}
	c.set(0, out)
}

func padRule(c *call) {
	x, ok := c.shape(0)
	if !ok {
		return
	}
	pads, has := c.attrInts("pads")
	if !has {
		if pads, has = c.ints(1); !has {
			return
		}
	}
	axes := make([]int64, len(x))
	for i := range axes {
		axes[i] = int64(i)
	}
	if c.arg(3) != nil {
		if axes, has = c.ints(3); !has {
			return
		}
	}
	if len(pads) != 2*len(axes) {
		return
	}
	out := slices.Clone(x)
	for i, a := range axes {
		ax := axis(a, len(x))
		d, ok := add(out[ax], Fixed(pads[i]+pads[len(axes)+i]))
		if !ok {
			d = c.fresh()
		}
		out[ax] = d
	}
	c.set(0, out)
}
