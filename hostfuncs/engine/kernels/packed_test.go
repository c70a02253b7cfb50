package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/matryer/is"
)

// packedVariants are the variants to test pre-packed products on: each
// one as it is and, for the assembly ones, with tiny blocks, so that small
// operands cross several depth, row and column blocks.
func packedVariants() []*variant {
	var vs []*variant
	for _, v := range variants {
		vs = append(vs, v)
		if v.kernels == nil {
			continue
		}
		for _, inPlace := range []int{0, 1 << 30} {
			small := *v
			small.name = fmt.Sprintf("%s_tinyblocks_inplace%v", v.name, inPlace > 0)
			small.blocking = blocking{kc: 7, kcInPlace: 5, mc: 2*v.mr + 3, nc: 3*v.nr + 5, inPlaceM: inPlace}
			vs = append(vs, &small)
		}
	}
	return vs
}

// TestSgemmPacked checks products with a pre-packed operand against the
// float64 definition, on odd sizes, both sides packed, every transposition,
// beta 0 (C starts as NaN) and 1, with and without a bias, on the calling
// goroutine and split over a pool (along m and along n). C's padding must
// stay untouched.
func TestSgemmPacked(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	cases := []struct{ m, n, k int }{
		{1, 1, 1}, {2, 3, 5}, {13, 17, 31}, {15, 33, 7}, {29, 127, 13}, {33, 1, 65}, {1, 45, 19},
		{65, 49, 203}, {49, 65, 385}, {127, 129, 67}, {350, 31, 401}, {31, 350, 577},
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, cs := range cases {
		m, n, k := cs.m, cs.n, cs.k
		for _, sideB := range []bool{false, true} {
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				transA, transB := tr[0], tr[1]
				aRows, aCols := stored(transA, m, k)
				bRows, bCols := stored(transB, k, n)
				lda, ldb, ldc := aCols+1+r.IntN(3), bCols+1+r.IntN(3), n+1+r.IntN(3)
				a := padded(r, aRows, aCols, lda, nan)
				b := padded(r, bRows, bCols, ldb, nan)
				c0 := padded(r, m, n, ldc, sentinel)
				bias := randSlice(r, m)
				ab, mag := refGemm(transA, transB, m, n, k, 1, a, lda, b, ldb, 0, c0, ldc)
				for _, v := range packedVariants() {
					var pk *Packed
					if sideB {
						pk = v.packB2(transB, k, n, b, ldb)
					} else {
						pk = v.packA2(transA, m, k, a, lda)
					}
					// Released: only the panels hold the operand, and
					// the product is given no slice for it.
					for _, pk := range withReleased(pk) {
						for _, threads := range []int{1, 3} {
							for _, beta := range []float32{0, 1} {
								for _, withBias := range []bool{false, true} {
									name := fmt.Sprintf("%dx%dx%d/B=%v/tA=%v,tB=%v/%s/released=%v/threads=%d/beta=%v/bias=%v", m, n, k, sideB, transA, transB, v.name, pk.src == nil, threads, beta, withBias)
									t.Run(name, func(t *testing.T) {
										c := slices.Clone(c0)
										if beta == 0 {
											fillMatrix(c, m, n, ldc, nan)
										}
										cin := slices.Clone(c)
										var bs []float32
										if withBias {
											bs = bias
										}
										if sideB {
											sgemmPackedB(pool, threads, 0, Stop{}, transA, m, a, lda, pk, beta, c, ldc, bs)
										} else {
											sgemmPackedA(pool, threads, 0, Stop{}, pk, transB, n, b, ldb, beta, c, ldc, bs)
										}
										checkProduct(t, m, n, k, ldc, c, cin, ab, mag, beta, bs)
									})
								}
							}
						}
					}
				}
			}
		}
	}
}

// checkProduct compares C with beta·Cin + AB (+ bias per row) within the
// rounding bound, and its padding with Cin's.
func checkProduct(t *testing.T, m, n, k, ldc int, c, cin []float32, ab, mag []float64, beta float32, bias []float32) {
	t.Helper()
	for i := range c {
		row, col := i/ldc, i%ldc
		if row >= m || col >= n {
			if math.Float32bits(c[i]) != math.Float32bits(cin[i]) {
				t.Fatalf("padding C[%d] changed from %v to %v", i, cin[i], c[i])
			}
			continue
		}
		want, wmag := ab[row*n+col], mag[row*n+col]
		if beta != 0 {
			want += float64(beta) * float64(cin[i])
			wmag += math.Abs(float64(beta) * float64(cin[i]))
		}
		if bias != nil {
			want += float64(bias[row])
			wmag += math.Abs(float64(bias[row]))
		}
		if got := float64(c[i]); !(math.Abs(got-want) <= tolerance(k, wmag)) {
			t.Fatalf("C[%d,%d] = %v, want %v (tolerance %g)", row, col, got, want, tolerance(k, wmag))
		}
	}
}

