package ops

import (
	"context"
	"fmt"
	"sync"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
)

// convF32 is float32 Conv, the engine's one entry point for it. Each
// (image, group) takes one of three paths:
//
//   - depthwise (one input channel per group, 2-D): a direct kernel,
//     kernels.ConvRows, on a zero-padded copy of the channel; no lowering
//     and no one-row GEMM;
//   - 1×1, unit strides, no padding: one GEMM on the NCHW layout as it is
//     (filters × channels·positions), no lowering at all;
//   - otherwise im2col into the run's scratch, a band of output rows at a
//     time, and a GEMM of the group's filters by it. In 2-D the group's
//     channels are first copied once, zero-padded and split by column
//     stride (padPlanes), so that every row of the lowered matrix is a run
//     of contiguous copies whatever the padding and stride; with unit
//     strides and short rows, a single copy at the padded width
//     (lowerWide); with few positions and many filters the GEMM runs
//     transposed (gemmTransposes). Where the filters were packed in
//     advance tap-major (conv.Prepack) and the group has 16 channels or
//     more, nothing is lowered for a kernel larger than 1×1: the channels
//     are padded with their rows split by stride too (newPadPlanesRows),
//     and the GEMM reads each tap's rows where they are
//     (kernels.SgemmPackedAGather), at the phase width (convSplit.gather).
//
// The bias is added by the GEMM kernels as they store the output
// (kernels.SgemmBias) or by the direct kernel, never in a pass of its own.
// The non-depthwise paths run as convSplit pieces, (image, group, band)
// each, which split over the compute pool when cores are free
// (ComputeFrom) and the work is large enough; a convolution with fewer
// pieces than threads is cut into more bands, and one that is still a
// single piece splits its GEMM instead; small problems stay on the
// calling goroutine.
//
// packed, when not nil, is W packed in advance (conv.Prepack), which the
// GEMMs use in place of packing w; tapMajor says its columns are in
// tap-major order (conv.tapMajor).
func convF32(ctx context.Context, sc *Scratch, p *convProblem, packed *kernels.Packed, tapMajor bool, x, w, b, y []float32) error {
	g := p.g
	cg := p.c / p.groups
	outSize, rows := g.outSize(), cg*g.kSize()
	if outSize == 0 || len(y) == 0 {
		return nil
	}
	cmp, stop := ComputeFrom(ctx), stopOf(ctx)
	if g.nd == 2 && cg == 1 && p.groups > 1 {
		return convDepthwise(ctx, cmp, sc, p, x, w, b, y)
	}
	direct := g.kSize() == 1
	for i := range g.nd {
		direct = direct && g.s[i] == 1 && g.pb[i] == 0 && g.pe[i] == 0
	}
	rowLen := outSize / g.o[0] // output positions per index of the first spatial axis
	band := min(g.o[0], max(1, p.colBudget/max(1, rows*rowLen)))
	items := p.n * p.groups
	flops := 2 * p.n * p.m * outSize * rows
	// A single image whose unit-stride GEMM reads its padded channels in
	// place (convSplit.gather) lowers nothing, so its band is bounded by
	// the GEMM's output alone (2 MiB): ResNet's stages are then one piece
	// each, one GEMM split over the threads, the channels padded once.
	// Against bands, at one thread 1.5-3.5% faster, at two 2-8%.
	whole := p.n*p.groups == 1 && g.s[0] == 1 && g.s[1] == 1 && tapMajor && packed != nil && !packed.Right() && canGather(g, cg)
	if whole {
		qw := newPadPlanesRows(g).qw
		if whole = gatherWide(g, qw); whole {
			band = min(g.o[0], max(1, 2*p.colBudget/max(1, p.m*qw)))
		}
	}
	if !direct {
		bands := (g.o[0] + band - 1) / band
		if want := cmp.Split(flops, 1<<20); !whole && items < want && bands < want {
			// Fewer pieces than threads: a band each, rather than one
			// GEMM split over them, which lowers (and packs the lowered
			// side of a transposed GEMM) on the caller alone, or once per
			// thread. ResNet's 7×7 stage at two threads: 1.42 -> 1.8x.
			bands = min(g.o[0], want)
			band = (g.o[0] + bands - 1) / bands
		}
		items *= (g.o[0] + band - 1) / band
	}
	parts := convParallelParts(cmp, p, items, flops)
	convF32Split(cmp, stop, sc, p, packed, tapMajor, x, w, b, y, direct, band, rowLen, parts)
	return ctx.Err() // a stopped GEMM or lowering left y unfinished
}

// padPlanes is the layout of one input channel zero-padded and split into
// the phases of the column stride: phase q holds padded columns q, q+s,
// q+2s... so that a strided window's row is a contiguous run in one phase.
// A 2-D lowering then copies contiguous runs, and the direct kernel reads
// them, whatever the stride and padding. With row phases (s0 > 1,
// newPadPlanesRows), the rows are split by the row stride too, so that a
// tap's window over consecutive output rows is one contiguous run at the
// phase width (convSplit.gather).
type padPlanes struct {
	ph, pw, qw, s1 int // padded height and width; row pitch of a phase; column stride
	s0, rh         int // row phases (1: rows not split); rows per phase
	size           int // elements per padded channel, with the kernels' slack
	// buf: channels size apart (slot); the depthwise path's parts, one
	// channel each, lie PartScratch's stride apart (dwConv.stride).
	buf []float32
}

