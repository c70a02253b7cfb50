package ops

import (
	"context"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// ewVariadicSchemas makes the versions of Max, Min, Sum and Mean, which
// take one or more inputs; they broadcast from opset 8 on.
func ewVariadicSchemas(name, out string, op ewOp, inputs []Param, vs ...ewVersion) []Schema {
	build := func(n *graph.Node, opset int64) (Kernel, error) {
		for i, in := range n.Inputs {
			if in == "" {
				return nil, fault.Errorf(fault.Invalid, "input %d is omitted; %s takes a list of inputs without gaps", i, name)
			}
		}
		return &ewVariadicOp{name: name, op: op, mean: name == "Mean", sameShape: opset < 8}, nil
	}
	ss := make([]Schema, len(vs))
	for i, v := range vs {
		ss[i] = Schema{Since: v.since, Inputs: inputs, Outputs: params(out + ":T"), Attrs: v.attrs, Build: build,
			Types: map[string][]tensor.DType{"T": v.types}}
	}
	return ss
}

// ewVariadicOp folds its inputs into the output: the output starts as the
// first input broadcast to the common shape, then each further input is
// combined into it in place.
type ewVariadicOp struct {
	name      string
	op        ewOp // ewMax, ewMin or ewAdd
	mean      bool
	sameShape bool // before opset 8: no broadcasting
}

func (k *ewVariadicOp) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	dt := in[0].DType
	if !ewIsNumeric(dt) || (k.mean && !dt.IsFloat()) {
		return fault.Errorf(fault.Unsupported, "%s of %s", k.name, dt.ONNXName())
	}
	var bufs [2][tensor.MaxRank]int
	shape := []int(in[0].Shape)
	for i, t := range in {
		if t == nil {
			return fault.Errorf(fault.Invalid, "%s: input %d is omitted", k.name, i)
		}
		if t.DType != dt {
			return fault.Errorf(fault.Invalid, "%s: input %d is %s but input 0 is %s", k.name, i, t.DType.ONNXName(), dt.ONNXName())
		}
		if k.sameShape {
			if !t.Shape.Equal(in[0].Shape) {
				return fault.Errorf(fault.Invalid, "%s: input %d has shape %v but input 0 has %v; inputs must share one shape before opset 8", k.name, i, []int(t.Shape), []int(in[0].Shape))
			}
			continue
		}
		s, err := kernels.BroadcastShape(bufs[i%2][:0], shape, t.Shape)
		if err != nil {
			return fault.Errorf(fault.Invalid, "%s: %w", k.name, err)
		}
		shape = s
	}
	y, err := Output(ctx, out[0], dt, shape)
	if err != nil {
		return err
	}
	out[0] = y
	switch dt {
	case tensor.Int8:
		return ewFold(k, tensor.Values[int8](y), shape, in, tensor.Values[int8], ewIntArith[int8])
	case tensor.Int16:
		return ewFold(k, tensor.Values[int16](y), shape, in, tensor.Values[int16], ewIntArith[int16])
	case tensor.Int32:
		return ewFold(k, tensor.Values[int32](y), shape, in, tensor.Values[int32], ewIntArith[int32])
	case tensor.Int64:
		return ewFold(k, tensor.Values[int64](y), shape, in, tensor.Values[int64], ewIntArith[int64])
	case tensor.Uint8:
		return ewFold(k, tensor.Values[uint8](y), shape, in, tensor.Values[uint8], ewIntArith[uint8])
	case tensor.Uint16:
		return ewFold(k, tensor.Values[uint16](y), shape, in, tensor.Values[uint16], ewIntArith[uint16])
	case tensor.Uint32:
		return ewFold(k, tensor.Values[uint32](y), shape, in, tensor.Values[uint32], ewIntArith[uint32])
	case tensor.Uint64:
		return ewFold(k, tensor.Values[uint64](y), shape, in, tensor.Values[uint64], ewIntArith[uint64])
	case tensor.Float32:
		return ewFold(k, tensor.Values[float32](y), shape, in, tensor.Values[float32], ewFloatArith[float32])
	case tensor.Float64:
		return ewFold(k, tensor.Values[float64](y), shape, in, tensor.Values[float64], ewFloatArith[float64])
	}
	// 16-bit floats accumulate in float32 and round once at the end.
	s := ScratchFrom(ctx)
	acc := ScratchSlice[float32](s, y.Len())
	if err := ewFold(k, acc, shape, in, func(t *tensor.Tensor) []float32 { return ewWiden(s, t) }, ewFloatArith[float32]); err != nil {
		return err
	}
	narrow(y, acc)
	return nil
}

// ewFold combines the inputs into acc, which has the broadcast shape.
func ewFold[T ewNum](k *ewVariadicOp, acc []T, shape []int, in []*tensor.Tensor, values func(*tensor.Tensor) []T, run ewRunLoop[T, T, T]) error {
	for i, t := range in {
		x := values(t)
		if i == 0 {
			bc, err := kernels.NewBroadcast(shape, t.Shape, nil)
			if err != nil {
				return fault.Errorf(fault.Invalid, "%s: %w", k.name, err)
			}
			ewDrive(&bc, ewFirst, acc, x, x, run)
			continue
		}
		// acc has the output's shape, so each run reads acc at the
		// element it then writes.
		bc, err := kernels.NewBroadcast(shape, shape, t.Shape)
		if err != nil {
			return fault.Errorf(fault.Invalid, "%s: %w", k.name, err)
		}
		ewDrive(&bc, k.op, acc, acc, x, run)
	}
	if k.mean {
		n := T(len(in))
		ewMap(acc, acc, func(v T) T { return v / n })
	}
	return nil
}

func ewMaxMinSchemas(name, out string, op ewOp, inputs []Param) []Schema {
	return ewVariadicSchemas(name, out, op, inputs,
		ewV(1, floats(), "consumed_inputs"),
		ewV(6, floats()),
		ewV(8, floats()),
		ewV(12, ewNumeric()),
		ewV(13, cat(ewNumeric(), ewBF16())),
	)
}

func ewSumMeanSchemas(name, out string, inputs []Param) []Schema {
	return ewVariadicSchemas(name, out, ewAdd, inputs,
		ewV(1, floats(), "consumed_inputs"),
		ewV(6, floats()),
		ewV(8, floats()),
		ewV(13, floatsBF16()),
	)
}
