package main

import (
	"math"

	"github.com/wasmgate/wasmgate/guest/sdk"
)

func main() {}

func init() {
	sdk.Register(sdk.Stage{
		Name: "mnist-pre",
		Inputs: []sdk.Spec{
			{Name: "image", DType: sdk.Bytes, Shape: []int64{1}, Optional: true},
			{Name: "pixels", DType: sdk.Float32, Shape: []int64{1, 1, side, side}, Optional: true},
		},
		Outputs: []sdk.Spec{{Name: "input", DType: sdk.Float32, Shape: []int64{1, 1, side, side}}},
		Run:     run,
	})
}

func run(in []sdk.Tensor) ([]sdk.Tensor, error) {
	img, pix := in[0], in[1]
	var px []float32
	switch {
	case img.Present() && pix.Present():
		return nil, sdk.Invalid(`give either "image" or "pixels", not both`)
	case img.Present():
		img, err := img.Load() // a large image arrives host-held
		if err != nil {
			return nil, err
		}
		g, err := fromImage(img.Strings[0])
		if err != nil {
			return nil, err
		}
		px = output[:]
		for i, v := range g {
			px[i] = float32(v)
		}
	case pix.Present():
		pix, err := pix.Load()
		if err != nil {
			return nil, err
		}
		px = pix.Float32s()
		if err := checkPixels(px); err != nil {
			return nil, err
		}
	default:
		return nil, sdk.Invalid(`give one of "image" (a PNG or JPEG) or "pixels" (FP32 [1,1,28,28])`)
	}
	return []sdk.Tensor{sdk.NewFloat32("input", []int64{1, 1, side, side}, px)}, nil
}

// output holds the result of an image; the SDK copies it into the output
// list before the next call.
var output [side * side]float32

func checkPixels(px []float32) error {
	for i, v := range px {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) || v < 0 || v > 255 {
			return sdk.Invalid("pixels: element %d is %v; pixels must be finite and within 0..255", i, v)
		}
	}
	return nil
}
