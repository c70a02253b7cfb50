package ops

import (
	"sync"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
)

// convSplit is a float32 convolution cut into independent pieces, an
// (image, group, band of output rows) each, that the threads of the
// compute pool take in contiguous ranges: each thread lowers its own bands
// into its own scratch and runs their GEMMs alone, so the threads meet once
// per convolution rather than once per GEMM and lowering, and a batch of
// small images (where no single GEMM is worth splitting) still spreads.
type convSplit struct {
	// Copies of the caller's problem and geometry, which live on its
	// stack: the task is shared with the pool's workers.
	prob    convProblem
	geom    geometry
	x, w, b []float32
	y       []float32
	packed  *kernels.Packed // w packed in advance, or nil
	// tapMajor: packed's columns are tap-major (conv.tapMajor), and so
	// the lowered rows; gather: the wide GEMMs read them in the padded
	// channels, at offs (per part, a tap each), instead of lowering.
	tapMajor bool
	gather   bool
	offs     []int32
	offsSize int // offs' stride between parts
	// fromX: lower straight from X (im2col), without padded planes: a
	// strided 1×1 kernel reads a fraction of X, which padding all of it
	// would copy first.
	fromX bool
	stop  kernels.Stop
	// The GEMMs' pool and threads: the compute pool's when the
	// convolution is one part (one piece, or too little work to cut), so a
	// large GEMM still splits; none when the parts are the threads.
	pool    *kernels.Pool
	threads int
	direct  bool
	band    int // output rows of the first spatial axis per piece
	bands   int // pieces per (image, group)
	rowLen  int // output positions per row of the first axis
	items   int
	parts   int
	// Scratch per part, each Size the stride between parts (PartScratch):
	// col, the lowered band; pads, the group's padded channels (2-D).
	colSize int
	colLen  int // of each part's col (colSize is their stride)
	col     []float32
	pads    []float32
	padSize int
	// wide: lower at the padded width (see lowerWide); out is then the
	// GEMM's result per part, outSize its stride.
	wide    bool
	trans   bool // compute Yᵀ (see gemmTransposes) into out
	out     []float32
	outSize int // the stride of out's parts
	outLen  int // each part's length
}

var convSplits = sync.Pool{New: func() any { return new(convSplit) }}

// convParallelParts is how many threads share a convolution's pieces, or
// 1 to run them in order on the calling goroutine (where a GEMM large
// enough still splits on its own): at least two pieces per thread, or
// exactly one per thread, so no thread waits long on another; a single
// piece (one image whose output fits one band) is left to the GEMM's
// split.
func convParallelParts(cmp *kernels.Compute, p *convProblem, items, flops int) int {
	parts := min(items, cmp.Split(flops, 1<<20))
	if parts <= 1 || (items < 2*parts && items%parts != 0) {
		return 1
	}
	return parts
}