// newPadPlanes is the layout of g's padded channels, split by column
// stride.
//
// At unit column stride, consecutive rows share their padding columns: a
// row's right padding is the next row's left padding, so rows are
// in1 + max(left, right padding) apart rather than the padded width. A
// window reads a row's padded columns [0, pw) at row·qw + column, and
// every such element outside the row's interior falls in the zeros
// between two interiors (or in the zero rows and the tail). The wide
// GEMMs, which compute all qw columns of an output row, then discard one
// column per row instead of two for a 3×3 kernel, two instead of four for
// MNIST's 5×5: its second convolution runs 7 column panels instead of 8,
// lowering 11 % less (11.9 -> 9.2 µs; the model at batch 64 on one
// thread 1.13-1.15 -> 0.94-0.97 ms), ResNet's 28-wide stage 26 instead of
// 27 (1,034-1,039 -> 1,015-1,025 µs on one thread, 563-568 -> 539-542 on
// two).
func newPadPlanes(g *geometry) padPlanes {
	ph, pw := g.in[0]+g.pb[0]+g.pe[0], g.in[1]+g.pb[1]+g.pe[1]
	s1 := g.s[1]
	qw := (pw + s1 - 1) / s1
	if s1 == 1 {
		qw = sharedPadWidth(g.in[1]+max(g.pb[1], g.pe[1]), pw)
	}
	pp := padPlanes{ph: ph, pw: pw, qw: qw, s1: s1, s0: 1, rh: ph}
	pp.size = pp.planes() + kernels.ConvSlack
	return pp
}

// sharedPadWidth is the row pitch of unit-stride padded planes, between
// lo (rows sharing their padding) and pw (the padded width): a multiple
// of a vector (16 floats) where one is in that range, since rows that
// start on cache lines load faster (ResNet's 256-filter 14-wide layer:
// 16 against 15, 970 against 1,010 µs on one thread), else lo.
func sharedPadWidth(lo, pw int) int {
	if up := roundUp(lo, 16); up <= pw {
		return up
	}
	return lo
}

// newPadPlanesRows is newPadPlanes with the rows split by the row stride
// as well.
func newPadPlanesRows(g *geometry) padPlanes {
	pp := newPadPlanes(g)
	pp.s0 = g.s[0]
	pp.rh = (pp.ph + pp.s0 - 1) / pp.s0
	pp.size = pp.planes() + kernels.ConvSlack
	return pp
}

// planes is the elements of a padded channel's phase planes: the last
// row's padded columns reach pw - qw past them where rows share padding;
// rounded up to 16 floats, so that channels after the first start on a
// cache line as the first does where rows do.
func (pp *padPlanes) planes() int {
	return roundUp(pp.s1*pp.s0*pp.rh*pp.qw+max(0, pp.pw-pp.qw*pp.s1), 16)
}

// slot is the buffer of padded channel i, zeroed once: fill
// writes only the interior, so the padding stays zero from channel to
// channel.
func (pp *padPlanes) slot(i int) []float32 {
	return pp.buf[i*pp.size : (i+1)*pp.size]
}

// fill copies channel xc (in0 × in1) into buf's interior.
func (pp *padPlanes) fill(buf, xc []float32, g *geometry) {
	pp.fillRows(buf, xc, g, 0, g.in[0])
}

// inRows is the input rows [i0, i1) along the first spatial axis that
// output rows [o0, o1) read (2-D), clipped to the input.
func (g *geometry) inRows(o0, o1 int) (i0, i1 int) {
	if o0 >= o1 {
		return 0, 0
	}
	i0 = max(0, o0*g.s[0]-g.pb[0])
	i1 = min(g.in[0], (o1-1)*g.s[0]+(g.k[0]-1)*g.d[0]+1-g.pb[0])
	return i0, max(i0, i1)
}

// fillRows copies rows [i0, i1) of channel xc (in0 × in1) into buf's
// interior. Each (row phase, column phase) pair takes every s0-th row's
// every s1-th column, from the first whose padded index falls in the
// phase, to consecutive rows of its plane: one kernels.StridedRows call
// per pair (plain vector copies at unit strides, two loads and a permute
// per vector at stride 2 on AVX-512, a gather per vector otherwise), where
// a copy per row, or per element of a strided row, had cost ResNet-18
// 590 µs a run on one thread (now 450).
func (pp *padPlanes) fillRows(buf, xc []float32, g *geometry, i0, i1 int) {
	w := g.in[1]
	plane := pp.rh * pp.qw
	for rp := range pp.s0 {
		first := i0 + ((rp-(i0+g.pb[0]))%pp.s0+pp.s0)%pp.s0
		if first >= i1 {
			continue
		}
		rows := (i1 - first + pp.s0 - 1) / pp.s0
		pr := (first + g.pb[0]) / pp.s0 * pp.qw // its padded row's start in the phase
		for q := range pp.s1 {
			// Column phase q takes the columns j with (j + pb) % s1 == q.
			j := ((q-g.pb[1])%pp.s1 + pp.s1) % pp.s1
			if j >= w {
				continue
			}
			n := (w - j + pp.s1 - 1) / pp.s1
			kernels.StridedRows(buf[(q*pp.s0+rp)*plane+pr+(j+g.pb[1])/pp.s1:], pp.qw, xc[first*w+j:], pp.s0*w, pp.s1, rows, n)
		}
	}
}

