package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/matryer/is"
)

// refGemm is the definition of GEMM, in float64.
func refGemm(transA, transB bool, m, n, k int, alpha float64, a []float32, lda int, b []float32, ldb int, beta float64, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				ai, bi := i*lda+p, p*ldb+j
				if transA {
					ai = p*lda + i
				}
				if transB {
					bi = j*ldb + p
				}
				av, bv := a[ai], b[bi]
				s += float64(av) * float64(bv)
			}
			cv := 0.0
			if beta != 0 {
				cv = beta * float64(c[i*ldc+j])
			}
			out[i*n+j] = alpha*s + cv
		}
	}
	return out
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return s
}

func TestSgemm(t *testing.T) {
	cases := []struct {
		m, n, k        int
		transA, transB bool
		alpha, beta    float32
		padA, padB     int // extra elements per row beyond the row length
		padC           int
	}{
		{1, 1, 1, false, false, 1, 0, 0, 0, 0},
		{3, 5, 7, false, false, 1, 0, 0, 0, 0},
		{4, 4, 4, false, false, 1, 0, 0, 0, 0},
		{13, 17, 19, false, false, 1, 0, 0, 0, 0},
		{13, 17, 19, true, false, 1, 0, 0, 0, 0},
		{13, 17, 19, false, true, 1, 0, 0, 0, 0},
		{13, 17, 19, true, true, 1, 0, 0, 0, 0},
		{31, 29, 37, true, true, 0.5, 2, 3, 5, 7},
		{1, 101, 67, false, false, 1.5, 0.25, 0, 0, 0},   // single row: streaming path
		{1, 101, 67, true, false, 1, 1, 3, 2, 1},         // single row of transposed A
		{1, 101, 67, false, true, 1, 1, 3, 2, 1},         // single row, transposed B
		{101, 1, 67, false, false, -2, 0.5, 1, 1, 1},     // single column
		{70, 530, 260, false, false, 1, 0, 0, 0, 0},      // crosses mc, nc and kc
		{67, 515, 259, true, true, -0.75, -1, 11, 13, 3}, // crosses blocks, transposed, strided
		{5, 3, 0, false, false, 1, 2, 0, 0, 0},           // k = 0 only scales C
		{6, 7, 8, false, false, 0, 3, 0, 0, 0},           // alpha = 0 only scales C
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range cases {
		name := fmt.Sprintf("%dx%dx%d_tA%v_tB%v_a%v_b%v_pad%d,%d,%d", tc.m, tc.n, tc.k, tc.transA, tc.transB, tc.alpha, tc.beta, tc.padA, tc.padB, tc.padC)
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			aRows, aCols := tc.m, tc.k
			if tc.transA {
				aRows, aCols = tc.k, tc.m
			}
			bRows, bCols := tc.k, tc.n
			if tc.transB {
				bRows, bCols = tc.n, tc.k
			}
			lda, ldb, ldc := aCols+tc.padA, bCols+tc.padB, tc.n+tc.padC
			a := randSlice(r, max(aRows*lda, 1))
			b := randSlice(r, max(bRows*ldb, 1))
			c := randSlice(r, tc.m*ldc)
			if tc.beta == 0 {
				for i := range c {
					c[i] = float32(math.NaN()) // beta = 0 must not read C
				}
			}
			want := refGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, float64(tc.alpha), a, lda, b, ldb, float64(tc.beta), c, ldc)
			orig := append([]float32(nil), c...)
			Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
			for i := range tc.m {
				for j := range ldc {
					got := c[i*ldc+j]
					if j >= tc.n {
						is.Equal(math.Float32bits(got), math.Float32bits(orig[i*ldc+j])) // padding untouched
						continue
					}
					w := want[i*tc.n+j]
					if math.Abs(float64(got)-w) > 1e-4*(1+math.Abs(w)) {
						t.Fatalf("C[%d,%d] = %v, want %v", i, j, got, w)
					}
				}
			}
		})
	}
}

func TestDgemmMatchesSgemmDefinition(t *testing.T) {
	is := is.New(t)
	r := rand.New(rand.NewPCG(3, 4))
	m, n, k := 9, 11, 13
	a32, b32 := randSlice(r, m*k), randSlice(r, k*n)
	a, b := make([]float64, m*k), make([]float64, k*n)
	for i, v := range a32 {
		a[i] = float64(v)
	}
	for i, v := range b32 {
		b[i] = float64(v)
	}
	c := make([]float64, m*n)
	Dgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
	want := refGemm(false, false, m, n, k, 1, a32, k, b32, n, 0, nil, n)
	for i := range c {
		is.True(math.Abs(c[i]-want[i]) < 1e-12)
	}
}

func BenchmarkSgemm(b *testing.B) {
	for _, sz := range []struct{ m, n, k int }{{64, 64, 64}, {256, 256, 256}, {16, 196, 200}, {8, 784, 25}, {1, 768, 3072}, {32, 768, 3072}} {
		b.Run(fmt.Sprintf("%dx%dx%d", sz.m, sz.n, sz.k), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			a, bb, c := randSlice(r, sz.m*sz.k), randSlice(r, sz.k*sz.n), make([]float32, sz.m*sz.n)
			b.ReportAllocs()
			for b.Loop() {
				Sgemm(false, false, sz.m, sz.n, sz.k, 1, a, sz.k, bb, sz.n, 0, c, sz.n)
			}
			b.ReportMetric(float64(2*sz.m*sz.n*sz.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}
