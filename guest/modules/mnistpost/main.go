package main

import (
	"errors"
	"fmt"
	"math"

	"github.com/wasmgate/wasmgate/guest/sdk"
)

func main() {}

func init() {
	sdk.Register(sdk.Stage{
		Name:   "mnist-post",
		Inputs: []sdk.Spec{{Name: "logits", DType: sdk.Float32, Shape: []int64{1, 10}}},
		Outputs: []sdk.Spec{
			{Name: "label", DType: sdk.Int64, Shape: []int64{1}},
			{Name: "probabilities", DType: sdk.Float32, Shape: []int64{1, 10}},
		},
		Run: run,
	})
}

func run(in []sdk.Tensor) ([]sdk.Tensor, error) {
	// The logits are 40 bytes, always inline: the module imports nothing
	// but log, so it also runs on a host with no other host functions.
	label, probs, err := classify(in[0].Float32s())
	if err != nil {
		return nil, err
	}
	return []sdk.Tensor{
		sdk.NewInt64("label", []int64{1}, []int64{int64(label)}),
		sdk.NewFloat32("probabilities", []int64{1, 10}, probs),
	}, nil
}

// classify returns the argmax and a numerically stable softmax of logits.
// The sums run in float64 so the result is as close to the exact softmax as
// float32 output allows.
func classify(logits []float32) (int, []float32, error) {
	if len(logits) == 0 {
		return 0, nil, errors.New("no logits")
	}
	best := 0
	for i, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, nil, fmt.Errorf("logit %d is %v: the model produced a non-finite value", i, v)
		}
		if v > logits[best] {
			best = i
		}
	}
	peak := float64(logits[best])
	exps := make([]float64, len(logits))
	var sum float64
	for i, v := range logits {
		exps[i] = math.Exp(float64(v) - peak)
		sum += exps[i]
	}
	probs := make([]float32, len(logits))
	for i, e := range exps {
		probs[i] = float32(e / sum)
	}
	return best, probs, nil
}
