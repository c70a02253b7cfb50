package fusion_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/fusion"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/modelgen"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// modelCase is a generated model with inputs and the fusions it must get.
type modelCase struct {
	name   string
	model  *graph.Model
	inputs []tensor.Named
	want   fusion.Counts
}

func bertModel(t *testing.T, batch, layers int, decomposed bool) *graph.Model {
	t.Helper()
	c := modelgen.SmallBERT()
	c.Layers, c.Batch, c.DecomposedLayerNorm = layers, batch, decomposed
	m, err := modelgen.BERTEncoder(c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func bertInputs(batch int) []tensor.Named {
	return modelgen.RandomBERTInputs(modelgen.SmallBERT(), batch, 2)
}

func modelCases(t *testing.T) []modelCase {
	// ResNet-18 has 20 convolutions, all with their bias (BatchNorm folded
	// in): the stem's, two in each of the 8 basic blocks, and the 1×1
	// projections of the 3 blocks that change the width. The stem and
	// each block's first convolution are followed by a Relu alone: 1 + 8 =
	// 9 Conv+Relu. Each block's second convolution is followed by the
	// residual Add and a Relu: 8 Conv+Add+Relu (in a projecting block the
	// Add's other operand is the projection's output, which therefore stays
	// a plain Conv, as do the other 2). The classifier is a Gemm with no
	// activation after it.
	resnet := fusion.Counts{"Conv+Relu": 9, "Conv+Add+Relu": 8}
	// mnist-7: each of its two convolutions has no bias of its own but an
	// Add of a [C,1,1] constant, then a Relu; the classifier is a MatMul
	// by a reshaped weight plus a [1,10] constant.
	mnist := fusion.Counts{"Conv+Bias+Relu": 2, "MatMul+Bias": 1}
	// A BERT layer has six Linear layers: query, key, value, the attention
	// output and the FFN's second are MatMul+Bias (5), the FFN's first
	// takes the GELU (1); one attention; two LayerNorms. The embeddings add
	// one LayerNorm. With 4 layers: 20, 4, 4, 4, and 4·2 + 1 = 9.
	bert := func(layers int) fusion.Counts {
		return fusion.Counts{"MatMul+Bias": 5 * layers, "MatMul+Bias+Gelu": layers, "Gelu": layers,
			"Attention": layers, "LayerNorm": 2*layers + 1}
	}
	bertNative := bert(4)
	delete(bertNative, "LayerNorm") // LayerNormalization ops already
	return []modelCase{
		{"mnist batch 1", modelgen.MNIST(1, 1), []tensor.Named{modelgen.RandomMNISTInput(1, 2)}, mnist},
		{"mnist dynamic batch 3", modelgen.MNIST(modelgen.Dynamic, 1), []tensor.Named{modelgen.RandomMNISTInput(3, 2)}, mnist},
		{"resnet18 dynamic batch 1", modelgen.ResNet18(modelgen.Dynamic, 1), []tensor.Named{modelgen.RandomResNet18Input(1, 2)}, resnet},
		{"resnet18 batch 1", modelgen.ResNet18(1, 1), []tensor.Named{modelgen.RandomResNet18Input(1, 3)}, resnet},
		{"bert LayerNormalization dynamic batch 1", bertModel(t, modelgen.Dynamic, 4, false), bertInputs(1), bertNative},
		{"bert decomposed LayerNorm dynamic batch 2", bertModel(t, modelgen.Dynamic, 4, true), bertInputs(2), bert(4)},
		{"bert decomposed LayerNorm batch 1", bertModel(t, 1, 4, true), bertInputs(1), bert(4)},
	}
}

// TestFuseCounts checks each generated model gets exactly the fusions
// its topology has (derived in modelCases) and that Fuse leaves the model
// it was given as it was.
func TestFuseCounts(t *testing.T) {
	for _, c := range modelCases(t) {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			before := len(c.model.Graph.Nodes)
			inits := len(c.model.Graph.Initializers)
			fused, counts, err := fusion.Fuse(c.model, ops.Default())
			is.NoErr(err)
			is.Equal(counts, c.want)
			is.Equal(len(c.model.Graph.Nodes), before) // the input is not modified
			is.Equal(len(c.model.Graph.Initializers), inits)
			_, imports := c.model.Opsets[ops.FusedDomain]
			is.True(!imports)
			is.True(len(fused.Graph.Nodes) < before)
		})
	}
}

// TestFusedMatchesUnfused runs each model with and without fusion and
// compares the outputs: the fused kernels do the unfused arithmetic up to
// float32 rounding (GELU and LayerNorm by their own kernels), so they
// agree to a few units of rounding relative to the output's scale.
func TestFusedMatchesUnfused(t *testing.T) {
	for _, c := range modelCases(t) {
		for _, threads := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s threads %d", c.name, threads), func(t *testing.T) {
				is := is.New(t)
				fused, _, err := fusion.Fuse(c.model, ops.Default())
				is.NoErr(err)
				want := run(t, c.model, c.inputs, threads)
				got := run(t, fused, c.inputs, threads)
				is.Equal(len(got), len(want))
				for i := range want {
					is.Equal(got[i].Name, want[i].Name)
					is.Equal(got[i].Tensor.Shape, want[i].Tensor.Shape)
					if err := closeTo(got[i].Tensor, want[i].Tensor, 1e-5); err != nil {
						t.Fatalf("output %s: %v", want[i].Name, err)
					}
				}
			})
		}
	}
}

func run(t *testing.T, m *graph.Model, inputs []tensor.Named, threads int) []tensor.Named {
	t.Helper()
	cmp := kernels.NewCompute(threads)
	defer cmp.Close()
	// Without the executor's own fusion pass: the models are compared as
	// given, fused here or not at all.
	p, err := exec.Compile(m, exec.WithCompute(cmp), exec.WithoutFusion())
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Run(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// closeTo checks |got - want| <= tol·max|want| elementwise: agreement
// relative to the output's scale, which is what float32 rounding of a
// long computation gives near zero.
func closeTo(got, want *tensor.Tensor, tol float64) error {
	if got.Len() != want.Len() {
		return fmt.Errorf("%d elements, want %d", got.Len(), want.Len())
	}
	scale := 0.0
	for i := range want.Len() {
		scale = max(scale, math.Abs(want.Float64At(i)))
	}
	for i := range want.Len() {
		g, w := got.Float64At(i), want.Float64At(i)
		if math.IsNaN(g) || math.Abs(g-w) > tol*scale {
			return fmt.Errorf("element %d: got %g, want %g (scale %g)", i, g, w, scale)
		}
	}
	return nil
}
