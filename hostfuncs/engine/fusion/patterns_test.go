package fusion_test

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/fusion"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/modelgen"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// g builds a small graph: float32 inputs of the given shapes, the nodes,
// initializers, and the graph outputs by name.
type g struct {
	opset   int64
	inputs  map[string][]int
	dtype   tensor.DType
	inits   map[string]*tensor.Tensor
	nodes   []*graph.Node
	outputs []string
}

func (b g) model() *graph.Model {
	opset := b.opset
	if opset == 0 {
		opset = 17
	}
	dt := b.dtype
	if dt == tensor.Invalid {
		dt = tensor.Float32
	}
	gr := &graph.Graph{Name: "t", Initializers: b.inits, Nodes: b.nodes}
	for _, name := range sortedKeys(b.inputs) {
		var dims []graph.Dim
		for _, d := range b.inputs[name] {
			dims = append(dims, graph.FixedDim(int64(d)))
		}
		gr.Inputs = append(gr.Inputs, graph.ValueInfo{Name: name, DType: dt, Dims: dims})
	}
	for _, o := range b.outputs {
		gr.Outputs = append(gr.Outputs, graph.ValueInfo{Name: o, DType: dt})
	}
	return &graph.Model{IRVersion: 8, Opsets: map[string]int64{"": opset}, Graph: gr}
}

func sortedKeys(m map[string][]int) []string { return slices.Sorted(maps.Keys(m)) }

func nd(op string, in []string, out string, attrs ...*graph.Attr) *graph.Node {
	n := &graph.Node{Name: out + "_node", OpType: op, Inputs: in, Outputs: []string{out}}
	if len(attrs) > 0 {
		n.Attrs = graph.Attrs(attrs...)
	}
	return n
}

func scalarConst(name string, v float32) *graph.Node {
	return nd("Constant", nil, name, graph.TensorAttr("value", tensor.MustFrom(tensor.Shape{}, []float32{v})))
}

func rnd(seed uint64, shape ...int) *tensor.Tensor {
	return modelgen.RandomFloats(tensor.Shape(shape), -1, 1, seed)
}

// geluNodes is the exporter's exact GELU of x into out.
func geluNodes(x, out string) []*graph.Node {
	return []*graph.Node{
		scalarConst("sqrt2", math.Sqrt2), scalarConst("one", 1), scalarConst("half", 0.5),
		nd("Div", []string{x, "sqrt2"}, "g_div"), nd("Erf", []string{"g_div"}, "g_erf"),
		nd("Add", []string{"g_erf", "one"}, "g_add"), nd("Mul", []string{x, "g_add"}, "g_mul"),
		nd("Mul", []string{"g_mul", "half"}, out),
	}
}

// layerNormNodes is the nine-node LayerNorm of x into out, with the
// mean's axes given by axes (an attribute before opset 18).
func layerNormNodes(x, out string, axes int64, opset int64, square string) []*graph.Node {
	mean := func(in, o string) *graph.Node {
		if opset >= 18 {
			return nd("ReduceMean", []string{in, "axes"}, o)
		}
		return nd("ReduceMean", []string{in}, o, graph.IntsAttr("axes", axes))
	}
	sq := nd("Pow", []string{"ln_d", "two"}, "ln_sq")
	if square == "Mul" {
		sq = nd("Mul", []string{"ln_d", "ln_d"}, "ln_sq")
	}
	nodes := []*graph.Node{
		scalarConst("two", 2), scalarConst("eps", 1e-5),
		mean(x, "ln_mean"), nd("Sub", []string{x, "ln_mean"}, "ln_d"), sq,
		mean("ln_sq", "ln_var"), nd("Add", []string{"ln_var", "eps"}, "ln_ve"), nd("Sqrt", []string{"ln_ve"}, "ln_sd"),
		nd("Div", []string{"ln_d", "ln_sd"}, "ln_y"), nd("Mul", []string{"ln_y", "gamma"}, "ln_g"), nd("Add", []string{"ln_g", "beta"}, out),
	}
	if opset >= 18 {
		nodes = append(nodes, nd("Constant", nil, "axes", graph.TensorAttr("value", tensor.MustFrom(tensor.Shape{1}, []int64{axes}))))
	}
	return nodes
}

