package ops_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// refResize is a literal port of the spec's reference implementation
// (onnx/reference/ops/op_resize.py): each output element interpolates the
// input recursively, axis by axis, from the n nearest samples of the
// edge-padded input.
type refResize struct {
	mode, ctm, nearestMode string
	a, extrap              float64
	exclude, antialias     bool
}

func (o *refResize) coeffs(ratio, scale float64) []float64 {
	switch o.mode {
	case "nearest":
		if ratio == math.Trunc(ratio) {
			return []float64{0, 1}
		}
		f := func(b bool) float64 {
			if b {
				return 1
			}
			return 0
		}
		switch o.nearestMode {
		case "round_prefer_ceil":
			return []float64{f(ratio < 0.5), f(ratio >= 0.5)}
		case "floor":
			return []float64{1, 0}
		case "ceil":
			return []float64{0, 1}
		}
		return []float64{f(ratio <= 0.5), f(ratio > 0.5)}
	case "linear":
		if !o.antialias {
			return []float64{1 - ratio, ratio}
		}
		scale = min(scale, 1)
		start := int(math.Floor(-1/scale) + 1)
		foot := 2 - 2*start
		c, sum := make([]float64, foot), 0.0
		for i := range c {
			v := (float64(start+i) - ratio) * scale
			c[i] = max(0, min(1, 1-math.Abs(v)))
			sum += c[i]
		}
		for i := range c {
			c[i] /= sum
		}
		return c
	}
	A := o.a
	if !o.antialias {
		r1, r2 := ratio+1, 1-ratio
		return []float64{
			((A*r1-5*A)*r1+8*A)*r1 - 4*A,
			((A+2)*ratio-(A+3))*ratio*ratio + 1,
			((A+2)*r2-(A+3))*r2*r2 + 1,
			((A*(r2+1)-5*A)*(r2+1)+8*A)*(r2+1) - 4*A,
		}
	}
	scale = min(scale, 1)
	iStart := int(math.Floor(-2/scale) + 1)
	iEnd := 2 - iStart
	var c []float64
	sum := 0.0
	for i := iStart; i < iEnd; i++ {
		x := math.Abs(scale * (float64(i) - ratio))
		var v float64
		switch {
		case x <= 1:
			v = (A+2)*x*x*x - (A+3)*x*x + 1
		case x < 2:
			v = A*x*x*x - 5*A*x*x + 8*A*x - 4*A
		}
		c = append(c, v)
		sum += v
	}
	for i := range c {
		c[i] /= sum
	}
	return c
}

// refNeighbors returns the n nearest indices to x in the edge-padded data
// (ties to the lower) and their values. The reference shifts x by the
// padding before measuring, which rounds away a difference of one ulp from
// a whole coordinate and then picks the neighbours of the wrong side; this
// port measures in unpadded coordinates, as the engine does.
func refNeighbors(x float64, n int, data []float64) ([]int, []float64) {
	pad := (n + 1) / 2
	padded := make([]float64, len(data)+2*pad)
	for i := range padded {
		padded[i] = data[min(max(i-pad, 0), len(data)-1)]
	}
	idx := make([]int, len(padded))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		da, db := math.Abs(x-float64(idx[a]-pad)), math.Abs(x-float64(idx[b]-pad))
		if da != db {
			return da < db
		}
		return idx[a] < idx[b]
	})
	idx = idx[:n]
	slices.Sort(idx)
	pts := make([]float64, n)
	for i, j := range idx {
		pts[i] = padded[j]
		idx[i] = j - pad
	}
	return idx, pts
}

func (o *refResize) interp1D(data []float64, scale float64, outInt, x int, roi []float64) float64 {
	inW := float64(len(data))
	outW := scale * inW
	xf := float64(x)
	var xo float64
	switch o.ctm {
	case "align_corners":
		if outW != 1 {
			xo = xf * (inW - 1) / (outW - 1)
		}
	case "asymmetric":
		xo = xf / scale
	case "tf_crop_and_resize":
		if outW == 1 {
			xo = (roi[1] - roi[0]) * (inW - 1) / 2
		} else {
			xo = xf * (roi[1] - roi[0]) * (inW - 1) / (outW - 1)
		}
		xo += roi[0] * (inW - 1)
		if xo < 0 || xo > inW-1 {
			return o.extrap
		}
	case "pytorch_half_pixel":
		xo = -0.5
		if outW != 1 {
			xo = (xf+0.5)/scale - 0.5
		}
	case "half_pixel_symmetric":
		adj := float64(outInt) / outW
		xo = inW/2*(1-adj) + (xf+0.5)/scale - 0.5
	default:
		xo = (xf+0.5)/scale - 0.5
	}
	ratio := xo - math.Floor(xo)
	if xo == math.Trunc(xo) {
		ratio = 1
	}
	c := o.coeffs(ratio, scale)
	idx, pts := refNeighbors(xo, len(c), data)
	if o.exclude {
		sum := 0.0
		for i, j := range idx {
			if j < 0 || j >= len(data) {
				c[i] = 0
			}
			sum += c[i]
		}
		for i := range c {
			c[i] /= sum
		}
	}
	v := 0.0
	for i := range c {
		v += c[i] * pts[i]
	}
	return v
}

