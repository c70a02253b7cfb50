package kernels

import (
	"fmt"
	"unsafe"
)

// Packed is a constant GEMM operand, such as a convolution's filters,
// packed once into the panels the micro-kernels read, so that products
// with it skip packing it (SgemmPackedA, SgemmPackedB). The panels follow
// the blocking of the variant that packed it, one depth block after
// another: the A side as packA lays out each block's rows (mr-row panels,
// the last one short), the B side as packB does (nr-column panels, the
// last one zero-padded). It also keeps the operand as given, for the
// products that do not go through panels (a single row or column, the
// portable variant, which packs nothing). A Packed is read-only once made
// and may be used by concurrent products.
type Packed struct {
	v          *variant
	isB        bool
	trans      bool
	rows, cols int // op(X): m×k for A, k×n for B
	src        []float32
	ld         int
	kc         int       // depth of a block
	data       []float32 // the panels; nil for the portable variant
}

// PackA packs op(A), m×k (A row-major with leading dimension lda, stored
// k×m when trans), as the left operand of SgemmPackedA. It holds a, which
// must not change while the Packed is in use.
func PackA(trans bool, m, k int, a []float32, lda int) *Packed {
	return best.packA2(trans, m, k, a, lda)
}

// PackB packs op(B), k×n (stored n×k when trans), as the right operand
// of SgemmPackedB. It holds b, which must not change while the Packed is
// in use.
func PackB(trans bool, k, n int, b []float32, ldb int) *Packed {
	return best.packB2(trans, k, n, b, ldb)
}

func (v *variant) packA2(trans bool, m, k int, a []float32, lda int) *Packed {
	if m <= 0 || k <= 0 {
		panic(fmt.Sprintf("kernels: PackA of a %d×%d matrix", m, k))
	}
	checkMatrix("A", trans, m, k, a, lda)
	p := &Packed{v: v, trans: trans, rows: m, cols: k, src: a, ld: lda}
	if v.kernels == nil {
		return p
	}
	// The depth blocked uses for this A when B is read in place (a
	// convolution's lowered input), or packed.
	p.kc = v.blocking.kc
	if m <= v.blocking.inPlaceM {
		p.kc = v.blocking.kcInPlace
	}
	p.data = alignedFloats(m * k)
	for pc := 0; pc < k; pc += p.kc {
		kb := min(p.kc, k-pc)
		v.packA(trans, 1, a, lda, 0, m, pc, kb, p.data[pc*m:pc*m+m*kb])
	}
	return p
}

func (v *variant) packB2(trans bool, k, n int, b []float32, ldb int) *Packed {
	if n <= 0 || k <= 0 {
		panic(fmt.Sprintf("kernels: PackB of a %d×%d matrix", k, n))
	}
	checkMatrix("B", trans, k, n, b, ldb)
	p := &Packed{v: v, isB: true, trans: trans, rows: k, cols: n, src: b, ld: ldb}
	if v.kernels == nil {
		return p
	}
	p.kc = v.blocking.kc
	np := roundUp(n, v.nr)
	p.data = alignedFloats(np * k)
	for pc := 0; pc < k; pc += p.kc {
		kb := min(p.kc, k-pc)
		v.packB(trans, b, ldb, pc, kb, 0, n, p.data[pc*np:pc*np+np*kb])
	}
	return p
}

// alignedFloats allocates n floats starting on a 64-byte boundary.
func alignedFloats(n int) []float32 {
	mem := make([]float32, n+16)
	off := int((64 - uintptr(unsafe.Pointer(&mem[0]))%64) % 64 / 4)
	return mem[off : off+n : off+n]
}

// Release drops p's hold on the operand as given, where the panels hold
// all of it, so that the operand's memory can go: products with p then
// always read the panels (a single row or column of C included). It
// reports whether it did; a Packed with no panels (the portable variant)
// keeps the operand.
func (p *Packed) Release() bool {
	if p.data == nil {
		return false
	}
	p.src = nil
	return true
}

// Bytes is the memory the panels take (0 when nothing was packed), besides
// the operand as given.
func (p *Packed) Bytes() int64 {
	if p == nil {
		return 0
	}
	return int64(cap(p.data)) * 4
}

// Rows and Cols are the dimensions of op(X) the Packed holds: m×k for
// PackA, k×n for PackB.
func (p *Packed) Rows() int { return p.rows }

// Cols: see Rows.
func (p *Packed) Cols() int { return p.cols }

// Right reports whether p was packed as the right operand (PackB).
func (p *Packed) Right() bool { return p.isB }

// block is the panels of depth block pc (a multiple of kc) from row (A)
// or column (B) off on, kb deep.
func (p *Packed) block(pc, off, kb int) []float32 {
	if p.isB {
		np := roundUp(p.cols, p.v.nr)
		return p.data[pc*np+off*kb : pc*np+np*kb]
	}
	return p.data[pc*p.rows+off*kb : pc*p.rows+p.rows*kb]
}