func attentionNodes(mask bool, axis int64) []*graph.Node {
	ns := []*graph.Node{
		scalarConst("scale", 8),
		nd("MatMul", []string{"q", "kt"}, "a_s"), nd("Div", []string{"a_s", "scale"}, "a_scaled"),
	}
	sm := "a_scaled"
	if mask {
		ns = append(ns, nd("Add", []string{"a_scaled", "mask"}, "a_masked"))
		sm = "a_masked"
	}
	return append(ns, nd("Softmax", []string{sm}, "a_p", graph.IntAttr("axis", axis)), nd("MatMul", []string{"a_p", "v"}, "y"))
}

func convNodes(tail ...*graph.Node) []*graph.Node {
	c := nd("Conv", []string{"x", "w", "b"}, "c", graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("pads", 1, 1, 1, 1))
	return append([]*graph.Node{c}, tail...)
}

var convInits = map[string]*tensor.Tensor{"w": rnd(1, 4, 3, 3, 3), "b": rnd(2, 4), "cb": rnd(3, 4, 1, 1), "rowb": rnd(4, 6)}

func TestPatterns(t *testing.T) {
	lnInits := map[string]*tensor.Tensor{"gamma": rnd(5, 6), "beta": rnd(6, 6)}
	mmInits := map[string]*tensor.Tensor{"w": rnd(7, 6, 5), "bias": rnd(8, 5), "bias2d": rnd(9, 2, 5), "wide": rnd(10, 1, 1, 5)}
	attnIn := map[string][]int{"q": {2, 3, 4, 8}, "kt": {2, 3, 8, 4}, "v": {2, 3, 4, 5}}
	with := func(m map[string][]int, k string, v []int) map[string][]int {
		out := map[string][]int{k: v}
		for kk, vv := range m {
			out[kk] = vv
		}
		return out
	}
	x4 := map[string][]int{"x": {2, 3, 5, 6}}
	cases := []struct {
		name string
		g    g
		want fusion.Counts
	}{
		// Convolution epilogues.
		{"conv relu", g{inputs: x4, inits: convInits, nodes: convNodes(nd("Relu", []string{"c"}, "y")), outputs: []string{"y"}},
			fusion.Counts{"Conv+Relu": 1}},
		{"conv channel bias from initializer, merged with its own", g{inputs: x4, inits: convInits, nodes: convNodes(nd("Add", []string{"cb", "c"}, "y")), outputs: []string{"y"}},
			fusion.Counts{"Conv+Bias": 1}},
		{"conv residual relu", g{inputs: with(x4, "z", []int{2, 4, 5, 6}), inits: convInits, nodes: convNodes(nd("Add", []string{"c", "z"}, "s"), nd("Relu", []string{"s"}, "y")), outputs: []string{"y"}},
			fusion.Counts{"Conv+Add+Relu": 1}},
		{"conv residual that broadcasts", g{inputs: with(x4, "z", []int{1, 4, 1, 1}), inits: convInits, nodes: convNodes(nd("Add", []string{"z", "c"}, "s"), nd("Relu", []string{"s"}, "y")), outputs: []string{"y"}},
			fusion.Counts{"Conv+Add+Relu": 1}},
		{"conv residual that enlarges the output", g{inputs: with(x4, "z", []int{3, 2, 4, 5, 6}), inits: convInits, nodes: convNodes(nd("Add", []string{"c", "z"}, "y")), outputs: []string{"y"}},
			fusion.Counts{"Conv+Add": 1}},
		{"conv output also a graph output", g{inputs: x4, inits: convInits, nodes: convNodes(nd("Relu", []string{"c"}, "y")), outputs: []string{"y", "c"}},
			fusion.Counts{}},
		{"conv output used twice", g{inputs: x4, inits: convInits, nodes: convNodes(nd("Relu", []string{"c"}, "r"), nd("Add", []string{"r", "c"}, "y")), outputs: []string{"y"}},
			fusion.Counts{}},
		{"conv bias along the wrong axis", g{inputs: x4, inits: convInits, nodes: convNodes(nd("Add", []string{"c", "rowb"}, "s"), nd("Relu", []string{"s"}, "y")), outputs: []string{"y"}},
			fusion.Counts{}},
		{"float64 conv", g{inputs: x4, dtype: tensor.Float64, inits: map[string]*tensor.Tensor{"w": tensor.MustNew(tensor.Float64, tensor.Shape{4, 3, 3, 3}), "b": tensor.MustNew(tensor.Float64, tensor.Shape{4})},
			nodes: convNodes(nd("Relu", []string{"c"}, "y")), outputs: []string{"y"}},
			fusion.Counts{}},
		// Linear layers.
		{"matmul bias from a Constant node", g{inputs: map[string][]int{"a": {3, 6}}, inits: map[string]*tensor.Tensor{"w": mmInits["w"]},
			nodes: []*graph.Node{nd("Constant", nil, "cbias", graph.TensorAttr("value", rnd(11, 5))), nd("MatMul", []string{"a", "w"}, "m"), nd("Add", []string{"m", "cbias"}, "y")}, outputs: []string{"y"}},
			fusion.Counts{"MatMul+Bias": 1}},
		{"matmul bias relu", g{inputs: map[string][]int{"a": {2, 3, 6}}, inits: mmInits,
			nodes: []*graph.Node{nd("MatMul", []string{"a", "w"}, "m"), nd("Add", []string{"bias", "m"}, "s"), nd("Relu", []string{"s"}, "y")}, outputs: []string{"y"}},
			fusion.Counts{"MatMul+Bias+Relu": 1}},
		{"matmul bias that enlarges the output", g{inputs: map[string][]int{"a": {3, 6}}, inits: mmInits,
			nodes: []*graph.Node{nd("MatMul", []string{"a", "w"}, "m"), nd("Add", []string{"m", "wide"}, "y")}, outputs: []string{"y"}},
			fusion.Counts{"MatMul+Bias": 1}},
		{"matmul bias not a row", g{inputs: map[string][]int{"a": {2, 6}}, inits: mmInits,
			nodes: []*graph.Node{nd("MatMul", []string{"a", "w"}, "m"), nd("Add", []string{"m", "bias2d"}, "y")}, outputs: []string{"y"}},
			fusion.Counts{}},
		{"matmul plus a non-constant", g{inputs: map[string][]int{"a": {2, 6}, "z": {5}}, inits: mmInits,
			nodes: []*graph.Node{nd("MatMul", []string{"a", "w"}, "m"), nd("Add", []string{"m", "z"}, "y")}, outputs: []string{"y"}},
			fusion.Counts{}},
		{"gemm relu", g{inputs: map[string][]int{"a": {3, 6}}, inits: mmInits,
			nodes: []*graph.Node{nd("Gemm", []string{"a", "w", "bias"}, "m", graph.FloatAttr("alpha", 0.5)), nd("Relu", []string{"m"}, "y")}, outputs: []string{"y"}},
			fusion.Counts{"Gemm+Relu": 1}},
		// GELU.
		{"gelu then linear", g{inputs: map[string][]int{"a": {3, 6}}, inits: mmInits,
			nodes: append([]*graph.Node{nd("MatMul", []string{"a", "w"}, "m"), nd("Add", []string{"m", "bias"}, "h")}, geluNodes("h", "y")...), outputs: []string{"y"}},
			fusion.Counts{"Gelu": 1, "MatMul+Bias+Gelu": 1}},
		{"gelu with Mul by 1/sqrt2 and the half first", g{inputs: map[string][]int{"x": {4, 7}},
			nodes: []*graph.Node{scalarConst("rs2", 1/math.Sqrt2), scalarConst("one", 1), scalarConst("half", 0.5),
				nd("Mul", []string{"x", "half"}, "h"), nd("Mul", []string{"rs2", "x"}, "d"), nd("Erf", []string{"d"}, "e"),
				nd("Add", []string{"one", "e"}, "a"), nd("Mul", []string{"h", "a"}, "y")}, outputs: []string{"y"}},
			fusion.Counts{"Gelu": 1}},
		{"gelu with the wrong divisor", g{inputs: map[string][]int{"x": {4, 7}},
			nodes: append([]*graph.Node{nd("Identity", []string{"x"}, "x2")}, func() []*graph.Node {
				ns := geluNodes("x2", "y")
				ns[0] = scalarConst("sqrt2", 1.5)
				return ns
			}()...), outputs: []string{"y"}},
			fusion.Counts{}},
		{"gelu whose erf is a graph output", g{inputs: map[string][]int{"x": {4, 7}}, nodes: geluNodes("x", "y"), outputs: []string{"y", "g_erf"}},
			fusion.Counts{}},
		// LayerNorm.
		{"layernorm opset 17", g{inputs: map[string][]int{"x": {2, 3, 6}}, inits: lnInits, nodes: layerNormNodes("x", "y", -1, 17, "Pow"), outputs: []string{"y"}},
			fusion.Counts{"LayerNorm": 1}},
		{"layernorm opset 18 with Mul(d, d)", g{opset: 18, inputs: map[string][]int{"x": {2, 3, 6}}, inits: lnInits, nodes: layerNormNodes("x", "y", -1, 18, "Mul"), outputs: []string{"y"}},
			fusion.Counts{"LayerNorm": 1}},
		{"layernorm over another axis", g{inputs: map[string][]int{"x": {2, 6, 6}}, inits: lnInits, nodes: layerNormNodes("x", "y", 1, 17, "Pow"), outputs: []string{"y"}},
			fusion.Counts{}},
		{"layernorm whose deviation is a graph output", g{inputs: map[string][]int{"x": {2, 3, 6}}, inits: lnInits, nodes: layerNormNodes("x", "y", -1, 17, "Pow"), outputs: []string{"y", "ln_d"}},
			fusion.Counts{}},
		// Attention.
		{"attention with a mask", g{inputs: with(attnIn, "mask", []int{2, 1, 1, 4}), nodes: attentionNodes(true, -1), outputs: []string{"y"}},
			fusion.Counts{"Attention": 1}},
		{"attention without a mask", g{inputs: attnIn, nodes: attentionNodes(false, -1), outputs: []string{"y"}},
			fusion.Counts{"Attention": 1}},
		{"attention with broadcast batch dimensions", g{inputs: map[string][]int{"q": {2, 3, 4, 8}, "kt": {1, 3, 8, 4}, "v": {4, 5}}, nodes: attentionNodes(false, -1), outputs: []string{"y"}},
			fusion.Counts{"Attention": 1}},
		{"attention with a mask that enlarges the scores", g{inputs: with(attnIn, "mask", []int{5, 2, 3, 4, 4}), nodes: attentionNodes(true, -1), outputs: []string{"y"}},
			fusion.Counts{"Attention": 1}},
		{"softmax over another axis", g{inputs: attnIn, nodes: attentionNodes(false, 2), outputs: []string{"y"}},
			fusion.Counts{}},
		{"attention probabilities a graph output", g{inputs: attnIn, nodes: attentionNodes(false, -1), outputs: []string{"y", "a_p"}},
			fusion.Counts{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			m := c.g.model()
			fused, counts, err := fusion.Fuse(m, ops.Default())
			is.NoErr(err)
			is.Equal(counts, c.want)
			if len(c.want) == 0 {
				is.Equal(fused, m) // nothing to do: the model itself
			}
			inputs := []tensor.Named{}
			for i, name := range sortedKeys(c.g.inputs) {
				v := rnd(uint64(100+i), c.g.inputs[name]...)
				if c.g.dtype == tensor.Float64 {
					v = tensor.MustNew(tensor.Float64, tensor.Shape(c.g.inputs[name]))
				}
				inputs = append(inputs, tensor.Named{Name: name, Tensor: v})
			}
			for _, threads := range []int{1, 2} {
				want := run(t, m, inputs, threads)
				got := run(t, fused, inputs, threads)
				is.Equal(len(got), len(want))
				for i := range want {
					is.Equal(got[i].Tensor.Shape, want[i].Tensor.Shape)
					if err := closeTo(got[i].Tensor, want[i].Tensor, 1e-5); err != nil {
						t.Fatal(fmt.Errorf("threads %d output %s: %w", threads, want[i].Name, err))
					}
				}
			}
		})
	}
}

// TestCapturedValuesAreKept checks that a value a subgraph reads (an If
// branch naming the Conv's output) blocks the fusion that would remove it:
// the index of the graph's own nodes does not see that use.
func TestCapturedValuesAreKept(t *testing.T) {
	is := is.New(t)
	branch := &graph.Graph{Name: "then", Nodes: []*graph.Node{nd("Identity", []string{"c"}, "t_out")},
		Outputs: []graph.ValueInfo{{Name: "t_out", DType: tensor.Float32}}}
	ifNode := nd("If", []string{"cond"}, "branch_out")
	ifNode.Attrs = map[string]*graph.Attr{"then_branch": {Name: "then_branch", Type: graph.AttrGraph, Graph: branch}}
	m := g{inputs: map[string][]int{"x": {2, 3, 5, 6}}, inits: convInits,
		nodes: convNodes(nd("Relu", []string{"c"}, "y"), ifNode), outputs: []string{"y", "branch_out"}}.model()
	_, counts, err := fusion.Fuse(m, ops.Default())
	is.NoErr(err)
	is.Equal(counts, fusion.Counts{})
}
