package ops

import (
	"context"
	"math"
	"sync"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
)

// maxPool2DF32 is MaxPool's common case, float32 planes in 2-D without the
// Indices output, with maxPoolTyped's results (padding never wins; a NaN
// in the window wins; of two zeros, either) but separable: each output
// row is the vector maximum (kernels.Maximum) of the input rows its
// windows cover, then a window maximum along that row, instead of a
// comparison per window element (which for random data mispredicts
// often enough to dominate). Planes split over the compute pool.
func maxPool2DF32(ctx context.Context, g *geometry, planes int, x, y []float32) {
	work := planes * g.outSize() * g.kSize()
	c := ComputeFrom(ctx)
	parts := min(planes, c.Split(work, splitElems))
	rows, stride := PartScratch[float32](ScratchFrom(ctx), max(parts, 1), 2*g.in[1])
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
	stride        int // between the parts' rows
	planes, parts int
}

var maxPoolTasks = sync.Pool{New: func() any { return new(maxPoolTask) }}

func (t *maxPoolTask) Part(i int) {
	maxPool2DPlanes(&t.g, t.x, t.y, t.rows[i*t.stride:][:2*t.g.in[1]], i*t.planes/t.parts, (i+1)*t.planes/t.parts)
}

// maxPool2DPlanes pools planes [p0, p1), with col (two input rows'
// length) as scratch for the vertical and the horizontal maxima.
func maxPool2DPlanes(g *geometry, x, y, col []float32, p0, p1 int) {
	ih, iw, oh, ow := g.in[0], g.in[1], g.o[0], g.o[1]
	kh, kw, sh, sw, dh, dw := g.k[0], g.k[1], g.s[0], g.s[1], g.d[0], g.d[1]
	lowest := float32(math.Inf(-1))
	col, wide := col[:iw], col[iw:2*iw]
	// Output columns [jLo, jHi) have their whole window inside the row.
	jLo := min(ow, (g.pb[1]+sw-1)/sw)
	jHi := jLo
	if last := iw - 1 - (kw-1)*dw + g.pb[1]; last >= 0 {
		jHi = max(jLo, min(ow, last/sw+1))
	}
	for p := p0; p < p1; p++ {
		xc, yc := x[p*ih*iw:(p+1)*ih*iw], y[p*oh*ow:(p+1)*oh*ow]
		for i := range oh {
			r0 := i*sh - g.pb[0]
			lo0, hi0 := insideRange(r0, kh, dh, ih)
			out := yc[i*ow : (i+1)*ow]
			if lo0 >= hi0 { // the windows lie in the padding
				for j := range out {
					out[j] = lowest
				}
				continue
			}
			v := xc[(r0+lo0*dh)*iw:][:iw]
			if hi0-lo0 > 1 {
				kernels.Maximum(col, v, xc[(r0+(lo0+1)*dh)*iw:][:iw])
				for a := lo0 + 2; a < hi0; a++ {
					kernels.Maximum(col, col, xc[(r0+a*dh)*iw:][:iw])
				}
				v = col
			}
			windowMax(out, v, 0, jLo, sw, g.pb[1], kw, dw)
			if jLo < jHi {
				// The window maximum at every column of the row, as
				// vector maxima of the row with itself shifted, then
				// the columns the windows start at.
				h := v
				if span := iw - (kw-1)*dw; kw > 1 && span > 0 {
					h = wide[:span]
					kernels.Maximum(h, v[:span], v[dw:][:span])
					for b := 2; b < kw; b++ {
						kernels.Maximum(h, h, v[b*dw:][:span])
					}
				}
				for j := jLo; j < jHi; j++ {
					out[j] = h[j*sw-g.pb[1]]
				}
			}
			windowMax(out, v, jHi, ow, sw, g.pb[1], kw, dw)
		}
	}
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
