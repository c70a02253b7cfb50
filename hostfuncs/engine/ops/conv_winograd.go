package ops

import (
	"context"
	"fmt"
	"sync"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

// A 3×3 convolution with unit strides and dilations, padding of at most
// one, one group, and enough channels, filters and output positions runs
// as Winograd's F(2×2, 3×3) (see kernels.WinogradFilters): 16 GEMMs of
// the transformed filters by the transformed input tiles, 2.25 times fewer
// multiplications than the direct GEMM. ResNet-18's 56-, 28- and 14-wide
// stages have ten such convolutions, 64 % of the model's FLOPs; at one
// thread they ran 960-990 -> 570, 1,030 -> 580 and 1,050 -> 635 µs
// (BenchmarkConvWinograd), at two 600 -> 320, 600 -> 360 and 630 -> 380.
//
// The output is cut into rows of 2×2 tiles, and each thread takes a
// contiguous range of tile rows through all three steps, a chunk of rows
// at a time: it pads the input rows its chunk reads into its own planes,
// transforms them into its own V, multiplies into its own M, and
// transforms M into its output rows. Threads share nothing but the
// filters and the input rows at their ranges' edges, which on a host
// whose two cores sit on different core complexes is what the direct
// convolution, one GEMM split over the threads, could not avoid.

// winoFilters is a convolution's filters transformed and packed once:
// u[ξ] is U[ξ], filters × channels, the GEMMs' left operand.
type winoFilters struct {
	u     [kernels.WinogradTerms]*kernels.Packed
	m, c  int
	bytes int64
}

// Bytes is the memory the transformed filters take (0 for none).
func (f *winoFilters) Bytes() int64 {
	if f == nil {
		return 0
	}
	return f.bytes
}

// newWinoFilters transforms and packs w (m filters of c channels, 3×3).
func newWinoFilters(w []float32, m, c int) *winoFilters {
	u := make([]float32, kernels.WinogradTerms*m*c)
	kernels.WinogradFilters(u, w, m, c)
	f := &winoFilters{m: m, c: c}
	released := true
	for xi := range f.u {
		f.u[xi] = kernels.PackA(false, m, c, u[xi*m*c:(xi+1)*m*c], c)
		released = f.u[xi].Release() && released
		f.bytes += f.u[xi].Bytes()
	}
	if !released { // the portable variant reads u itself
		f.bytes += int64(len(u)) * 4
	}
	return f
}

// winogradConv enables the Winograd path; tests turn it on where the
// transforms are the portable ones, and off to compare against the direct
// path.
var winogradConv = kernels.WinogradFast()

// Where the Winograd path pays, measured on ResNet-18's stages at one
// thread (BenchmarkConvWinograd): at least 16 channels and filters, for
// GEMMs deep and tall enough to run at speed, and at least winoMinTiles
// tiles, below which the transformed filters (16/9 of the filters) cost
// more to stream than the multiplications they save: the 14-wide stage,
// 49 tiles of 256 channels, ran at 630 against 1,050 µs, the 7-wide one,
// 16 tiles of 512, at 1,350 against 1,070.
const (
	winoMinDepth = 16
	winoMinTiles = 32
)

// winoFits reports whether a convolution of c channels and m filters with
// geometry g takes the Winograd path.
func winoFits(g *geometry, c, m, groups int) bool {
	return winogradConv && winoShape(g, groups) && c >= winoMinDepth && m >= winoMinDepth && winoTilesOf(g) >= winoMinTiles
}

// winoShape reports whether the Winograd path computes a convolution of
// geometry g at all: 2-D, one group, 3×3, unit strides and dilations,
// padding of at most one.
func winoShape(g *geometry, groups int) bool {
	if g.nd != 2 || groups != 1 {
		return false
	}
	for i := range 2 {
		if g.k[i] != 3 || g.s[i] != 1 || g.d[i] != 1 || g.pb[i] > 1 || g.pe[i] > 1 {
			return false
		}
	}
	return true
}

// winoTermStride is the distance between consecutive ξ's matrices of n
// elements in V or M: 64 bytes past a multiple of 4 KiB, so that the
// transforms' 16 streams, one per ξ, fall in 16 different sets of the L1
// cache. At a multiple of 4 KiB they shared one set, more streams than it
// has ways: ResNet's 64-channel stage at 8 tile rows a chunk (56 KiB
// apart) ran at 700 µs, at 9 rows 576.
func winoTermStride(n int) int { return roundUp(n, 1024) + 16 }

func winoTilesOf(g *geometry) int { return (g.o[0] + 1) / 2 * ((g.o[1] + 1) / 2) }

// winoChunkTiles is about how many tiles a thread takes through the three
// steps at a time, the width of its GEMMs: ResNet's 56-wide stage at one
// thread ran at 700 µs with 56 or 112 tiles a chunk, at 560-595 with 224
// to all 784 (V and M then 0.9 to 3.2 MB each).
const winoChunkTiles = 256

// convWinograd computes the convolution p (winoFits) with f's filters.
func convWinograd(ctx context.Context, sc *Scratch, p *convProblem, f *winoFilters, x, b, y []float32) error {
	g := p.g
	if !winoShape(g, p.groups) || p.c != f.c || p.m != f.m {
		// Conv.check and the window's attributes rule this out.
		k0, k1, s0, s1 := g.k[0], g.k[1], g.s[0], g.s[1] // copies: g must not escape
		return fault.Errorf(fault.Internal, "Conv: a %d×%d kernel with strides %d, %d prepared for the Winograd path", k0, k1, s0, s1)
	}
	if g.outSize() == 0 || p.n == 0 {
		return nil
	}
	th, tw := (g.o[0]+1)/2, (g.o[1]+1)/2
	chunk := max(1, min(th, winoChunkTiles/tw))
	items := p.n * th
	cmp := ComputeFrom(ctx)
	flops := 2 * kernels.WinogradTerms * p.m * p.c * th * tw * p.n
	parts := min(items, cmp.Split(flops, 1<<21))
	t := winoTasks.Get().(*winoConv)
	*t = winoConv{g: *g, f: f, x: x, b: b, y: y, th: th, tw: tw, pw: tw + 1, chunk: chunk, items: items, parts: parts, stop: stopOf(ctx)}
	t.padLen = p.c * 2 * (2*chunk + 2) * t.pw
	t.vLen = kernels.WinogradTerms * winoTermStride(p.c*chunk*tw)
	t.mLen = kernels.WinogradTerms * winoTermStride(p.m*chunk*tw)
	t.pad, t.padStride = PartScratch[float32](sc, parts, t.padLen)
	t.v, t.vStride = PartScratch[float32](sc, parts, t.vLen)
	t.mm, t.mStride = PartScratch[float32](sc, parts, t.mLen)
	if parts <= 1 {
		t.Part(0)
	} else {
		cmp.Parallel(parts, t)
	}
	*t = winoConv{}
	winoTasks.Put(t)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("Conv: %w", err)
	}
	return nil
}