// offset is where kernel element (r, k) of output row oh starts in a
// padded channel.
func (pp *padPlanes) offset(g *geometry, oh, r, k int) int {
	c, row := k*g.d[1], oh*g.s[0]+r*g.d[0]
	return ((c%pp.s1)*pp.s0+row%pp.s0)*pp.rh*pp.qw + row/pp.s0*pp.qw + c/pp.s1
}

// im2colRows writes rows [r0, r1) of the lowered matrix for output rows
// [o0, o1): row (channel, kernel row, kernel column) in that order, or
// with tapMajor (kernel row, kernel column, channel) of cg channels.
func im2colRows(col []float32, g *geometry, o0, o1 int, pp *padPlanes, r0, r1 int, tapMajor bool, cg int) {
	kh, kw, ow := g.k[0], g.k[1], g.o[1]
	cols := (o1 - o0) * ow
	step := g.s[0] * pp.qw
	for row := r0; row < r1; row++ {
		c, r, k := row/(kh*kw), row/kw%kh, row%kw
		if tapMajor {
			c, r, k = row%cg, row/cg/kw, row/cg%kw
		}
		// The row's output rows are ow-long runs, step apart in the
		// padded channel: one StridedRows call copies them (a copy per
		// run had been most of the lowering of ResNet's 7×7 stage, 4,608
		// rows of seven 7-long runs).
		kernels.StridedRows(col[row*cols:][:cols], ow, pp.slot(c)[pp.offset(g, o0, r, k):], step, 1, o1-o0, ow)
	}
}

// convDepthwise computes a convolution with one input channel per group
// (depthwise; M/G output channels per input channel) directly: each input
// channel is padded once, then each of its output channels is
// kernels.ConvRows over the output rows, with the bias as the start
// value. Channels split over the compute pool.
func convDepthwise(ctx context.Context, cmp *kernels.Compute, sc *Scratch, p *convProblem, x, w, b, y []float32) error {
	g := p.g
	mult := p.m / p.groups
	work := p.n * p.m * g.outSize() * g.kSize() * 2
	parts := min(p.n*p.c, cmp.Split(work, splitFlops))
	pp := newPadPlanes(g)
	var stride int // between the parts' channels, which PartScratch keeps apart
	pp.buf, stride = PartScratch[float32](sc, max(parts, 1), pp.size)
	offs := ScratchSlice[int32](sc, g.kSize())
	for r := range g.k[0] {
		for k := range g.k[1] {
			offs[r*g.k[1]+k] = int32(pp.offset(g, 0, r, k))
		}
	}
	d := dwConv{g: *g, pp: pp, offs: offs, x: x, w: w, b: b, y: y, mult: mult, planes: p.n * p.c, c: p.c, parts: parts, stride: stride}
	if parts <= 1 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("Conv: %w", err)
		}
		d.planesRange(pp.slot(0), 0, d.planes)
		return nil
	}
	t := dwTasks.Get().(*dwConv)
	*t = d
	cmp.Parallel(parts, t)
	*t = dwConv{}
	dwTasks.Put(t)
	return nil
}

type dwConv struct {
	g                      geometry
	pp                     padPlanes
	offs                   []int32
	x, w, b, y             []float32
	mult, planes, c, parts int
	stride                 int // between the parts' padded planes in pp.buf
}

var dwTasks = sync.Pool{New: func() any { return new(dwConv) }}

func (d *dwConv) Part(i int) {
	d.planesRange(d.pp.buf[i*d.stride:][:d.pp.size], i*d.planes/d.parts, (i+1)*d.planes/d.parts)
}

// planesRange computes the output channels of input planes [p0, p1)
// (plane = image·C + channel).
func (d *dwConv) planesRange(buf []float32, p0, p1 int) {
	g := &d.g
	inSize, outSize, taps := g.inSize(), g.outSize(), g.kSize()
	oh, ow := g.o[0], g.o[1]
	clear(buf)
	for pl := p0; pl < p1; pl++ {
		img, ch := pl/d.c, pl%d.c
		d.pp.fill(buf, d.x[pl*inSize:(pl+1)*inSize], g)
		for j := range d.mult {
			oc := ch*d.mult + j
			var bias float32
			if d.b != nil {
				bias = d.b[oc]
			}
			yo := d.y[(img*d.c*d.mult+oc)*outSize:][:outSize]
			kernels.ConvRows(oh, ow, yo, ow, buf, g.s[0]*d.pp.qw, d.offs, d.w[oc*taps:(oc+1)*taps], bias)
		}
	}
}
