package ops

import (
	"context"
	"fmt"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func gridSampleSchemas() []Schema {
	v := func(since int64, grids []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("X:T1", "grid:T2"), Outputs: params("Y:T1"),
			Types: map[string][]tensor.DType{"T1": allTypes(), "T2": grids},
			Attrs: []string{"align_corners", "mode", "padding_mode"},
			Build: buildGridSample,
		}
	}
	return []Schema{v(16, floats()), v(20, floats()), v(22, floatsBF16())}
}

func affineGridSchemas() []Schema {
	return []Schema{{
		Since: 20, Inputs: params("theta:T1", "size:T2"), Outputs: params("grid:T1"),
		Types: map[string][]tensor.DType{"T1": floatsBF16(), "T2": {tensor.Int64}},
		Attrs: []string{"align_corners"},
		Build: buildAffineGrid,
	}}
}

type gridPadding int

const (
	gridZeros gridPadding = iota
	gridBorder
	gridReflection
)

// gridSample is GridSample, following the spec's reference (which follows
// PyTorch's grid_sample).
type gridSample struct {
	mode         resizeMode
	padding      gridPadding
	alignCorners bool
	only2D       bool // opset 16 defines the 4-D case only
}

// gridMaxTaps bounds the samples one output element weighs (taps per axis
// to the power of the spatial rank), so a high-rank cubic sample cannot
// make a run unboundedly slow.
const gridMaxTaps = 1 << 12

func buildGridSample(n *graph.Node, opset int64) (Kernel, error) {
	k := gridSample{only2D: opset < 20}
	names := map[string]resizeMode{"linear": resizeLinear, "nearest": resizeNearest, "cubic": resizeCubic}
	def := "linear"
	if opset < 20 {
		names = map[string]resizeMode{"bilinear": resizeLinear, "nearest": resizeNearest, "bicubic": resizeCubic}
		def = "bilinear"
	}
	m, err := n.AttrString("mode", def)
	if err != nil {
		return nil, err
	}
	var ok bool
	if k.mode, ok = names[m]; !ok {
		return nil, fault.Errorf(fault.Invalid, "mode %q is not defined in opset %d", m, opset)
	}
	pm, err := n.AttrString("padding_mode", "zeros")
	if err != nil {
		return nil, err
	}
	pads := map[string]gridPadding{"zeros": gridZeros, "border": gridBorder, "reflection": gridReflection}
	if k.padding, ok = pads[pm]; !ok {
		return nil, fault.Errorf(fault.Invalid, "padding_mode %q is not one of zeros, border, reflection", pm)
	}
	if k.alignCorners, err = spatialAttrBool(n, "align_corners"); err != nil {
		return nil, err
	}
	return k, nil
}

