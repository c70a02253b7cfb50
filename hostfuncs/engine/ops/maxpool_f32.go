package ops

import (
	"context"
	"math"
	"sync"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
)

// maxPool2DF32 is MaxPool's common case, float32 planes in 2-D without the
// Indices output, with maxPoolTyped's results (padding never wins; a NaN
// in the window wins; of two zeros, either) but separable: the vertical
// maximum of the input rows a window covers, as vector maxima
// (kernels.Maximum), then the window maximum along that row, instead of a
// comparison per window element (which for random data mispredicts often
// enough to dominate). Planes split over the compute pool.
func maxPool2DF32(ctx context.Context, g *geometry, planes int, x, y []float32) {
	work := planes * g.outSize() * g.kSize()
	c := ComputeFrom(ctx)
	parts := min(planes, c.Split(work, splitElems))
	rows, stride := PartScratch[float32](ScratchFrom(ctx), max(parts, 1), maxPoolScratch(g))
	if parts <= 1 {
		maxPool2DPlanes(g, x, y, rows, 0, planes)
		return
	}
	t := maxPoolTasks.Get().(*maxPoolTask)
	*t = maxPoolTask{g: *g, x: x, y: y, rows: rows, stride: stride, planes: planes, parts: parts}
	c.Parallel(parts, t)
	*t = maxPoolTask{}
	maxPoolTasks.Put(t)
}

type maxPoolTask struct {
	g             geometry
	x, y, rows    []float32
	stride        int // between the parts' scratch
	planes, parts int
}

var maxPoolTasks = sync.Pool{New: func() any { return new(maxPoolTask) }}

func (t *maxPoolTask) Part(i int) {
	maxPool2DPlanes(&t.g, t.x, t.y, t.rows[i*t.stride:][:maxPoolScratch(&t.g)], i*t.planes/t.parts, (i+1)*t.planes/t.parts)
}

// wholePlaneWidth is the row length below which maxPoolPlane takes the
// vertical maxima of a whole plane in one vector operation per kernel row
// rather than a call per output row: MNIST's 28-wide rows made a call per
// row a few vector instructions (1×8×28×28 × 64 images, 2×2 stride 2:
// 180 µs row by row).
const wholePlaneWidth = 64

// maxPoolScratch is the scratch one thread of maxPool2DPlanes needs: two
// planes (or stacks of planes, maxPoolStack) for narrow rows, else two
// rows per output row (and at least two).
func maxPoolScratch(g *geometry) int {
	if g.in[1] < wholePlaneWidth {
		return 2 * maxPoolGroup(g) * g.in[0] * g.in[1]
	}
	return 2 * max(g.o[0], 1) * g.in[1]
}

// stackElems bounds the elements of a stack of planes that maxPoolStack
// pools at once: its two scratch buffers then stay in L1.
const stackElems = 4096

// maxPoolGroup is how many planes maxPool2DPlanes pools at once
// (maxPoolStack): narrow planes whose windows all lie within the plane's
// rows, as many as stackElems holds; 1 (plane by plane) otherwise.
func maxPoolGroup(g *geometry) int {
	size := g.in[0] * g.in[1]
	iLo, iHi := innerWindows(g.pb[0], g.s[0], g.k[0], g.d[0], g.in[0], g.o[0])
	if g.in[1] >= wholePlaneWidth || iLo != 0 || iHi != g.o[0] || size == 0 {
		return 1
	}
	return max(1, stackElems/size)
}

// maxPool2DPlanes pools planes [p0, p1), with buf (maxPoolScratch) as
// scratch for the vertical and the horizontal maxima.
func maxPool2DPlanes(g *geometry, x, y, buf []float32, p0, p1 int) {
	ih, iw, oh, ow := g.in[0], g.in[1], g.o[0], g.o[1]
	jLo, jHi := innerWindows(g.pb[1], g.s[1], g.k[1], g.d[1], iw, ow)
	if group := maxPoolGroup(g); group > 1 {
		for p := p0; p < p1; p += group {
			maxPoolStack(g, x, y, buf, p, min(p+group, p1), jLo, jHi)
		}
		return
	}
	for p := p0; p < p1; p++ {
		xc, yc := x[p*ih*iw:(p+1)*ih*iw], y[p*oh*ow:(p+1)*oh*ow]
		maxPoolPlane(g, xc, yc, buf, jLo, jHi, iw >= wholePlaneWidth)
	}
}

