package ops

import (
	"context"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Identity versions differ only in the types they admit; every later one
// adds types (sequences, optionals, 4- and 8-bit floats) the engine cannot
// hold, so from 13 on the set of tensors it can meet is the same.
func identitySchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("input:V"), Outputs: params("output:V"),
			Types: map[string][]tensor.DType{"V": ts}, Build: buildIdentity,
		}
	}
	all := allTypes()
	noBF16 := make([]tensor.DType, 0, len(all))
	for _, d := range all {
		if d != tensor.BFloat16 {
			noBF16 = append(noBF16, d)
		}
	}
	return []Schema{v(1, noBF16), v(13, all), v(14, all), v(16, all), v(19, all), v(21, all), v(23, all), v(24, all), v(25, all)}
}

func buildIdentity(*graph.Node, int64) (Kernel, error) {
	return KernelFunc(func(ctx context.Context, in, out []*tensor.Tensor) error {
		var err error
		out[0], err = copyInto(ctx, out[0], in[0], in[0].Shape)
		return err
	}), nil
}
