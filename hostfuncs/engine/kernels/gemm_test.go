package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/matryer/is"
)

// refGemm is the definition of GEMM in float64. Besides alpha·op(A)·op(B) +
// beta·C it returns, per element, the magnitude |alpha|·Σp |a_ip|·|b_pj| +
// |beta|·|c_ij| that bounds the rounding error of any float32 evaluation.
func refGemm(transA, transB bool, m, n, k int, alpha float64, a []float32, lda int, b []float32, ldb int, beta float64, c []float32, ldc int) (want, mag []float64) {
	want, mag = make([]float64, m*n), make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, sa float64
			for p := range k {
				ai, bi := i*lda+p, p*ldb+j
				if transA {
					ai = p*lda + i
				}
				if transB {
					bi = j*ldb + p
				}
				prod := float64(a[ai]) * float64(b[bi])
				s += prod
				sa += math.Abs(prod)
			}
			w, mg := 0.0, 0.0
			if alpha != 0 {
				w, mg = alpha*s, math.Abs(alpha)*sa
			}
			if beta != 0 {
				cv := float64(c[i*ldc+j])
				w += beta * cv
				mg += math.Abs(beta * cv)
			}
			want[i*n+j], mag[i*n+j] = w, mg
		}
	}
	return want, mag
}

// tolerance is the error allowed in a float32 GEMM element whose float64
// value has magnitude bound mag (see refGemm), for depth k. It is the
// classic bound for a dot product evaluated in floating point,
// |fl(x·y) − x·y| ≤ γ·Σ|x_i·y_i| with γ ≈ n·u, where u = 2⁻²⁴ is float32's
// unit roundoff; n is k + 3 to cover the rounding of alpha·a in packing,
// of the beta·c term and of the final sum, and a factor 2 covers the
// blocked summation orders that differ between kernels. A fixed relative
// rule such as 1e-3·|want| would be wrong both ways: too loose for short
// sums and too tight where cancellation makes want small against its terms.
func tolerance(k int, mag float64) float64 {
	const u = 1.0 / (1 << 24)
	return 2*float64(k+3)*u*mag + 1e-30
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return s
}

var (
	nan      = float32(math.NaN())
	sentinel = float32(-7777.25) // in C's padding: must survive every call
)

// sgemmFunc is one way of calling Sgemm: a variant, or the parallel entry.
type sgemmFunc struct {
	name string
	f    func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
}

// implementations is every Sgemm this machine can run: each variant with
// its real blocking, each assembly variant again with tiny blocks (so that
// small matrices cross every kc, mc and nc boundary, with B packed and read
// in place), and the parallel entry point with splitting forced down to the
// smallest products.
func implementations(pool *Pool) []sgemmFunc {
	var fs []sgemmFunc
	for _, v := range variants {
		fs = append(fs, sgemmFunc{v.name, v.sgemm})
		if v.kernels == nil {
			continue
		}
		for _, inPlace := range []int{0, 1 << 30} {
			small := *v
			small.blocking = blocking{kc: 7, kcInPlace: 5, mc: 2*v.mr + 3, nc: 3*v.nr + 5, inPlaceM: inPlace}
			fs = append(fs, sgemmFunc{fmt.Sprintf("%s_tinyblocks_inplace%v", v.name, inPlace > 0), small.sgemm})
		}
		for _, threads := range []int{2, 3} {
			vv := v
			fs = append(fs, sgemmFunc{fmt.Sprintf("%s_parallel%d", v.name, threads), func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
				vv.sgemmParallel(pool, threads, 0, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
			}})
		}
	}
	fs = append(fs, sgemmFunc{"Sgemm", Sgemm}, sgemmFunc{"SgemmParallel", func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		SgemmParallel(pool, 2, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}})
	return fs
}

