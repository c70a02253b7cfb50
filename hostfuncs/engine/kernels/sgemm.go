package kernels

import (
	"fmt"
	"sync"
	"unsafe"
)

// kernelFunc is an assembly GEMM micro-kernel: it multiplies a packed
// panel of A (kc groups of rows values, rows being the kernel's tile
// height) by kc rows of nr values of B (bs elements apart) and writes the
// rows×nr tile at c as acc (load false) or beta·c + acc (load true),
// touching only the columns whose bit is set in mask, after adding bias[i]
// to row i when bias is not nil.
type kernelFunc func(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

// gatherKernelFunc is a kernelFunc whose k steps come in nseg segments
// of B read in place, segs holding (offset from b in elements, steps) for
// each: the tile is written to C once, after all of them.
type gatherKernelFunc func(segs *int64, nseg int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

// gemvTFunc adds alpha·x·W to y[0:n] for W k×n row-major (ldw apart) and
// contiguous x. It handles the first n rounded down to a multiple of its
// variant's gemvTStep columns.
type gemvTFunc func(k, n int, x, w *float32, ldw int, y *float32, alpha float32)

// transposeFunc packs up to 16 rows of a matrix (src, lds apart) into
// column order: column p, times alpha, goes to dst + p·dstStride, its first
// rows values written. It handles the first kb rounded down to 16 columns.
type transposeFunc func(kb, rows int, src *float32, lds int, dst *float32, dstStride int, alpha float32)

// dotFunc writes out[i] = A[i, 0:k]·x for 4 (dot4) or 1 (dot1) rows of A,
// lda apart, over the first k rounded down to a multiple of dotStep.
type dotFunc func(k int, a *float32, lda int, x *float32, out *[4]float32)

// blocking holds the cache-blocking sizes of a variant.
type blocking struct {
	// kc is the depth of a packed block when B is packed: a kc×nr panel of
	// B stays in L1 while the micro-kernel sweeps the A panels past it.
	kc int
	// kcInPlace is the depth of a block when B is read in place. Its rows
	// are then far apart and come from L2 anyway, so a deeper block only
	// saves passes over C.
	kcInPlace int
	// mc is the height of a packed block of A, mc×kc, which stays in L2.
	mc int
	// nc is the width of a packed block of B, kc×nc, which stays in L3.
	nc int
	// inPlaceM: up to this many rows of C, B (when not transposed) is read
	// where it is instead of being packed. With a single block of A, each
	// panel of B is fetched once either way, so the copy is pure cost; with
	// several, the in-place panels would be fetched again for each.
	inPlaceM int
}

// variant is one implementation of Sgemm: the portable Go code (kernels
// nil) or a set of assembly kernels for one instruction set.
type variant struct {
	name     string
	mr, nr   int                // register tile
	kernels  []kernelFunc       // kernels[r-1] computes r rows of the tile
	gkernels []gatherKernelFunc // the same over segments of B (nil: none)
	masked   bool               // kernels honour the column mask
	blocking blocking

	gemvT     gemvTFunc
	gemvTStep int
	dot4      dotFunc
	dot1      dotFunc
	dotStep   int

	transpose transposeFunc // nil: pack with Go loops
}

// portable is the pure Go variant, the fallback on every platform.
var portable = &variant{name: "portable"}

// variants lists the variants this machine can run, fastest first; the
// tests and benchmarks run each of them. It is computed once, at init.
var variants = append(archVariants(), portable)

// best is the variant Sgemm uses, chosen once from the CPU's features.
var best = variants[0]

// Sgemm computes C = alpha·op(A)·op(B) + beta·C in float32, where op(X) is X
// or Xᵀ, op(A) is m×k, op(B) is k×n and C is m×n. Matrices are row-major
// with leading dimensions lda, ldb, ldc (the distance between rows, at least
// the row length), as in CBLAS with CblasRowMajor. When beta is 0, C is not
// read, so it may hold garbage (even NaN). When alpha is 0 or k is 0, A and
// B are not read.
//
// It runs on the calling goroutine, with the fastest kernels the CPU
// supports; SgemmParallel spreads one product over several threads.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	best.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func (v *variant) sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	v.sgemmBias(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

// sgemmBias is sgemm plus bias[i] added to row i of C (bias nil: none).
func (v *variant) sgemmBias(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	v.sgemmBiasStop(Stop{}, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
}

// sgemmBiasStop is sgemmBias that gives up, leaving C partly written, once
// stop fires.
func (v *variant) sgemmBiasStop(stop Stop, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	v.sgemmPre(stop, prePacked{}, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
}

// sgemmPre is sgemmBiasStop with, in pre, an operand packed in advance
// (see Packed) that blocked uses in place of packing a or b, which still
// hold the operand as given for the paths that do not use panels.
func (v *variant) sgemmPre(stop Stop, pre prePacked, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	if m <= 0 || n <= 0 || stop.Stopped() {
		return
	}
	if bias != nil {
		bias = bias[:m]
	}
	if pre.offs != nil {
		v.gathered(stop, pre, m, n, k, a, lda, b, ldb, beta, c, ldc, bias)
		return
	}
	if v.kernels == nil {
		if bias != nil {
			// The portable code has no epilogue: seed C with beta·C + bias.
			addRowBias(m, n, beta, c, ldc, bias)
			beta = 1
		}
		portableStop(stop, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// The assembly reads and writes through raw pointers, so the bounds
	// the Go code would check element by element are checked here once.
	checkMatrix("C", false, m, n, c, ldc)
	if k <= 0 || alpha == 0 {
		if bias != nil {
			addRowBias(m, n, beta, c, ldc, bias)
			return
		}
		scale(m, n, beta, c, ldc)
		return
	}
	pre = pre.usable(v, alpha)
	if pre.a == nil {
		checkMatrix("A", transA, m, k, a, lda)
	}
	if pre.b == nil {
		checkMatrix("B", transB, k, n, b, ldb)
	}
	switch {
	case pre.released():
		// Only the panels hold the operand: one row or column of C too
		// goes through them.
		v.blocked(stop, pre, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
	case m == 1:
		v.gemvRow(transA, transB, n, k, alpha, a, lda, b, ldb, beta, c, bias)
	case n == 1:
		v.gemvCol(transA, transB, m, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
	default:
		v.blocked(stop, pre, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
	}
}

// portableStopFlops is how much of a product the portable code computes
// between two polls of a Stop: about 5 ms at its 10-15 GFLOPS.
const portableStopFlops = 64 << 20

// portableStop is gemmGo in bands of rows of C, polling stop between bands
// so that a cancelled run need not wait for the whole product.
func portableStop(stop Stop, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	band := m
	if stop.done != nil {
		band = max(1, portableStopFlops/max(1, 2*n*k))
	}
	for i0 := 0; i0 < m; i0 += band {
		if stop.Stopped() {
			return
		}
		rows := min(band, m-i0)
		aoff := i0 * lda // row i0 of op(A)
		if transA {
			aoff = i0
		}
		gemmGo(transA, transB, rows, n, k, alpha, a[aoff:], lda, b, ldb, beta, c[i0*ldc:], ldc)
	}
}

// addRowBias sets C = beta·C + bias·1ᵀ (C not read when beta is 0).
func addRowBias(m, n int, beta float32, c []float32, ldc int, bias []float32) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		bv := bias[i]
		if beta == 0 {
			for j := range row {
				row[j] = bv
			}
			continue
		}
		for j := range row {
			row[j] = beta*row[j] + bv
		}
	}
}

// checkMatrix panics unless x holds a rows×cols matrix (cols×rows when
// trans) with leading dimension ld.
func checkMatrix(name string, trans bool, rows, cols int, x []float32, ld int) {
	if trans {
		rows, cols = cols, rows
	}
	if ld < max(cols, 1) || len(x) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("kernels: %s is %d×%d with leading dimension %d but has %d elements", name, rows, cols, ld, len(x)))
	}
}

// blocked is the BLIS-style loop nest: jc over nc-wide blocks of B, pc over
// kc-deep blocks, ic over mc-high blocks of A; inside, jr over nr-wide
// panels of B (each stays in L1) and ir over mr-high panels of A (streamed
// from L2). It polls stop every stopPanels panels of B, a few hundred
// microseconds of work at most, and returns as soon as it fires.
//
// With pre's A (or B), the panels of each block come from it instead of
// being packed, at the depth it was packed with.
func (v *variant) blocked(stop Stop, pre prePacked, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	bl := v.blocking
	inPlace := !transB && (m <= bl.inPlaceM || pre.offs != nil) && pre.b == nil
	if inPlace {
		bl.kc = bl.kcInPlace
	}
	// Blocks of pre-packed panels must start on a panel.
	switch {
	case pre.a != nil:
		bl.kc, bl.mc = pre.a.kc, max(v.mr, bl.mc/v.mr*v.mr)
	case pre.b != nil:
		bl.kc, bl.nc = pre.b.kc, max(v.nr, bl.nc/v.nr*v.nr)
	}
	kcb := min(k, bl.kc)
	mcb := min(m, bl.mc)
	ncb := roundUp(min(n, bl.nc), v.nr) // packB pads the last panel to nr
	na := mcb * kcb
	if pre.a != nil {
		na = 0
	}
	bufs := getPackBufs(na, kcb*ncb, kcb*v.nr, v.mr*v.nr, inPlace || pre.b != nil)
	defer putPackBufs(bufs)
	pa, pb := bufs.a, bufs.b

	for jc := 0; jc < n; jc += bl.nc {
		nb := min(bl.nc, n-jc)
		for pc := 0; pc < k; pc += bl.kc {
			kb := min(bl.kc, k-pc)
			// The first depth block applies beta and the bias; the others
			// add.
			bt, load, bs := beta, beta != 0, bias
			if pc > 0 {
				bt, load, bs = 1, true, nil
			}
			switch {
			case pre.b != nil:
				pb = pre.b.block(pc, pre.off+jc, kb)
			case !inPlace:
				v.packB(transB, b, ldb, pc, kb, jc, nb, pb)
			}
			for ic := 0; ic < m; ic += bl.mc {
				mb := min(bl.mc, m-ic)
				if pre.a != nil {
					pa = pre.a.block(pc, pre.off+ic, kb)
				} else {
					v.packA(transA, alpha, a, lda, ic, mb, pc, kb, pa)
				}
				if pre.offs != nil {
					if !v.gatherBlock(stop, pre, pa, pc, kb, mb, jc, nb, b, ldb, c[ic*ldc:], ldc, bt, load, bs, ic, bufs) {
						return
					}
					continue
				}
				for jr := 0; jr < nb; jr += v.nr {
					if jr%(stopPanels*v.nr) == 0 && stop.Stopped() {
						return
					}
					cols := min(v.nr, nb-jr)
					var bp *float32
					bstride := v.nr
					switch {
					case !inPlace:
						bp = &pb[jr*kb]
					case cols < v.nr:
						// Reading a partial panel in place could run past
						// the end of b; pack just this one.
						v.packB(false, b, ldb, pc, kb, jc+jr, cols, bufs.edge)
						bp = &bufs.edge[0]
					default:
						bp, bstride = &b[pc*ldb+jc+jr], ldb
					}
					mask := uint64(1)<<cols - 1
					for ir := 0; ir < mb; ir += v.mr {
						rows := min(v.mr, mb-ir)
						cp := (ic+ir)*ldc + jc + jr
						kern := v.kernels[rows-1]
						var rb *float32
						if bs != nil {
							rb = &bs[ic+ir]
						}
						if cols == v.nr || v.masked {
							kern(kb, &pa[ir*kb], bp, bstride, &c[cp], ldc, mask, bt, load, rb)
							continue
						}
						// An unmasked kernel writes a whole tile: compute
						// it in scratch and merge the valid columns.
						tile := bufs.tile
						kern(kb, &pa[ir*kb], bp, bstride, &tile[0], v.nr, 0, 0, false, rb)
						mergeTile(c[cp:], ldc, tile, v.nr, rows, cols, bt, load)
					}
				}
			}
		}
	}
}

// stopPanels is how many panels of B blocked computes between two polls of
// its Stop: 16 panels of an mc×kc block are 2·336·384·16·16 FLOPs at most,
// about 0.5 ms on one core, while a poll costs a few nanoseconds.
const stopPanels = 16

// gemvRow computes the single row C[0, 0:n] = alpha·a·op(B) + beta·C (+
// bias[0] on every element).
func (v *variant) gemvRow(transA, transB bool, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, bias []float32) {
	incx := strideOf(transA, lda)
	if transB {
		// op(B) = Bᵀ with B stored n×k: each C[j] is a dot product of a
		// row of B with a.
		v.dots(n, k, alpha, b, ldb, a, incx, beta, c, 1, bias, 0)
		return
	}
	// B is k×n row-major: C += alpha·Σp a[p]·B[p, :] streams B once.
	v.axpyRows(n, k, alpha, a, incx, b, ldb, beta, c, 1, bias, 0)
}

// gemvCol computes the single column C[0:m, 0] = alpha·op(A)·b + beta·C (+
// bias[i] on element i).
func (v *variant) gemvCol(transA, transB bool, m, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	incx := strideOf(!transB, ldb) // b is a column: ldb apart unless transposed
	if transA {
		// A stored k×m: C[i] = Σp A[p, i]·b[p], the x·W form again.
		v.axpyRows(m, k, alpha, b, incx, a, lda, beta, c, ldc, bias, 1)
		return
	}
	v.dots(m, k, alpha, a, lda, b, incx, beta, c, ldc, bias, 1)
}

// axpyRows sets y[0:n] (incy apart) = alpha·x·W + beta·y (+ bias[j·bstep]
// on element j, when bias is not nil: bstep 0 adds one value to every
// element), for x of length k (incx apart) and W k×n row-major.
func (v *variant) axpyRows(n, k int, alpha float32, x []float32, incx int, w []float32, ldw int, beta float32, y []float32, incy int, bias []float32, bstep int) {
	bufs := getVecBufs(k, n, incx != 1, incy != 1)
	defer putVecBufs(bufs)
	xs := x
	if incx != 1 {
		xs = bufs.x
		for p := range k {
			xs[p] = x[p*incx]
		}
	}
	ys := y
	if incy != 1 {
		ys = bufs.y
		for j := 0; j < n && beta != 0; j++ { // beta 0: C is never read
			ys[j] = y[j*incy]
		}
	}
	if bias != nil {
		for j := range ys[:n] {
			if beta == 0 {
				ys[j] = bias[j*bstep]
			} else {
				ys[j] = beta*ys[j] + bias[j*bstep]
			}
		}
	} else {
		scale(1, n, beta, ys, n)
	}
	done := n / v.gemvTStep * v.gemvTStep
	if done > 0 {
		v.gemvT(k, done, &xs[0], &w[0], ldw, &ys[0], alpha)
	}
	if done < n {
		for p := range k {
			s := alpha * xs[p]
			row := w[p*ldw+done : p*ldw+n]
			for j, wv := range row {
				ys[done+j] += s * wv
			}
		}
	}
	if incy != 1 {
		for j := range n {
			y[j*incy] = ys[j]
		}
	}
}

// dots sets y[i·incy] = alpha·A[i, 0:k]·x + beta·y[i·incy] (+ bias[i·bstep],
// as in axpyRows) for i < m, with A row-major (lda apart) and x of length k (incx
// apart).
func (v *variant) dots(m, k int, alpha float32, a []float32, lda int, x []float32, incx int, beta float32, y []float32, incy int, bias []float32, bstep int) {
	bufs := getVecBufs(k, 0, incx != 1, false)
	defer putVecBufs(bufs)
	xs := x
	if incx != 1 {
		xs = bufs.x
		for p := range k {
			xs[p] = x[p*incx]
		}
	}
	done := k / v.dotStep * v.dotStep
	// out lives in the pooled buffers: a local array would escape to the
	// heap, since the kernel is called through a func value.
	out := &bufs.out
	for i := 0; i < m; {
		rows, f := 4, v.dot4
		if m-i < 4 {
			rows, f = 1, v.dot1
		}
		*out = [4]float32{}
		if done > 0 {
			f(done, &a[i*lda], lda, &xs[0], out)
		}
		for r := range rows {
			s := out[r]
			if done < k {
				row := a[(i+r)*lda+done : (i+r)*lda+k]
				for p, av := range row {
					s += av * xs[done+p]
				}
			}
			yi := (i + r) * incy
			out := alpha * s
			if beta != 0 {
				out += beta * y[yi]
			}
			if bias != nil {
				out += bias[(i+r)*bstep]
			}
			y[yi] = out
		}
		i += rows
	}
}

// packA copies alpha·op(A)[i0:i0+mb, p0:p0+kb] into panels of mr rows, each
// stored column by column (kb groups of mr values). The last panel, when mb
// is not a multiple of mr, holds only its rows (kb groups of mb%mr values)
// and is computed by the kernel of that height, so no padding is wasted.
func (v *variant) packA(trans bool, alpha float32, a []float32, lda, i0, mb, p0, kb int, dst []float32) {
	mr := v.mr
	for ir := 0; ir < mb; ir += mr {
		rows := min(mr, mb-ir)
		panel := dst[ir*kb : ir*kb+rows*kb]
		if trans {
			// Column p of op(A) is row p of A: rows contiguous values, a
			// copy of a row each when alpha is 1 (as convolutions' lowered
			// inputs are, transposed for ResNet's 7×7 stage: a copy per
			// element had been 3.6 % of its run).
			if alpha == 1 {
				StridedRows(panel, rows, a[p0*lda+i0+ir:], lda, 1, kb, rows)
				continue
			}
			for p := range kb {
				src := a[(p0+p)*lda+i0+ir : (p0+p)*lda+i0+ir+rows]
				d := panel[p*rows : p*rows+rows]
				for r, x := range src {
					d[r] = alpha * x
				}
			}
			continue
		}
		// Row r of the panel is a row of A, scattered rows apart.
		done := 0
		if v.transpose != nil && rows <= 16 {
			done = kb &^ 15
			if done > 0 {
				v.transpose(kb, rows, &a[(i0+ir)*lda+p0], lda, &panel[0], rows, alpha)
			}
		}
		for r := 0; r < rows && done < kb; r++ {
			src := a[(i0+ir+r)*lda+p0+done : (i0+ir+r)*lda+p0+kb]
			d := panel[done*rows+r:]
			for p, x := range src {
				d[p*rows] = alpha * x
			}
		}
	}
}

// packB copies op(B)[p0:p0+kb, j0:j0+nb] into panels of nr columns, each
// stored row by row (kb groups of nr values), zero-padding the last panel
// so that the kernels can always load whole vectors.
func (v *variant) packB(trans bool, b []float32, ldb, p0, kb, j0, nb int, dst []float32) {
	nr := v.nr
	for jr := 0; jr < nb; jr += nr {
		panel := dst[jr*kb : jr*kb+nr*kb]
		cols := min(nr, nb-jr)
		if !trans {
			for p := range kb {
				src := b[(p0+p)*ldb+j0+jr : (p0+p)*ldb+j0+jr+cols]
				d := panel[p*nr : p*nr+nr]
				copy(d, src)
				clear(d[cols:])
			}
			continue
		}
		// B is stored n×k: column c of the panel is a row of B.
		if cols < nr {
			clear(panel)
		}
		done := 0
		if v.transpose != nil {
			done = kb &^ 15
			for c0 := 0; c0 < cols && done > 0; c0 += 16 {
				v.transpose(kb, min(16, cols-c0), &b[(j0+jr+c0)*ldb+p0], ldb, &panel[c0], nr, 1)
			}
		}
		for cc := 0; cc < cols && done < kb; cc++ {
			src := b[(j0+jr+cc)*ldb+p0+done : (j0+jr+cc)*ldb+p0+kb]
			d := panel[done*nr+cc:]
			for p, x := range src {
				d[p*nr] = x
			}
		}
	}
}

// packBufs are one GEMM call's packing buffers, each 64-byte aligned so
// that the kernels' vector loads never split a cache line.
type packBufs struct {
	mem     []float32
	a, b    []float32
	edge    []float32
	tile    []float32
	segs    []int64 // a gathered depth block's segments (gatherBlock)
	inPlace bool
}

// Packing buffers are pooled: a call needs up to (mc+nc)·kc floats, too many
// to allocate per call and too few to keep per caller. Each goroutine of a
// parallel call takes its own.
var packPool = sync.Pool{New: func() any { return new(packBufs) }}

func getPackBufs(na, nb, nedge, ntile int, inPlace bool) *packBufs {
	p := packPool.Get().(*packBufs)
	const pad = 16 // floats in a cache line: rounds each part to a line
	need := roundUp(na, pad) + roundUp(nb, pad) + roundUp(nedge, pad) + roundUp(ntile, pad) + pad
	if inPlace {
		need -= roundUp(nb, pad) // B is read where it is
	}
	if cap(p.mem) < need {
		p.mem = make([]float32, need)
	}
	mem := p.mem[:need]
	off := int((64 - uintptr(unsafe.Pointer(&mem[0]))%64) % 64 / 4)
	take := func(n int) []float32 {
		s := mem[off : off+n : off+n]
		off += roundUp(n, pad)
		return s
	}
	p.a = take(na)
	if !inPlace {
		p.b = take(nb)
	} else {
		p.b = nil
	}
	p.edge = take(nedge)
	p.tile = take(ntile)
	return p
}

func putPackBufs(p *packBufs) { packPool.Put(p) }

// vecBufs hold a contiguous copy of a strided GEMV vector.
type vecBufs struct {
	x, y, xm, ym []float32
	out          [4]float32
}

var vecPool = sync.Pool{New: func() any { return new(vecBufs) }}

func getVecBufs(nx, ny int, wantX, wantY bool) *vecBufs {
	p := vecPool.Get().(*vecBufs)
	if wantX {
		if cap(p.xm) < nx {
			p.xm = make([]float32, nx)
		}
		p.x = p.xm[:nx]
	}
	if wantY {
		if cap(p.ym) < ny {
			p.ym = make([]float32, ny)
		}
		p.y = p.ym[:ny]
	}
	return p
}

func putVecBufs(p *vecBufs) { vecPool.Put(p) }

// SgemmVariant names the implementation Sgemm uses on this machine
// ("avx512", "avx2" or "portable"), for diagnostics and benchmarks.
func SgemmVariant() string { return best.name }

// SgemmPanelWidth is the columns of C the chosen variant's micro-kernels
// compute at a time (1 for the portable one): a product whose width is
// not a multiple of it computes a partial panel at the end.
func SgemmPanelWidth() int { return max(best.nr, 1) }

// mergeTile stores the first rows×cols of a tile computed in scratch (nr
// wide) into C (c from the tile's first element), as C = bt·C + tile where
// load is set and C = tile otherwise: the edge of a product whose kernel
// cannot mask its stores.
func mergeTile(c []float32, ldc int, tile []float32, nr, rows, cols int, bt float32, load bool) {
	for r := range rows {
		crow := c[r*ldc : r*ldc+cols]
		trow := tile[r*nr : r*nr+cols]
		for j := range crow {
			if load {
				crow[j] = bt*crow[j] + trow[j]
			} else {
				crow[j] = trow[j]
			}
		}
	}
}
