package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/matryer/is"
)

// TestSgemmBias checks the row-bias epilogue against the float64
// definition in every variant, with tiny blocks (so that the bias is added
// in the first depth block only, and per block of rows), in parallel
// (split along either side), and on the GEMV routes (m or n of 1), with
// and without transposes and with beta 0 (C garbage) and 1.
func TestSgemmBias(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	type impl struct {
		name string
		f    func(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32)
	}
	var impls []impl
	for _, v := range variants {
		impls = append(impls, impl{v.name, func(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
			v.sgemmBias(transA, transB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc, bias)
		}})
		if v.kernels != nil {
			small := *v
			small.blocking = blocking{kc: 7, kcInPlace: 5, mc: 2*v.mr + 3, nc: 3*v.nr + 5, inPlaceM: 1 << 30}
			impls = append(impls, impl{v.name + "_tinyblocks", func(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
				small.sgemmBias(transA, transB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc, bias)
			}})
		}
		impls = append(impls, impl{v.name + "_parallel3", func(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
			v.sgemmParallel(pool, 3, 0, transA, transB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc, bias)
		}})
	}
	impls = append(impls, impl{"SgemmBias", func(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
		SgemmBias(pool, 2, transA, transB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc, bias)
	}})
	r := rand.New(rand.NewPCG(11, 12))
	for _, sh := range [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 33, 19}, {29, 70, 40}, {1, 45, 33}, {45, 1, 33}, {64, 100, 9}, {5, 7, 0}} {
		m, n, k := sh[0], sh[1], sh[2]
		for _, tr := range [][2]bool{{false, false}, {true, true}} {
			transA, transB := tr[0], tr[1]
			aRows, aCols := stored(transA, m, k)
			bRows, bCols := stored(transB, k, n)
			lda, ldb, ldc := aCols+1, bCols+2, n+3
			a, b := padded(r, aRows, aCols, lda, nan), padded(r, bRows, bCols, ldb, nan)
			c0 := padded(r, m, n, ldc, sentinel)
			bias := randSlice(r, m)
			ab, mag := refGemm(transA, transB, m, n, k, 1, a, lda, b, ldb, 0, c0, ldc)
			for _, beta := range []float32{0, 1} {
				t.Run(fmt.Sprintf("%dx%dx%d/tA=%v,tB=%v/beta=%v", m, n, k, transA, transB, beta), func(t *testing.T) {
					is := is.New(t)
					cin := slices.Clone(c0)
					if beta == 0 {
						fillMatrix(cin, m, n, ldc, nan)
					}
					for _, im := range impls {
						c := slices.Clone(cin)
						im.f(transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc, bias)
						for i := range c {
							row, col := i/ldc, i%ldc
							if row >= m || col >= n {
								is.Equal(math.Float32bits(c[i]), math.Float32bits(cin[i])) // padding untouched
								continue
							}
							want := ab[row*n+col] + float64(bias[row])
							wmag := mag[row*n+col] + math.Abs(float64(bias[row]))
							if beta != 0 {
								want += float64(cin[i])
								wmag += math.Abs(float64(cin[i]))
							}
							if !(math.Abs(float64(c[i])-want) <= tolerance(k+1, wmag)) {
								t.Fatalf("%s: C[%d,%d] = %v, want %v", im.name, row, col, c[i], want)
							}
						}
					}
				})
			}
		}
	}
}
