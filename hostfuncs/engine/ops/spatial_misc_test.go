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

func TestSpatialLRNRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 1))
	for it := range 40 {
		shape := []int{spPick(r, 1, 2), spPick(r, 1, 3, 5, 7)}
		for range r.IntN(3) {
			shape = append(shape, spPick(r, 1, 2, 3))
		}
		size := spPick(r, 1, 2, 3, 5)
		alpha, beta, bias := []float64{1e-4, 0.5}[r.IntN(2)], []float64{0.75, 0.5}[r.IntN(2)], []float64{1, 2}[r.IntN(2)]
		x := spRandom(r, spProd(shape), true)
		c, plane := shape[1], spProd(shape[2:])
		want := make([]float64, len(x))
		for n := range shape[0] {
			for ch := range c {
				for i := range plane {
					sum := 0.0
					for j := max(0, ch-(size-1)/2); j <= min(c-1, ch+int(math.Ceil(float64(size-1)/2))); j++ {
						v := x[(n*c+j)*plane+i]
						sum += v * v
					}
					at := (n*c+ch)*plane + i
					want[at] = x[at] / math.Pow(bias+alpha/float64(size)*sum, beta)
				}
			}
		}
		attrs := []*graph.Attr{graph.IntAttr("size", int64(size)), graph.FloatAttr("alpha", float32(alpha)), graph.FloatAttr("beta", float32(beta)), graph.FloatAttr("bias", float32(bias))}
		dt := []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16}[r.IntN(3)]
		opset := int64(13)
		if dt == tensor.Float64 {
			opset = 1
		}
		t.Run(fmt.Sprint(it), func(t *testing.T) {
			spCheck(t, "LRN", opset, attrs, spTensor(dt, shape, want), spTensor(dt, shape, x))
		})
	}
	n := &graph.Node{Name: "n", OpType: "LRN", Inputs: []string{"x"}, Outputs: []string{"y"}}
	if _, _, err := defaultBuild(n, 13); err == nil || fault.KindOf(err) != fault.Invalid {
		t.Fatalf("LRN without size: got %v, want an invalid error", err)
	}
}

// TestSpatialMaxUnpoolInvertsMaxPool pools random inputs and checks that
// unpooling puts every maximum back where it came from.
func TestSpatialMaxUnpoolInvertsMaxPool(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for it := range 40 {
		nd := 1 + r.IntN(3)
		shape := []int{spPick(r, 1, 2), spPick(r, 1, 3)}
		var k, s []int
		for range nd {
			k = append(k, 1+r.IntN(3))
			s = append(s, 1+r.IntN(3))
		}
		for i := range nd {
			// Sizes the pooling covers exactly, so the unpooled shape is
			// the input's.
			shape = append(shape, k[i]+s[i]*r.IntN(3))
		}
		x := spRandom(r, spProd(shape), false)
		attrs := []*graph.Attr{graph.IntsAttr("kernel_shape", spInts(k)...), graph.IntsAttr("strides", spInts(s)...)}
		pooled, err := runOp(t, "MaxPool", 12, 2, attrs, spTensor(tensor.Float32, shape, x))
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float64, len(x))
		idx := tensor.Values[int64](pooled[1])
		vals := spValues(pooled[0])
		for i, at := range idx {
			want[at] = vals[i]
		}
		t.Run(fmt.Sprint(it), func(t *testing.T) {
			spCheck(t, "MaxUnpool", 11, attrs, spTensor(tensor.Float32, shape, want), pooled[0], pooled[1])
			spCheck(t, "MaxUnpool", 11, attrs, spTensor(tensor.Float32, shape, want), pooled[0], pooled[1], i64(tensor.Shape{len(shape)}, spInts(shape)...))
		})
	}
}

