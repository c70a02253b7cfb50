package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wasmgate/wasmgate/guest/sdk"
)

// model is the model this adapter stands for.
const model = "mnist"

func main() {}

func init() {
	sdk.Register(sdk.Stage{
		Name: "mnist-adapter",
		Inputs: []sdk.Spec{
			{Name: "image", DType: sdk.Bytes, Shape: []int64{1}, Optional: true},
			{Name: "pixels", DType: sdk.Float32, Shape: []int64{1, 1, 28, 28}, Optional: true},
		},
		Outputs: []sdk.Spec{
			{Name: "label", DType: sdk.Int64, Shape: []int64{1}},
			{Name: "probabilities", DType: sdk.Float32, Shape: []int64{1, 10}},
		},
		Run: run,
	})
}

func run(in []sdk.Tensor) ([]sdk.Tensor, error) {
	// One handle per input of the model, by position; 0 for an absent one,
	// and absent ones at the end left out.
	args := make([]sdk.Handle, 0, len(in))
	for _, t := range in {
		var h sdk.Handle
		if t.Present() {
			var err error
			if h, err = sdk.Put(t); err != nil {
				return nil, fmt.Errorf("input %q: %w", t.Name, err)
			}
		}
		args = append(args, h)
	}
	for len(args) > 0 && args[len(args)-1] == 0 {
		args = args[:len(args)-1]
	}
	outs, err := sdk.RunModel(model, args...)
	var he *sdk.HostError
	if errors.Is(err, sdk.ErrFailed) && errors.As(err, &he) {
		// The model refused the inputs: the caller's to fix.
		return nil, sdk.Invalid("%s: %s", model, strings.TrimPrefix(he.Message, "model_run: "))
	}
	if err != nil {
		return nil, err
	}
	names := []string{"label", "probabilities"}
	if len(outs) != len(names) {
		return nil, fmt.Errorf("%s returned %d outputs, want %d", model, len(outs), len(names))
	}
	res := make([]sdk.Tensor, len(outs))
	for i, h := range outs {
		if res[i], err = h.Tensor(names[i]); err != nil {
			return nil, err
		}
	}
	return res, nil
}