// TestSgemmPackedMatchesSgemm checks that a pre-packed A gives Sgemm's
// result bit for bit where the blocking is the same (B read in place),
// and that the packed bytes are counted.
func TestSgemmPackedMatchesSgemm(t *testing.T) {
	is := is.New(t)
	const m, n, k = 64, 300, 576
	r := rand.New(rand.NewPCG(7, 8))
	a, b, bias := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, m)
	want, got := make([]float32, m*n), make([]float32, m*n)
	SgemmBias(nil, 1, false, false, m, n, k, 1, a, k, b, n, 0, want, n, bias)
	pa := PackA(false, m, k, a, k)
	SgemmPackedA(nil, 1, Stop{}, pa, false, n, b, n, 0, got, n, bias)
	is.Equal(got, want)
	if best.kernels != nil {
		is.Equal(pa.Bytes(), int64(4*m*k))
	} else {
		is.Equal(pa.Bytes(), int64(0))
	}
	// Released, the panels alone give the same result.
	if pa.Release() {
		clear(got)
		SgemmPackedA(nil, 1, Stop{}, pa, false, n, b, n, 0, got, n, bias)
		is.Equal(got, want)
	}
	pb := PackB(true, k, m, a, k) // Aᵀ as the right operand
	is.True(pb.Bytes() >= 0)
	is.Equal(pb.Rows(), k)
	is.Equal(pb.Cols(), m)
}

// TestSgemmPackedStop checks that a fired Stop ends a pre-packed product
// before any tile is written, alone and split.
func TestSgemmPackedStop(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	const m, n, k = 150, 260, 90
	r := rand.New(rand.NewPCG(3, 4))
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	fired := make(chan struct{})
	close(fired)
	for _, v := range variants {
		pa, pb := v.packA2(false, m, k, a, k), v.packB2(false, k, n, b, n)
		for _, threads := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/threads=%d", v.name, threads), func(t *testing.T) {
				is := is.New(t)
				got := make([]float32, m*n)
				for i := range got {
					got[i] = sentinel
				}
				sgemmPackedA(pool, threads, 0, StopOn(fired), pa, false, n, b, n, 0, got, n, nil)
				sgemmPackedB(pool, threads, 0, StopOn(fired), false, m, a, k, pb, 0, got, n, nil)
				is.True(!slices.ContainsFunc(got, func(x float32) bool { return x != sentinel })) // nothing computed
			})
		}
	}
}

func TestSgemmPackedDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	is := is.New(t)
	const m, n, k = 64, 200, 300
	r := rand.New(rand.NewPCG(9, 9))
	a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	pa, pb := PackA(false, m, k, a, k), PackB(false, k, n, b, n)
	SgemmPackedA(nil, 1, Stop{}, pa, false, n, b, n, 0, c, n, nil) // warm the buffer pools
	SgemmPackedB(nil, 1, Stop{}, false, m, a, k, pb, 0, c, n, nil)
	is.Equal(testing.AllocsPerRun(20, func() { SgemmPackedA(nil, 1, Stop{}, pa, false, n, b, n, 0, c, n, nil) }), 0.0)
	is.Equal(testing.AllocsPerRun(20, func() { SgemmPackedB(nil, 1, Stop{}, false, m, a, k, pb, 0, c, n, nil) }), 0.0)
	if pa.Release() && pb.Release() {
		is.Equal(testing.AllocsPerRun(20, func() { SgemmPackedA(nil, 1, Stop{}, pa, false, n, b, n, 0, c, n, nil) }), 0.0)
		is.Equal(testing.AllocsPerRun(20, func() { SgemmPackedB(nil, 1, Stop{}, false, m, a, k, pb, 0, c, n, nil) }), 0.0)
	}
}