func TestSpatialMaxUnpoolCases(t *testing.T) {
	attrs := []*graph.Attr{graph.IntsAttr("kernel_shape", 2), graph.IntsAttr("strides", 2)}
	x := f32(tensor.Shape{1, 1, 2}, 5, 7)
	runCases(t, []opCase{
		{name: "embedded in a larger output", op: "MaxUnpool", opset: 22, attrs: attrs,
			in:   []*tensor.Tensor{x, i64(tensor.Shape{1, 1, 2}, 1, 2), i64(tensor.Shape{3}, 1, 2, 5)},
			want: []*tensor.Tensor{f32(tensor.Shape{1, 2, 5}, 0, 5, 7, 0, 0, 0, 0, 0, 0, 0)}},
		{name: "float16", op: "MaxUnpool", opset: 22, attrs: attrs,
			in:   []*tensor.Tensor{f16(tensor.Shape{1, 1, 1}, 3), i64(tensor.Shape{1, 1, 1}, 1)},
			want: []*tensor.Tensor{f16(tensor.Shape{1, 1, 2}, 0, 3)}},
		{name: "index out of range", op: "MaxUnpool", opset: 11, attrs: attrs, in: []*tensor.Tensor{x, i64(tensor.Shape{1, 1, 2}, 1, 4)}, kind: fault.Invalid},
		{name: "negative index", op: "MaxUnpool", opset: 11, attrs: attrs, in: []*tensor.Tensor{x, i64(tensor.Shape{1, 1, 2}, -1, 0)}, kind: fault.Invalid},
		{name: "indices shape", op: "MaxUnpool", opset: 11, attrs: attrs, in: []*tensor.Tensor{x, i64(tensor.Shape{1, 2}, 1, 0)}, kind: fault.Invalid},
		{name: "output_shape too small", op: "MaxUnpool", opset: 11, attrs: attrs, in: []*tensor.Tensor{x, i64(tensor.Shape{1, 1, 2}, 1, 0), i64(tensor.Shape{3}, 1, 1, 3)}, kind: fault.Invalid},
		{name: "output_shape length", op: "MaxUnpool", opset: 11, attrs: attrs, in: []*tensor.Tensor{x, i64(tensor.Shape{1, 1, 2}, 1, 0), i64(tensor.Shape{2}, 1, 4)}, kind: fault.Invalid},
	})
}

// refRoiAlign ports the spec's reference (op_roi_align.py).
func refRoiAlign(x []float64, xs []int, rois []float64, bidx []int64, outH, outW, sampling int, scale float64, maxMode, halfPixel bool) []float64 {
	c, h, w := xs[1], xs[2], xs[3]
	y := make([]float64, len(bidx)*c*outH*outW)
	off := 0.0
	if halfPixel {
		off = 0.5
	}
	for n := range bidx {
		sw, sh := rois[n*4]*scale-off, rois[n*4+1]*scale-off
		ew, eh := rois[n*4+2]*scale-off, rois[n*4+3]*scale-off
		rw, rh := ew-sw, eh-sh
		if !halfPixel {
			rw, rh = max(rw, 1), max(rh, 1)
		}
		bh, bw := rh/float64(outH), rw/float64(outW)
		gh, gw := sampling, sampling
		if sampling == 0 {
			gh, gw = int(math.Ceil(rh/float64(outH))), int(math.Ceil(rw/float64(outW)))
		}
		count := float64(max(gh*gw, 1))
		for ch := range c {
			plane := x[(int(bidx[n])*c+ch)*h*w:]
			for ph := range outH {
				for pw := range outW {
					v, first := 0.0, true
					for iy := range gh {
						yy := sh + float64(ph)*bh + (float64(iy)+0.5)*bh/float64(gh)
						for ix := range gw {
							xx := sw + float64(pw)*bw + (float64(ix)+0.5)*bw/float64(gw)
							var terms [4]float64
							if !(yy < -1 || yy > float64(h) || xx < -1 || xx > float64(w)) {
								yv, xv := max(yy, 0), max(xx, 0)
								yl, xl := int(yv), int(xv)
								yh, xh := yl+1, xl+1
								if yl >= h-1 {
									yl, yh, yv = h-1, h-1, float64(h-1)
								}
								if xl >= w-1 {
									xl, xh, xv = w-1, w-1, float64(w-1)
								}
								ly, lx := yv-float64(yl), xv-float64(xl)
								terms = [4]float64{(1 - ly) * (1 - lx) * plane[yl*w+xl], (1 - ly) * lx * plane[yl*w+xh], ly * (1 - lx) * plane[yh*w+xl], ly * lx * plane[yh*w+xh]}
							}
							if !maxMode {
								v += terms[0] + terms[1] + terms[2] + terms[3]
								continue
							}
							m := max(terms[0], terms[1], terms[2], terms[3])
							if first {
								v, first = m, false
							} else {
								v = max(v, m)
							}
						}
					}
					if !maxMode {
						v /= count
					}
					y[((n*c+ch)*outH+ph)*outW+pw] = v
				}
			}
		}
	}
	return y
}

func TestSpatialRoiAlignRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 3))
	for it := range 60 {
		xs := []int{spPick(r, 1, 2), spPick(r, 1, 2), spPick(r, 1, 3, 5, 8), spPick(r, 1, 4, 7)}
		nr := spPick(r, 1, 2, 3)
		rois := make([]float64, 4*nr)
		bidx := make([]int64, nr)
		for i := range nr {
			x1, y1 := r.Float64()*float64(xs[3]+2)-1, r.Float64()*float64(xs[2]+2)-1
			rois[4*i], rois[4*i+1] = x1, y1
			rois[4*i+2], rois[4*i+3] = x1+r.Float64()*5-0.5, y1+r.Float64()*5-0.5
			bidx[i] = int64(r.IntN(xs[0]))
		}
		outH, outW, sampling := spPick(r, 1, 2, 3), spPick(r, 1, 2), spPick(r, 0, 0, 1, 2)
		scale := []float64{1, 0.5, 2}[r.IntN(3)]
		maxMode, half := r.IntN(2) == 0, r.IntN(2) == 0
		x := spRandom(r, spProd(xs), false)
		want := refRoiAlign(x, xs, rois, bidx, outH, outW, sampling, scale, maxMode, half)
		attrs := []*graph.Attr{graph.IntAttr("output_height", int64(outH)), graph.IntAttr("output_width", int64(outW)), graph.IntAttr("sampling_ratio", int64(sampling)),
			graph.FloatAttr("spatial_scale", float32(scale)), graph.StringAttr("mode", map[bool]string{true: "max", false: "avg"}[maxMode]),
			graph.StringAttr("coordinate_transformation_mode", map[bool]string{true: "half_pixel", false: "output_half_pixel"}[half])}
		t.Run(fmt.Sprint(it), func(t *testing.T) {
			spCheck(t, "RoiAlign", 16, attrs, spTensor(tensor.Float64, []int{nr, xs[1], outH, outW}, want),
				spTensor(tensor.Float64, xs, x), spTensor(tensor.Float64, []int{nr, 4}, rois), i64(tensor.Shape{nr}, bidx...))
		})
	}
	x := f32(tensor.Shape{1, 1, 2, 2}, 1, 2, 3, 4)
	roi := f32(tensor.Shape{1, 4}, 0, 0, 1, 1)
	runCases(t, []opCase{
		{name: "opset 10 has no half-pixel shift", op: "RoiAlign", opset: 10, attrs: []*graph.Attr{graph.IntAttr("sampling_ratio", 1)},
			in: []*tensor.Tensor{x, roi, i64(tensor.Shape{1}, 0)}, want: []*tensor.Tensor{f32(tensor.Shape{1, 1, 1, 1}, 2.5)}},
		{name: "batch index out of range", op: "RoiAlign", opset: 16, in: []*tensor.Tensor{x, roi, i64(tensor.Shape{1}, 1)}, kind: fault.Invalid},
		{name: "rois shape", op: "RoiAlign", opset: 16, in: []*tensor.Tensor{x, f32(tensor.Shape{1, 3}, 0, 0, 1), i64(tensor.Shape{1}, 0)}, kind: fault.Invalid},
		{name: "huge region", op: "RoiAlign", opset: 16, in: []*tensor.Tensor{x, f32(tensor.Shape{1, 4}, 0, 0, 1e30, 1e30), i64(tensor.Shape{1}, 0)}, kind: fault.TooLarge},
		{name: "empty map", op: "RoiAlign", opset: 16, in: []*tensor.Tensor{f32(tensor.Shape{1, 1, 0, 2}), roi, i64(tensor.Shape{1}, 0)}, want: []*tensor.Tensor{f32(tensor.Shape{1, 1, 1, 1}, 0)}},
	})
}