// interpND interpolates at output index x; keep marks axes the node's axes
// leave alone, which the reference never interpolates.
func (o *refResize) interpND(data []float64, shape []int, scales []float64, outs, x []int, roi []float64, keep []bool) float64 {
	r := len(shape)
	sub := spProd(shape[1:])
	if keep[0] {
		d := data[x[0]*sub : (x[0]+1)*sub]
		if r == 1 {
			return d[0]
		}
		return o.interpND(d, shape[1:], scales[1:], outs[1:], x[1:], append(slices.Clone(roi[1:r]), roi[r+1:]...), keep[1:])
	}
	if r == 1 {
		return o.interp1D(data, scales[0], outs[0], x[0], roi)
	}
	res := make([]float64, shape[0])
	for i := range res {
		res[i] = o.interpND(data[i*sub:(i+1)*sub], shape[1:], scales[1:], outs[1:], x[1:], append(slices.Clone(roi[1:r]), roi[r+1:]...), keep[1:])
	}
	return o.interp1D(res, scales[0], outs[0], x[0], []float64{roi[0], roi[r]})
}

type spResizeCase struct {
	refResize
	shape  []int
	axes   []int // nil: all
	scales []float32
	sizes  []int64
	roi    []float64
	policy string
}

// run computes the reference's output size and values.
func (c *spResizeCase) run(x []float64) ([]float64, []int) {
	r := len(c.shape)
	axes := c.axes
	keep := make([]bool, r)
	if axes == nil {
		for i := range r {
			axes = append(axes, i)
		}
	} else {
		for i := range keep {
			keep[i] = true
		}
		for i, a := range axes {
			if a < 0 {
				axes[i] = a + r
			}
			keep[axes[i]] = false
		}
	}
	scales, outs := make([]float64, r), slices.Clone(c.shape)
	roi := make([]float64, 2*r)
	for i := range r {
		scales[i], roi[r+i] = 1, 1
	}
	if c.roi != nil {
		for i, a := range axes {
			roi[a], roi[r+a] = c.roi[i], c.roi[len(axes)+i]
		}
	}
	if c.scales != nil {
		for i, a := range axes {
			scales[a] = float64(c.scales[i])
			outs[a] = int(scales[a] * float64(c.shape[a]))
		}
	} else {
		for i, a := range axes {
			outs[a] = int(c.sizes[i])
			scales[a] = float64(outs[a]) / float64(c.shape[a])
		}
		if c.policy == "not_larger" || c.policy == "not_smaller" {
			s := scales[axes[0]]
			for _, a := range axes {
				if c.policy == "not_larger" {
					s = min(s, scales[a])
				} else {
					s = max(s, scales[a])
				}
			}
			for _, a := range axes {
				scales[a] = s
				outs[a] = int(s*float64(c.shape[a]) + 0.5)
			}
		}
	}
	y := make([]float64, spProd(outs))
	if len(y) == 0 {
		return y, outs
	}
	idx := make([]int, r)
	for i := range y {
		y[i] = c.interpND(x, c.shape, scales, outs, idx, roi, keep)
		spNext(idx, outs)
	}
	return y, outs
}

func TestSpatialResizeRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 8))
	ctms := []string{"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize"}
	for it := range 250 {
		c := spResizeCase{}
		c.mode = spPickS(r, "nearest", "linear", "cubic")
		c.ctm = ctms[r.IntN(len(ctms))]
		c.nearestMode = spPickS(r, "round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
		c.a = []float64{-0.75, -0.5}[r.IntN(2)]
		// exclude_outside with nearest can renormalize a single zero
		// weight (0/0 in the reference); no model asks for it.
		c.exclude = c.mode != "nearest" && r.IntN(3) == 0
		c.antialias = c.mode != "nearest" && r.IntN(3) == 0
		c.extrap = float64(r.IntN(5))
		rank := 1 + r.IntN(4)
		for range rank {
			c.shape = append(c.shape, spPick(r, 1, 2, 3, 5))
		}
		axes := []int{}
		for i := range rank {
			axes = append(axes, i)
		}
		attrs := []*graph.Attr{graph.StringAttr("mode", c.mode), graph.StringAttr("coordinate_transformation_mode", c.ctm),
			graph.StringAttr("nearest_mode", c.nearestMode), graph.FloatAttr("cubic_coeff_a", float32(c.a)),
			graph.IntAttr("exclude_outside", b2i(c.exclude)), graph.IntAttr("antialias", b2i(c.antialias)),
			graph.FloatAttr("extrapolation_value", float32(c.extrap))}
		if r.IntN(2) == 0 {
			r.Shuffle(len(axes), func(i, j int) { axes[i], axes[j] = axes[j], axes[i] })
			axes = axes[:1+r.IntN(rank)]
			c.axes = slices.Clone(axes)
			neg := slices.Clone(axes)
			for i := range neg {
				if r.IntN(2) == 0 {
					neg[i] -= rank
				}
			}
			attrs = append(attrs, graph.IntsAttr("axes", spInts(neg)...))
		}
		in := []*tensor.Tensor{nil, nil, nil, nil}
		if c.ctm == "tf_crop_and_resize" {
			for range 2 * len(axes) {
				c.roi = append(c.roi, math.Round((r.Float64()*1.4-0.2)*8)/8)
			}
			in[1] = spTensor(tensor.Float32, []int{len(c.roi)}, c.roi)
		}
		if r.IntN(2) == 0 {
			for range axes {
				c.scales = append(c.scales, []float32{0.5, 0.6, 0.8, 1, 1.5, 2, 2.5, 3}[r.IntN(8)])
			}
			in[2] = tensor.MustFrom(tensor.Shape{len(axes)}, c.scales)
		} else {
			for range axes {
				c.sizes = append(c.sizes, int64(1+r.IntN(8)))
			}
			in[3] = i64(tensor.Shape{len(axes)}, c.sizes...)
			c.policy = spPickS(r, "stretch", "not_larger", "not_smaller")
			attrs = append(attrs, graph.StringAttr("keep_aspect_ratio_policy", c.policy))
		}
		x := spRandom(r, spProd(c.shape), true)
		want, outs := c.run(x)
		dt := []tensor.DType{tensor.Float32, tensor.Float64}[r.IntN(2)]
		in[0] = spTensor(dt, c.shape, x)
		t.Run(fmt.Sprintf("%d_%s_%s_%v", it, c.mode, c.ctm, c.shape), func(t *testing.T) {
			spCheck(t, "Resize", 19, attrs, spTensor(dt, outs, want), in...)
		})
	}
}

