package main

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/wasmgate/wasmgate/guest/sdk"
)

func main() {}

func init() {
	sdk.Register(sdk.Stage{
		Name:    "mean-pool",
		Inputs:  []sdk.Spec{{Name: "last_hidden_state", DType: sdk.Float32, Shape: []int64{1, -1, -1}}},
		Outputs: []sdk.Spec{{Name: "embedding", DType: sdk.Float32, Shape: []int64{1, -1}}},
		Run:     run,
	})
}

// eps is the smallest norm divided by, as torch.nn.functional.normalize.
const eps = 1e-12

func run(in []sdk.Tensor) ([]sdk.Tensor, error) {
	x := in[0]
	tokens, hidden := x.Shape[1], x.Shape[2]
	if tokens == 0 || hidden == 0 {
		return nil, fmt.Errorf("last_hidden_state is %v: no tokens or no features to pool", x.Shape)
	}
	h, err := sdk.Put(x) // a host-held input is not copied
	if err != nil {
		return nil, err
	}
	axes, err := sdk.Put(sdk.NewInt64("axes", []int64{1}, []int64{1}))
	if err != nil {
		return nil, err
	}
	out, err := sdk.Op("ReduceMean", sdk.Attrs{}.Int("keepdims", 0), h, axes)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 4*hidden)
	if _, err := out[0].ReadAt(buf, 0); err != nil {
		return nil, err
	}
	mean := make([]float32, hidden)
	var sum float64
	for i := range mean {
		v := math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("the mean of feature %d is %v: the encoder produced a non-finite value", i, v)
		}
		mean[i] = v
		sum += float64(v) * float64(v)
	}
	norm := max(math.Sqrt(sum), eps)
	for i, v := range mean {
		mean[i] = float32(float64(v) / norm)
	}
	return []sdk.Tensor{sdk.NewFloat32("embedding", []int64{1, hidden}, mean)}, nil
}
