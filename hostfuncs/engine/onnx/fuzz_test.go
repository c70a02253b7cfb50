package onnx

import (
	"os"
	"path/filepath"
	"testing"
)

// seeds adds every file matching the patterns under testdata to the corpus.
func seeds(f *testing.F, patterns ...string) {
	for _, p := range patterns {
		files, err := filepath.Glob(filepath.Join(testdata, p))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

// FuzzReadModel checks that no input makes the reader panic, and that
// what it accepts is consistent.
func FuzzReadModel(f *testing.F) {
	seeds(f, "mnist/mnist-7/model.onnx", "onnx-node/*/model.onnx")
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadModel(b)
		if err != nil {
			return
		}
		for name, init := range m.Graph.Initializers {
			if err := init.Validate(); err != nil {
				t.Fatalf("initializer %q accepted but invalid: %v", name, err)
			}
		}
	})
}

// FuzzReadTensor checks that no input makes the tensor reader panic, and
// that every tensor it returns is valid.
func FuzzReadTensor(f *testing.F) {
	seeds(f, "mnist/mnist-7/test_data_set_*/*.pb", "onnx-node/*/test_data_set_0/*.pb")
	f.Fuzz(func(t *testing.T, b []byte) {
		tt, err := ReadTensor(b)
		if err != nil {
			return
		}
		if err := tt.Validate(); err != nil {
			t.Fatalf("accepted but invalid: %v", err)
		}
	})
}
