package ops

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func deformConvSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("X:T", "W:T", "offset:T", "B:T?", "mask:T?"), Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": ts},
			Attrs: []string{"dilations", "group", "kernel_shape", "offset_group", "pads", "strides"},
			Build: buildDeformConv,
		}
	}
	return []Schema{v(19, floats()), v(22, floatsBF16())}
}

type deformConv struct {
	w                window
	group, offGroups int
	colBudget        int
}

func buildDeformConv(n *graph.Node, _ int64) (Kernel, error) {
	w, err := readWindow(n)
	if err != nil {
		return nil, err
	}
	k := deformConv{w: w, colBudget: colBudget}
	for _, a := range []struct {
		name string
		dst  *int
	}{{"group", &k.group}, {"offset_group", &k.offGroups}} {
		v, err := n.AttrInt(a.name, 1)
		if err != nil {
			return nil, err
		}
		if v < 1 || v > tensor.MaxElements {
			return nil, fault.Errorf(fault.Invalid, "%s must be at least 1, got %d", a.name, v)
		}
		*a.dst = int(v)
	}
	return k, nil
}

func (k deformConv) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, w, off := in[0], in[1], in[2]
	var b, mask *tensor.Tensor
	if len(in) > 3 {
		b = in[3]
	}
	if len(in) > 4 {
		mask = in[4]
	}
	geom, err := k.check(x, w, off, b, mask)
	if err != nil {
		return fmt.Errorf("DeformConv: %w", err)
	}
	var shapeBuf [tensor.MaxRank]int
	shape := append(shapeBuf[:0], x.Shape[0], w.Shape[0])
	shape = append(shape, geom.o[:geom.nd]...)
	y, err := Output(ctx, out[0], x.DType, shape)
	if err != nil {
		return err
	}
	out[0] = y
	p := deformProblem{g: &geom, n: x.Shape[0], c: x.Shape[1], m: w.Shape[0], groups: k.group, offGroups: k.offGroups, colBudget: k.colBudget}
	sc := ScratchFrom(ctx)
	switch x.DType {
	case tensor.Float32:
		return deformConvFloat(ctx, sc, &p, tensor.Values[float32](x), tensor.Values[float32](w), tensor.Values[float32](off), values[float32](b), values[float32](mask), tensor.Values[float32](y))
	case tensor.Float64:
		return deformConvFloat(ctx, sc, &p, tensor.Values[float64](x), tensor.Values[float64](w), tensor.Values[float64](off), values[float64](b), values[float64](mask), tensor.Values[float64](y))
	case tensor.Float16, tensor.BFloat16:
		wide := func(t *tensor.Tensor) []float32 {
			if t == nil {
				return nil
			}
			f := ScratchSlice[float32](sc, t.Len())
			widen(f, t)
			return f
		}
		xf, wf, of, bf, mf := wide(x), wide(w), wide(off), wide(b), wide(mask)
		yf := ScratchSlice[float32](sc, y.Len())
		if err := deformConvFloat(ctx, sc, &p, xf, wf, of, bf, mf, yf); err != nil {
			return err
		}
		narrow(y, yf)
		return nil
	}
	return fault.Errorf(fault.Unsupported, "DeformConv of %s", x.DType.ONNXName())
}

// check validates the operands and returns the convolution's geometry,
// whose output size the offsets must share.
func (k deformConv) check(x, w, off, b, mask *tensor.Tensor) (geometry, error) {
	var g geometry
	for _, t := range []*tensor.Tensor{w, off, b, mask} {
		if t != nil && t.DType != x.DType {
			return g, fault.Errorf(fault.Invalid, "X, W, offset, B and mask must share a dtype")
		}
	}
	r := len(x.Shape)
	if r < 3 || len(w.Shape) != r {
		return g, fault.Errorf(fault.Invalid, "X %v and W %v must have the same rank, at least 3", []int(x.Shape), []int(w.Shape))
	}
	nd := r - 2
	if nd > 12 {
		return g, fault.Errorf(fault.Unsupported, "%d spatial axes need too many samples per kernel offset", nd)
	}
	c, m := x.Shape[1], w.Shape[0]
	if w.Shape[1]*k.group != c || m%k.group != 0 {
		return g, fault.Errorf(fault.Invalid, "X has %d channels; W %v with group %d does not fit", c, []int(w.Shape), k.group)
	}
	if c%k.offGroups != 0 {
		return g, fault.Errorf(fault.Invalid, "X's %d channels are not divisible by offset_group %d", c, k.offGroups)
	}
	if k.w.kernel != nil && !tensor.Shape(k.w.kernel).Equal(w.Shape[2:]) {
		return g, fault.Errorf(fault.Invalid, "kernel_shape %v does not match W %v", k.w.kernel, []int(w.Shape))
	}
	if b != nil && (len(b.Shape) != 1 || b.Shape[0] != m) {
		return g, fault.Errorf(fault.Invalid, "B %v must be 1-D of size %d", []int(b.Shape), m)
	}
	g, err := k.w.resolve(x.Shape[2:], w.Shape[2:])
	if err != nil {
		return g, err
	}
	kSize := g.kSize()
	want := func(t *tensor.Tensor, name string, perGroup int) error {
		ok := len(t.Shape) == r && t.Shape[0] == x.Shape[0] && t.Shape[1] == k.offGroups*perGroup && tensor.Shape(t.Shape[2:]).Equal(g.o[:nd])
		if !ok {
			return fault.Errorf(fault.Invalid, "%s %v must have shape (%d, %d, %v)", name, []int(t.Shape), x.Shape[0], k.offGroups*perGroup, slices.Clone(g.o[:nd]))
		}
		return nil
	}
	if err := want(off, "offset", kSize*nd); err != nil {
		return g, err
	}
	if mask != nil {
		if err := want(mask, "mask", kSize); err != nil {
			return g, err
		}
	}
	return g, nil
}

