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
}

// usable is pre, or none where variant v cannot use its panels: another
// variant packed them, or A's were packed without the product's alpha.
func (pre prePacked) usable(v *variant, alpha float32) prePacked {
	switch {
	case pre.a != nil && (pre.a.v != v || pre.a.data == nil || alpha != 1):
		return prePacked{}
	case pre.b != nil && (pre.b.v != v || pre.b.data == nil):
		return prePacked{}
	}
	return pre
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
