package ops_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

type spConvTCase struct {
	group                     int
	s, d, pads, outPad, shape []int
	autoPad                   string
}

// refConvTranspose scatters every input element times every filter tap
// to the output position i·s + k·d − pad_begin, from the spec's formulas.
func refConvTranspose(x, w, b []float64, xs, ws []int, c spConvTCase) ([]float64, []int) {
	nd := len(xs) - 2
	m := ws[1] * c.group
	out := []int{xs[0], m}
	pb := make([]int, nd)
	for i := range nd {
		op := 0
		if c.outPad != nil {
			op = c.outPad[i]
		}
		full := c.s[i]*(xs[i+2]-1) + op + (ws[i+2]-1)*c.d[i] + 1
		size := -1
		if c.shape != nil {
			size = c.shape[i]
		} else if c.autoPad == "SAME_UPPER" || c.autoPad == "SAME_LOWER" {
			size = xs[i+2] * c.s[i]
		}
		if size >= 0 {
			total := full - size
			half := int(math.Floor(float64(total) / 2))
			if c.autoPad == "SAME_UPPER" {
				pb[i] = half
			} else {
				pb[i] = total - half
			}
			out = append(out, size)
			continue
		}
		pe := 0
		if c.pads != nil {
			pb[i], pe = c.pads[i], c.pads[i+nd]
		}
		out = append(out, full-pb[i]-pe)
	}
	y := make([]float64, spProd(out))
	cg, mg := xs[1]/c.group, m/c.group
	outPlane, inPlane, kPlane := spProd(out[2:]), spProd(xs[2:]), spProd(ws[2:])
	for n := range xs[0] {
		for oc := range m {
			for o := range outPlane {
				if b != nil {
					y[(n*m+oc)*outPlane+o] = b[oc]
				}
			}
		}
		for g := range c.group {
			for ci := range cg {
				ch := g*cg + ci
				ii := make([]int, nd)
				for ip := range inPlane {
					xv := x[(n*xs[1]+ch)*inPlane+ip]
					kk := make([]int, nd)
					for kp := range kPlane {
						pos, inside := make([]int, nd), true
						for j := range nd {
							pos[j] = ii[j]*c.s[j] + kk[j]*c.d[j] - pb[j]
							inside = inside && pos[j] >= 0 && pos[j] < out[j+2]
						}
						if inside {
							for mi := range mg {
								wv := w[(ch*mg+mi)*kPlane+kp]
								y[(n*m+g*mg+mi)*outPlane+spOffset(pos, out[2:])] += xv * wv
							}
						}
						spNext(kk, ws[2:])
					}
					spNext(ii, xs[2:])
				}
			}
		}
	}
	return y, out
}

func TestSpatialConvTransposeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for it := range 200 {
		nd := 1 + r.IntN(3)
		c := spConvTCase{group: spPick(r, 1, 1, 2, 3)}
		xs := []int{spPick(r, 1, 2), c.group * spPick(r, 1, 2)}
		ws := []int{xs[1], spPick(r, 1, 2, 3)}
		for range nd {
			xs = append(xs, spPick(r, 1, 2, 3, 5, 7))
			ws = append(ws, 1+r.IntN(3))
			c.s = append(c.s, 1+r.IntN(3))
			c.d = append(c.d, 1+r.IntN(2))
		}
		attrs := []*graph.Attr{graph.IntAttr("group", int64(c.group)), graph.IntsAttr("strides", spInts(c.s)...), graph.IntsAttr("dilations", spInts(c.d)...)}
		if r.IntN(2) == 0 {
			for i := range nd {
				c.outPad = append(c.outPad, r.IntN(max(c.s[i], c.d[i])))
			}
			attrs = append(attrs, graph.IntsAttr("output_padding", spInts(c.outPad)...))
		}
		switch r.IntN(4) {
		case 0:
			for range 2 * nd {
				c.pads = append(c.pads, r.IntN(2))
			}
			attrs = append(attrs, graph.IntsAttr("pads", spInts(c.pads)...))
		case 1:
			for i := range nd {
				c.shape = append(c.shape, max(1, xs[i+2]*c.s[i]+r.IntN(5)-2))
			}
			attrs = append(attrs, graph.IntsAttr("output_shape", spInts(c.shape)...))
		case 2:
			c.autoPad = spPickS(r, "SAME_UPPER", "SAME_LOWER", "VALID")
			attrs = append(attrs, graph.StringAttr("auto_pad", c.autoPad))
		}
		if r.IntN(3) == 0 {
			attrs = append(attrs, graph.IntsAttr("kernel_shape", spInts(ws[2:])...))
		}
		x, w := spRandom(r, spProd(xs), true), spRandom(r, spProd(ws), true)
		var b []float64
		in := []*tensor.Tensor{nil, nil}
		if r.IntN(2) == 0 {
			b = spRandom(r, ws[1]*c.group, true)
		}
		want, outShape := refConvTranspose(x, w, b, xs, ws, c)
		dt := []tensor.DType{tensor.Float32, tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16}[r.IntN(5)]
		opset := int64(11)
		if dt == tensor.BFloat16 {
			opset = 22
		}
		in[0], in[1] = spTensor(dt, xs, x), spTensor(dt, ws, w)
		if b != nil {
			in = append(in, spTensor(dt, []int{len(b)}, b))
		}
		if dt == tensor.Float16 || dt == tensor.BFloat16 {
			// Sums of many products round differently in 16 bits; compare
			// only small problems there, whose sums stay exact in float32.
			if spProd(ws) > 40 {
				dt = tensor.Float32
				in[0], in[1] = spTensor(dt, xs, x), spTensor(dt, ws, w)
				if b != nil {
					in[2] = spTensor(dt, []int{len(b)}, b)
				}
			}
		}
		t.Run(fmt.Sprintf("%d_%v_%v", it, xs, ws), func(t *testing.T) {
			spCheck(t, "ConvTranspose", opset, attrs, spTensor(dt, outShape, want), in...)
		})
	}
}

func spPickS(r *rand.Rand, vs ...string) string { return vs[r.IntN(len(vs))] }

func TestSpatialConvTransposeErrors(t *testing.T) {
	x := f32(tensor.Shape{1, 2, 3}, 1, 2, 3, 4, 5, 6)
	w := f32(tensor.Shape{2, 1, 2}, 1, 1, 1, 1)
	runCases(t, []opCase{
		{name: "channels mismatch", op: "ConvTranspose", opset: 11, in: []*tensor.Tensor{x, f32(tensor.Shape{3, 1, 2}, 1, 1, 1, 1, 1, 1)}, kind: fault.Invalid},
		{name: "group does not divide", op: "ConvTranspose", opset: 11, attrs: []*graph.Attr{graph.IntAttr("group", 3)}, in: []*tensor.Tensor{x, w}, kind: fault.Invalid},
		{name: "bias size", op: "ConvTranspose", opset: 11, in: []*tensor.Tensor{x, w, f32(tensor.Shape{2}, 1, 2)}, kind: fault.Invalid},
		{name: "pads too large", op: "ConvTranspose", opset: 11, attrs: []*graph.Attr{graph.IntsAttr("pads", 3, 3)}, in: []*tensor.Tensor{x, w}, kind: fault.Invalid},
		{name: "rank mismatch", op: "ConvTranspose", opset: 11, in: []*tensor.Tensor{x, f32(tensor.Shape{2, 1}, 1, 1)}, kind: fault.Invalid},
		{name: "output_shape rank", op: "ConvTranspose", opset: 11, attrs: []*graph.Attr{graph.IntsAttr("output_shape", 4, 4)}, in: []*tensor.Tensor{x, w}, kind: fault.Invalid},
		{name: "output_shape with N and C", op: "ConvTranspose", opset: 1, attrs: []*graph.Attr{graph.IntsAttr("output_shape", 1, 1, 4)},
			in: []*tensor.Tensor{x, w}, want: []*tensor.Tensor{f32(tensor.Shape{1, 1, 4}, 5, 12, 16, 9)}},
		{name: "empty spatial", op: "ConvTranspose", opset: 11, in: []*tensor.Tensor{f32(tensor.Shape{1, 2, 0}), w},
			want: []*tensor.Tensor{f32(tensor.Shape{1, 1, 1}, 0)}},
	})
}

