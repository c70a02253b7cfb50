package modelgen_test

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/modelgen"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/onnx"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// tinyBERT is small enough to run many times in a test.
func tinyBERT(batch int) modelgen.BERTConfig {
	return modelgen.BERTConfig{Layers: 2, Hidden: 32, Heads: 4, FFN: 64, Seq: 8, Vocab: 50, MaxPositions: 16,
		Batch: batch, AttentionMask: true, Seed: 7}
}

func mustBERT(t testing.TB, c modelgen.BERTConfig) *graph.Model {
	t.Helper()
	m, err := modelgen.BERTEncoder(c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type genCase struct {
	name   string
	model  func() *graph.Model
	inputs func(batch int) []tensor.Named
	batch  int      // the batch to run
	want   []int    // the output's shape
	ops    []string // op types the graph must contain
	decl   string   // the declared input shape
}

func cases(t testing.TB) []genCase {
	small := modelgen.SmallBERT()
	return []genCase{
		{"mnist/fixed", func() *graph.Model { return modelgen.MNIST(3, 1) },
			func(b int) []tensor.Named { return []tensor.Named{modelgen.RandomMNISTInput(b, 2)} },
			3, []int{3, 10}, []string{"Conv", "Add", "Relu", "MaxPool", "Reshape", "MatMul"}, "FP32[3,1,28,28]"},
		{"mnist/dynamic", func() *graph.Model { return modelgen.MNIST(modelgen.Dynamic, 1) },
			func(b int) []tensor.Named { return []tensor.Named{modelgen.RandomMNISTInput(b, 2)} },
			5, []int{5, 10}, []string{"Conv", "Reshape"}, "FP32[batch_size,1,28,28]"},
		{"resnet18/dynamic", func() *graph.Model { return modelgen.ResNet18(modelgen.Dynamic, 1) },
			func(b int) []tensor.Named { return []tensor.Named{modelgen.RandomResNet18Input(b, 2)} },
			1, []int{1, 1000}, []string{"Conv", "Relu", "MaxPool", "Add", "GlobalAveragePool", "Flatten", "Gemm"}, "FP32[batch_size,3,224,224]"},
		{"bert/tiny-fixed", func() *graph.Model { return mustBERT(t, tinyBERT(2)) },
			func(b int) []tensor.Named { return modelgen.RandomBERTInputs(tinyBERT(b), b, 3) },
			2, []int{2, 8, 32}, []string{"Gather", "LayerNormalization", "MatMul", "Reshape", "Transpose", "Softmax", "Erf", "Div", "Unsqueeze", "Cast"}, "INT64[2,8]"},
		{"bert/tiny-dynamic-decomposed", func() *graph.Model {
			c := tinyBERT(modelgen.Dynamic)
			c.DecomposedLayerNorm = true
			return mustBERT(t, c)
		}, func(b int) []tensor.Named { return modelgen.RandomBERTInputs(tinyBERT(b), b, 3) },
			3, []int{3, 8, 32}, []string{"ReduceMean", "Pow", "Sqrt", "Shape", "Concat", "Erf"}, "INT64[batch_size,8]"},
		{"bert/small", func() *graph.Model { return mustBERT(t, small) },
			func(b int) []tensor.Named { return modelgen.RandomBERTInputs(small, b, 3) },
			1, []int{1, 128, 256}, []string{"LayerNormalization", "Softmax"}, "INT64[batch_size,128]"},
	}
}

// TestModelsRun compiles each generated model, runs it on random inputs,
// and checks the output's shape, that it is finite and not constant, and
// the op pattern.
func TestModelsRun(t *testing.T) {
	for _, tc := range cases(t) {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.name == "resnet18/dynamic" {
				t.Skip("short mode")
			}
			is := is.New(t)
			m := tc.model()
			is.Equal(m.Graph.Inputs[0].String(), tc.decl)
			is.Equal(m.Opsets[""], int64(modelgen.Opset))
			present := map[string]bool{}
			for _, n := range m.Graph.Nodes {
				present[n.OpType] = true
			}
			for _, op := range tc.ops {
				is.True(present[op]) // the op pattern
			}
			p, err := exec.Compile(m)
			is.NoErr(err)
			out, err := p.Run(context.Background(), tc.inputs(tc.batch))
			is.NoErr(err)
			is.Equal(len(out), 1)
			is.Equal(out[0].Name, m.Graph.Outputs[0].Name)
			is.Equal([]int(out[0].Shape), tc.want)
			v := tensor.Values[float32](out[0].Tensor)
			lo, hi := v[0], v[0]
			for _, x := range v {
				is.True(!math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0))
				lo, hi = min(lo, x), max(hi, x)
			}
			is.True(hi-lo > 1e-3) // the output depends on something
			t.Logf("%s: %d nodes, %d initializers, output range [%g, %g]", tc.name, len(m.Graph.Nodes), len(m.Graph.Initializers), lo, hi)
		})
	}
}