func TestSpatialResizeTypes(t *testing.T) {
	up := func(_ tensor.Shape, v ...float32) []*tensor.Tensor {
		return []*tensor.Tensor{nil, nil, f32(tensor.Shape{len(v)}, v...)}
	}
	with := func(x *tensor.Tensor, rest []*tensor.Tensor) []*tensor.Tensor {
		return append([]*tensor.Tensor{x}, rest[1:]...)
	}
	linear := []*graph.Attr{graph.StringAttr("mode", "linear")}
	runCases(t, []opCase{
		{name: "nearest strings", op: "Resize", opset: 13,
			in:   with(spStrings(tensor.Shape{2}, "a", "bc"), up(tensor.Shape{2}, 2)),
			want: []*tensor.Tensor{spStrings(tensor.Shape{4}, "a", "a", "bc", "bc")}},
		{name: "nearest bool", op: "Resize", opset: 13,
			in:   with(tensor.MustFrom(tensor.Shape{2}, []bool{true, false}), up(tensor.Shape{2}, 1.5)),
			want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{3}, []bool{true, true, false})}},
		{name: "linear uint8 truncates", op: "Resize", opset: 13, attrs: linear,
			in:   with(tensor.MustFrom(tensor.Shape{2}, []uint8{0, 3}), up(tensor.Shape{2}, 2)),
			want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{4}, []uint8{0, 0, 2, 3})}},
		{name: "linear int32 truncates toward zero", op: "Resize", opset: 13, attrs: linear,
			in:   with(tensor.MustFrom(tensor.Shape{2}, []int32{-1, -4}), up(tensor.Shape{2}, 2)),
			want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{4}, []int32{-1, -1, -3, -4})}},
		{name: "linear float16", op: "Resize", opset: 13, attrs: linear,
			in: with(f16(tensor.Shape{2}, 1, 2), up(tensor.Shape{2}, 2)), want: []*tensor.Tensor{f16(tensor.Shape{4}, 1, 1.25, 1.75, 2)}},
		{name: "linear bfloat16", op: "Resize", opset: 19, attrs: linear,
			in: with(bf16(tensor.Shape{2}, 1, 2), up(tensor.Shape{2}, 2)), want: []*tensor.Tensor{bf16(tensor.Shape{4}, 1, 1.25, 1.75, 2)}},
		{name: "linear bool refused", op: "Resize", opset: 13, attrs: linear,
			in: with(tensor.MustFrom(tensor.Shape{1}, []bool{true}), up(tensor.Shape{1}, 2)), kind: fault.Unsupported},
		{name: "scales and sizes", op: "Resize", opset: 13,
			in: []*tensor.Tensor{f32(tensor.Shape{1}, 1), nil, f32(tensor.Shape{1}, 2), i64(tensor.Shape{1}, 2)}, kind: fault.Invalid},
		{name: "neither", op: "Resize", opset: 13, in: []*tensor.Tensor{f32(tensor.Shape{1}, 1)}, kind: fault.Invalid},
		{name: "zero scale", op: "Resize", opset: 13, in: with(f32(tensor.Shape{1}, 1), up(tensor.Shape{1}, 0)), kind: fault.Invalid},
		{name: "NaN scale", op: "Resize", opset: 13, in: with(f32(tensor.Shape{1}, 1), up(tensor.Shape{1}, float32(math.NaN()))), kind: fault.Invalid},
		{name: "huge scale", op: "Resize", opset: 13, in: with(f32(tensor.Shape{1}, 1), up(tensor.Shape{1}, 1e30)), kind: fault.TooLarge},
		{name: "scales length", op: "Resize", opset: 13, in: with(f32(tensor.Shape{1}, 1), up(tensor.Shape{2}, 1, 2)), kind: fault.Invalid},
		{name: "repeated axis", op: "Resize", opset: 18, attrs: []*graph.Attr{graph.IntsAttr("axes", 0, -1)},
			in: []*tensor.Tensor{f32(tensor.Shape{1}, 1), nil, nil, i64(tensor.Shape{2}, 2, 2)}, kind: fault.Invalid},
		{name: "axis out of range", op: "Resize", opset: 18, attrs: []*graph.Attr{graph.IntsAttr("axes", 1)},
			in: []*tensor.Tensor{f32(tensor.Shape{1}, 1), nil, nil, i64(tensor.Shape{1}, 2)}, kind: fault.Invalid},
		{name: "empty axis grows", op: "Resize", opset: 13, in: []*tensor.Tensor{f32(tensor.Shape{0}), nil, nil, i64(tensor.Shape{1}, 2)}, kind: fault.Invalid},
		{name: "to empty", op: "Resize", opset: 13, in: []*tensor.Tensor{f32(tensor.Shape{3}, 1, 2, 3), nil, nil, i64(tensor.Shape{1}, 0)},
			want: []*tensor.Tensor{f32(tensor.Shape{0})}},
		{name: "scalar", op: "Resize", opset: 13, in: []*tensor.Tensor{f32(nil, 5), nil, tensor.MustFrom(tensor.Shape{0}, []float32{}), tensor.MustFrom(tensor.Shape{0}, []int64{})},
			want: []*tensor.Tensor{f32(nil, 5)}},
		{name: "opset 10 nearest floors up", op: "Resize", opset: 10,
			in: []*tensor.Tensor{f32(tensor.Shape{3}, 1, 2, 3), f32(tensor.Shape{1}, 2)}, want: []*tensor.Tensor{f32(tensor.Shape{6}, 1, 1, 2, 2, 3, 3)}},
		{name: "opset 10 nearest ceils down", op: "Resize", opset: 10,
			in: []*tensor.Tensor{f32(tensor.Shape{5}, 1, 2, 3, 4, 5), f32(tensor.Shape{1}, 0.6)}, want: []*tensor.Tensor{f32(tensor.Shape{3}, 1, 3, 5)}},
		{name: "opset 10 linear asymmetric", op: "Resize", opset: 10, attrs: linear,
			in: []*tensor.Tensor{f32(tensor.Shape{2}, 1, 2), f32(tensor.Shape{1}, 2)}, want: []*tensor.Tensor{f32(tensor.Shape{4}, 1, 1.5, 2, 2)}},
		{name: "opset 11 tf_half_pixel_for_nn", op: "Resize", opset: 11, attrs: []*graph.Attr{graph.StringAttr("coordinate_transformation_mode", "tf_half_pixel_for_nn")},
			in: []*tensor.Tensor{f32(tensor.Shape{4}, 1, 2, 3, 4), f32(tensor.Shape{0}), f32(tensor.Shape{1}, 0.5)}, want: []*tensor.Tensor{f32(tensor.Shape{2}, 2, 4)}},
		{name: "opset 11 sizes with empty scales", op: "Resize", opset: 11,
			in: []*tensor.Tensor{f32(tensor.Shape{2}, 1, 2), f32(tensor.Shape{0}), f32(tensor.Shape{0}), i64(tensor.Shape{1}, 4)}, want: []*tensor.Tensor{f32(tensor.Shape{4}, 1, 1, 2, 2)}},
		{name: "tf crop strings extrapolate", op: "Resize", opset: 13, attrs: []*graph.Attr{graph.StringAttr("coordinate_transformation_mode", "tf_crop_and_resize")},
			in: []*tensor.Tensor{spStrings(tensor.Shape{2}, "a", "b"), f32(tensor.Shape{2}, -1, 2), nil, i64(tensor.Shape{1}, 3)}, kind: fault.Unsupported},
		{name: "upsample-7", op: "Upsample", opset: 7, attrs: []*graph.Attr{graph.FloatsAttr("scales", 1, 2)},
			in: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1, 2}, []int64{4, 5})}, want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1, 4}, []int64{4, 4, 5, 5})}},
		{name: "upsample-9 linear", op: "Upsample", opset: 9, attrs: linear,
			in: []*tensor.Tensor{f32(tensor.Shape{2}, 1, 2), f32(tensor.Shape{1}, 2)}, want: []*tensor.Tensor{f32(tensor.Shape{4}, 1, 1.5, 2, 2)}},
	})
}

