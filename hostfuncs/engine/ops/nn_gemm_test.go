package ops_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// gemmRef is Y = alpha·op(A)·op(B) + beta·C in float64, C broadcast.
func gemmRef(a, b, c []float64, cShape []int, m, n, k int, ta, tb bool, alpha, beta float64) []float64 {
	y := make([]float64, m*n)
	for i := range m {
		for j := range n {
			s := 0.0
			for p := range k {
				av := a[i*k+p]
				if ta {
					av = a[p*m+i]
				}
				bv := b[p*n+j]
				if tb {
					bv = b[j*k+p]
				}
				s += av * bv
			}
			v := alpha * s
			if c != nil && beta != 0 {
				ci, cj := 0, 0
				cm, cn := 1, 1
				switch len(cShape) {
				case 2:
					cm, cn = cShape[0], cShape[1]
				case 1:
					cn = cShape[0]
				}
				if cm == m {
					ci = i
				}
				if cn == n {
					cj = j
				}
				v += beta * c[ci*cn+cj]
			}
			y[i*n+j] = v
		}
	}
	return y
}

func TestGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type cse struct {
		dt      tensor.DType
		m, n, k int
		ta, tb  bool
		alpha   float64
		beta    float64
		cShape  []int // nil: no C
		opset   int64
	}
	var cases []cse
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16, tensor.Int32, tensor.Int64, tensor.Uint32, tensor.Uint64} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, cs := range [][]int{nil, {}, {7}, {1, 7}, {5, 1}, {5, 7}, {1}} {
				alpha, beta := 0.75, -1.5
				if dt == tensor.Int32 || dt == tensor.Int64 || dt == tensor.Uint32 || dt == tensor.Uint64 {
					alpha, beta = 1, 1
				}
				opset := int64(13)
				if dt == tensor.BFloat16 {
					opset = 13
				}
				cases = append(cases, cse{dt, 5, 7, 3, tr[0], tr[1], alpha, beta, cs, opset})
			}
		}
	}
	// Larger, prime sizes; a zero inner dimension; a zero beta with an
	// infinite C.
	cases = append(cases,
		cse{tensor.Float32, 37, 41, 29, false, true, 1, 1, []int{41}, 11},
		cse{tensor.Float64, 13, 1, 0, false, false, 2, 1, []int{13, 1}, 13},
		cse{tensor.Float32, 3, 2, 4, false, false, 1, 0, []int{3, 2}, 13},
		cse{tensor.Int32, 3, 4, 5, false, false, 2, 0.5, []int{4}, 13},
	)
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%d_%v_%dx%dx%d_t%v%v_c%v", i, tc.dt, tc.m, tc.n, tc.k, tc.ta, tc.tb, tc.cShape), func(t *testing.T) {
			ints := tc.dt != tensor.Float32 && tc.dt != tensor.Float64 && tc.dt != tensor.Float16 && tc.dt != tensor.BFloat16
			lo := -3.0
			if tc.dt == tensor.Uint32 || tc.dt == tensor.Uint64 {
				lo = 0
			}
			a := nnRound(tc.dt, nnRandom(rng, tc.m*tc.k, lo, 3, ints))
			b := nnRound(tc.dt, nnRandom(rng, tc.k*tc.n, lo, 3, ints))
			aShape, bShape := tensor.Shape{tc.m, tc.k}, tensor.Shape{tc.k, tc.n}
			if tc.ta {
				aShape = tensor.Shape{tc.k, tc.m}
			}
			if tc.tb {
				bShape = tensor.Shape{tc.n, tc.k}
			}
			ins := []*tensor.Tensor{nnT(tc.dt, aShape, a), nnT(tc.dt, bShape, b)}
			var c []float64
			if tc.cShape != nil {
				c = nnRound(tc.dt, nnRandom(rng, max(1, nnProd(tc.cShape)), lo, 3, ints))
				if tc.beta == 0 && !ints {
					c[0] = math.Inf(1)
				}
				ins = append(ins, nnT(tc.dt, tc.cShape, c))
			}
			want := gemmRef(a, b, c, tc.cShape, tc.m, tc.n, tc.k, tc.ta, tc.tb, tc.alpha, tc.beta)
			if ints && (tc.alpha != 1 || tc.beta != 1) {
				for i, v := range want {
					want[i] = math.Trunc(v)
				}
			}
			attrs := nnAttrs(graph.FloatAttr("alpha", float32(tc.alpha)), graph.FloatAttr("beta", float32(tc.beta)),
				graph.IntAttr("transA", nnB2I(tc.ta)), graph.IntAttr("transB", nnB2I(tc.tb)))
			got, err := runOp(t, "Gemm", tc.opset, 1, attrs, ins...)
			if err != nil {
				t.Fatal(err)
			}
			nnCheck(t, got[0], tc.dt, tensor.Shape{tc.m, tc.n}, want)
		})
	}
}

func TestGemmLegacyAndErrors(t *testing.T) {
	is := is.New(t)
	a := f32(tensor.Shape{2, 3}, 1, 2, 3, 4, 5, 6)
	b := f32(tensor.Shape{3, 2}, 1, 0, 0, 1, 1, 1)
	// Opset 6 without broadcast wants C of exactly M×N.
	_, err := runOp(t, "Gemm", 6, 1, nil, a, b, f32(tensor.Shape{2}, 1, 1))
	is.Equal(fault.KindOf(err), fault.Invalid)
	got, err := runOp(t, "Gemm", 6, 1, nnAttrs(graph.IntAttr("broadcast", 1)), a, b, f32(tensor.Shape{2}, 10, 20))
	is.NoErr(err)
	nnCheck(t, got[0], tensor.Float32, tensor.Shape{2, 2}, []float64{14, 25, 20, 31})
	got, err = runOp(t, "Gemm", 7, 1, nil, a, b, f32(tensor.Shape{2, 2}, 1, 1, 1, 1))
	is.NoErr(err)
	nnCheck(t, got[0], tensor.Float32, tensor.Shape{2, 2}, []float64{5, 6, 11, 12})
	// Errors: inner sizes, C shape, rank.
	for _, in := range [][]*tensor.Tensor{
		{a, a},
		{a, b, f32(tensor.Shape{3}, 1, 2, 3)},
		{a, b, f32(tensor.Shape{1, 1, 1}, 1)},
		{f32(tensor.Shape{6}, 1, 2, 3, 4, 5, 6), b},
	} {
		_, err := runOp(t, "Gemm", 13, 1, nil, in...)
		is.Equal(fault.KindOf(err), fault.Invalid)
	}
	// Empty matrices.
	got, err = runOp(t, "Gemm", 13, 1, nil, f32(tensor.Shape{0, 3}), f32(tensor.Shape{3, 2}, 1, 2, 3, 4, 5, 6))
	is.NoErr(err)
	is.Equal([]int(got[0].Shape), []int{0, 2})
}

func nnB2I(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func nnProd(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