// innerWindows is the output positions [lo, hi) along one axis whose whole
// window lies inside the input (pb padding before it, stride s, kernel k,
// dilation d, input size in, output size out).
func innerWindows(pb, s, k, d, in, out int) (lo, hi int) {
	lo = min(out, (pb+s-1)/s)
	hi = lo
	if last := in - 1 - (k-1)*d + pb; last >= 0 {
		hi = max(lo, min(out, last/s+1))
	}
	return lo, hi
}

// maxPoolRow pools output row i of a plane xc into out, with col and wide
// (a row each) as scratch; columns [jLo, jHi) have their whole window
// inside the row.
func maxPoolRow(g *geometry, xc, out, col, wide []float32, i, jLo, jHi int) {
	ih, iw := g.in[0], g.in[1]
	kh, kw, sh, sw, dh, dw := g.k[0], g.k[1], g.s[0], g.s[1], g.d[0], g.d[1]
	r0 := i*sh - g.pb[0]
	lo0, hi0 := insideRange(r0, kh, dh, ih)
	if lo0 >= hi0 { // the windows lie in the padding
		for j := range out {
			out[j] = float32(math.Inf(-1))
		}
		return
	}
	v := stackMax(col, xc[(r0+lo0*dh)*iw:], iw, hi0-lo0, dh*iw)
	windowMax(out, v, 0, jLo, sw, g.pb[1], kw, dw)
	if jLo < jHi {
		// The window maximum at every column of the row, as vector maxima
		// of the row with itself shifted, then the columns the windows
		// start at.
		h := v
		if span := iw - (kw-1)*dw; span > 0 {
			h = stackMax(wide, v, span, kw, dw)
		}
		kernels.StridedRows(out[jLo:], 0, h[jLo*sw-g.pb[1]:], 0, sw, 1, jHi-jLo)
	}
	windowMax(out, v, jHi, len(out), sw, g.pb[1], kw, dw)
}

// maxPoolPlane pools a whole plane xc into yc with each step one vector
// operation over the plane: the vertical maxima at every input row (m),
// the horizontal window maxima at every position of m (h), then the
// window starts picked out of h with a gather per vector
// (kernels.StridedRows). Rows between window starts are computed and not
// used (sh - 1 of every sh), which costs less than a call per row when
// rows are short. With wide, rows are long enough for a call each, and m
// holds the vertical maxima of the window-top rows only, computed row by
// row, the rest still per plane: ResNet's 3×3 stride-2 pool over
// 64×112×112, which had gone row by row (five calls per output row),
// 188 -> 125-131 µs on one thread, 131-136 -> 65-66 µs on two. Output
// rows whose windows reach into the padding go row by row. buf holds
// maxPoolScratch.
func maxPoolPlane(g *geometry, xc, yc, buf []float32, jLo, jHi int, wide bool) {
	ih, iw, oh, ow := g.in[0], g.in[1], g.o[0], g.o[1]
	kh, kw, sh, sw, dh, dw := g.k[0], g.k[1], g.s[0], g.s[1], g.d[0], g.d[1]
	iLo, iHi := innerWindows(g.pb[0], sh, kh, dh, ih, oh)
	for i := range iLo {
		maxPoolRow(g, xc, yc[i*ow:(i+1)*ow], buf[:iw], buf[iw:2*iw], i, jLo, jHi)
	}
	for i := iHi; i < oh; i++ {
		maxPoolRow(g, xc, yc[i*ow:(i+1)*ow], buf[:iw], buf[iw:2*iw], i, jLo, jHi)
	}
	if iLo >= iHi {
		return
	}
	base := iLo*sh - g.pb[0]       // the first inner window's top row
	n := ((iHi-1-iLo)*sh + 1) * iw // m's rows: from base to the last inner window's top
	step := sh * iw                // between the window tops' rows in m
	m, h := xc[base*iw:][:n], buf[:n]
	switch {
	case wide:
		n, step = (iHi-iLo)*iw, iw
		m, h = buf[:n], buf[n:2*n]
		for i := iLo; i < iHi; i++ {
			top, mi := (i*sh-g.pb[0])*iw, m[(i-iLo)*iw:][:iw]
			if kh == 1 {
				copy(mi, xc[top:][:iw])
				continue
			}
			stackMax(mi, xc[top:], iw, kh, dh*iw)
		}
	case kh > 1:
		m, h = stackMax(buf, xc[base*iw:], n, kh, dh*iw), buf[n:2*n]
	}
	if jLo < jHi {
		// The window maxima at the positions of m whose window fits before
		// m's end, then the window starts.
		h = stackMax(h, m, n-(kw-1)*dw, kw, dw)
		kernels.StridedRows(yc[iLo*ow+jLo:], ow, h[jLo*sw-g.pb[1]:], step, sw, iHi-iLo, jHi-jLo)
	}
	edgeWindows(g, yc, m, iLo, iHi, step, jLo, jHi)
}

