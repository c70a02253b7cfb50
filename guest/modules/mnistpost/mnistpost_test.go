package main

import (
	"math"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/guest/sdk"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		logits []float32
		label  int
	}{
		{"mnist-like", []float32{-1.2, 0.3, 2.5, 8.1, -3, 0, 1, 7.9, 2, -0.5}, 3},
		{"ties pick the first", []float32{1, 5, 5, 0, 0, 0, 0, 0, 0, 0}, 1},
		{"all equal", make([]float32, 10), 0},
		{"huge", []float32{1000, -1000, 999, 0, 0, 0, 0, 0, 0, 3e38}, 9},
		{"tiny", []float32{-3e38, -1e30, -1e30, -1e30, -1e30, -1e30, -1e30, -1e30, -1e30, -1e30}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			in, err := sdk.AppendTensorList(nil, []sdk.Tensor{sdk.NewFloat32("logits", []int64{1, 10}, tc.logits)})
			is.NoErr(err)
			status, out := sdk.Call(nil, in)
			is.Equal(status, sdk.StatusOK)
			res, err := sdk.DecodeTensorList(out)
			is.NoErr(err)
			is.Equal(res[0].Name, "label")
			is.Equal(res[0].Int64s(), []int64{int64(tc.label)})
			is.Equal(res[1].Name, "probabilities")
			want := softmax64(tc.logits)
			for i, p := range res[1].Float32s() {
				if d := math.Abs(float64(p) - want[i]); d > 1e-7+1e-6*math.Abs(want[i]) || math.IsNaN(float64(p)) {
					t.Errorf("p[%d] = %v, want %v", i, p, want[i])
				}
			}
		})
	}
}

func softmax64(x []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	var s float64
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = math.Exp(float64(v) - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

func TestNonFinite(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		is := is.New(t)
		logits := make([]float32, 10)
		logits[4] = float32(v)
		in, err := sdk.AppendTensorList(nil, []sdk.Tensor{sdk.NewFloat32("logits", []int64{1, 10}, logits)})
		is.NoErr(err)
		status, out := sdk.Call(nil, in)
		is.Equal(status, sdk.StatusFailed)
		is.True(strings.Contains(string(out), "logit 4 is"))
	}
}
