package shapes_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/fusion"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/modelgen"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/shapes"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func TestDims(t *testing.T) {
	bind := func(s string) (int64, bool) {
		v, ok := map[string]int64{"N": 3, "S": 5}[s]
		return v, ok
	}
	cases := []struct {
		shape    shapes.Shape
		elements string
		size     int64 // -1: not known under bind
	}{
		{shapes.Shape{shapes.Fixed(2), shapes.Fixed(3)}, "6", 6},
		{shapes.Shape{shapes.Symbol("N"), shapes.Fixed(4)}, "4*N", 12},
		{shapes.Shape{shapes.Symbol("S"), shapes.Symbol("N"), shapes.Symbol("S")}, "N*S*S", 75},
		{shapes.Shape{shapes.Symbol("N"), shapes.Fixed(0)}, "0", 0},
		{shapes.Shape{shapes.Symbol("?1"), shapes.Fixed(2)}, "2*?1", -1},
		{shapes.Shape{}, "1", 1},
	}
	for _, c := range cases {
		t.Run(c.shape.String(), func(t *testing.T) {
			is := is.New(t)
			n, ok := c.shape.Elements()
			is.True(ok)
			is.Equal(n.String(), c.elements)
			v, ok := n.Eval(bind)
			if c.size < 0 {
				is.True(!ok)
				return
			}
			is.True(ok)
			is.Equal(v, c.size)
		})
	}
}

// TestInferMatchesRun infers the shapes of every value of the generated
// models, as written and after fusion, and compares them with the shapes
// the values have when the model runs at a batch of 2 (and a sequence of
// 5 where it is symbolic): every value must be inferred, in the inputs'
// symbols only, and right.
func TestInferMatchesRun(t *testing.T) {
	bert := modelgen.SmallBERT()
	bert.Layers = 2
	decomposed := bert
	decomposed.DecomposedLayerNorm = true
	dynSeq := bert
	dynSeq.DynamicSeq, dynSeq.TokenTypes, dynSeq.Seq = true, true, 5
	fixed := bert
	fixed.Batch = 2
	build := func(c modelgen.BERTConfig) func(testing.TB) *graph.Model {
		return func(t testing.TB) *graph.Model {
			m, err := modelgen.BERTEncoder(c)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	cases := []struct {
		name   string
		model  func(testing.TB) *graph.Model
		inputs []tensor.Named
	}{
		{"mnist", func(testing.TB) *graph.Model { return modelgen.MNIST(modelgen.Dynamic, 1) }, []tensor.Named{modelgen.RandomMNISTInput(2, 1)}},
		{"resnet18", func(testing.TB) *graph.Model { return modelgen.ResNet18(modelgen.Dynamic, 1) }, []tensor.Named{modelgen.RandomResNet18Input(2, 1)}},
		{"bert", build(bert), modelgen.RandomBERTInputs(bert, 2, 1)},
		{"bert-fixed-batch", build(fixed), modelgen.RandomBERTInputs(fixed, 2, 1)},
		{"bert-decomposed-layernorm", build(decomposed), modelgen.RandomBERTInputs(decomposed, 2, 1)},
		{"bert-dynamic-sequence", build(dynSeq), modelgen.RandomBERTInputs(dynSeq, 2, 1)},
	}
	bind := func(s string) (int64, bool) {
		v, ok := map[string]int64{modelgen.BatchDim: 2, "sequence_length": 5}[s]
		return v, ok
	}
	for _, c := range cases {
		for _, fused := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/fused=%v", c.name, fused), func(t *testing.T) {
				is := is.New(t)
				m := c.model(t)
				if fused {
					var err error
					m, _, err = fusion.Fuse(m, ops.Default())
					is.NoErr(err)
				}
				inferred := shapes.Infer(m, ops.Default()).Values()
				actual := runAll(t, m, c.inputs)
				is.True(len(actual) >= len(m.Graph.Nodes)) // a value per node at least
				for name, got := range actual {
					v, ok := inferred[name]
					if !ok || !v.Known {
						t.Errorf("%s: shape not inferred (actual %v)", name, []int(got.Shape))
						continue
					}
					want := make([]int, len(v.Shape))
					for i, d := range v.Shape {
						n, ok := d.Eval(bind)
						if !ok {
							t.Errorf("%s: inferred %v has a symbol the inputs do not bind", name, v.Shape)
						}
						want[i] = int(n)
					}
					if !slices.Equal(want, []int(got.Shape)) {
						t.Errorf("%s: inferred %v = %v, actual %v", name, v.Shape, want, []int(got.Shape))
					}
					if v.DType != tensor.Invalid && v.DType != got.DType {
						t.Errorf("%s: inferred %v, actual %v", name, v.DType, got.DType)
					}
				}
			})
		}
	}
}

