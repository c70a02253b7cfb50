package ops_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// nllRef is the weighted negative log likelihood of x (N, C, D...) at
// the targets, and the sum of the weights counted.
func nllRef(x []float64, shape []int, target []int64, w []float64, ignore *int64) (loss []float64, wsum float64) {
	n, c := shape[0], shape[1]
	d := nnProd(shape[2:])
	loss = make([]float64, n*d)
	for i := range n {
		for j := range d {
			t := target[i*d+j]
			if ignore != nil && t == *ignore {
				continue
			}
			wt := 1.0
			if w != nil {
				wt = w[t]
			}
			loss[i*d+j] = -wt * x[(i*c+int(t))*d+j]
			wsum += wt
		}
	}
	return loss, wsum
}

func logSoftmaxRef(x []float64, shape []int) []float64 {
	n, c := shape[0], shape[1]
	d := nnProd(shape[2:])
	out := make([]float64, len(x))
	for i := range n {
		for j := range d {
			s := 0.0
			for k := range c {
				s += math.Exp(x[(i*c+k)*d+j])
			}
			for k := range c {
				out[(i*c+k)*d+j] = x[(i*c+k)*d+j] - math.Log(s)
			}
		}
	}
	return out
}

func TestLosses(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	ig := func(v int64) *int64 { return &v }
	cases := []struct {
		name      string
		shape     []int
		reduction string
		weight    bool
		ignore    *int64
		dt, tdt   tensor.DType
	}{
		{"NC mean", []int{5, 3}, "mean", false, nil, tensor.Float32, tensor.Int64},
		{"NC none", []int{5, 3}, "none", false, nil, tensor.Float32, tensor.Int64},
		{"NCd sum weight", []int{3, 5, 2}, "sum", true, nil, tensor.Float64, tensor.Int32},
		{"NCdd mean weight ii", []int{3, 5, 2, 7}, "mean", true, ig(1), tensor.Float32, tensor.Int64},
		{"NCdd mean ii", []int{3, 5, 2, 7}, "mean", false, ig(2), tensor.Float32, tensor.Int64},
		{"negative ii none", []int{2, 3, 4}, "none", false, ig(-5), tensor.Float32, tensor.Int64},
		{"fp16 mean weight", []int{4, 3, 5}, "mean", true, nil, tensor.Float16, tensor.Int64},
		{"bf16 sum", []int{4, 3}, "sum", false, nil, tensor.BFloat16, tensor.Int32},
		{"empty", []int{0, 3}, "sum", false, nil, tensor.Float32, tensor.Int64},
	}
	for _, tc := range cases {
		for _, op := range []string{"NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"} {
			t.Run(op+"/"+tc.name, func(t *testing.T) {
				x := nnRound(tc.dt, nnRandom(rng, nnProd(tc.shape), -3, 1, false))
				tshape := append([]int{tc.shape[0]}, tc.shape[2:]...)
				target := make([]int64, nnProd(tshape))
				for i := range target {
					target[i] = rng.Int64N(int64(tc.shape[1]))
					if tc.ignore != nil && i%4 == 1 {
						target[i] = *tc.ignore
					}
				}
				tv := make([]float64, len(target))
				for i, v := range target {
					tv[i] = float64(v)
				}
				in := []*tensor.Tensor{nnT(tc.dt, tc.shape, x), nnT(tc.tdt, tshape, tv)}
				var w []float64
				if tc.weight {
					w = nnRound(tc.dt, nnRandom(rng, tc.shape[1], 0.1, 2, false))
					in = append(in, nnT(tc.dt, []int{tc.shape[1]}, w))
				}
				attrs := nnAttrs(graph.StringAttr("reduction", tc.reduction))
				if tc.ignore != nil {
					attrs = append(attrs, graph.IntAttr("ignore_index", *tc.ignore))
				}
				logp := x
				nOut := 1
				if op == "SoftmaxCrossEntropyLoss" {
					logp = logSoftmaxRef(x, tc.shape)
					nOut = 2
				}
				loss, wsum := nllRef(logp, tc.shape, target, w, tc.ignore)
				got, err := runOp(t, op, 22-9*nnB2I(op == "SoftmaxCrossEntropyLoss"), nOut, attrs, in...)
				if err != nil {
					t.Fatal(err)
				}
				sum := 0.0
				for _, l := range loss {
					sum += l
				}
				switch tc.reduction {
				case "none":
					nnCheck(t, got[0], tc.dt, tshape, loss)
				case "sum":
					nnCheck(t, got[0], tc.dt, nil, []float64{sum})
				case "mean":
					nnCheck(t, got[0], tc.dt, nil, []float64{sum / wsum})
				}
				if nOut == 2 {
					nnCheck(t, got[1], tc.dt, tc.shape, logp)
				}
			})
		}
	}
}

func TestLossErrors(t *testing.T) {
	is := is.New(t)
	x := f32(tensor.Shape{2, 3}, 1, 2, 3, 4, 5, 6)
	for _, op := range []string{"NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"} {
		for _, in := range [][]*tensor.Tensor{
			{x, i64(tensor.Shape{2}, 0, 3)},                             // class out of range
			{x, i64(tensor.Shape{3}, 0, 1, 2)},                          // batch mismatch
			{x, i64(tensor.Shape{2}, 0, 1), f32(tensor.Shape{2}, 1, 1)}, // weight size
			{f32(tensor.Shape{3}, 1, 2, 3), i64(nil, 0)},                // rank
		} {
			_, err := runOp(t, op, 13, 1, nil, in...)
			is.Equal(fault.KindOf(err), fault.Invalid)
		}
	}
	// Every sample ignored: the mean is 0/0.
	got, err := runOp(t, "NegativeLogLikelihoodLoss", 13, 1, nnAttrs(graph.IntAttr("ignore_index", 1)), x, i64(tensor.Shape{2}, 1, 1))
	is.NoErr(err)
	is.True(math.IsNaN(got[0].Float64At(0)))
}
