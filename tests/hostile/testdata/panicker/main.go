// Command panicker is a hostile guest for the hostile-guest tests: a Go
// module whose stage panics on every call.
package main

import "github.com/wasmgate/wasmgate/guest/sdk"

func main() {}

func init() {
	sdk.Register(sdk.Stage{
		Name:    "panicker",
		Inputs:  []sdk.Spec{{Name: "x", DType: sdk.Float32, Shape: []int64{-1}}},
		Outputs: []sdk.Spec{{Name: "x", DType: sdk.Float32, Shape: []int64{-1}}},
		Run: func(in []sdk.Tensor) ([]sdk.Tensor, error) {
			var m map[string]int
			m["boom"]++ // a nil map write: a runtime panic, not an error
			return in, nil
		},
	})
}