// runAll runs m with every node output made a graph output and returns
// the values by name.
func runAll(t *testing.T, m *graph.Model, inputs []tensor.Named) map[string]*tensor.Tensor {
	t.Helper()
	g := *m.Graph
	g.Outputs = nil
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				g.Outputs = append(g.Outputs, graph.ValueInfo{Name: o, UnknownRank: true})
			}
		}
	}
	all := *m
	all.Graph = &g
	p, err := exec.Compile(&all, exec.WithoutFusion())
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Run(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]*tensor.Tensor{}
	for _, o := range out {
		vals[o.Name] = o.Tensor
	}
	return vals
}

// TestSymbolicReshape checks the exporter's shape arithmetic for a dynamic
// batch: Shape → Gather → Unsqueeze → Concat gives a Reshape a target in
// the input's own symbols, and an inferred -1 divides symbolically.
func TestSymbolicReshape(t *testing.T) {
	is := is.New(t)
	i64 := func(v ...int64) *tensor.Tensor { return tensor.MustFrom(tensor.Shape{len(v)}, v) }
	m := &graph.Model{IRVersion: 8, Opsets: map[string]int64{"": 17}, Graph: &graph.Graph{
		Inputs: []graph.ValueInfo{{Name: "x", DType: tensor.Float32, Dims: []graph.Dim{graph.SymbolicDim("N"), graph.SymbolicDim("S"), graph.FixedDim(8)}}},
		Initializers: map[string]*tensor.Tensor{
			"zero": tensor.MustFrom(tensor.Shape{}, []int64{0}), "one": tensor.MustFrom(tensor.Shape{}, []int64{1}),
			"axes": i64(0), "tail": i64(2, 4), "flat": i64(-1, 4),
		},
		Nodes: []*graph.Node{
			{OpType: "Shape", Inputs: []string{"x"}, Outputs: []string{"shape"}},
			{OpType: "Gather", Inputs: []string{"shape", "zero"}, Outputs: []string{"n"}},
			{OpType: "Gather", Inputs: []string{"shape", "one"}, Outputs: []string{"s"}},
			{OpType: "Unsqueeze", Inputs: []string{"n", "axes"}, Outputs: []string{"n1"}},
			{OpType: "Unsqueeze", Inputs: []string{"s", "axes"}, Outputs: []string{"s1"}},
			{OpType: "Concat", Inputs: []string{"n1", "s1", "tail"}, Outputs: []string{"target"}, Attrs: graph.Attrs(graph.IntAttr("axis", 0))},
			{OpType: "Reshape", Inputs: []string{"x", "target"}, Outputs: []string{"heads"}},
			{OpType: "Reshape", Inputs: []string{"x", "flat"}, Outputs: []string{"rows"}},
			{OpType: "Relu", Inputs: []string{"rows"}, Outputs: []string{"y"}},
		},
	}}
	in := shapes.Infer(m, ops.Default())
	for name, want := range map[string]string{"target": "[4]", "heads": "[N,S,2,4]", "rows": "[2*N*S,4]", "y": "[2*N*S,4]"} {
		v, ok := in.Value(name)
		is.True(ok && v.Known)
		is.Equal(v.Shape.String(), want)
	}
	v, _ := in.Value("target")
	is.Equal(fmt.Sprint(v.Elems), "[N S 2 4]")
}

// TestUnknownOperator: a node no rule covers leaves its outputs, and what
// depends on them, unknown, without failing.
func TestUnknownOperator(t *testing.T) {
	is := is.New(t)
	reg := ops.Default().With("test", "Mystery", ops.Schema{
		Since: 1, Inputs: []ops.Param{{Name: "x", Type: "T"}}, Outputs: []ops.Param{{Name: "y", Type: "T"}},
		Types: map[string][]tensor.DType{"T": {tensor.Float32}},
		Build: func(*graph.Node, int64) (ops.Kernel, error) { return nil, nil },
	})
	m := &graph.Model{IRVersion: 8, Opsets: map[string]int64{"": 17, "test": 1}, Graph: &graph.Graph{
		Inputs: []graph.ValueInfo{{Name: "x", DType: tensor.Float32, Dims: []graph.Dim{graph.SymbolicDim("N"), graph.FixedDim(3)}}},
		Nodes: []*graph.Node{
			{OpType: "Mystery", Domain: "test", Inputs: []string{"x"}, Outputs: []string{"m"}},
			{OpType: "Relu", Inputs: []string{"m"}, Outputs: []string{"r"}},
			{OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"known"}},
		},
	}}
	in := shapes.Infer(m, reg)
	for name, want := range map[string]string{"m": "", "r": "", "known": "[N,3]"} {
		v, ok := in.Value(name)
		is.True(ok)
		is.Equal(v.Known, want != "")
		if want != "" {
			is.Equal(v.Shape.String(), want)
		}
		is.True(!strings.Contains(v.Shape.String(), "?"))
	}
	is.True(!shapes.HasRule("test", "Mystery"))
	is.True(shapes.HasRule("", "MatMul"))
}
