package exec_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/onnx"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

const testdata = "../../../testdata"

// compileFile reads and compiles an ONNX model file.
func compileFile(t testing.TB, path string) *exec.Plan {
	t.Helper()
	is := is.NewRelaxed(t)
	b, err := os.ReadFile(path)
	is.NoErr(err)
	m, err := onnx.ReadModel(b)
	is.NoErr(err)
	p, err := exec.Compile(m)
	if err != nil {
		t.Fatalf("compile %s: %v", path, err)
	}
	return p
}

// TestONNXNodeTests runs every ONNX backend node test in testdata.
func TestONNXNodeTests(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(testdata, "onnx-node", "test_*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no node tests found: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			model, inputs, want, err := enginetest.LoadNodeTest(dir)
			if err != nil {
				t.Fatal(err)
			}
			m, err := onnx.ReadModel(model)
			if err != nil {
				t.Fatal(err)
			}
			p, err := exec.Compile(m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Run(context.Background(), inputs)
			if err != nil {
				t.Fatal(err)
			}
			checkOutputs(t, got, want)
		})
	}
}

func checkOutputs(t *testing.T, got, want []tensor.Named) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d outputs, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Name != want[i].Name {
			t.Errorf("output %d is %q, want %q", i, got[i].Name, want[i].Name)
		}
		if err := enginetest.AllClose(got[i].Tensor, want[i].Tensor); err != nil {
			t.Errorf("output %q: %v", want[i].Name, err)
		}
	}
}

// TestMNIST reproduces the model zoo's reference outputs for mnist-7.
func TestMNIST(t *testing.T) {
	dir := filepath.Join(testdata, "mnist", "mnist-7")
	p := compileFile(t, filepath.Join(dir, "model.onnx"))
	for i, digit := range []int{2, 0, 9} {
		t.Run(filepath.Base(dir)+"/"+string(rune('0'+i)), func(t *testing.T) {
			is := is.New(t)
			data := filepath.Join(dir, "test_data_set_"+string(rune('0'+i)))
			in := readPB(t, filepath.Join(data, "input_0.pb"))
			want := readPB(t, filepath.Join(data, "output_0.pb"))
			got, err := p.Run(context.Background(), []tensor.Named{{Name: "Input3", Tensor: in}})
			is.NoErr(err)
			is.Equal(len(got), 1)
			is.Equal(got[0].Name, "Plus214_Output_0")
			is.NoErr(enginetest.AllClose(got[0].Tensor, want))
			is.Equal(argmax(tensor.Values[float32](got[0].Tensor)), digit)
		})
	}
}

func readPB(t testing.TB, path string) *tensor.Tensor {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tt, err := onnx.ReadTensor(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tt
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func mustRead(t testing.TB, path string) *graph.Model {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.ReadModel(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
