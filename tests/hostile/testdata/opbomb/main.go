// Command opbomb is a hostile guest for the hostile-guest tests: it asks the
// host's op function, again and again, for operators whose outputs are far
// larger than its host-memory quota (ConstantOfShape, Expand, Range), and
// fails with the last refusal. The host must refuse each before allocating.
package main

import (
	"errors"
	"fmt"

	"github.com/wasmgate/wasmgate/guest/sdk"
)

func main() {}

func init() {
	sdk.Register(sdk.Stage{
		Name:    "opbomb",
		Inputs:  []sdk.Spec{{Name: "x", DType: sdk.Float32, Shape: []int64{-1}}},
		Outputs: []sdk.Spec{{Name: "x", DType: sdk.Float32, Shape: []int64{-1}}},
		Run:     run,
	})
}

func run(in []sdk.Tensor) ([]sdk.Tensor, error) {
	huge, err := sdk.Put(sdk.NewInt64("shape", []int64{2}, []int64{1 << 15, 1 << 14})) // 2^29 elements
	if err != nil {
		return nil, err
	}
	one, err := sdk.Put(sdk.NewFloat32("one", []int64{1}, []float32{1}))
	if err != nil {
		return nil, err
	}
	limit, err := sdk.Put(sdk.NewInt64("limit", nil, []int64{1 << 30}))
	if err != nil {
		return nil, err
	}
	zero, err := sdk.Put(sdk.NewInt64("zero", nil, []int64{0}))
	if err != nil {
		return nil, err
	}
	step, err := sdk.Put(sdk.NewInt64("step", nil, []int64{1}))
	if err != nil {
		return nil, err
	}
	var last error
	for range 20 {
		for _, try := range []struct {
			op string
			in []sdk.Handle
		}{
			{"ConstantOfShape", []sdk.Handle{huge}},
			{"Expand", []sdk.Handle{one, huge}},
			{"Range", []sdk.Handle{zero, limit, step}},
		} {
			outs, err := sdk.Op(try.op, sdk.Attrs{}, try.in...)
			if err == nil {
				return nil, fmt.Errorf("the host ran %s with a %d-handle result instead of refusing it", try.op, len(outs))
			}
			last = err
		}
	}
	return nil, errors.Join(errors.New("every oversized operator was refused"), last)
}
