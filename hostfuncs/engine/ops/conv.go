package ops

import (
	"context"
	"fmt"
	"slices"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func convSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("X:T", "W:T", "B:T?"), Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": ts},
			Attrs: []string{"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"},
			Build: buildConv,
		}
	}
	return []Schema{v(1, floats()), v(11, floats()), v(22, floatsBF16())}
}

// colBudget bounds the im2col buffer, in elements: large images are lowered
// a band of output rows at a time so scratch stays cache- and memory-friendly.
// 1 MiB of float32 measured as fast as 4 MiB for ResNet's layers (and
// faster for the 512-channel 7×7 one), with a quarter of the memory.
const colBudget = 1 << 18

type conv struct {
	w         window
	group     int
	colBudget int // colBudget, or less in tests to force banding
	// packed holds the filters packed for the GEMM (see Prepack), used
	// when the run's W is packedW: the plan's constant, or the stand-in
	// the plan holds in its place when packed alone holds the filters.
	packed  *kernels.Packed
	packedW *tensor.Tensor
	// tapMajor: packed holds the filters of a 2-D convolution with their
	// columns in tap-major order (kernel element, then channel), which the
	// lowering then follows (convSplit.tapMajor).
	tapMajor bool
	// wino holds the filters transformed for the Winograd path, in place
	// of packed, where X's shape at Prepack took it (winoFits). Every run
	// then takes it: its window's attributes, the same for any X, keep
	// every run's geometry in shape (winoShape).
	wino *winoFilters
}

// Prepack packs a constant float32 W of a single-group convolution into
// the GEMM's panels once, so that runs skip packing it: as the left
// operand (filters × lowered input), or as the right one where X's shape
// is known and the convolution's GEMM runs transposed (gemmTransposes).
// The packing decides the product's orientation for every later run
// (convF32Split), whatever X's shape then, so the panels serve them all:
// where the node is W's only reader, the kernel drops W itself
// (Packed.Release) and gives the plan a stand-in for it, so the filters
// are held once, packed. The portable variant packs nothing and keeps W.
// Where X's shape takes the Winograd path (winoFits), the filters are
// transformed for it instead, and held that way alone.
func (k conv) Prepack(consts []*tensor.Tensor, shapes [][]int, sole []bool) Prepared {
	if len(consts) < 2 || consts[1] == nil || k.group != 1 {
		return Prepared{}
	}
	w := consts[1]
	if w.DType != tensor.Float32 || len(w.Shape) < 3 || w.Shape[0] == 0 {
		return Prepared{}
	}
	m, rows := w.Shape[0], w.Shape.Size()/w.Shape[0]
	if rows == 0 {
		return Prepared{}
	}
	ws := tensor.Values[float32](w)
	switch {
	case k.winograd(shapes, w.Shape):
		k.wino = newWinoFilters(ws, m, w.Shape[1])
	case k.transposes(shapes, w.Shape):
		k.packed = kernels.PackB(true, rows, m, ws, rows)
	case len(w.Shape) == 4 && w.Shape[1] >= gatherMinDepth && w.Shape[2]*w.Shape[3] > 1:
		// Tap-major, so that a tap's rows of the lowered input are its
		// channels, one padded plane apart, which the GEMM can read where
		// they are (convSplit.gather, canGather). Only the panels hold
		// that order: where there are none (the portable variant), pack
		// as given. Not for fewer channels, which lower instead: lowering
		// tap-major measured 5% slower on MNIST (1 and 8 channels).
		cg, taps := w.Shape[1], w.Shape[2]*w.Shape[3]
		wt := make([]float32, len(ws))
		for f := range m {
			for c := range cg {
				for t := range taps {
					wt[f*rows+t*cg+c] = ws[f*rows+c*taps+t]
				}
			}
		}
		if k.packed = kernels.PackA(false, m, rows, wt, rows); k.packed.Release() {
			k.tapMajor = true
		} else {
			k.packed = kernels.PackA(false, m, rows, ws, rows)
		}
	default:
		k.packed = kernels.PackA(false, m, rows, ws, rows)
	}
	k.packedW = w
	pr := Prepared{Bytes: k.packed.Bytes() + k.wino.Bytes()}
	if len(sole) > 1 && sole[1] && (k.wino != nil || k.tapMajor || k.packed.Release()) {
		k.packedW = &tensor.Tensor{DType: w.DType, Shape: slices.Clone(w.Shape)}
		pr.Stands = make([]*tensor.Tensor, len(consts))
		pr.Stands[1] = k.packedW
	}
	pr.Kernel = k
	return pr
}

