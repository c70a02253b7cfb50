package ops_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func TestDropoutInference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	x := nnRandom(rng, 3*5*7, -2, 2, false)
	shape := tensor.Shape{3, 5, 7}
	ones := make([]float64, len(x))
	for i := range ones {
		ones[i] = 1
	}
	f := func(v float64) *tensor.Tensor { return f32(nil, float32(v)) }
	no, yes := tensor.MustFrom(nil, []bool{false}), tensor.MustFrom(nil, []bool{true})
	cases := []struct {
		name     string
		opset    int64
		attrs    []*graph.Attr
		dt       tensor.DType
		in       []*tensor.Tensor // after data
		maskType tensor.DType
	}{
		{"v1 is_test", 1, nnAttrs(graph.IntAttr("is_test", 1)), tensor.Float32, nil, tensor.Float32},
		{"v6 is_test", 6, nnAttrs(graph.IntAttr("is_test", 1), graph.FloatAttr("ratio", 0.3)), tensor.Float64, nil, tensor.Float64},
		{"v7", 7, nnAttrs(graph.FloatAttr("ratio", 0.3)), tensor.Float16, nil, tensor.Float16},
		{"v10", 10, nil, tensor.Float32, nil, tensor.Bool},
		{"v12 no mode", 12, nil, tensor.Float32, []*tensor.Tensor{f(0.4)}, tensor.Bool},
		{"v12 mode false", 12, nil, tensor.Float64, []*tensor.Tensor{f(0.4), no}, tensor.Bool},
		{"v13 bf16", 13, nil, tensor.BFloat16, nil, tensor.Bool},
		{"v22 training ratio 0", 22, nnAttrs(graph.IntAttr("seed", 3)), tensor.Float32, []*tensor.Tensor{f(0), yes}, tensor.Bool},
		{"v22 omitted ratio", 22, nil, tensor.Float16, []*tensor.Tensor{nil, no}, tensor.Bool},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			xv := nnRound(tc.dt, x)
			in := append([]*tensor.Tensor{nnT(tc.dt, shape, xv)}, tc.in...)
			got, err := runOp(t, "Dropout", tc.opset, 2, tc.attrs, in...)
			if err != nil {
				t.Fatal(err)
			}
			nnCheck(t, got[0], tc.dt, shape, xv)
			if err := enginetest.AllClose(got[1], nnT(tc.maskType, shape, ones)); err != nil {
				t.Fatal(err)
			}
			// One output only.
			got, err = runOp(t, "Dropout", tc.opset, 1, tc.attrs, in...)
			if err != nil {
				t.Fatal(err)
			}
			nnCheck(t, got[0], tc.dt, shape, xv)
		})
	}
}

func TestDropoutTraining(t *testing.T) {
	is := is.New(t)
	n := 4000
	x := make([]float64, n)
	for i := range x {
		x[i] = float64(i%7) + 1
	}
	shape := tensor.Shape{n}
	yes := tensor.MustFrom(nil, []bool{true})
	run := func(opset int64, attrs []*graph.Attr, dt tensor.DType, in ...*tensor.Tensor) []*tensor.Tensor {
		got, err := runOp(t, "Dropout", opset, 2, attrs, append([]*tensor.Tensor{nnT(dt, shape, x)}, in...)...)
		is.NoErr(err)
		return got
	}
	check := func(got []*tensor.Tensor, ratio float64) {
		y, m := nnVals(got[0]), nnVals(got[1])
		dropped := 0
		for i := range x {
			if m[i] == 0 {
				dropped++
				is.Equal(y[i], 0.0)
			} else {
				is.True(math.Abs(y[i]-x[i]/(1-ratio)) < 1e-2*x[i])
			}
		}
		frac := float64(dropped) / float64(n)
		is.True(math.Abs(frac-ratio) < 0.05) // dropped about ratio of the elements
	}
	seed := nnAttrs(graph.IntAttr("seed", 42))
	a := run(12, seed, tensor.Float32, f32(nil, 0.25), yes)
	check(a, 0.25)
	b := run(12, seed, tensor.Float32, f32(nil, 0.25), yes)
	is.NoErr(enginetest.AllClose(a[0], b[0])) // a seed makes runs repeat
	check(run(22, nil, tensor.Float16, nil, yes), 0.5)
	check(run(13, nil, tensor.Float64, tensor.MustFrom(nil, []float64{0.7}), yes), 0.7)
	check(run(6, nnAttrs(graph.FloatAttr("ratio", 0.4)), tensor.Float32), 0.4) // is_test=0: training
	_, err := runOp(t, "Dropout", 12, 1, nil, nnT(tensor.Float32, shape, x), f32(nil, 1), yes)
	is.Equal(fault.KindOf(err), fault.Invalid)
	_, err = runOp(t, "Dropout", 12, 1, nil, nnT(tensor.Float32, shape, x), f32(tensor.Shape{2}, 0.1, 0.2), yes)
	is.Equal(fault.KindOf(err), fault.Invalid)
}