// maxPoolStack pools planes [p0, p1), contiguous in x, as maxPoolPlane
// pools one, with the vertical and the horizontal maxima each one vector
// operation over the whole stack: the rows that mix two planes are never
// picked, since every window lies within its plane's rows (maxPoolGroup).
// MNIST's pools are 64 images × 8 or 16 planes of 28×28 or 14×14, where
// a handful of calls per plane had cost more than their work (its 3×3
// stride-3 pool over 64×16 planes of 14×14: 75 -> 49 µs on one thread).
func maxPoolStack(g *geometry, x, y, buf []float32, p0, p1, jLo, jHi int) {
	ih, iw, oh, ow := g.in[0], g.in[1], g.o[0], g.o[1]
	kh, kw, sh, sw, dh, dw := g.k[0], g.k[1], g.s[0], g.s[1], g.d[0], g.d[1]
	size := ih * iw
	xs := x[p0*size : p1*size]
	n := len(xs) - (kh-1)*dh*iw // window tops whose rows are in the stack
	m, h := xs[:n], buf[:n]
	if kh > 1 {
		m, h = stackMax(buf, xs, n, kh, dh*iw), buf[n:2*n]
	}
	if jLo < jHi {
		h = stackMax(h, m, n-(kw-1)*dw, kw, dw)
	}
	for q := p0; q < p1; q++ {
		off, yc := (q-p0)*size, y[q*oh*ow:(q+1)*oh*ow]
		if jLo < jHi {
			kernels.StridedRows(yc[jLo:], ow, h[off+jLo*sw-g.pb[1]:], sh*iw, sw, oh, jHi-jLo)
		}
		edgeWindows(g, yc, m[off:], 0, oh, sh*iw, jLo, jHi)
	}
}

// edgeWindows sets output rows [i0, i1) of plane yc at the columns outside
// [jLo, jHi), whose windows overhang the row (windowMax), from their
// windows' vertical maxima in m, row i0's first, step apart.
func edgeWindows(g *geometry, yc, m []float32, i0, i1, step, jLo, jHi int) {
	iw, ow, sw, kw, dw := g.in[1], g.o[1], g.s[1], g.k[1], g.d[1]
	if jLo == 0 && jHi == ow {
		return
	}
	for i := i0; i < i1; i++ {
		v := m[(i-i0)*step:][:iw]
		out := yc[i*ow : (i+1)*ow]
		windowMax(out, v, 0, jLo, sw, g.pb[1], kw, dw)
		windowMax(out, v, jHi, ow, sw, g.pb[1], kw, dw)
	}
}

// stackMax returns the element-wise maximum of count runs of src, each n
// long, step apart (the rows of windows, or their columns), in dst[:n]; or
// src[:n], with nothing written, when count is 1.
func stackMax(dst, src []float32, n, count, step int) []float32 {
	if count == 1 {
		return src[:n]
	}
	dst = dst[:n]
	kernels.Maximum(dst, src[:n], src[step:][:n])
	for a := 2; a < count; a++ {
		kernels.Maximum(dst, dst, src[a*step:][:n])
	}
	return dst
}

// windowMax sets out[j] to the maximum of column j's window in row for j
// in [j0, j1), clipping each window to the row (-Inf when it lies in the
// padding): the general case, used where windows overhang.
func windowMax(out, row []float32, j0, j1, sw, pb, kw, dw int) {
	for j := j0; j < j1; j++ {
		c0 := j*sw - pb
		lo, hi := insideRange(c0, kw, dw, len(row))
		best := float32(math.Inf(-1))
		for b := lo; b < hi; b++ {
			best = max(best, row[c0+b*dw])
		}
		out[j] = best
	}
}