func (k gridSample) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, grid := in[0], in[1]
	r := len(x.Shape) - 2
	switch {
	case r < 1:
		return fault.Errorf(fault.Invalid, "GridSample: X %v must have rank 3 or more", []int(x.Shape))
	case k.only2D && r != 2:
		return fault.Errorf(fault.Invalid, "GridSample: X %v must have rank 4 in this opset", []int(x.Shape))
	case len(grid.Shape) != r+2 || grid.Shape[0] != x.Shape[0] || grid.Shape[r+1] != r:
		return fault.Errorf(fault.Invalid, "GridSample: grid %v must have shape (%d, ..., %d) for X %v", []int(grid.Shape), x.Shape[0], r, []int(x.Shape))
	}
	taps, per := 1, 1
	switch k.mode {
	case resizeLinear:
		per = 2
	case resizeCubic:
		per = 4
	}
	for range r {
		if taps *= per; taps > gridMaxTaps {
			return fault.Errorf(fault.Unsupported, "GridSample: %d spatial axes need too many samples per element", r)
		}
	}
	var shapeBuf [tensor.MaxRank]int
	shape := append(shapeBuf[:0], x.Shape[0], x.Shape[1])
	shape = append(shape, grid.Shape[1:r+1]...)
	y, err := Output(ctx, out[0], x.DType, shape)
	if err != nil {
		return err
	}
	out[0] = y
	if y.Len() == 0 {
		return nil
	}
	sc := ScratchFrom(ctx)
	g := ScratchSlice[float64](sc, grid.Len())
	if err := spatialToFloat64(g, grid); err != nil {
		return fmt.Errorf("GridSample: %w", err)
	}
	p := gridProblem{k: &k, r: r, n: x.Shape[0], c: x.Shape[1], dims: x.Shape[2:], grid: g, per: per, taps: taps,
		off: ScratchSlice[int64](sc, taps), w: ScratchSlice[float64](sc, taps)}
	p.inSize = prod(p.dims)
	p.outSize = y.Len() / max(1, p.n*p.c)
	switch x.DType {
	case tensor.Bool, tensor.Bytes:
		if k.mode != resizeNearest {
			return fault.Errorf(fault.Unsupported, "GridSample: interpolating %s", x.DType.ONNXName())
		}
		src := ScratchSlice[int64](sc, p.n*p.outSize)
		p.sample(nil, nil, src)
		plane := p.outSize
		for i := range y.Len() {
			b, c, o := i/(p.c*plane), i/plane%p.c, i%plane
			s := src[b*plane+o]
			if x.DType == tensor.Bool {
				y.Data[i] = 0
				if s >= 0 {
					y.Data[i] = x.Data[(b*p.c+c)*p.inSize+int(s)]
				}
				continue
			}
			y.Strings[i] = y.Strings[i][:0]
			if s >= 0 {
				y.Strings[i] = append(y.Strings[i], x.Strings[(b*p.c+c)*p.inSize+int(s)]...)
			}
		}
		return nil
	}
	xf, yf := ScratchSlice[float64](sc, x.Len()), ScratchSlice[float64](sc, y.Len())
	if err := spatialToFloat64(xf, x); err != nil {
		return fmt.Errorf("GridSample: %w", err)
	}
	p.sample(xf, yf, nil)
	spatialFromFloat64(y, yf)
	return nil
}

type gridProblem struct {
	k                *gridSample
	r, n, c          int
	dims             []int
	inSize, outSize  int
	grid             []float64
	per, taps        int
	off              []int64 // per tap: the offset in a plane, or -1 for a zero
	w                []float64
	axisOff          [tensor.MaxRank][4]int64
	axisW            [tensor.MaxRank][4]float64
	inStride         [tensor.MaxRank]int
	coordLo, coordHi [tensor.MaxRank]float64
}

// sample computes every output element: for each output position, the taps
// shared by all channels, then each channel's weighted sum into y. With x
// nil (nearest mode over non-numeric types) it records instead each
// position's source offset in src, -1 for a zero.
func (p *gridProblem) sample(x, y []float64, src []int64) {
	acc := 1
	for j := p.r - 1; j >= 0; j-- {
		p.inStride[j] = acc
		acc *= p.dims[j]
	}
	for j := range p.r {
		p.coordLo[j], p.coordHi[j] = -0.5, float64(p.dims[j])-0.5
		if p.k.alignCorners {
			p.coordLo[j], p.coordHi[j] = 0, float64(p.dims[j]-1)
		}
	}
	for b := range p.n {
		for o := range p.outSize {
			loc := p.grid[(b*p.outSize+o)*p.r : (b*p.outSize+o+1)*p.r]
			p.tapsAt(loc)
			if x == nil {
				src[b*p.outSize+o] = p.off[0]
				continue
			}
			for c := range p.c {
				xc := x[(b*p.c+c)*p.inSize : (b*p.c+c+1)*p.inSize]
				v := 0.0
				for t, off := range p.off {
					if off >= 0 {
						v += p.w[t] * xc[off]
					}
				}
				y[(b*p.c+c)*p.outSize+o] = v
			}
		}
	}
}