// prePacked is the operand of a product that was packed in advance, if
// any (at most one of a and b), from row (a) or column (b) off on: a part
// of a parallel product starts there.
type prePacked struct {
	a, b *Packed
	off  int
	// offs, when not nil, gathers B in place (SgemmPackedAGather): row
	// t·depth + i of op(B) starts at b[offs[t] + i·ldb].
	offs  []int32
	depth int
}

// packGathered packs columns [j0, j0+cols) of the gathered rows [p0,
// p0+kb) of B into one panel of nr columns (kb groups of nr values), the
// columns past cols zeroed, as packB does for a B read in place.
func (pre prePacked) packGathered(nr int, b []float32, ldb, p0, kb, j0, cols int, dst []float32) {
	for p := range kb {
		tap, i := (p0+p)/pre.depth, (p0+p)%pre.depth
		d := dst[p*nr : p*nr+nr]
		copy(d, b[int(pre.offs[tap])+i*ldb+j0:][:cols])
		clear(d[cols:])
	}
}

// gatherBlock computes the tiles of an mb×kb block of A (panels pa, depth
// block pc) times B's gathered rows, over columns [jc, jc+nb): each panel
// of B (nr columns) against every A panel, with one call of a gathering
// micro-kernel per tile, which runs through the block's taps with the
// tile in registers; where the variant has none, a call per run of a
// tap's rows, which accumulate into the tile while it stays in L1 (on
// ResNet-18's 3×3 convolutions, the single call is 1-2 % faster). c is
// C from the block's first row (row ic of the product, for the bias);
// bt, load and bs are the block's beta, whether to read C, and the
// bias (nil past the first depth block). It reports false once stop
// fires. (Sweeping B in 192-deep sub-blocks, so that a panel stays in L1
// as packed ones do, measured the same on ResNet's layers.)
func (v *variant) gatherBlock(stop Stop, pre prePacked, pa []float32, pc, kb, mb, jc, nb int, b []float32, ldb int, c []float32, ldc int, bt float32, load bool, bs []float32, ic int, bufs *packBufs) bool {
	// The block's taps, listed once as segments of B (offset, steps): a
	// gathering kernel runs a tile through all of them in one call, the
	// others a call per segment.
	segs := bufs.segs[:0]
	for s := 0; s < kb; {
		tap, i := (pc+s)/pre.depth, (pc+s)%pre.depth
		sl := min(pre.depth-i, kb-s)
		segs = append(segs, int64(int(pre.offs[tap])+i*ldb), int64(sl))
		s += sl
	}
	bufs.segs = segs
	for jr := 0; jr < nb; jr += v.nr {
		if jr%(stopPanels*v.nr) == 0 && stop.Stopped() {
			return false
		}
		cols := min(v.nr, nb-jr)
		mask := uint64(1)<<cols - 1
		edge := cols < v.nr
		if edge {
			// A partial panel read in place could run past the end of b:
			// pack just this one.
			pre.packGathered(v.nr, b, ldb, pc, kb, jc+jr, cols, bufs.edge)
		}
		for ir := 0; ir < mb; ir += v.mr {
			rows := min(v.mr, mb-ir)
			cp := ir*ldc + jc + jr
			kern := v.kernels[rows-1]
			var rb *float32
			if bs != nil {
				rb = &bs[ic+ir]
			}
			ap := ir * kb // the panel of rows ir..ir+rows
			if edge {
				if v.masked {
					kern(kb, &pa[ap], &bufs.edge[0], v.nr, &c[cp], ldc, mask, bt, load, rb)
					continue
				}
				// An unmasked kernel writes a whole tile: compute it in
				// scratch and merge the valid columns.
				tile := bufs.tile
				kern(kb, &pa[ap], &bufs.edge[0], v.nr, &tile[0], v.nr, 0, 0, false, rb)
				mergeTile(c[cp:], ldc, tile, v.nr, rows, cols, bt, load)
				continue
			}
			if v.gkernels != nil {
				v.gkernels[rows-1](&segs[0], len(segs)/2, &pa[ap], &b[jc+jr], ldb, &c[cp], ldc, mask, bt, load, rb)
				continue
			}
			for g, s := 0, 0; g < len(segs); g += 2 {
				off, sl := int(segs[g]), int(segs[g+1])
				sbt, sload, srb := bt, load, rb
				if s > 0 {
					sbt, sload, srb = 1, true, nil
				}
				kern(sl, &pa[ap+s*rows], &b[off+jc+jr], ldb, &c[cp], ldc, mask, sbt, sload, srb)
				s += sl
			}
		}
	}
	return true
}