func TestSpatialMaxRoiPool(t *testing.T) {
	x := make([]float32, 1*2*4*5)
	for i := range x {
		x[i] = float32((i * 7) % 11)
	}
	xt := f32(tensor.Shape{1, 2, 4, 5}, x...)
	// Region (x 1..3, y 0..2) rounds to itself: 3×3 pixels in 2×2 bins
	// of 1.5: rows [0,2) and [1,3), columns [1,3) and [2,4).
	want := make([]float32, 0, 8)
	for c := range 2 {
		for _, rows := range [][2]int{{0, 2}, {1, 3}} {
			for _, cols := range [][2]int{{1, 3}, {2, 4}} {
				m := float32(math.Inf(-1))
				for i := rows[0]; i < rows[1]; i++ {
					for j := cols[0]; j < cols[1]; j++ {
						m = max(m, x[(c*4+i)*5+j])
					}
				}
				want = append(want, m)
			}
		}
	}
	attrs := []*graph.Attr{graph.IntsAttr("pooled_shape", 2, 2)}
	runCases(t, []opCase{
		{name: "bins", op: "MaxRoiPool", opset: 1, attrs: attrs, in: []*tensor.Tensor{xt, f32(tensor.Shape{1, 5}, 0, 1, 0, 3, 2)},
			want: []*tensor.Tensor{f32(tensor.Shape{1, 2, 2, 2}, want...)}},
		{name: "scaled half away from zero", op: "MaxRoiPool", opset: 22, attrs: append(attrs, graph.FloatAttr("spatial_scale", 0.5)),
			in:   []*tensor.Tensor{xt, f32(tensor.Shape{1, 5}, 0, 1, -1, 5, 3)}, // corners (0.5,-0.5)-(2.5,1.5) round to (1,-1)-(3,2)
			want: []*tensor.Tensor{f32(tensor.Shape{1, 2, 2, 2}, maxRoiRef(x, 2, 4, 5, 1, -1, 3, 2)...)}},
		{name: "outside gives zero", op: "MaxRoiPool", opset: 1, attrs: attrs, in: []*tensor.Tensor{xt, f32(tensor.Shape{1, 5}, 0, 10, 10, 12, 12)},
			want: []*tensor.Tensor{f32(tensor.Shape{1, 2, 2, 2}, 0, 0, 0, 0, 0, 0, 0, 0)}},
		{name: "bad batch", op: "MaxRoiPool", opset: 1, attrs: attrs, in: []*tensor.Tensor{xt, f32(tensor.Shape{1, 5}, 1, 0, 0, 1, 1)}, kind: fault.Invalid},
		{name: "rois shape", op: "MaxRoiPool", opset: 1, attrs: attrs, in: []*tensor.Tensor{xt, f32(tensor.Shape{1, 4}, 0, 0, 1, 1)}, kind: fault.Invalid},
	})
}

// maxRoiRef pools one region of corners (sw, sh)-(ew, eh) into 2×2 bins.
func maxRoiRef(x []float32, c, h, w, sw, sh, ew, eh int) []float32 {
	rw, rh := max(ew-sw+1, 1), max(eh-sh+1, 1)
	bh, bw := float64(rh)/2, float64(rw)/2
	var out []float32
	for ch := range c {
		for ph := range 2 {
			hs, he := min(max(int(math.Floor(float64(ph)*bh))+sh, 0), h), min(max(int(math.Ceil(float64(ph+1)*bh))+sh, 0), h)
			for pw := range 2 {
				ws, we := min(max(int(math.Floor(float64(pw)*bw))+sw, 0), w), min(max(int(math.Ceil(float64(pw+1)*bw))+sw, 0), w)
				if he <= hs || we <= ws {
					out = append(out, 0)
					continue
				}
				m := float32(math.Inf(-1))
				for i := hs; i < he; i++ {
					for j := ws; j < we; j++ {
						m = max(m, x[(ch*h+i)*w+j])
					}
				}
				out = append(out, m)
			}
		}
	}
	return out
}