// convF32Split runs the convolution as convSplit pieces over parts
// threads. band and bands are convF32's banding; bands is raised to a
// multiple of parts when a single image is cut, so the threads' shares
// are equal, and when it is lowered at the padded width, the band is the
// one that evens out the threads' column panels (panelBand).
func convF32Split(cmp *kernels.Compute, stop kernels.Stop, sc *Scratch, p *convProblem, packed *kernels.Packed, tapMajor bool, x, w, b, y []float32, direct bool, band, rowLen, parts int) {
	g := p.g
	cg := p.c / p.groups
	rows := cg * g.kSize()
	band0 := band
	bands := (g.o[0] + band - 1) / band
	if p.n*p.groups < 2*parts && bands%parts != 0 {
		bands = (bands + parts - 1) / parts * parts
		band = (g.o[0] + bands - 1) / bands
		bands = (g.o[0] + band - 1) / band
	}
	t := convSplits.Get().(*convSplit)
	*t = convSplit{prob: convProblem{n: p.n, c: p.c, m: p.m, groups: p.groups, colBudget: p.colBudget}, geom: *g, packed: packed, tapMajor: tapMajor, x: x, w: w, b: b, y: y, stop: stop, direct: direct, band: band, bands: bands, rowLen: rowLen,
		items: p.n * p.groups * bands, parts: parts}
	t.prob.g = &t.geom
	t.threads = 1
	if gemmFlops := 2 * (p.m / p.groups) * min(band*rowLen, g.outSize()) * rows; parts == 1 && cmp.Split(gemmFlops, 1<<21) > 1 {
		// Pieces in order, each GEMM worth 2 MFLOP a thread: splitting
		// from kernels' own 1 MFLOP cost more than it saved on MNIST's
		// second convolution (1.6 MFLOP).
		t.pool, t.threads = cmp.Pool(), cmp.Threads()
	}
	if !direct {
		width := rowLen
		// ResNet's 1×1 stride-2 downsampling (64 -> 128 channels, 56 ->
		// 28): 200 -> 120 µs on one thread. Not where the filters were
		// packed for the transposed product, which only the padded path
		// runs.
		t.fromX = g.nd != 2 || (g.kSize() == 1 && t.packedB() == nil)
		if !t.fromX {
			pp := newPadPlanes(g)
			// Filters packed in advance fix the product's orientation: as
			// the left operand, filters × lowered input; as the right one,
			// transposed (packed alone may hold them: conv.Prepack).
			pa, pb := t.packedA() != nil, t.packedB() != nil
			t.tapMajor = t.tapMajor && pa
			if t.tapMajor && gatherConv && canGather(g, cg) {
				if gp := newPadPlanesRows(g); gatherWide(g, gp.qw) {
					pp, t.gather, t.wide = gp, true, true
				}
			}
			t.pads, t.padSize = PartScratch[float32](sc, parts, pp.size*cg)
			if t.wide = t.wide || (!pb && lowerWide(g, p.m/p.groups, pp.qw)); t.wide {
				width = pp.qw
				if parts > 1 && p.n*p.groups < 2*parts {
					band = panelBand(g.o[0], band0, p.n*p.groups, parts, width, kernels.SgemmPanelWidth())
					t.band, t.bands = band, (g.o[0]+band-1)/band
					t.items = p.n * p.groups * t.bands
				}
				t.outLen = p.m / p.groups * band * width
				t.out, t.outSize = PartScratch[float32](sc, parts, t.outLen)
				if t.gather {
					t.offs, t.offsSize = PartScratch[int32](sc, parts, g.kSize())
					width = 0 // nothing lowered
				}
			} else if t.trans = pb || (!pa && gemmTransposes(p.m/p.groups, band*rowLen)); t.trans {
				t.outLen = p.m / p.groups * band * rowLen
				t.out, t.outSize = PartScratch[float32](sc, parts, t.outLen)
			}
		}
		t.colLen = rows * band * width
		t.col, t.colSize = PartScratch[float32](sc, parts, t.colLen)
	}
	cmp.Parallel(parts, t)
	*t = convSplit{}
	convSplits.Put(t)
}

