package gateway

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// BenchmarkMNISTStages times each stage of the built-in model on the sample
// PNG: Wasm pre-processing, the engine, Wasm post-processing, each through
// its pool as a request would use it.
//
//	go test -run '^$' -bench MNISTStages ./gateway
func BenchmarkMNISTStages(b *testing.B) {
	ctx := context.Background()
	cfg, err := LoadConfig([]string{"WASMGATE_CACHE_DIR=" + b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(ctx, cfg, "bench", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	m, err := s.loader.load(ctx, "mnist", "1")
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(ctx)
	png, err := os.ReadFile("../testdata/mnist/8_28x28.png")
	if err != nil {
		b.Fatal(err)
	}
	in := []tensor.Named{{Name: "image", Tensor: &tensor.Tensor{DType: tensor.Bytes, Shape: tensor.Shape{1}, Strings: [][]byte{png}}}}
	stages := m.pipeline.Stages()
	for i, st := range stages {
		cur := in
		b.Run(st.Name(), func(b *testing.B) {
			for b.Loop() {
				if _, err := st.Run(ctx, cur); err != nil {
					b.Fatal(err)
				}
			}
		})
		if in, err = st.Run(ctx, cur); err != nil {
			b.Fatal(err)
		}
		if i+1 < len(stages) {
			for j := range in {
				in[j].Name = stages[i+1].Inputs()[j].Name
			}
		}
	}
	b.Run("pipeline", func(b *testing.B) {
		for b.Loop() {
			if _, err := m.pipeline.Run(ctx, []tensor.Named{{Name: "image", Tensor: &tensor.Tensor{DType: tensor.Bytes, Shape: tensor.Shape{1}, Strings: [][]byte{png}}}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