// staticGeometry is the geometry of a run on an X of shape shapes[0],
// where Prepack knows it: a 2-D convolution whose X has known spatial
// dimensions and a non-empty output.
func (k conv) staticGeometry(shapes [][]int, wShape tensor.Shape) (geometry, bool) {
	if len(shapes) == 0 || len(shapes[0]) != len(wShape) || len(wShape) != 4 {
		return geometry{}, false
	}
	x := shapes[0]
	for _, d := range x[2:] {
		if d <= 0 {
			return geometry{}, false
		}
	}
	g, err := k.w.resolve(x[2:], wShape[2:])
	return g, err == nil && g.outSize() > 0
}

// winograd reports whether a run on an X of shape shapes[0] (if known)
// takes the Winograd path.
func (k conv) winograd(shapes [][]int, wShape tensor.Shape) bool {
	g, ok := k.staticGeometry(shapes, wShape)
	if !ok || (shapes[0][1] > 0 && shapes[0][1] != wShape[1]) {
		return false
	}
	return winoFits(&g, wShape[1], wShape[0], k.group)
}

// transposes reports whether a run on an X of shape x (if known) would
// compute its GEMMs transposed, on one thread.
func (k conv) transposes(shapes [][]int, wShape tensor.Shape) bool {
	g, ok := k.staticGeometry(shapes, wShape)
	if !ok {
		return false
	}
	direct := g.kSize() == 1
	for i := range g.nd {
		direct = direct && g.s[i] == 1 && g.pb[i] == 0 && g.pe[i] == 0
	}
	if direct {
		return false
	}
	m, rows := wShape[0], wShape.Size()/wShape[0]
	rowLen := g.outSize() / g.o[0]
	band := min(g.o[0], max(1, k.colBudget/max(1, rows*rowLen)))
	return !lowerWide(&g, m, newPadPlanes(&g).qw) && gemmTransposes(m, band*rowLen)
}

func buildConv(n *graph.Node, _ int64) (Kernel, error) {
	w, err := readWindow(n)
	if err != nil {
		return nil, err
	}
	g, err := n.AttrInt("group", 1)
	if err != nil {
		return nil, err
	}
	if g < 1 || g > tensor.MaxElements {
		return nil, fault.Errorf(fault.Invalid, "group must be at least 1, got %d", g)
	}
	return conv{w: w, group: int(g), colBudget: colBudget}, nil
}

func (k conv) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, w := in[0], in[1]
	var b *tensor.Tensor
	if len(in) > 2 {
		b = in[2]
	}
	if err := k.check(x, w, b); err != nil {
		return fmt.Errorf("Conv: %w", err)
	}
	geom, err := k.w.resolve(x.Shape[2:], w.Shape[2:])
	if err != nil {
		return fmt.Errorf("Conv: %w", err)
	}
	var shapeBuf [tensor.MaxRank]int
	shape := append(shapeBuf[:0], x.Shape[0], w.Shape[0])
	shape = append(shape, geom.o[:geom.nd]...)
	y, err := Output(ctx, out[0], x.DType, shape)
	if err != nil {
		return err
	}
	out[0] = y
	p := convProblem{g: &geom, n: x.Shape[0], c: x.Shape[1], m: w.Shape[0], groups: k.group, colBudget: k.colBudget}
	var packed *kernels.Packed // W packed in advance (float32 only)
	tapMajor := false
	if w == k.packedW {
		packed, tapMajor = k.packed, k.tapMajor
	}
	sc := ScratchFrom(ctx)
	switch x.DType {
	case tensor.Float32:
		if k.wino != nil && w == k.packedW {
			return convWinograd(ctx, sc, &p, k.wino, tensor.Values[float32](x), values[float32](b), tensor.Values[float32](y))
		}
		return convF32(ctx, sc, &p, packed, tapMajor, tensor.Values[float32](x), tensor.Values[float32](w), values[float32](b), tensor.Values[float32](y))
	case tensor.Float64:
		return convFloat(ctx, sc, &p, tensor.Values[float64](x), tensor.Values[float64](w), values[float64](b), tensor.Values[float64](y))
	case tensor.Float16, tensor.BFloat16:
		xf, wf, yf := ScratchSlice[float32](sc, x.Len()), ScratchSlice[float32](sc, w.Len()), ScratchSlice[float32](sc, y.Len())
		var bf []float32
		widen(xf, x)
		widen(wf, w)
		if b != nil {
			bf = ScratchSlice[float32](sc, b.Len())
			widen(bf, b)
		}
		if err := convF32(ctx, sc, &p, nil, false, xf, wf, bf, yf); err != nil {
			return err
		}
		narrow(y, yf)
		return nil
	}
	return fault.Errorf(fault.Unsupported, "Conv of %s", x.DType.ONNXName())
}