func (t *convSplit) Part(i int) {
	p, g := &t.prob, &t.geom
	cg, mg := p.c/p.groups, p.m/p.groups
	inSize, outSize, rows := g.inSize(), g.outSize(), cg*g.kSize()
	var col []float32
	var pads padPlanes
	if !t.direct {
		col = t.col[i*t.colSize:][:t.colLen]
		if !t.fromX {
			pads = newPadPlanes(g)
			if t.gather {
				pads = newPadPlanesRows(g)
			}
			pads.buf = t.pads[i*t.padSize:][:cg*pads.size]
			clear(pads.buf) // only interiors are written: the padding stays zero
		}
	}
	filled := -1 // the (image, group) whose channels pads holds
	for it := i * t.items / t.parts; it < (i+1)*t.items/t.parts && !t.stop.Stopped(); it++ {
		ng, bi := it/t.bands, it%t.bands
		n, gi := ng/p.groups, ng%p.groups
		xg := t.x[(n*p.c+gi*cg)*inSize : (n*p.c+(gi+1)*cg)*inSize]
		var wg []float32 // nil where only t.packed holds the filters
		if t.w != nil {
			wg = t.w[gi*mg*rows : (gi+1)*mg*rows]
		}
		yg := t.y[(n*p.m+gi*mg)*outSize : (n*p.m+(gi+1)*mg)*outSize]
		var bg []float32
		if t.b != nil {
			bg = t.b[gi*mg : (gi+1)*mg]
		}
		if t.direct {
			if pa := t.packedA(); pa != nil {
				kernels.SgemmPackedA(t.pool, t.threads, t.stop, pa, false, outSize, xg, inSize, 0, yg, outSize, bg)
				continue
			}
			kernels.SgemmBiasStop(t.pool, t.threads, t.stop, false, false, mg, outSize, cg, 1, wg, cg, xg, inSize, 0, yg, outSize, bg)
			continue
		}
		o0 := bi * t.band
		o1 := min(o0+t.band, g.o[0])
		if o0 >= o1 {
			continue
		}
		cols := (o1 - o0) * t.rowLen
		if !t.fromX {
			if filled != ng {
				// Only the input rows this part's bands of the (image,
				// group) read: when one image is cut into bands over the
				// threads, each pads its share, not the whole image.
				last := min((i+1)*t.items/t.parts, (ng+1)*t.bands) - 1 - ng*t.bands
				i0, i1 := g.inRows(o0, min((last+1)*t.band, g.o[0]))
				for c := range cg {
					pads.fillRows(pads.slot(c), xg[c*inSize:(c+1)*inSize], g, i0, i1)
				}
				filled = ng
			}
			if t.wide {
				var offs []int32
				if t.gather {
					offs = t.offs[i*t.offsSize:][:g.kSize()]
				}
				t.bandWide(col, t.out[i*t.outSize:][:t.outLen], &pads, offs, wg, bg, yg, o0, o1)
				continue
			}
			im2colRows(col[:rows*cols], g, o0, o1, &pads, 0, rows, t.tapMajor, cg)
			if t.trans {
				t.gemmTransposed(col[:rows*cols], t.out[i*t.outSize:][:t.outLen], wg, bg, yg[o0*t.rowLen:], mg, cols, rows, outSize)
				continue
			}
		} else {
			im2col(col[:rows*cols], xg, g, cg, o0, o1)
		}
		if pa := t.packedA(); pa != nil {
			kernels.SgemmPackedA(t.pool, t.threads, t.stop, pa, false, cols, col, cols, 0, yg[o0*t.rowLen:], outSize, bg)
			continue
		}
		kernels.SgemmBiasStop(t.pool, t.threads, t.stop, false, false, mg, cols, rows, 1, wg, rows, col, cols, 0, yg[o0*t.rowLen:], outSize, bg)
	}
}

// panelBand is the band (output rows, at most band0) to cut o rows of
// each of imgs (image, group) pairs into, for parts threads taking the
// pieces in contiguous ranges, where a piece's GEMM is width columns per
// row computed nr at a time: the one whose busiest thread computes the
// fewest column panels, then the widest. A partial panel costs about a
// whole one, so equal rows are not equal work: ResNet's 14-row stage at
// a 16-column phase width runs as 8 + 6 rows (4 + 3 panels), not 7 + 7
// (4 + 4), measured 213 against 183 GFLOPS on one thread; at two, its
// 28-row stage as 7 + 7 | 7 + 7 rows, not 8 + 8 | 8 + 4 (1.5 -> 1.9x
// the one-thread speed).
func panelBand(o, band0, imgs, parts, width, nr int) int {
	best, bestCost := band0, -1
	for b := band0; b >= 1; b-- {
		bands := (o + b - 1) / b
		items := imgs * bands
		cost := 0
		for i := range parts {
			c := 0
			for it := i * items / parts; it < (i+1)*items/parts; it++ {
				rows := min(b, o-it%bands*b)
				c += (rows*width + nr - 1) / nr
			}
			cost = max(cost, c)
		}
		if bestCost < 0 || cost < bestCost {
			best, bestCost = b, cost
		}
	}
	return best
}