// TestSgemm checks every implementation against the float64 definition on
// random inputs: odd and prime sizes, all four transpositions, leading
// dimensions wider than the rows (C's padding holds sentinels that must stay
// untouched, A's and B's hold NaN that must never be read), alpha in
// {1, 0.5, 0} and beta in {0, 1, -2}. With beta 0, C starts as NaN, which
// must not leak into the result; with alpha 0, A and B are all NaN and must
// not be read. A and B must come back unchanged.
func TestSgemm(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	impls := implementations(pool)
	shapes := [][3]int{ // m, n, k
		{1, 1, 1}, {2, 2, 2}, {3, 3, 3}, {7, 7, 7}, {13, 13, 13}, {17, 17, 17}, {31, 31, 31},
		{33, 33, 33}, {63, 63, 63}, {65, 65, 65}, {127, 127, 127},
		{2, 3, 7}, {13, 17, 31}, {33, 65, 17}, {65, 33, 127}, {29, 127, 13}, {15, 14, 16}, {28, 64, 257},
		{1, 257, 65}, {1, 33, 257}, {1, 7, 3}, {257, 1, 65}, {33, 1, 257}, {3, 1, 7}, // GEMV routes
		{31, 257, 257}, {257, 65, 33}, {127, 129, 67}, // several panels and blocks with the real sizes
		{5, 7, 0}, // k = 0 only scales C
	}
	if !testing.Short() {
		shapes = append(shapes, [3]int{257, 257, 257}, [3]int{521, 63, 300})
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, sh := range shapes {
		m, n, k := sh[0], sh[1], sh[2]
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			transA, transB := tr[0], tr[1]
			aRows, aCols := stored(transA, m, k)
			bRows, bCols := stored(transB, k, n)
			padA, padB, padC := 1+r.IntN(5), 1+r.IntN(5), 1+r.IntN(5)
			lda, ldb, ldc := aCols+padA, bCols+padB, n+padC
			a := padded(r, aRows, aCols, lda, nan)
			b := padded(r, bRows, bCols, ldb, nan)
			c0 := padded(r, m, n, ldc, sentinel)
			ab, mag := refGemm(transA, transB, m, n, k, 1, a, lda, b, ldb, 0, c0, ldc)
			for _, alpha := range []float32{1, 0.5, 0} {
				for _, beta := range []float32{0, 1, -2} {
					name := fmt.Sprintf("%dx%dx%d/tA=%v,tB=%v/alpha=%v,beta=%v", m, n, k, transA, transB, alpha, beta)
					t.Run(name, func(t *testing.T) {
						is := is.New(t)
						cin := slices.Clone(c0)
						if beta == 0 {
							fillMatrix(cin, m, n, ldc, nan)
						}
						aa, bb := a, b
						if alpha == 0 {
							aa, bb = slices.Clone(a), slices.Clone(b)
							fillMatrix(aa, aRows, aCols, lda, nan)
							fillMatrix(bb, bRows, bCols, ldb, nan)
						}
						ain, bin := slices.Clone(aa), slices.Clone(bb)
						for _, impl := range impls {
							c := slices.Clone(cin)
							impl.f(transA, transB, m, n, k, alpha, aa, lda, bb, ldb, beta, c, ldc)
							is.True(sameBits(aa, ain)) // A unchanged
							is.True(sameBits(bb, bin)) // B unchanged
							for i := range len(c) {
								row, col := i/ldc, i%ldc
								if row >= m || col >= n {
									if math.Float32bits(c[i]) != math.Float32bits(cin[i]) {
										t.Fatalf("%s: padding C[%d] changed from %v to %v", impl.name, i, cin[i], c[i])
									}
									continue
								}
								want, wmag := float64(alpha)*ab[row*n+col], math.Abs(float64(alpha))*mag[row*n+col]
								if beta != 0 {
									want += float64(beta) * float64(cin[i])
									wmag += math.Abs(float64(beta) * float64(cin[i]))
								}
								got := float64(c[i])
								if !(math.Abs(got-want) <= tolerance(k, wmag)) {
									t.Fatalf("%s: C[%d,%d] = %v, want %v (tolerance %g)", impl.name, row, col, got, want, tolerance(k, wmag))
								}
							}
						}
					})
				}
			}
		}
	}
}