// tapsAt fills p.off and p.w for the normalized location loc, whose
// components list the spatial axes innermost first.
func (p *gridProblem) tapsAt(loc []float64) {
	for j := range p.r {
		d := p.dims[j]
		n := loc[p.r-1-j]
		var v float64
		if p.k.alignCorners {
			v = (n + 1) / 2 * float64(d-1)
		} else {
			v = ((n+1)*float64(d) - 1) / 2
		}
		v = gridClampFinite(v)
		if p.k.mode == resizeNearest {
			// The spec rounds halfway samples to the even index in
			// every rank (PyTorch's 3-D kernel rounds them away from
			// zero; the spec's tests follow the spec).
			v = math.RoundToEven(v)
		}
		lo, hi := p.coordLo[j], p.coordHi[j]
		if v < lo || v > hi {
			switch p.k.padding {
			case gridBorder:
				v = min(max(v, 0), float64(d-1))
			case gridReflection:
				v = gridReflect(v, lo, hi)
			}
		}
		switch p.k.mode {
		case resizeNearest:
			p.axisOff[j][0], p.axisW[j][0] = p.pixel(j, int(math.Trunc(v))), 1
		case resizeLinear:
			x0 := math.Floor(v)
			t := v - x0
			i := int(x0)
			p.axisOff[j][0], p.axisW[j][0] = p.pixel(j, i), 1-t
			p.axisOff[j][1], p.axisW[j][1] = p.pixel(j, i+1), t
		case resizeCubic:
			x0 := math.Floor(v)
			t := v - x0
			i := int(x0)
			const a = -0.75
			p.axisW[j][0] = resizeCubicKernel(t+1, a)
			p.axisW[j][1] = resizeCubicKernel(t, a)
			p.axisW[j][2] = resizeCubicKernel(1-t, a)
			p.axisW[j][3] = resizeCubicKernel(2-t, a)
			for q := range 4 {
				p.axisOff[j][q] = p.pixel(j, i-1+q)
			}
		}
	}
	// The product of the axes' taps, the last axis fastest.
	var q [tensor.MaxRank]int
	for t := range p.taps {
		off, w := int64(0), 1.0
		for j := range p.r {
			a := p.axisOff[j][q[j]]
			w *= p.axisW[j][q[j]]
			if a < 0 || off < 0 {
				off = -1
				continue
			}
			off += a * int64(p.inStride[j])
		}
		p.off[t], p.w[t] = off, w
		for j := p.r - 1; j >= 0; j-- {
			if q[j]++; q[j] < p.per {
				break
			}
			q[j] = 0
		}
	}
}

// pixel resolves index i of spatial axis j under the padding mode: -1 for
// a zero, else an index inside the axis.
func (p *gridProblem) pixel(j, i int) int64 {
	d := p.dims[j]
	if i >= 0 && i < d {
		return int64(i)
	}
	switch p.k.padding {
	case gridBorder:
		return int64(min(max(i, 0), d-1))
	case gridReflection:
		r := int(math.Trunc(gridReflect(float64(i), p.coordLo[j], p.coordHi[j])))
		return int64(min(max(r, 0), d-1))
	}
	return -1
}

// gridReflect reflects x at the borders lo and hi until it lies between
// them.
func gridReflect(x, lo, hi float64) float64 {
	rng := hi - lo
	if rng <= 0 {
		return lo
	}
	switch {
	case x < lo:
		dx := lo - x
		n := math.Floor(dx / rng)
		r := dx - n*rng
		if math.Mod(n, 2) == 0 {
			return lo + r
		}
		return hi - r
	case x > hi:
		dx := x - hi
		n := math.Floor(dx / rng)
		r := dx - n*rng
		if math.Mod(n, 2) == 0 {
			return hi - r
		}
		return lo + r
	}
	return x
}

