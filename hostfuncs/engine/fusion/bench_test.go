package fusion_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/modelgen"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// BenchmarkModels runs the bench/peers models through a plan, with
// fusion (exec.Compile's default) and without, on one thread and on two: the figures to profile
// (-cpuprofile) when closing the gap to onnxruntime.
func BenchmarkModels(b *testing.B) {
	bert := func(batch int) func() (*graph.Model, []tensor.Named) {
		return func() (*graph.Model, []tensor.Named) {
			c := modelgen.SmallBERT()
			c.Batch = modelgen.Dynamic
			m, err := modelgen.BERTEncoder(c)
			if err != nil {
				b.Fatal(err)
			}
			return m, modelgen.RandomBERTInputs(c, batch, 2)
		}
	}
	cases := []struct {
		name  string
		build func() (*graph.Model, []tensor.Named)
	}{
		{"mnist/batch=1", func() (*graph.Model, []tensor.Named) {
			return modelgen.MNIST(1, 1), []tensor.Named{modelgen.RandomMNISTInput(1, 2)}
		}},
		{"mnist/batch=64", func() (*graph.Model, []tensor.Named) {
			return modelgen.MNIST(modelgen.Dynamic, 1), []tensor.Named{modelgen.RandomMNISTInput(64, 2)}
		}},
		{"resnet18/batch=1", func() (*graph.Model, []tensor.Named) {
			return modelgen.ResNet18(modelgen.Dynamic, 1), []tensor.Named{modelgen.RandomResNet18Input(1, 2)}
		}},
		{"bert/batch=1", bert(1)},
		{"bert/batch=8", bert(8)},
	}
	for _, c := range cases {
		m, inputs := c.build()
		for _, fused := range []bool{false, true} {
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/fused=%v/threads=%d", c.name, fused, threads), func(b *testing.B) {
					cmp := kernels.NewCompute(threads)
					defer cmp.Close()
					opts := []exec.Option{exec.WithCompute(cmp)}
					if !fused {
						opts = append(opts, exec.WithoutFusion())
					}
					p, err := exec.Compile(m, opts...)
					if err != nil {
						b.Fatal(err)
					}
					ctx := context.Background()
					b.ReportAllocs()
					for b.Loop() {
						if _, err := p.Run(ctx, inputs); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