// lowerWide reports whether a 2-D convolution is lowered at the padded
// width: with unit strides, the lowered row of a (channel, kernel
// element) over a band is then one contiguous run of the padded channel,
// qw values per output row of which the last qw - ow are discarded, so
// lowering is one copy per row instead of one per output row. The GEMM
// computes those discarded columns too, and its result is compacted into
// Y. The rule weighs the extra columns (qw - ow of every qw, times the
// filters) against the per-output-row copies they save, which cost most
// where rows are short: it takes MNIST's convolutions (measured 35 → 26 µs
// at batch 1, 2.06 → 1.50 ms at batch 64) and ResNet's 56- and 28-wide
// stages (unchanged), not its 256- and 512-filter 14- and 7-wide ones. The
// run's end may reach (kw-1)·dw past the padded plane, into the slack the
// padded buffers have.
func lowerWide(g *geometry, filters, qw int) bool {
	ow := g.o[1]
	return g.s[0] == 1 && g.s[1] == 1 && (g.k[1]-1)*g.d[1] <= kernels.ConvSlack &&
		2*filters*(qw-ow) < 64*ow
}

// bandWide computes output rows [o0, o1) of one (image, group) lowered at
// the padded width (lowerWide) into col, the GEMM into out, and copies
// the valid columns to y.
//
// With offs (t.gather), nothing is lowered: the GEMM reads each tap's
// rows, its channels, where they are in the padded planes (one plane
// apart), the filters being packed tap-major.
func (t *convSplit) bandWide(col, out []float32, pads *padPlanes, offs []int32, w, bias, y []float32, o0, o1 int) {
	g := &t.geom
	cg, mg := t.prob.c/t.prob.groups, t.prob.m/t.prob.groups
	kh, kw, ow := g.k[0], g.k[1], g.o[1]
	rows, qw, outSize := cg*kh*kw, pads.qw, g.outSize()
	cw := (o1 - o0) * qw
	switch pa := t.packedA(); {
	case offs != nil:
		for r := range kh {
			for k := range kw {
				offs[r*kw+k] = int32(pads.offset(g, o0, r, k))
			}
		}
		kernels.SgemmPackedAGather(t.pool, t.threads, t.stop, pa, cw, pads.buf[:cg*pads.size], offs, cg, pads.size, 0, out, cw, bias)
	default:
		for row := range rows {
			c, r, k := row/(kh*kw), row/kw%kh, row%kw
			if t.tapMajor {
				c, r, k = row%cg, row/cg/kw, row/cg%kw
			}
			src := pads.offset(g, o0, r, k)
			copy(col[row*cw:(row+1)*cw], pads.slot(c)[src:src+cw])
		}
		if pa != nil {
			kernels.SgemmPackedA(t.pool, t.threads, t.stop, pa, false, cw, col, cw, 0, out, cw, bias)
		} else {
			kernels.SgemmBiasStop(t.pool, t.threads, t.stop, false, false, mg, cw, rows, 1, w, rows, col, cw, 0, out, cw, bias)
		}
	}
	// The product's rows are qw wide, the output's ow: drop the columns
	// the padding added, a call per filter.
	for m := range mg {
		kernels.StridedRows(y[m*outSize+o0*ow:], ow, out[m*cw:], qw, 1, o1-o0, ow)
	}
}

