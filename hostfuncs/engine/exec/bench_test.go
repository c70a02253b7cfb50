package exec_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// BenchmarkMNIST measures one mnist-7 inference on a warm plan.
func BenchmarkMNIST(b *testing.B) {
	dir := filepath.Join(testdata, "mnist", "mnist-7")
	p := compileFile(b, filepath.Join(dir, "model.onnx"))
	in := readPB(b, filepath.Join(dir, "test_data_set_0", "input_0.pb"))
	inputs := []tensor.Named{{Name: "Input3", Tensor: in}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Run(ctx, inputs); err != nil {
			b.Fatal(err)
		}
	}
}