// TestDeterministic checks that a seed fixes the model: two builds write
// the same bytes, and another seed changes them.
func TestDeterministic(t *testing.T) {
	builds := []struct {
		name string
		gen  func(seed uint64) *graph.Model
	}{
		{"mnist", func(s uint64) *graph.Model { return modelgen.MNIST(modelgen.Dynamic, s) }},
		{"resnet18", func(s uint64) *graph.Model { return modelgen.ResNet18(1, s) }},
		{"bert", func(s uint64) *graph.Model {
			c := tinyBERT(modelgen.Dynamic)
			c.Seed = s
			return mustBERT(t, c)
		}},
	}
	for _, bc := range builds {
		t.Run(bc.name, func(t *testing.T) {
			is := is.New(t)
			a, err := onnx.WriteModel(bc.gen(1))
			is.NoErr(err)
			b, err := onnx.WriteModel(bc.gen(1))
			is.NoErr(err)
			c, err := onnx.WriteModel(bc.gen(2))
			is.NoErr(err)
			is.True(bytes.Equal(a, b))
			is.True(!bytes.Equal(a, c))
			back, err := onnx.ReadModel(a)
			is.NoErr(err)
			again, err := onnx.WriteModel(back)
			is.NoErr(err)
			is.True(bytes.Equal(a, again)) // the writer round-trips it
		})
	}
}