// check validates the operands' shapes against each other and the group.
func (k conv) check(x, w, b *tensor.Tensor) error {
	if w.DType != x.DType || (b != nil && b.DType != x.DType) {
		return fault.Errorf(fault.Invalid, "X, W and B must share a dtype")
	}
	if len(x.Shape) < 3 || len(w.Shape) != len(x.Shape) {
		return fault.Errorf(fault.Invalid, "X %v and W %v must have the same rank, at least 3", []int(x.Shape), []int(w.Shape))
	}
	c, m, cg := x.Shape[1], w.Shape[0], w.Shape[1]
	if cg*k.group != c {
		return fault.Errorf(fault.Invalid, "X has %d channels but W %v with group %d expects %d", c, []int(w.Shape), k.group, cg*k.group)
	}
	if m%k.group != 0 {
		return fault.Errorf(fault.Invalid, "W's %d feature maps are not divisible by group %d", m, k.group)
	}
	if k.w.kernel != nil && !tensor.Shape(k.w.kernel).Equal(w.Shape[2:]) {
		return fault.Errorf(fault.Invalid, "kernel_shape %v does not match W %v", k.w.kernel, []int(w.Shape))
	}
	if b != nil && (len(b.Shape) != 1 || b.Shape[0] != m) {
		return fault.Errorf(fault.Invalid, "B %v must be 1-D of size %d", []int(b.Shape), m)
	}
	return nil
}

// values is tensor.Values that maps an absent tensor to nil.
func values[T tensor.Elem](t *tensor.Tensor) []T {
	if t == nil {
		return nil
	}
	return tensor.Values[T](t)
}

type convProblem struct {
	g                          *geometry
	n, c, m, groups, colBudget int
}

// convFloat lowers each (image, group) to a GEMM: the group's filters
// (M/G × C/G·K) times the im2col matrix of its input channels
// (C/G·K × output positions). A 1×1 kernel with unit strides and no
// padding needs no lowering: the input already is that matrix. It is the
// float64 path; float32 (and the half types, widened) take convF32.
func convFloat[T kernels.Float](ctx context.Context, sc *Scratch, p *convProblem, x, w, b, y []T) error {
	g := p.g
	cg, mg := p.c/p.groups, p.m/p.groups
	inSize, outSize, rows := g.inSize(), g.outSize(), cg*g.kSize()
	if outSize == 0 || len(y) == 0 {
		return nil
	}
	direct := g.kSize() == 1
	for i := range g.nd {
		direct = direct && g.s[i] == 1 && g.pb[i] == 0 && g.pe[i] == 0
	}
	rowLen := outSize / g.o[0] // output positions per index of the first spatial axis
	band := min(g.o[0], max(1, p.colBudget/max(1, rows*rowLen)))
	var col []T
	if !direct {
		col = ScratchSlice[T](sc, rows*band*rowLen)
	}
	for n := range p.n {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("Conv: %w", err)
		}
		for gi := range p.groups {
			xg := x[(n*p.c+gi*cg)*inSize : (n*p.c+(gi+1)*cg)*inSize]
			wg := w[gi*mg*rows : (gi+1)*mg*rows]
			yg := y[(n*p.m+gi*mg)*outSize : (n*p.m+(gi+1)*mg)*outSize]
			var beta T
			if b != nil {
				for m := range mg {
					fill(yg[m*outSize:(m+1)*outSize], b[gi*mg+m])
				}
				beta = 1
			}
			if direct {
				kernels.Gemm(false, false, mg, outSize, cg, 1, wg, cg, xg, inSize, beta, yg, outSize)
				continue
			}
			for o0 := 0; o0 < g.o[0]; o0 += band {
				o1 := min(o0+band, g.o[0])
				cols := (o1 - o0) * rowLen
				im2col(col[:rows*cols], xg, g, cg, o0, o1)
				kernels.Gemm(false, false, mg, cols, rows, 1, wg, rows, col, cols, beta, yg[o0*rowLen:], outSize)
			}
		}
	}
	return nil
}