// gathered computes the product of SgemmPackedAGather: the blocked loop
// nest reading B's rows where they are, or on the portable variant a
// product per tap on A as given, accumulating.
func (v *variant) gathered(stop Stop, pre prePacked, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	checkMatrix("C", false, m, n, c, ldc)
	for _, o := range pre.offs {
		off := int(o)
		if off < 0 || pre.depth <= 0 || ldb < n || off+(pre.depth-1)*ldb+n > len(b) {
			panic(fmt.Sprintf("kernels: gathered B rows at %d, %d×%d with leading dimension %d, past %d elements", off, pre.depth, n, ldb, len(b)))
		}
	}
	if k != len(pre.offs)*pre.depth {
		panic(fmt.Sprintf("kernels: gathered B has %d×%d rows, A %d columns", len(pre.offs), pre.depth, k))
	}
	if p := pre.usable(v, 1); p.a != nil {
		v.blocked(stop, p, false, false, m, n, k, 1, a, lda, b, ldb, beta, c, ldc, bias)
		return
	}
	// No panels (the portable variant): A as given, a product per tap.
	checkMatrix("A", false, m, k, a, lda)
	if bias != nil {
		addRowBias(m, n, beta, c, ldc, bias)
		beta = 1
	}
	for t, o := range pre.offs {
		off := int(o)
		if t > 0 {
			beta = 1
		}
		if v.kernels == nil {
			portableStop(stop, false, false, m, n, pre.depth, 1, a[t*pre.depth:], lda, b[off:], ldb, beta, c, ldc)
		} else {
			v.sgemmBiasStop(stop, false, false, m, n, pre.depth, 1, a[t*pre.depth:], lda, b[off:], ldb, beta, c, ldc, nil)
		}
	}
}

// SgemmPackedAGather is SgemmPackedA with B's rows gathered from b where
// they are, in taps of depth rows: row t·depth + i of B (k×n, k being
// a's columns) is b[offs[t] + i·ldb :][:n]. Such is a convolution's
// lowered input read from its zero-padded channels, without lowering: a
// tap is a kernel element, the rows of a tap its channels, ldb apart.
// a's columns must be in the same order (tap-major).
func SgemmPackedAGather(p *Pool, threads int, stop Stop, a *Packed, n int, b []float32, offs []int32, depth, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	if a.isB || a.trans {
		panic("kernels: SgemmPackedAGather needs a Packed from PackA, not transposed")
	}
	pre := prePacked{a: a, offs: offs, depth: depth}
	a.v.sgemmParallelPre(p, threads, parallelMinFlops, stop, pre, false, false, a.rows, n, a.cols, 1, a.src, a.ld, b, ldb, beta, c, ldc, bias)
}

// usable is pre, or none where variant v cannot use its panels: another
// variant packed them, or A's were packed without the product's alpha.
// A released Packed (see Release) has nothing else to read, so those
// products are refused.
func (pre prePacked) usable(v *variant, alpha float32) prePacked {
	if pre.released() && ((pre.a != nil && (pre.a.v != v || alpha != 1)) || (pre.b != nil && pre.b.v != v)) {
		panic("kernels: a released Packed used by another variant or with alpha other than 1")
	}
	switch {
	case pre.a != nil && (pre.a.v != v || pre.a.data == nil || alpha != 1):
		return prePacked{}
	case pre.b != nil && (pre.b.v != v || pre.b.data == nil):
		return prePacked{}
	}
	return pre
}

// released reports whether the pre-packed operand no longer holds its
// source (Release), so the product must read its panels.
func (pre prePacked) released() bool {
	return (pre.a != nil && pre.a.src == nil) || (pre.b != nil && pre.b.src == nil)
}

// SgemmPackedA is SgemmBiasStop with A packed in advance (PackA): C =
// op(A)·op(B) + beta·C + bias·1ᵀ, op(A) being a's m×k matrix and op(B)
// k×n. It splits over the pool's threads and polls stop as SgemmBiasStop
// does, and rounds as Sgemm does.
func SgemmPackedA(p *Pool, threads int, stop Stop, a *Packed, transB bool, n int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	sgemmPackedA(p, threads, parallelMinFlops, stop, a, transB, n, b, ldb, beta, c, ldc, bias)
}

func sgemmPackedA(p *Pool, threads, minFlops int, stop Stop, a *Packed, transB bool, n int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	if a.isB {
		panic("kernels: SgemmPackedA with a Packed from PackB")
	}
	a.v.sgemmParallelPre(p, threads, minFlops, stop, prePacked{a: a}, a.trans, transB, a.rows, n, a.cols, 1, a.src, a.ld, b, ldb, beta, c, ldc, bias)
}

// SgemmPackedB is SgemmBiasStop with B packed in advance (PackB): C =
// op(A)·op(B) + beta·C + bias·1ᵀ, op(A) being m×k and op(B) b's k×n
// matrix.
func SgemmPackedB(p *Pool, threads int, stop Stop, transA bool, m int, a []float32, lda int, b *Packed, beta float32, c []float32, ldc int, bias []float32) {
	sgemmPackedB(p, threads, parallelMinFlops, stop, transA, m, a, lda, b, beta, c, ldc, bias)
}

func sgemmPackedB(p *Pool, threads, minFlops int, stop Stop, transA bool, m int, a []float32, lda int, b *Packed, beta float32, c []float32, ldc int, bias []float32) {
	if !b.isB {
		panic("kernels: SgemmPackedB with a Packed from PackA")
	}
	b.v.sgemmParallelPre(p, threads, minFlops, stop, prePacked{b: b}, transA, b.trans, m, b.cols, b.rows, 1, a, lda, b.src, b.ld, beta, c, ldc, bias)
}