// padded is a rows×cols matrix of random values with leading dimension ld,
// pad in the gaps, and one more ld of pad after the last row, so that a
// kernel reading or writing past the end shows up.
func padded(r *rand.Rand, rows, cols, ld int, pad float32) []float32 {
	s := make([]float32, max(rows, 1)*ld+ld)
	for i := range s {
		if i/ld < rows && i%ld < cols {
			s[i] = float32(r.Float64()*2 - 1)
		} else {
			s[i] = pad
		}
	}
	return s
}

// stored is how op(X), rows×cols, is stored: transposed, cols×rows.
func stored(trans bool, rows, cols int) (int, int) {
	if trans {
		return cols, rows
	}
	return rows, cols
}

// withReleased is pk and, where it has panels, a copy released
// (Packed.Release), so that a product is tested both with the operand as
// given and with only its panels.
func withReleased(pk *Packed) []*Packed {
	rel := *pk
	if rel.Release() {
		return []*Packed{pk, &rel}
	}
	return []*Packed{pk}
}

func fillMatrix(s []float32, rows, cols, ld int, v float32) {
	for i := range rows {
		for j := range cols {
			s[i*ld+j] = v
		}
	}
}

func sameBits(x, y []float32) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
			return false
		}
	}
	return true
}

// TestSgemmParallelMatchesSgemm checks that splitting does not change the
// result at all: each element is computed by the same kernel over the same
// depth blocks whichever thread computes it.
func TestSgemmParallelMatchesSgemm(t *testing.T) {
	is := is.New(t)
	pool := NewPool(3)
	defer pool.Close()
	r := rand.New(rand.NewPCG(5, 6))
	for _, v := range variants {
		for _, sh := range [][3]int{{200, 300, 100}, {300, 200, 100}, {1, 3000, 100}, {3000, 1, 100}} {
			m, n, k := sh[0], sh[1], sh[2]
			a, b := randSlice(r, m*k), randSlice(r, k*n)
			want, got := make([]float32, m*n), make([]float32, m*n)
			v.sgemm(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
			v.sgemmParallel(pool, 4, 0, false, false, m, n, k, 1, a, k, b, n, 0, got, n, nil)
			is.True(sameBits(got, want))
		}
	}
}

// TestPoolConcurrentAndClose runs parallel products from several goroutines
// at once on a small pool, then after Close (when they run on the caller).
func TestPoolConcurrentAndClose(t *testing.T) {
	is := is.New(t)
	pool := NewPool(2)
	r := rand.New(rand.NewPCG(7, 8))
	m, n, k := 96, 160, 64
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	want := make([]float32, m*n)
	Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
	run := func() bool {
		c := make([]float32, m*n)
		best.sgemmParallel(pool, 3, 0, false, false, m, n, k, 1, a, k, b, n, 0, c, n, nil)
		return sameBits(c, want)
	}
	done := make(chan bool)
	for range 4 {
		go func() {
			ok := true
			for range 20 {
				ok = ok && run()
			}
			done <- ok
		}()
	}
	for range 4 {
		is.True(<-done)
	}
	pool.Close()
	pool.Close()
	is.True(run())
	var nilPool *Pool
	c := make([]float32, m*n)
	SgemmParallel(nilPool, 4, false, false, m, n, k, 1, a, k, b, n, 0, c, n)
	is.True(sameBits(c, want))
}

func TestSgemmPanicsOnShortSlices(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic for a too-short C")
				}
			}()
			a, b, c := make([]float32, 16*16), make([]float32, 16*16), make([]float32, 16*16-1)
			v.sgemm(false, false, 16, 16, 16, 1, a, 16, b, 16, 0, c, 16)
		})
	}
}

func TestSgemmDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	is := is.New(t)
	pool := NewPool(1)
	defer pool.Close()
	r := rand.New(rand.NewPCG(9, 9))
	for _, sh := range [][3]int{{64, 64, 64}, {1, 512, 64}, {64, 1, 64}, {300, 300, 300}} {
		m, n, k := sh[0], sh[1], sh[2]
		a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
		for _, v := range variants {
			v.sgemm(true, false, m, n, k, 1, a, m, b, n, 0, c, n) // warm the buffer pools
			allocs := testing.AllocsPerRun(20, func() { v.sgemm(true, false, m, n, k, 1, a, m, b, n, 0, c, n) })
			is.Equal(allocs, 0.0)
		}
		allocs := testing.AllocsPerRun(20, func() { Gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n) })
		is.Equal(allocs, 0.0) // the generic entry the operators call
		SgemmParallel(pool, 2, false, false, m, n, k, 1, a, k, b, n, 0, c, n)
		allocs = testing.AllocsPerRun(20, func() { SgemmParallel(pool, 2, false, false, m, n, k, 1, a, k, b, n, 0, c, n) })
		is.True(allocs <= 0.5) // sync.Pool may drop an entry at a GC
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
	want, _ := refGemm(false, false, m, n, k, 1, a32, k, b32, n, 0, nil, n)
	for i := range c {
		is.True(math.Abs(c[i]-want[i]) < 1e-12)
	}
}

// TestGemmFloat32UsesSgemm checks that the generic entry point, which the
// operators call, gives float32 the same result as Sgemm.
func TestGemmFloat32UsesSgemm(t *testing.T) {
	is := is.New(t)
	r := rand.New(rand.NewPCG(3, 5))
	m, n, k := 37, 41, 43
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	c1, c2 := make([]float32, m*n), make([]float32, m*n)
	Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c1, n)
	Gemm(false, false, m, n, k, 1, a, k, b, n, 0, c2, n)
	is.True(sameBits(c1, c2))
}

// benchShapes are m×k×n: square sizes, and the transformer shapes of the
// bench/gemm comparison (a batch-1 x·W, a 32-token x·W).
var benchShapes = []struct{ m, k, n int }{
	{64, 64, 64}, {256, 256, 256}, {1024, 1024, 1024}, {32, 768, 3072}, {1, 768, 3072},
	{16, 200, 196}, {8, 25, 784},
}

// BenchmarkSgemm reports GFLOPS per variant and shape (m×k×n, row-major,
// no transposes, beta 0), plus the parallel entry point on 2 threads.
func BenchmarkSgemm(b *testing.B) {
	pool := NewPool(1)
	defer pool.Close()
	type bench struct {
		name string
		f    func(m, n, k int, a, bb, c []float32)
	}
	var benches []bench
	for _, v := range variants {
		benches = append(benches, bench{v.name, func(m, n, k int, a, bb, c []float32) {
			v.sgemm(false, false, m, n, k, 1, a, k, bb, n, 0, c, n)
		}})
	}
	benches = append(benches, bench{"parallel2", func(m, n, k int, a, bb, c []float32) {
		SgemmParallel(pool, 2, false, false, m, n, k, 1, a, k, bb, n, 0, c, n)
	}})
	for _, bn := range benches {
		for _, sz := range benchShapes {
			b.Run(fmt.Sprintf("%s/%dx%dx%d", bn.name, sz.m, sz.k, sz.n), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 1))
				a, bb, c := randSlice(r, sz.m*sz.k), randSlice(r, sz.k*sz.n), make([]float32, sz.m*sz.n)
				b.ReportAllocs()
				for b.Loop() {
					bn.f(sz.m, sz.n, sz.k, a, bb, c)
				}
				b.ReportMetric(float64(2*sz.m*sz.n*sz.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}

// TestVariants checks the dispatch table: the portable code is always
// there, last; Sgemm uses the first (fastest) variant.
func TestVariants(t *testing.T) {
	is := is.New(t)
	var names []string
	for _, v := range variants {
		names = append(names, v.name)
	}
	t.Logf("variants on this machine: %v; Sgemm uses %s", names, SgemmVariant())
	is.Equal(variants[len(variants)-1], portable)
	is.Equal(best, variants[0])
	is.Equal(SgemmVariant(), variants[0].name)
	for _, v := range variants[:len(variants)-1] {
		is.Equal(len(v.kernels), v.mr) // one kernel per row count
	}
}
