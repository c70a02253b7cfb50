package kernels

import "sync"

// Float is the element types the GEMM kernels compute in.
type Float interface{ float32 | float64 }

// Blocking sizes. A kc×nr panel of B and a kc×mr panel of A (4 and 2 KiB in
// float32) stay in L1 while the micro-kernel runs; an mc×kc block of A
// (64 KiB) stays in L2 while it meets every panel of a kc×nc block of B.
const (
	mr = 2
	nr = 4
	kc = 256
	mc = 64
	nc = 512
)

// Dgemm is Sgemm in float64.
func Dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Gemm is Sgemm for any Float type. In float32 it is Sgemm, so operators
// written once for both types get the assembly kernels.
func Gemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if a32, ok := any(a).([]float32); ok {
		best.sgemm(transA, transB, m, n, k, float32(alpha), a32, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
		return
	}
	gemmGo(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmGo is the portable Go GEMM: packed and cache-blocked, with a 2×4
// scalar register tile. It is the float64 implementation and the fallback
// variant for float32.
func gemmGo[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	scale(m, n, beta, c, ldc)
	if k <= 0 || alpha == 0 {
		return
	}
	if m == 1 && !transB {
		gemvRow(n, k, alpha, a, strideOf(transA, lda), b, ldb, c)
		return
	}

	kcb, mcb, ncb := min(k, kc), min(roundUp(m, mr), mc), min(roundUp(n, nr), nc)
	buf := getBuf[T](kcb*mcb + kcb*ncb)
	defer putBuf(buf)
	pa, pb := (*buf)[:kcb*mcb], (*buf)[kcb*mcb:]

	for j0 := 0; j0 < n; j0 += nc {
		nb := min(nc, n-j0)
		for p0 := 0; p0 < k; p0 += kc {
			kb := min(kc, k-p0)
			packB(transB, b, ldb, p0, kb, j0, nb, pb)
			for i0 := 0; i0 < m; i0 += mc {
				mb := min(mc, m-i0)
				packA(transA, alpha, a, lda, i0, mb, p0, kb, pa)
				macroKernel(mb, nb, kb, pa, pb, c[i0*ldc+j0:], ldc)
			}
		}
	}
}

func roundUp(x, to int) int { return (x + to - 1) / to * to }

// strideOf is the distance between consecutive elements of A's single row:
// 1 when A is stored as given, lda when it is stored transposed.
func strideOf(trans bool, ld int) int {
	if trans {
		return ld
	}
	return 1
}

// scale computes C = beta·C, writing zeros (not beta·C) when beta is 0 so
// garbage in C does not survive.
func scale[T Float](m, n int, beta T, c []T, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// gemvRow computes c += alpha·a·B for a single row a (k elements, incx
// apart) by streaming B's rows, the order B is stored in; packing would
// read B once anyway, so it would only add a copy.
func gemvRow[T Float](n, k int, alpha T, a []T, incx int, b []T, ldb int, c []T) {
	c = c[:n]
	for p := range k {
		s := alpha * a[p*incx]
		if s == 0 {
			continue
		}
		row := b[p*ldb : p*ldb+n]
		for j, v := range row {
			c[j] += s * v
		}
	}
}

// packA copies alpha·op(A)[i0:i0+mb, p0:p0+kb] into row panels of mr rows,
// each stored column by column (kb groups of mr values), zero-padding the
// last panel.
func packA[T Float](trans bool, alpha T, a []T, lda, i0, mb, p0, kb int, dst []T) {
	for ir := 0; ir < mb; ir += mr {
		panel := dst[ir*kb : ir*kb+mr*kb]
		rows := min(mr, mb-ir)
		for r := range mr {
			if r >= rows {
				for p := range kb {
					panel[p*mr+r] = 0
				}
				continue
			}
			i := i0 + ir + r
			if trans {
				for p := range kb {
					panel[p*mr+r] = alpha * a[(p0+p)*lda+i]
				}
			} else {
				row := a[i*lda+p0 : i*lda+p0+kb]
				for p, v := range row {
					panel[p*mr+r] = alpha * v
				}
			}
		}
	}
}

// packB copies op(B)[p0:p0+kb, j0:j0+nb] into column panels of nr columns,
// each stored row by row (kb groups of nr values), zero-padding the last
// panel.
func packB[T Float](trans bool, b []T, ldb, p0, kb, j0, nb int, dst []T) {
	for jr := 0; jr < nb; jr += nr {
		panel := dst[jr*kb : jr*kb+nr*kb]
		cols := min(nr, nb-jr)
		if !trans && cols == nr {
			for p := range kb {
				src := b[(p0+p)*ldb+j0+jr : (p0+p)*ldb+j0+jr+nr]
				d := panel[p*nr : p*nr+nr]
				d[0], d[1], d[2], d[3] = src[0], src[1], src[2], src[3]
			}
			continue
		}
		for cc := range nr {
			j := j0 + jr + cc
			for p := range kb {
				switch {
				case cc >= cols:
					panel[p*nr+cc] = 0
				case trans:
					panel[p*nr+cc] = b[j*ldb+p0+p]
				default:
					panel[p*nr+cc] = b[(p0+p)*ldb+j]
				}
			}
		}
	}
}

// macroKernel multiplies a packed mb×kb block of A by a packed kb×nb block
// of B into C, one mr×nr tile at a time.
func macroKernel[T Float](mb, nb, kb int, pa, pb []T, c []T, ldc int) {
	var tile [mr * nr]T
	for jr := 0; jr < nb; jr += nr {
		bp := pb[jr*kb : jr*kb+nr*kb]
		cols := min(nr, nb-jr)
		for ir := 0; ir < mb; ir += mr {
			ap := pa[ir*kb : ir*kb+mr*kb]
			rows := min(mr, mb-ir)
			if rows == mr && cols == nr {
				microKernel(kb, ap, bp, c[ir*ldc+jr:], ldc)
				continue
			}
			// Edge tile: compute a full tile into scratch, add the part
			// that lies inside C.
			clear(tile[:])
			microKernel(kb, ap, bp, tile[:], nr)
			for r := range rows {
				crow := c[(ir+r)*ldc+jr : (ir+r)*ldc+jr+cols]
				for j := range crow {
					crow[j] += tile[r*nr+j]
				}
			}
		}
	}
}

// microKernel adds the product of an mr-row panel of A and an nr-column
// panel of B, both packed kb deep, into the mr×nr tile of C at c.
//
// The 2×4 shape and the two-step unrolling were chosen by measurement: the
// Go compiler allocates only 15 vector registers, so larger tiles spill
// their accumulators (a 4×4 tile ran at half the speed), and unrolling
// halves the loop overhead that dominates scalar code.
func microKernel[T Float](kb int, a, b []T, c []T, ldc int) {
	var c00, c01, c02, c03, c10, c11, c12, c13 T
	a, b = a[:kb*mr], b[:kb*nr]
	for len(a) >= 2*mr && len(b) >= 2*nr {
		a0, a1 := a[0], a[1]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a0, a1 = a[2], a[3]
		b0, b1, b2, b3 = b[4], b[5], b[6], b[7]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a, b = a[2*mr:], b[2*nr:]
	}
	if len(a) >= mr && len(b) >= nr { // odd depth
		a0, a1 := a[0], a[1]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	r := c[0:nr:nr]
	r[0] += c00
	r[1] += c01
	r[2] += c02
	r[3] += c03
	r = c[ldc : ldc+nr : ldc+nr]
	r[0] += c10
	r[1] += c11
	r[2] += c12
	r[3] += c13
}

// Packing buffers are pooled per element type: a GEMM call needs up to
// (mc+nc)·kc elements, too many to allocate per call and too few to keep
// per caller.
var (
	pool32 = sync.Pool{New: func() any { return new([]float32) }}
	pool64 = sync.Pool{New: func() any { return new([]float64) }}
)

func getBuf[T Float](n int) *[]T {
	var p any
	var z T
	switch any(z).(type) {
	case float32:
		p = pool32.Get()
	default:
		p = pool64.Get()
	}
	buf := p.(*[]T)
	if cap(*buf) < n {
		*buf = make([]T, n)
	}
	*buf = (*buf)[:n]
	return buf
}

func putBuf[T Float](buf *[]T) {
	switch b := any(buf).(type) {
	case *[]float32:
		pool32.Put(b)
	case *[]float64:
		pool64.Put(b)
	}
}