// gridClampFinite keeps a coordinate where index arithmetic stays exact;
// NaN goes far outside, where zeros padding gives 0.
func gridClampFinite(v float64) float64 {
	const lim = 1 << 40
	if v != v {
		return -lim
	}
	return min(max(v, -lim), lim)
}

type affineGrid struct{ alignCorners bool }

func buildAffineGrid(n *graph.Node, _ int64) (Kernel, error) {
	a, err := spatialAttrBool(n, "align_corners")
	if err != nil {
		return nil, err
	}
	return affineGrid{alignCorners: a}, nil
}

// Run maps each position of an evenly spaced grid over [-1, 1] per axis
// (pixel centres, or with align_corners the corner pixels' centres at ±1)
// through theta: grid[n, ..., :] = theta[n] · (x, y[, z], 1).
func (k affineGrid) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	theta, size := in[0], in[1]
	if len(theta.Shape) != 3 || (theta.Shape[1] != 2 || theta.Shape[2] != 3) && (theta.Shape[1] != 3 || theta.Shape[2] != 4) {
		return fault.Errorf(fault.Invalid, "AffineGrid: theta %v must have shape (N, 2, 3) or (N, 3, 4)", []int(theta.Shape))
	}
	nd := theta.Shape[1]
	if size.DType != tensor.Int64 || len(size.Shape) != 1 || size.Len() != nd+2 {
		return fault.Errorf(fault.Invalid, "AffineGrid: size %v must hold %d values for theta %v", []int(size.Shape), nd+2, []int(theta.Shape))
	}
	sz := tensor.Values[int64](size)
	if sz[0] != int64(theta.Shape[0]) {
		return fault.Errorf(fault.Invalid, "AffineGrid: size %v has batch %d, theta has %d", sz, sz[0], theta.Shape[0])
	}
	var shapeBuf [tensor.MaxRank]int
	shape := append(shapeBuf[:0], theta.Shape[0])
	for _, d := range sz[2:] {
		if d < 0 || d > tensor.MaxElements {
			return fault.Errorf(fault.Invalid, "AffineGrid: size %v holds an invalid dimension", sz)
		}
		shape = append(shape, int(d))
	}
	shape = append(shape, nd)
	y, err := Output(ctx, out[0], theta.DType, shape)
	if err != nil {
		return err
	}
	out[0] = y
	sc := ScratchFrom(ctx)
	th, g := ScratchSlice[float64](sc, theta.Len()), ScratchSlice[float64](sc, y.Len())
	if err := spatialToFloat64(th, theta); err != nil {
		return fmt.Errorf("AffineGrid: %w", err)
	}
	dims := shape[1 : nd+1] // outermost first: (H, W) or (D, H, W)
	points := prod(dims)
	var pos [3]int
	var base [4]float64
	base[nd] = 1
	for b := range theta.Shape[0] {
		t := th[b*nd*(nd+1) : (b+1)*nd*(nd+1)]
		pos = [3]int{}
		for p := range points {
			// base holds (x, y[, z]): the innermost axis first.
			for j := range nd {
				base[j] = affineCoord(pos[nd-1-j], dims[nd-1-j], k.alignCorners)
			}
			dst := g[(b*points+p)*nd : (b*points+p+1)*nd]
			for i := range nd {
				v := 0.0
				for j := range nd + 1 {
					v += t[i*(nd+1)+j] * base[j]
				}
				dst[i] = v
			}
			for j := nd - 1; j >= 0; j-- {
				if pos[j]++; pos[j] < dims[j] {
					break
				}
				pos[j] = 0
			}
		}
	}
	spatialFromFloat64(y, g)
	return nil
}

// affineCoord is the normalized coordinate of index i of an axis of size d.
func affineCoord(i, d int, alignCorners bool) float64 {
	if alignCorners {
		if d == 1 {
			return -1
		}
		return -1 + 2*float64(i)/float64(d-1)
	}
	return -1 + float64(2*i+1)/float64(d)
}