func fill[T any](s []T, v T) {
	for i := range s {
		s[i] = v
	}
}

// im2col writes the lowered input for output positions whose first spatial
// index is in [o0, o1): one row per (channel, kernel offset), one column per
// output position, zero where the kernel reaches into padding.
func im2col[T kernels.Float](col, x []T, g *geometry, channels, o0, o1 int) {
	inSize, kSize := g.inSize(), g.kSize()
	cols := len(col) / max(1, channels*kSize)
	var k [tensor.MaxRank]int
	row := 0
	for c := range channels {
		xc := x[c*inSize : (c+1)*inSize]
		for range kSize {
			im2colRow(col[row*cols:(row+1)*cols], xc, g, &k, o0, o1)
			row++
			for j := g.nd - 1; j >= 0; j-- { // next kernel offset
				if k[j]++; k[j] < g.k[j] {
					break
				}
				k[j] = 0
			}
		}
	}
}

// im2colRow fills one im2col row: the input values that kernel offset k
// meets at each output position.
func im2colRow[T kernels.Float](dst, xc []T, g *geometry, k *[tensor.MaxRank]int, o0, o1 int) {
	last := g.nd - 1
	lastOff := k[last]*g.d[last] - g.pb[last]
	if last == 0 {
		gather(dst, xc, o1-o0, g.s[0], o0*g.s[0]+lastOff)
		return
	}
	var o, stride [tensor.MaxRank]int
	acc := 1
	for j := last; j >= 0; j-- {
		stride[j] = acc
		acc *= g.in[j]
	}
	o[0] = o0
	n, pos := g.o[last], 0
	for {
		base, inside := 0, true
		for j := range last {
			i := o[j]*g.s[j] + k[j]*g.d[j] - g.pb[j]
			if i < 0 || i >= g.in[j] {
				inside = false
				break
			}
			base += i * stride[j]
		}
		seg := dst[pos : pos+n]
		if inside {
			gather(seg, xc[base:base+g.in[last]], n, g.s[last], lastOff)
		} else {
			clear(seg)
		}
		pos += n
		j := last - 1
		for ; j > 0; j-- { // next output position of the outer axes
			if o[j]++; o[j] < g.o[j] {
				break
			}
			o[j] = 0
		}
		if j == 0 {
			if o[0]++; o[0] >= o1 {
				return
			}
		}
	}
}

// gather sets dst[i] = src[i·step+off] for i < n, or 0 where that index
// falls outside src (padding).
func gather[T kernels.Float](dst, src []T, n, step, off int) {
	dst = dst[:n]
	lo := 0
	if off < 0 {
		lo = min(n, (-off+step-1)/step)
	}
	hi := 0
	if last := len(src) - 1 - off; last >= 0 {
		hi = min(n, last/step+1)
	}
	hi = max(hi, lo)
	clear(dst[:lo])
	if step == 1 {
		copy(dst[lo:hi], src[lo+off:hi+off])
	} else {
		for i := lo; i < hi; i++ {
			dst[i] = src[i*step+off]
		}
	}
	clear(dst[hi:])
}
