package ops

import (
	"context"
	"slices"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func ewPReluSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{Since: since, Inputs: params("X:T", "slope:T"), Outputs: params("Y:T"), Attrs: attrs, Build: ewBuildPRelu,
			Types: map[string][]tensor.DType{"T": ts}}
	}
	v9 := cat(floats(), wideInts())
	return []Schema{
		v(1, floats(), "consumed_inputs"),
		v(6, floats()),
		v(7, floats()),
		v(9, v9),
		v(16, cat(v9, ewBF16())),
	}
}

// ewPReluKernel is PRelu. From opset 7 the slope broadcasts to X the numpy way,
// in one direction only; before, it held one value or one per channel
// (X's axis 1).
type ewPReluKernel struct{ legacy bool }

func ewBuildPRelu(_ *graph.Node, opset int64) (Kernel, error) {
	return &ewPReluKernel{legacy: opset < 7}, nil
}

func (k *ewPReluKernel) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, slope := in[0], in[1]
	if x.DType != slope.DType {
		return fault.Errorf(fault.Invalid, "PRelu: X is %s but slope is %s", x.DType.ONNXName(), slope.DType.ONNXName())
	}
	if err := ewPRelu.accepts("PRelu", x.DType); err != nil {
		return err
	}
	var sBuf, bBuf [tensor.MaxRank]int
	sShape := []int(slope.Shape)
	if k.legacy {
		switch {
		case slope.Len() == 1:
			sShape = nil
		case len(sShape) == 1 && len(x.Shape) >= 2 && sShape[0] == x.Shape[1]:
			sShape = append(sBuf[:0], x.Shape[1])
			for range len(x.Shape) - 2 {
				sShape = append(sShape, 1)
			}
		}
	}
	if b, err := kernels.BroadcastShape(bBuf[:0], x.Shape, sShape); err != nil || !slices.Equal(b, x.Shape) {
		return fault.Errorf(fault.Invalid, "PRelu: slope's shape %v does not broadcast to X's %v", []int(slope.Shape), []int(x.Shape))
	}
	bc, err := kernels.NewBroadcast(x.Shape, x.Shape, sShape)
	if err != nil {
		return fault.Errorf(fault.Invalid, "PRelu: %w", err)
	}
	y, err := Output(ctx, out[0], x.DType, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	return ewArithRun(ctx, &bc, ewPRelu, y, x, slope)
}