var winoTasks = sync.Pool{New: func() any { return new(winoConv) }}

// winoConv is a Winograd convolution cut into ranges of tile rows (items:
// image·th + tile row), one per part.
type winoConv struct {
	g                geometry
	f                *winoFilters
	x, b, y          []float32
	th, tw, pw       int // tile rows and columns; padded plane pitch (tw + 1)
	chunk            int // tile rows a part takes at a time
	items, parts     int
	stop             kernels.Stop
	pad, v, mm       []float32 // per part, PartScratch's stride apart
	padStride        int
	vStride, mStride int
	padLen           int
	vLen, mLen       int
}

func (t *winoConv) Part(i int) {
	pad, v, mm := t.pad[i*t.padStride:][:t.padLen], t.v[i*t.vStride:][:t.vLen], t.mm[i*t.mStride:][:t.mLen]
	end := (i + 1) * t.items / t.parts
	for it := i * t.items / t.parts; it < end && !t.stop.Stopped(); {
		img, ty0 := it/t.th, it%t.th
		rows := min(t.chunk, t.th-ty0, end-it)
		t.chunkRows(pad, v, mm, img, ty0, rows)
		it += rows
	}
}

// chunkRows computes tile rows [ty0, ty0+rows) of image img.
func (t *winoConv) chunkRows(pad, v, mm []float32, img, ty0, rows int) {
	g, f := &t.g, t.f
	c, m, tw, pw := f.c, f.m, t.tw, t.pw
	h, w, oh, ow := g.in[0], g.in[1], g.o[0], g.o[1]
	pt, pl := g.pb[0], g.pb[1]
	np := rows * tw
	plane := (2*rows + 2) * pw // a phase of a channel: padded rows 2·ty0 on
	// Pad: even padded columns (2j) in the first plane of a channel, odd
	// ones in the second; padded column x + pl holds input column x.
	pad = pad[:c*2*plane]
	clear(pad)
	i0, i1 := max(0, 2*ty0-pt), min(h, 2*(ty0+rows)+2-pt)
	if i0 < i1 {
		lr := i0 + pt - 2*ty0
		xe, xo := pl, 1-pl // first input column of each phase
		ne, no := min((w-xe+1)/2, pw-pl), min((w-xo+1)/2, pw)
		xs := t.x[img*c*h*w:]
		for ch := range c {
			src := xs[ch*h*w+i0*w:]
			dst := pad[ch*2*plane+lr*pw:]
			if ne > 0 {
				kernels.StridedRows(dst[pl:], pw, src[xe:], w, 2, i1-i0, ne)
			}
			if no > 0 {
				kernels.StridedRows(dst[plane:], pw, src[xo:], w, 2, i1-i0, no)
			}
		}
	}
	// Transform: V[ξ][channel][tile].
	vs := winoTermStride(c * np)
	for ch := range c {
		e := pad[ch*2*plane:]
		for r := range rows {
			kernels.WinogradInput(v[ch*np+r*tw:], vs, e[2*r*pw:], e[plane+2*r*pw:], pw, tw)
		}
	}
	// Multiply: M[ξ] = U[ξ]·V[ξ], filters × tiles.
	ms := winoTermStride(m * np)
	for xi := range kernels.WinogradTerms {
		kernels.SgemmPackedA(nil, 1, t.stop, f.u[xi], false, np, v[xi*vs:], np, 0, mm[xi*ms:], np, nil)
	}
	if t.stop.Stopped() {
		return
	}
	// Transform back into the output rows, adding the bias.
	osz := oh * ow
	ys := t.y[img*m*osz:]
	for k := range m {
		var bias float32
		if t.b != nil {
			bias = t.b[k]
		}
		yk := ys[k*osz:]
		for r := range rows {
			oy := 2 * (ty0 + r)
			var y1 []float32
			if oy+1 < oh {
				y1 = yk[(oy+1)*ow:][:ow]
			}
			kernels.WinogradOutput(yk[oy*ow:][:ow], y1, ow, mm[k*np+r*tw:], ms, tw, bias)
		}
	}
}