// gemmTransposes reports whether a band's GEMM (filters × cols, the
// kernels tiling the filters 14 rows and the columns 32 at a time) runs
// better as its transpose, cols × filters: where the band is a few dozen
// positions against hundreds of filters (ResNet's 7×7 stage: 49 columns
// fill 77% of two 32-wide panels, 49 rows 88% of four 14-row tiles),
// measured 157 against 182 GFLOPS on the 512-filter 3×3 layer. With more
// columns (the 14×14 stage, 112 per band) the transposed product ran
// slower despite its fuller tiles, so it is kept to bands under 64.
func gemmTransposes(filters, cols int) bool {
	eff := func(m, n int) float64 {
		return float64(m*n) / float64(roundUp(m, 14)*roundUp(n, 32))
	}
	return cols < 64 && filters >= 4*cols && eff(cols, filters) > 1.05*eff(filters, cols)
}

func roundUp(n, to int) int { return (n + to - 1) / to * to }

// gatherConv enables the wide GEMMs' reading the padded planes in place
// (convSplit.gather); off only to measure against lowering.
var gatherConv = true

// gatherMinDepth is the fewest channels a convolution gathers with: each
// tap is a run of the micro-kernel that deep into the same tile.
const gatherMinDepth = 16

// canGather reports whether a 2-D convolution's GEMM can read its lowered
// rows in its padded channels, with row phases (newPadPlanesRows): a
// tap's rows, ldb apart, start anywhere; the run of the last one may
// reach (kw-1)·dw past the last plane, into the slack. Not for a 1×1
// kernel (strided, since unstrided needs no lowering): its lowering is
// small, and gathering measured 3% slower on ResNet's downsampling
// (64 -> 128 channels, 56 -> 28).
func canGather(g *geometry, cg int) bool {
	return g.nd == 2 && g.kSize() > 1 && cg >= gatherMinDepth && (g.k[1]-1)*g.d[1] <= kernels.ConvSlack
}

// gatherWide reports whether gathering at the phase width qw wastes few
// enough columns: the GEMM computes qw - ow discarded columns per output
// row. At most a sixth: ResNet's 56-, 28- and 14-wide stages (14 of 16
// columns: measured 172 -> 212 GFLOPS on the 256-filter layer against
// lowering), and since rows share their padding (newPadPlanes) the 7-wide
// one too (7 of 8; at 7 of 9 it ran transposed, within 2-4 % of this:
// slower on one thread, faster on two).
func gatherWide(g *geometry, qw int) bool {
	return 6*(qw-g.o[1]) <= qw
}

// gemmTransposed computes a band as Yᵀ = colᵀ·Wᵀ into out (cols ×
// filters) and stores it transposed into y (rows outSize apart), adding
// the bias on the way.
func (t *convSplit) gemmTransposed(col, out, w, bias, y []float32, mg, cols, rows, outSize int) {
	if pb := t.packedB(); pb != nil {
		kernels.SgemmPackedB(t.pool, t.threads, t.stop, true, cols, col, cols, pb, 0, out, mg, nil)
	} else {
		kernels.SgemmBiasStop(t.pool, t.threads, t.stop, true, true, cols, mg, rows, 1, col, cols, w, rows, 0, out, mg, nil)
	}
	for m := range mg {
		b := float32(0)
		if bias != nil {
			b = bias[m]
		}
		dst := y[m*outSize:][:cols]
		for j := range dst {
			dst[j] = out[j*mg+m] + b
		}
	}
}

// packedA is the filters packed in advance as the GEMM's left operand
// (filters × lowered input), or nil: none, or packed as the right one.
func (t *convSplit) packedA() *kernels.Packed {
	pk := t.packed
	if pk == nil || pk.Right() || t.prob.groups != 1 || pk.Rows() != t.prob.m {
		return nil
	}
	return pk
}

// packedB is the filters packed in advance as the right operand of the
// transposed GEMM (Wᵀ, lowered input × filters), or nil.
func (t *convSplit) packedB() *kernels.Packed {
	pk := t.packed
	if pk == nil || !pk.Right() || t.prob.groups != 1 || pk.Cols() != t.prob.m {
		return nil
	}
	return pk
}