// refCol2Im adds every column block element back to its image position.
func refCol2Im(x []float64, xs, img, block, s, d, pads []int) ([]float64, []int) {
	nd := len(img)
	kSize := spProd(block)
	c := xs[1] / kSize
	grid := make([]int, nd)
	for i := range nd {
		grid[i] = (img[i]+pads[i]+pads[i+nd]-(block[i]-1)*d[i]-1)/s[i] + 1
	}
	out := append([]int{xs[0], c}, img...)
	y := make([]float64, spProd(out))
	for n := range xs[0] {
		for ch := range c {
			kk := make([]int, nd)
			for kf := range kSize {
				gg := make([]int, nd)
				for l := range spProd(grid) {
					pos, inside := make([]int, nd), true
					for j := range nd {
						pos[j] = gg[j]*s[j] + kk[j]*d[j] - pads[j]
						inside = inside && pos[j] >= 0 && pos[j] < img[j]
					}
					if inside {
						y[(n*c+ch)*spProd(img)+spOffset(pos, img)] += x[((n*xs[1])+ch*kSize+kf)*xs[2]+l]
					}
					spNext(gg, grid)
				}
				spNext(kk, block)
			}
		}
	}
	return y, out
}

func TestSpatialCol2ImRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 2))
	for it := range 100 {
		nd := 1 + r.IntN(3)
		var img, block, s, d, pads []int
		grid := 1
		for range nd {
			block = append(block, 1+r.IntN(3))
			s = append(s, 1+r.IntN(2))
			d = append(d, 1+r.IntN(2))
		}
		for range 2 * nd {
			pads = append(pads, r.IntN(2))
		}
		for i := range nd {
			ext := (block[i]-1)*d[i] + 1
			img = append(img, max(1, ext-pads[i]-pads[i+nd])+r.IntN(4))
			grid *= (img[i]+pads[i]+pads[i+nd]-ext)/s[i] + 1
		}
		c := spPick(r, 1, 2, 3)
		xs := []int{spPick(r, 1, 2), c * spProd(block), grid}
		dt := []tensor.DType{tensor.Float32, tensor.Float64, tensor.Int32, tensor.Uint8, tensor.Float16}[r.IntN(5)]
		x := spRandom(r, spProd(xs), true)
		if dt == tensor.Int32 || dt == tensor.Uint8 {
			for i := range x {
				x[i] = float64(r.IntN(9))
			}
		}
		want, outShape := refCol2Im(x, xs, img, block, s, d, pads)
		attrs := []*graph.Attr{graph.IntsAttr("strides", spInts(s)...), graph.IntsAttr("dilations", spInts(d)...), graph.IntsAttr("pads", spInts(pads)...)}
		t.Run(fmt.Sprintf("%d_%v_%v", it, img, block), func(t *testing.T) {
			spCheck(t, "Col2Im", 18, attrs, spTensor(dt, outShape, want),
				spTensor(dt, xs, x), i64(tensor.Shape{nd}, spInts(img)...), i64(tensor.Shape{nd}, spInts(block)...))
		})
	}
}

func TestSpatialCol2ImCases(t *testing.T) {
	runCases(t, []opCase{
		{name: "bool is or", op: "Col2Im", opset: 18,
			in:   []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1, 2, 2}, []bool{true, false, true, false}), i64(tensor.Shape{1}, 3), i64(tensor.Shape{1}, 2)},
			want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1, 1, 3}, []bool{true, true, false})}},
		{name: "wrong block count", op: "Col2Im", opset: 18,
			in: []*tensor.Tensor{f32(tensor.Shape{1, 2, 3}, 1, 2, 3, 4, 5, 6), i64(tensor.Shape{1}, 3), i64(tensor.Shape{1}, 2)}, kind: fault.Invalid},
		{name: "channels not a multiple", op: "Col2Im", opset: 18,
			in: []*tensor.Tensor{f32(tensor.Shape{1, 3, 2}, 1, 2, 3, 4, 5, 6), i64(tensor.Shape{1}, 3), i64(tensor.Shape{1}, 2)}, kind: fault.Invalid},
		{name: "shape lengths differ", op: "Col2Im", opset: 18,
			in: []*tensor.Tensor{f32(tensor.Shape{1, 2, 2}, 1, 2, 3, 4), i64(tensor.Shape{2}, 3, 1), i64(tensor.Shape{1}, 2)}, kind: fault.Invalid},
		{name: "zero block", op: "Col2Im", opset: 18,
			in: []*tensor.Tensor{f32(tensor.Shape{1, 2, 2}, 1, 2, 3, 4), i64(tensor.Shape{1}, 3), i64(tensor.Shape{1}, 0)}, kind: fault.Invalid},
		{name: "huge blocks", op: "Col2Im", opset: 18,
			in: []*tensor.Tensor{f32(tensor.Shape{1, 2, 2}, 1, 2, 3, 4), i64(tensor.Shape{3}, 3, 3, 3), i64(tensor.Shape{3}, 1<<30, 1<<30, 1<<30)}, kind: fault.Invalid},
	})
}

