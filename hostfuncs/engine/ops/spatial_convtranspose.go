package ops

import (
	"context"
	"fmt"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func convTransposeSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("X:T", "W:T", "B:T?"), Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": ts},
			Attrs: []string{"auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape", "pads", "strides"},
			Build: buildConvTranspose,
		}
	}
	return []Schema{v(1, floats()), v(11, floats()), v(22, floatsBF16())}
}

type convTranspose struct {
	w         window
	group     int
	outPad    []int // nil: zeros
	outShape  []int // nil: computed from the pads
	colBudget int
}

func buildConvTranspose(n *graph.Node, _ int64) (Kernel, error) {
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
	k := convTranspose{w: w, group: int(g), colBudget: colBudget}
	if k.outPad, err = intsAtLeast(n, "output_padding", 0); err != nil {
		return nil, err
	}
	if k.outShape, err = intsAtLeast(n, "output_shape", 0); err != nil {
		return nil, err
	}
	return k, nil
}

func (k convTranspose) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, w := in[0], in[1]
	var b *tensor.Tensor
	if len(in) > 2 {
		b = in[2]
	}
	m, err := k.check(x, w, b)
	if err != nil {
		return fmt.Errorf("ConvTranspose: %w", err)
	}
	geom, err := k.resolve(x.Shape[2:], w.Shape[2:])
	if err != nil {
		return fmt.Errorf("ConvTranspose: %w", err)
	}
	var shapeBuf [tensor.MaxRank]int
	shape := append(shapeBuf[:0], x.Shape[0], m)
	shape = append(shape, geom.img[:geom.nd]...)
	y, err := Output(ctx, out[0], x.DType, shape)
	if err != nil {
		return err
	}
	out[0] = y
	p := convTransposeProblem{g: &geom, n: x.Shape[0], c: x.Shape[1], m: m, groups: k.group, colBudget: k.colBudget}
	sc := ScratchFrom(ctx)
	switch x.DType {
	case tensor.Float32:
		return convTransposeFloat(ctx, sc, &p, tensor.Values[float32](x), tensor.Values[float32](w), values[float32](b), tensor.Values[float32](y))
	case tensor.Float64:
		return convTransposeFloat(ctx, sc, &p, tensor.Values[float64](x), tensor.Values[float64](w), values[float64](b), tensor.Values[float64](y))
	case tensor.Float16, tensor.BFloat16:
		xf, wf, yf := ScratchSlice[float32](sc, x.Len()), ScratchSlice[float32](sc, w.Len()), ScratchSlice[float32](sc, y.Len())
		var bf []float32
		widen(xf, x)
		widen(wf, w)
		if b != nil {
			bf = ScratchSlice[float32](sc, b.Len())
			widen(bf, b)
		}
		if err := convTransposeFloat(ctx, sc, &p, xf, wf, bf, yf); err != nil {
			return err
		}
		narrow(y, yf)
		return nil
	}
	return fault.Errorf(fault.Unsupported, "ConvTranspose of %s", x.DType.ONNXName())
}

// check validates the operands against each other and the group, and
// returns the number of output feature maps.
func (k convTranspose) check(x, w, b *tensor.Tensor) (int, error) {
	if w.DType != x.DType || (b != nil && b.DType != x.DType) {
		return 0, fault.Errorf(fault.Invalid, "X, W and B must share a dtype")
	}
	if len(x.Shape) < 3 || len(w.Shape) != len(x.Shape) {
		return 0, fault.Errorf(fault.Invalid, "X %v and W %v must have the same rank, at least 3", []int(x.Shape), []int(w.Shape))
	}
	c := x.Shape[1]
	if w.Shape[0] != c {
		return 0, fault.Errorf(fault.Invalid, "W %v must have X's %d channels as its first dimension", []int(w.Shape), c)
	}
	if c%k.group != 0 {
		return 0, fault.Errorf(fault.Invalid, "X's %d channels are not divisible by group %d", c, k.group)
	}
	if w.Shape[1] > tensor.MaxElements/k.group {
		return 0, fault.Errorf(fault.TooLarge, "W %v with group %d has too many feature maps", []int(w.Shape), k.group)
	}
	m := w.Shape[1] * k.group
	if k.w.kernel != nil && !tensor.Shape(k.w.kernel).Equal(w.Shape[2:]) {
		return 0, fault.Errorf(fault.Invalid, "kernel_shape %v does not match W %v", k.w.kernel, []int(w.Shape))
	}
	if b != nil && (len(b.Shape) != 1 || b.Shape[0] != m) {
		return 0, fault.Errorf(fault.Invalid, "B %v must be 1-D of size %d", []int(b.Shape), m)
	}
	return m, nil
}