type deformProblem struct {
	g                                     *geometry
	n, c, m, groups, offGroups, colBudget int
}

// deformConvFloat lowers each image to a deformed im2col matrix, whose
// element (channel, kernel offset; output position) is the mask times the
// input sampled with N-linear interpolation (zero outside the input) at the
// kernel offset's position moved by its learned offset, and multiplies it
// by each group's filters.
func deformConvFloat[T kernels.Float](ctx context.Context, sc *Scratch, p *deformProblem, x, w, off, b, mask, y []T) error {
	g := p.g
	nd := g.nd
	kSize, inSize, outSize := g.kSize(), g.inSize(), g.outSize()
	cg, mg := p.c/p.groups, p.m/p.groups
	rows := p.c * kSize
	band := min(outSize, max(1, p.colBudget/max(1, rows)))
	col := ScratchSlice[T](sc, rows*band)
	taps := 1 << nd
	tapOff, tapW := ScratchSlice[int64](sc, taps), ScratchSlice[float64](sc, taps)
	var stride [tensor.MaxRank]int
	acc := 1
	for j := nd - 1; j >= 0; j-- {
		stride[j] = acc
		acc *= g.in[j]
	}
	cPerOG := p.c / p.offGroups
	for n := range p.n {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("DeformConv: %w", err)
		}
		yn := y[n*p.m*outSize : (n+1)*p.m*outSize]
		for m := range p.m {
			var v T
			if b != nil {
				v = b[m]
			}
			fill(yn[m*outSize:(m+1)*outSize], v)
		}
		if rows == 0 || outSize == 0 {
			continue
		}
		xn := x[n*p.c*inSize : (n+1)*p.c*inSize]
		for o0 := 0; o0 < outSize; o0 += band {
			o1 := min(o0+band, outSize)
			cols := o1 - o0
			var oc [tensor.MaxRank]int
			rest := o0
			for j := nd - 1; j >= 0; j-- {
				oc[j] = rest % g.o[j]
				rest /= g.o[j]
			}
			for o := o0; o < o1; o++ {
				for og := range p.offGroups {
					var kc [tensor.MaxRank]int
					for kf := range kSize {
						var pos [tensor.MaxRank]float64
						for j := range nd {
							d := off[((n*p.offGroups+og)*kSize*nd+kf*nd+j)*outSize+o]
							pos[j] = float64(oc[j]*g.s[j]-g.pb[j]+kc[j]*g.d[j]) + float64(d)
						}
						scale := 1.0
						if mask != nil {
							scale = float64(mask[((n*p.offGroups+og)*kSize+kf)*outSize+o])
						}
						deformTaps(pos[:nd], g.in[:nd], stride[:nd], tapOff, tapW, scale)
						for c := og * cPerOG; c < (og+1)*cPerOG; c++ {
							xc := xn[c*inSize : (c+1)*inSize]
							v := 0.0
							for t, at := range tapOff {
								if at >= 0 {
									v += tapW[t] * float64(xc[at])
								}
							}
							col[(c*kSize+kf)*cols+o-o0] = T(v)
						}
						for j := nd - 1; j >= 0; j-- {
							if kc[j]++; kc[j] < g.k[j] {
								break
							}
							kc[j] = 0
						}
					}
				}
				for j := nd - 1; j >= 0; j-- {
					if oc[j]++; oc[j] < g.o[j] {
						break
					}
					oc[j] = 0
				}
			}
			for gi := range p.groups {
				wg := w[gi*mg*cg*kSize : (gi+1)*mg*cg*kSize]
				colG := col[gi*cg*kSize*cols : (gi+1)*cg*kSize*cols]
				yg := yn[gi*mg*outSize+o0:]
				kernels.Gemm(false, false, mg, cols, cg*kSize, 1, wg, cg*kSize, colG, cols, 1, yg, outSize)
			}
		}
	}
	return nil
}

// deformTaps writes the 2^nd corners of the N-linear sample at pos, as
// offsets into a plane of the given dims (-1 outside it, which reads as
// zero) with weights multiplied by scale.
func deformTaps(pos []float64, dims, stride []int, tapOff []int64, tapW []float64, scale float64) {
	nd := len(pos)
	var lo [tensor.MaxRank]int
	var frac [tensor.MaxRank]float64
	for j, v := range pos {
		v = gridClampFinite(v)
		f := math.Floor(v)
		lo[j], frac[j] = int(f), v-f
	}
	for t := range tapOff {
		at, wt := 0, scale
		for j := range nd {
			i := lo[j]
			if t>>(nd-1-j)&1 == 1 {
				i++
				wt *= frac[j]
			} else {
				wt *= 1 - frac[j]
			}
			if at < 0 || i < 0 || i >= dims[j] {
				at = -1
				continue
			}
			at += i * stride[j]
		}
		tapOff[t], tapW[t] = int64(at), wt
	}
}
