package ops

import "github.com/wasmgate/wasmgate/hostfuncs/tensor"

// spatialNum is the element types that column-to-image scattering adds.
type spatialNum interface {
	int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64
}

// spatialScatterGeom is the geometry of col2im, the adjoint of the im2col
// lowering conv.go uses: grid position g meets kernel offset k at image
// position g·s + k·d − pb on every axis, and contributes nothing where that
// lies outside the image.
type spatialScatterGeom struct {
	nd                int
	grid, k, s, d, pb [tensor.MaxRank]int
	img               [tensor.MaxRank]int
}

func (g *spatialScatterGeom) gridSize() int { return prod(g.grid[:g.nd]) }
func (g *spatialScatterGeom) kSize() int    { return prod(g.k[:g.nd]) }
func (g *spatialScatterGeom) imgSize() int  { return prod(g.img[:g.nd]) }

// spatialScatter adds the columns of grid positions [p0, p1) into dst, an
// image of the given channels: col holds one row per (channel, kernel offset)
// in row-major order, with element (r, p) at col[r·ld + p − p0].
func spatialScatter[T spatialNum](dst, col []T, ld int, g *spatialScatterGeom, channels, p0, p1 int) {
	last := g.nd - 1
	kSize, imgSize := g.kSize(), g.imgSize()
	if p0 >= p1 || kSize == 0 || imgSize == 0 {
		return
	}
	var imgStride [tensor.MaxRank]int
	acc := 1
	for j := last; j >= 0; j-- {
		imgStride[j] = acc
		acc *= g.img[j]
	}
	gridLast, s, d := g.grid[last], g.s[last], g.d[last]
	var kc, gc, start [tensor.MaxRank]int
	rest := p0
	for j := last; j >= 0; j-- {
		start[j] = rest % g.grid[j]
		rest /= g.grid[j]
	}
	for c := range channels {
		dc := dst[c*imgSize : (c+1)*imgSize]
		for kf := range kSize {
			row := col[(c*kSize+kf)*ld:]
			gc = start
			off := kc[last]*d - g.pb[last]
			for p := p0; p < p1; {
				n := min(gridLast-gc[last], p1-p)
				base, inside := 0, true
				for j := range last {
					o := gc[j]*g.s[j] + kc[j]*g.d[j] - g.pb[j]
					if o < 0 || o >= g.img[j] {
						inside = false
						break
					}
					base += o * imgStride[j]
				}
				if inside {
					// Grid indices i in [lo, hi) of this run land inside
					// the last image axis: 0 ≤ (gc+i)·s + off < img.
					lo, hi := spatialInsideRun(gc[last], n, s, off, g.img[last])
					src := row[p-p0:]
					for i := lo; i < hi; i++ {
						dc[base+(gc[last]+i)*s+off] += src[i]
					}
				}
				p += n
				gc[last] += n
				for j := last; j > 0 && gc[j] >= g.grid[j]; j-- {
					gc[j] = 0
					gc[j-1]++
				}
			}
			for j := last; j >= 0; j-- {
				if kc[j]++; kc[j] < g.k[j] {
					break
				}
				kc[j] = 0
			}
		}
	}
}

// spatialInsideRun returns the i in [0, n) whose position (g0+i)·s + off
// lies in [0, size), as a range [lo, hi).
func spatialInsideRun(g0, n, s, off, size int) (lo, hi int) {
	first := g0*s + off // position of i = 0
	if first < 0 {
		lo = (-first + s - 1) / s
	}
	if lastPos := size - 1 - first; lastPos >= 0 {
		hi = min(n, lastPos/s+1)
	}
	return min(lo, n), max(hi, min(lo, n))
}