// resolve computes each spatial axis's output size and the padding cut from
// the start of the full transposed convolution, whose size is
// s·(in−1) + output_padding + (k−1)·d + 1. output_shape, or SAME auto_pad's
// in·s, fixes the size and the padding follows: total = full − size, split
// with the odd unit at the end for SAME_UPPER and at the start otherwise.
// A negative total (a size beyond the full result) leaves zeros at the end.
func (k convTranspose) resolve(in, kern []int) (spatialScatterGeom, error) {
	var g spatialScatterGeom
	nd := len(in)
	g.nd = nd
	for _, a := range k.w.axes() {
		if a.n != 0 && a.n != nd {
			return g, fault.Errorf(fault.Invalid, "%s has %d spatial axes, the input has %d", a.name, a.n, nd)
		}
	}
	if k.outPad != nil && len(k.outPad) != nd {
		return g, fault.Errorf(fault.Invalid, "output_padding has %d values, the input has %d spatial axes", len(k.outPad), nd)
	}
	outShape := k.outShape
	if len(outShape) == nd+2 { // some exporters give the whole shape
		outShape = outShape[2:]
	}
	if outShape != nil && len(outShape) != nd {
		return g, fault.Errorf(fault.Invalid, "output_shape has %d values, the input has %d spatial axes", len(k.outShape), nd)
	}
	for i := range nd {
		g.grid[i], g.k[i], g.s[i], g.d[i] = in[i], kern[i], 1, 1
		if k.w.strides != nil {
			g.s[i] = k.w.strides[i]
		}
		if k.w.dilations != nil {
			g.d[i] = k.w.dilations[i]
		}
		op := 0
		if k.outPad != nil {
			op = k.outPad[i]
		}
		// Every factor is at most MaxElements, so the products fit in an
		// int64 before the check.
		full := g.s[i]*(in[i]-1) + op + (kern[i]-1)*g.d[i] + 1
		if full > tensor.MaxElements {
			return g, fault.Errorf(fault.TooLarge, "spatial axis %d: the output size overflows", i)
		}
		size := -1
		switch {
		case outShape != nil:
			size = outShape[i]
		case k.w.autoPad == padSameUpper || k.w.autoPad == padSameLower:
			if in[i] > tensor.MaxElements/g.s[i] {
				return g, fault.Errorf(fault.TooLarge, "spatial axis %d: the output size overflows", i)
			}
			size = in[i] * g.s[i]
		}
		if size >= 0 {
			if full < 0 {
				return g, fault.Errorf(fault.Invalid, "spatial axis %d: an empty input has no transposed convolution", i)
			}
			total := full - size
			half := total >> 1 // floor division, also for a negative total
			if k.w.autoPad == padSameUpper {
				g.pb[i] = half
			} else {
				g.pb[i] = total - half
			}
			g.img[i] = size
			continue
		}
		pe := 0
		if k.w.pads != nil {
			g.pb[i], pe = k.w.pads[i], k.w.pads[i+nd]
		}
		g.img[i] = full - g.pb[i] - pe
		if g.img[i] < 0 || full < 0 {
			return g, fault.Errorf(fault.Invalid, "spatial axis %d: pads %d+%d exceed the full output size %d", i, g.pb[i], pe, full)
		}
	}
	return g, nil
}

type convTransposeProblem struct {
	g                          *spatialScatterGeom
	n, c, m, groups, colBudget int
}

// convTransposeFloat computes, for each (image, group), the products of
// every input position with the group's filters as one GEMM, Wᵀ
// (M/G·K × C/G) times X (C/G × positions), and scatters them into the
// output with col2im. Large inputs go a band of positions at a time so the
// column buffer stays within colBudget.
func convTransposeFloat[T kernels.Float](ctx context.Context, sc *Scratch, p *convTransposeProblem, x, w, b, y []T) error {
	g := p.g
	cg, mg := p.c/p.groups, p.m/p.groups
	inSize, outSize, rows := g.gridSize(), g.imgSize(), mg*g.kSize()
	band := min(inSize, max(1, p.colBudget/max(1, rows)))
	var col []T
	if cg > 0 && rows > 0 && outSize > 0 {
		col = ScratchSlice[T](sc, rows*band)
	}
	for n := range p.n {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ConvTranspose: %w", err)
		}
		for gi := range p.groups {
			yg := y[(n*p.m+gi*mg)*outSize : (n*p.m+(gi+1)*mg)*outSize]
			if b != nil {
				for m := range mg {
					fill(yg[m*outSize:(m+1)*outSize], b[gi*mg+m])
				}
			} else {
				clear(yg)
			}
			if col == nil {
				continue
			}
			xg := x[(n*p.c+gi*cg)*inSize : (n*p.c+(gi+1)*cg)*inSize]
			wg := w[gi*cg*rows : (gi+1)*cg*rows]
			for p0 := 0; p0 < inSize; p0 += band {
				p1 := min(p0+band, inSize)
				nb := p1 - p0
				kernels.Gemm(true, false, rows, nb, cg, 1, wg, rows, xg[p0:], inSize, 0, col, nb)
				spatialScatter(yg, col, nb, g, mg, p0, p1)
			}
		}
	}
	return nil
}