func TestSpatialResizeBuildErrors(t *testing.T) {
	cases := []struct {
		name  string
		op    string
		opset int64
		in    []string
		attrs []*graph.Attr
	}{
		{"Upsample deprecated", "Upsample", 10, []string{"x", "s"}, nil},
		{"Upsample-7 needs scales", "Upsample", 7, []string{"x"}, nil},
		{"Upsample has no cubic", "Upsample", 9, []string{"x", "s"}, []*graph.Attr{graph.StringAttr("mode", "cubic")}},
		{"Resize-10 has no cubic", "Resize", 10, []string{"x", "s"}, []*graph.Attr{graph.StringAttr("mode", "cubic")}},
		{"half_pixel_symmetric before 19", "Resize", 18, []string{"x", "", "s"}, []*graph.Attr{graph.StringAttr("coordinate_transformation_mode", "half_pixel_symmetric")}},
		{"tf_half_pixel_for_nn from 13", "Resize", 13, []string{"x", "", "s"}, []*graph.Attr{graph.StringAttr("coordinate_transformation_mode", "tf_half_pixel_for_nn")}},
		{"bad nearest_mode", "Resize", 13, []string{"x", "", "s"}, []*graph.Attr{graph.StringAttr("nearest_mode", "round")}},
		{"bad policy", "Resize", 18, []string{"x", "", "s"}, []*graph.Attr{graph.StringAttr("keep_aspect_ratio_policy", "fit")}},
		{"antialias 2", "Resize", 18, []string{"x", "", "s"}, []*graph.Attr{graph.IntAttr("antialias", 2)}},
		{"axes before 18", "Resize", 13, []string{"x", "", "s"}, []*graph.Attr{graph.IntsAttr("axes", 0)}},
		{"Resize-11 needs scales", "Resize", 11, []string{"x", "r"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := &graph.Node{Name: "n", OpType: tc.op, Inputs: tc.in, Outputs: []string{"y"}, Attrs: graph.Attrs(tc.attrs...)}
			if _, _, err := defaultBuild(n, tc.opset); err == nil || fault.KindOf(err) != fault.Invalid {
				t.Fatalf("got %v, want an invalid error", err)
			}
		})
	}
}

func spStrings(shape tensor.Shape, v ...string) *tensor.Tensor {
	b := make([][]byte, len(v))
	for i, s := range v {
		b[i] = []byte(s)
	}
	t, err := tensor.FromStrings(shape, b)
	if err != nil {
		panic(err)
	}
	return t
}