// TestVariantsAgree checks that the forms of one model compute the same:
// fixed and symbolic batch (constant versus computed reshape targets), and
// LayerNormalization versus its decomposition.
func TestVariantsAgree(t *testing.T) {
	run := func(t *testing.T, m *graph.Model, in []tensor.Named) *tensor.Tensor {
		t.Helper()
		p, err := exec.Compile(m)
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Run(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		return out[0].Tensor
	}
	decomposed := tinyBERT(2)
	decomposed.DecomposedLayerNorm = true
	decomposed.Epsilon = 1e-5 // the decomposition is only as exact as its variance
	fused := tinyBERT(2)
	fused.Epsilon = 1e-5
	pairs := []struct {
		name string
		a, b *graph.Model
		in   []tensor.Named
	}{
		{"bert fixed vs dynamic", mustBERT(t, tinyBERT(2)), mustBERT(t, tinyBERT(modelgen.Dynamic)), modelgen.RandomBERTInputs(tinyBERT(2), 2, 5)},
		{"bert fused vs decomposed LayerNorm", mustBERT(t, fused), mustBERT(t, decomposed), modelgen.RandomBERTInputs(fused, 2, 5)},
		{"mnist fixed vs dynamic", modelgen.MNIST(4, 3), modelgen.MNIST(modelgen.Dynamic, 3), []tensor.Named{modelgen.RandomMNISTInput(4, 1)}},
	}
	for _, pc := range pairs {
		t.Run(pc.name, func(t *testing.T) {
			a, b := run(t, pc.a, pc.in), run(t, pc.b, pc.in)
			if err := allClose(b, a, 1e-5, 1e-4); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// allClose is enginetest.AllClose with looser tolerances, for comparing two
// float32 computations that sum in different orders.
func allClose(got, want *tensor.Tensor, atol, rtol float64) error {
	if err := enginetest.AllClose(got, want); err == nil {
		return nil
	}
	g, w := tensor.Values[float32](got), tensor.Values[float32](want)
	for i := range w {
		if d := math.Abs(float64(g[i] - w[i])); !(d <= atol+rtol*math.Abs(float64(w[i]))) { // NaN fails too
			return fault.Errorf(fault.Invalid, "element %d: got %g, want %g", i, g[i], w[i])
		}
	}
	return nil
}

func TestBERTConfigErrors(t *testing.T) {
	bad := []struct {
		name string
		edit func(c *modelgen.BERTConfig)
	}{
		{"heads do not divide hidden", func(c *modelgen.BERTConfig) { c.Heads = 3 }},
		{"no hidden", func(c *modelgen.BERTConfig) { c.Hidden = 0 }},
		{"too few positions", func(c *modelgen.BERTConfig) { c.MaxPositions = c.Seq - 1 }},
		{"negative batch", func(c *modelgen.BERTConfig) { c.Batch = -1 }},
	}
	for _, bc := range bad {
		t.Run(bc.name, func(t *testing.T) {
			is := is.New(t)
			c := modelgen.SmallBERT()
			bc.edit(&c)
			_, err := modelgen.BERTEncoder(c)
			is.True(err != nil)
			is.Equal(fault.KindOf(err), fault.Invalid)
		})
	}
}

// TestResNet18Topology checks the layer structure: 20 convolutions (17 on
// the main path, 3 downsample projections), 8 residual Adds, 17 Relus,
// and 11.7 million parameters like torchvision's resnet18 with BN folded.
func TestResNet18Topology(t *testing.T) {
	is := is.New(t)
	m := modelgen.ResNet18(1, 1)
	count := map[string]int{}
	downsample := 0
	for _, n := range m.Graph.Nodes {
		count[n.OpType]++
		if n.OpType == "Conv" && bytes.Contains([]byte(n.Name), []byte("downsample")) {
			downsample++
			s, err := n.AttrInts("strides", nil)
			is.NoErr(err)
			is.Equal(s, []int64{2, 2})
		}
	}
	is.Equal(count["Conv"], 20)
	is.Equal(downsample, 3)
	is.Equal(count["Add"], 8)
	is.Equal(count["Relu"], 17)
	is.Equal(count["MaxPool"], 1)
	is.Equal(count["Gemm"], 1)
	params := 0
	for _, w := range m.Graph.Initializers {
		params += w.Len()
	}
	// torchvision: 11,689,512 parameters, of which 9,600 are the scales
	// and shifts of 4,800 BatchNorm channels; folding turns them into
	// 4,800 Conv biases.
	is.Equal(params, 11689512-4800)
	is.Equal(m.Graph.Outputs[0].String(), "FP32[1,1000]")
}

// With a symbolic sequence length the encoder takes any length up to its
// positions, and gives what a model fixed to that length gives.
func TestBERTDynamicSequence(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	cfg := modelgen.BERTConfig{Layers: 2, Hidden: 32, Heads: 4, FFN: 64, Seq: 9, Vocab: 50, MaxPositions: 40,
		AttentionMask: true, TokenTypes: true, Seed: 7}
	fixed, err := modelgen.BERTEncoder(cfg)
	is.NoErr(err)
	cfg.DynamicSeq = true
	dynamic, err := modelgen.BERTEncoder(cfg)
	is.NoErr(err)
	pf, err := exec.Compile(fixed)
	is.NoErr(err)
	pd, err := exec.Compile(dynamic)
	is.NoErr(err)
	in := modelgen.RandomBERTInputs(cfg, 1, 3)
	want, err := pf.Run(ctx, in)
	is.NoErr(err)
	got, err := pd.Run(ctx, in)
	is.NoErr(err)
	is.NoErr(enginetest.AllClose(got[0].Tensor, want[0].Tensor))
	for _, seq := range []int{1, 5, 40} {
		c := cfg
		c.Seq = seq
		out, err := pd.Run(ctx, modelgen.RandomBERTInputs(c, 2, 4))
		is.NoErr(err)
		is.Equal([]int(out[0].Shape), []int{2, seq, 32})
	}
	c := cfg
	c.Seq = 41 // more tokens than positions
	_, err = pd.Run(ctx, modelgen.RandomBERTInputs(c, 1, 4))
	is.True(err != nil)
}
