package enginetest

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/onnx"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// LoadNodeTest reads an ONNX backend test directory: model.onnx and the
// tensors of test_data_set_0 (input_N.pb, output_N.pb). A tensor without a
// name takes the name of the N-th graph input (initializers excluded) or
// output.
func LoadNodeTest(dir string) (model []byte, inputs, outputs []tensor.Named, err error) {
	model, err = os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return nil, nil, nil, err
	}
	m, err := onnx.ReadModel(model)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	var inNames, outNames []string
	for _, in := range m.Graph.Inputs {
		if _, isConst := m.Graph.Initializers[in.Name]; !isConst {
			inNames = append(inNames, in.Name)
		}
	}
	for _, out := range m.Graph.Outputs {
		outNames = append(outNames, out.Name)
	}
	data := filepath.Join(dir, "test_data_set_0")
	if inputs, err = readTensors(data, "input", inNames); err != nil {
		return nil, nil, nil, err
	}
	if outputs, err = readTensors(data, "output", outNames); err != nil {
		return nil, nil, nil, err
	}
	return model, inputs, outputs, nil
}

// readTensors reads prefix_0.pb, prefix_1.pb, ... until one is missing.
func readTensors(dir, prefix string, names []string) ([]tensor.Named, error) {
	var out []tensor.Named
	for i := 0; ; i++ {
		path := filepath.Join(dir, fmt.Sprintf("%s_%d.pb", prefix, i))
		b, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		nt, err := onnx.ReadNamedTensor(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if nt.Name == "" {
			if i >= len(names) {
				return nil, fmt.Errorf("%s: unnamed, and the graph has only %d %ss", path, len(names), prefix)
			}
			nt.Name = names[i]
		}
		out = append(out, nt)
	}
}