func TestPackPanicsOnMismatch(t *testing.T) {
	is := is.New(t)
	defer func() { is.True(recover() != nil) }()
	pa := PackA(false, 2, 2, make([]float32, 4), 2)
	SgemmPackedB(nil, 1, Stop{}, false, 2, make([]float32, 4), 2, pa, 0, make([]float32, 4), 2, nil)
}

// TestSgemmPackedAGather checks products with B's rows gathered in place
// (a convolution's taps over its padded channels) against the float64
// definition on the same rows gathered into a matrix: odd sizes, taps
// deeper and shallower than a depth block, offsets out of order and
// overlapping, beta 0 and 1, with and without a bias, A released or not,
// on the calling goroutine and split over a pool (along m and along n).
func TestSgemmPackedAGather(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	cases := []struct{ m, n, taps, depth int }{
		{1, 1, 1, 1}, {3, 5, 2, 3}, {13, 17, 9, 4}, {15, 33, 1, 7}, {29, 127, 3, 13},
		{33, 1, 5, 9}, {1, 45, 9, 2}, {64, 200, 9, 8}, {65, 49, 4, 51}, {127, 70, 2, 200},
	}
	r := rand.New(rand.NewPCG(11, 12))
	for _, cs := range cases {
		m, n, taps, depth := cs.m, cs.n, cs.taps, cs.depth
		k := taps * depth
		ldb := n + r.IntN(5)
		b := randSlice(r, depth*ldb+3*taps+n+7)
		offs := make([]int32, taps)
		for i := range offs {
			offs[i] = int32(r.IntN(len(b) - ((depth-1)*ldb + n) + 1))
		}
		dense := make([]float32, k*n) // B gathered
		for tap, off := range offs {
			for i := range depth {
				copy(dense[(tap*depth+i)*n:][:n], b[int(off)+i*ldb:][:n])
			}
		}
		lda, ldc := k+r.IntN(3), n+1+r.IntN(3)
		a := padded(r, m, k, lda, nan)
		c0 := padded(r, m, n, ldc, sentinel)
		bias := randSlice(r, m)
		ab, mag := refGemm(false, false, m, n, k, 1, a, lda, dense, n, 0, c0, ldc)
		for _, v := range packedVariants() {
			for _, pk := range withReleased(v.packA2(false, m, k, a, lda)) {
				for _, threads := range []int{1, 3} {
					for _, beta := range []float32{0, 1} {
						for _, withBias := range []bool{false, true} {
							name := fmt.Sprintf("%dx%d/taps=%dx%d/%s/released=%v/threads=%d/beta=%v/bias=%v", m, n, taps, depth, v.name, pk.src == nil, threads, beta, withBias)
							t.Run(name, func(t *testing.T) {
								c := slices.Clone(c0)
								if beta == 0 {
									fillMatrix(c, m, n, ldc, nan)
								}
								cin := slices.Clone(c)
								var bs []float32
								if withBias {
									bs = bias
								}
								pre := prePacked{a: pk, offs: offs, depth: depth}
								v.sgemmParallelPre(pool, threads, 0, Stop{}, pre, false, false, m, n, k, 1, pk.src, lda, b, ldb, beta, c, ldc, bs)
								checkProduct(t, m, n, k, ldc, c, cin, ab, mag, beta, bs)
							})
						}
					}
				}
			}
		}
	}
}

// TestSgemmPackedAGatherChecks checks that gathered rows past b's end
// are refused, and that a warm product allocates nothing.
func TestSgemmPackedAGatherChecks(t *testing.T) {
	is := is.New(t)
	const m, n, taps, depth = 20, 50, 3, 16
	r := rand.New(rand.NewPCG(13, 14))
	a, b, c := randSlice(r, m*taps*depth), randSlice(r, depth*n+40), make([]float32, m*n)
	pa := PackA(false, m, taps*depth, a, taps*depth)
	offs := []int32{0, 40, 17}
	SgemmPackedAGather(nil, 1, Stop{}, pa, n, b, offs, depth, n, 0, c, n, nil)
	if !raceEnabled {
		is.Equal(testing.AllocsPerRun(20, func() { SgemmPackedAGather(nil, 1, Stop{}, pa, n, b, offs, depth, n, 0, c, n, nil) }), 0.0)
	}
	defer func() { is.True(recover() != nil) }()
	SgemmPackedAGather(nil, 1, Stop{}, pa, n, b, []int32{0, 41, 17}, depth, n, 0, c, n, nil)
}