// refDeformConv samples every kernel tap at its offset position with
// bilinear interpolation (zero outside) and convolves.
func refDeformConv(x, w, off, b, mask []float64, xs, ws []int, group, og int, s, d, pads []int) ([]float64, []int) {
	nd := len(xs) - 2
	out := []int{xs[0], ws[0]}
	for i := range nd {
		out = append(out, (xs[i+2]+pads[i]+pads[i+nd]-(ws[i+2]-1)*d[i]-1)/s[i]+1)
	}
	y := make([]float64, spProd(out))
	kSize, inPlane, outPlane := spProd(ws[2:]), spProd(xs[2:]), spProd(out[2:])
	cg, mg, cog := xs[1]/group, ws[0]/group, xs[1]/og
	sample := func(plane []float64, pos []float64) float64 {
		v := 0.0
		for corner := range 1 << nd {
			wt, idx, inside := 1.0, make([]int, nd), true
			for j := range nd {
				f := math.Floor(pos[j])
				idx[j] = int(f)
				if corner>>j&1 == 1 {
					idx[j]++
					wt *= pos[j] - f
				} else {
					wt *= 1 - (pos[j] - f)
				}
				inside = inside && idx[j] >= 0 && idx[j] < xs[j+2]
			}
			if inside {
				v += wt * plane[spOffset(idx, xs[2:])]
			}
		}
		return v
	}
	for n := range xs[0] {
		for m := range ws[0] {
			g := m / mg
			oo := make([]int, nd)
			for o := range outPlane {
				acc := 0.0
				if b != nil {
					acc = b[m]
				}
				for ci := range cg {
					ch := g*cg + ci
					ogi := ch / cog
					kk := make([]int, nd)
					for kf := range kSize {
						pos := make([]float64, nd)
						for j := range nd {
							dv := off[((n*og+ogi)*kSize*nd+kf*nd+j)*outPlane+o]
							pos[j] = float64(oo[j]*s[j]-pads[j]+kk[j]*d[j]) + dv
						}
						mv := 1.0
						if mask != nil {
							mv = mask[((n*og+ogi)*kSize+kf)*outPlane+o]
						}
						acc += w[(m*cg+ci)*kSize+kf] * mv * sample(x[(n*xs[1]+ch)*inPlane:(n*xs[1]+ch+1)*inPlane], pos)
						spNext(kk, ws[2:])
					}
				}
				y[(n*ws[0]+m)*outPlane+o] = acc
				spNext(oo, out[2:])
			}
		}
	}
	return y, out
}

func TestSpatialDeformConvRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for it := range 100 {
		nd := 1 + r.IntN(3)
		group, og := spPick(r, 1, 2), spPick(r, 1, 2)
		c := group * og * spPick(r, 1, 2)
		xs := []int{spPick(r, 1, 2), c}
		ws := []int{group * spPick(r, 1, 2), c / group}
		var s, d, pads []int
		for range nd {
			ws = append(ws, 1+r.IntN(3))
			s = append(s, 1+r.IntN(2))
			d = append(d, 1+r.IntN(2))
		}
		for range 2 * nd {
			pads = append(pads, r.IntN(2))
		}
		for i := range nd {
			xs = append(xs, (ws[i+2]-1)*d[i]+1+r.IntN(4))
		}
		outSp := make([]int, nd)
		for i := range nd {
			outSp[i] = (xs[i+2]+pads[i]+pads[i+nd]-(ws[i+2]-1)*d[i]-1)/s[i] + 1
		}
		kSize := spProd(ws[2:])
		offShape := append([]int{xs[0], og * kSize * nd}, outSp...)
		// Every third case uses values on a 1/4 grid, whose products and
		// sums float32 holds exactly, and checks float32 as well.
		coarse := it%3 == 0
		rnd := func(n int) []float64 {
			v := spRandom(r, n, false)
			if coarse {
				for i := range v {
					v[i] = math.Round(v[i]*4) / 4
				}
			}
			return v
		}
		x, w, off := rnd(spProd(xs)), rnd(spProd(ws)), rnd(spProd(offShape))
		if r.IntN(4) == 0 {
			clear(off) // plain convolution
		}
		var b, mask []float64
		in := []*tensor.Tensor{spTensor(tensor.Float64, xs, x), spTensor(tensor.Float64, ws, w), spTensor(tensor.Float64, offShape, off)}
		if r.IntN(2) == 0 {
			b = rnd(ws[0])
			in = append(in, spTensor(tensor.Float64, []int{ws[0]}, b))
		}
		if r.IntN(2) == 0 {
			maskShape := append([]int{xs[0], og * kSize}, outSp...)
			mask = rnd(spProd(maskShape))
			if b == nil {
				in = append(in, nil)
			}
			in = append(in, spTensor(tensor.Float64, maskShape, mask))
		}
		want, outShape := refDeformConv(x, w, off, b, mask, xs, ws, group, og, s, d, pads)
		attrs := []*graph.Attr{graph.IntAttr("group", int64(group)), graph.IntAttr("offset_group", int64(og)),
			graph.IntsAttr("strides", spInts(s)...), graph.IntsAttr("dilations", spInts(d)...), graph.IntsAttr("pads", spInts(pads)...)}
		t.Run(fmt.Sprintf("%d_%v_%v", it, xs, ws), func(t *testing.T) {
			spCheck(t, "DeformConv", 19, attrs, spTensor(tensor.Float64, outShape, want), in...)
			if coarse {
				in32 := make([]*tensor.Tensor, len(in))
				for i, tt := range in {
					if tt != nil {
						in32[i] = spTensor(tensor.Float32, tt.Shape, spValues(tt))
					}
				}
				spCheck(t, "DeformConv", 19, attrs, spTensor(tensor.Float32, outShape, want), in32...)
			}
		})
	}
}

func TestSpatialDeformConvErrors(t *testing.T) {
	x := f32(tensor.Shape{1, 1, 3}, 1, 2, 3)
	w := f32(tensor.Shape{1, 1, 2}, 1, 1)
	runCases(t, []opCase{
		{name: "offset channels", op: "DeformConv", opset: 19, in: []*tensor.Tensor{x, w, f32(tensor.Shape{1, 1, 2}, 0, 0)}, kind: fault.Invalid},
		{name: "offset spatial", op: "DeformConv", opset: 19, in: []*tensor.Tensor{x, w, f32(tensor.Shape{1, 2, 3}, 0, 0, 0, 0, 0, 0)}, kind: fault.Invalid},
		{name: "mask shape", op: "DeformConv", opset: 19, in: []*tensor.Tensor{x, w, f32(tensor.Shape{1, 2, 2}, 0, 0, 0, 0), nil, f32(tensor.Shape{1, 1, 3}, 1, 1, 1)}, kind: fault.Invalid},
		{name: "offset_group does not divide", op: "DeformConv", opset: 19, attrs: []*graph.Attr{graph.IntAttr("offset_group", 2)}, in: []*tensor.Tensor{x, w, f32(tensor.Shape{1, 4, 2}, 0, 0, 0, 0, 0, 0, 0, 0)}, kind: fault.Invalid},
		{name: "half offsets", op: "DeformConv", opset: 22, in: []*tensor.Tensor{f16(tensor.Shape{1, 1, 3}, 1, 2, 3), f16(tensor.Shape{1, 1, 2}, 1, 1), f16(tensor.Shape{1, 2, 2}, 0.5, 0, 0, 0)},
			want: []*tensor.Tensor{f16(tensor.Shape{1, 1, 2}, 3.5, 5)}},
	})
}
