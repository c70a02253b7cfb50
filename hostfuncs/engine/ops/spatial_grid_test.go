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

// refGridSample is a port of the spec's reference (op_grid_sample.py),
// with nearest samples rounded half to even as the spec says.
type refGridSample struct {
	mode, padding string
	align         bool
}

func (g *refGridSample) reflect(x, lo, hi float64) float64 {
	rng := hi - lo
	if x < lo {
		dx := lo - x
		n := int(dx / rng)
		r := dx - float64(n)*rng
		if n%2 == 0 {
			return lo + r
		}
		return hi - r
	}
	if x > hi {
		dx := x - hi
		n := int(dx / rng)
		r := dx - float64(n)*rng
		if n%2 == 0 {
			return hi - r
		}
		return lo + r
	}
	return x
}

// pixel1D looks up index i of a 1-D array under the padding mode.
func (g *refGridSample) pixel1D(a []float64, i int, lo, hi float64) float64 {
	d := len(a)
	switch g.padding {
	case "zeros":
		if i >= 0 && i < d {
			return a[i]
		}
		return 0
	case "border":
		return a[min(max(i, 0), d-1)]
	}
	return a[int(g.reflect(float64(i), lo, hi))]
}

func refCubic(t float64) [4]float64 {
	const A = -0.75
	x := math.Abs(t)
	return [4]float64{
		((A*(x+1)-5*A)*(x+1)+8*A)*(x+1) - 4*A,
		((A+2)*x-(A+3))*x*x + 1,
		((A+2)*(1-x)-(A+3))*(1-x)*(1-x) + 1,
		((A*(2-x)-5*A)*(2-x)+8*A)*(2-x) - 4*A,
	}
}

// interp interpolates data (shape dims) at x, one axis at a time.
func (g *refGridSample) interp(data []float64, dims []int, x []float64, lo, hi []float64) float64 {
	if len(dims) == 1 {
		return g.interp1D(data, x[0], lo[0], hi[0])
	}
	sub := spProd(dims[1:])
	res := make([]float64, dims[0])
	for i := range res {
		res[i] = g.interp(data[i*sub:(i+1)*sub], dims[1:], x[1:], lo[1:], hi[1:])
	}
	return g.interp1D(res, x[0], lo[0], hi[0])
}

func (g *refGridSample) interp1D(a []float64, x, lo, hi float64) float64 {
	x0 := int(math.Floor(x))
	t := x - float64(x0)
	if g.mode == "linear" {
		return (1-t)*g.pixel1D(a, x0, lo, hi) + t*g.pixel1D(a, x0+1, lo, hi)
	}
	c := refCubic(t)
	v := 0.0
	for q := range 4 {
		v += c[q] * g.pixel1D(a, x0-1+q, lo, hi)
	}
	return v
}

func (g *refGridSample) nearest(data []float64, dims []int, x []int, lo, hi []float64) float64 {
	off := 0
	for j, d := range dims {
		i := x[j]
		switch g.padding {
		case "zeros":
			if i < 0 || i >= d {
				return 0
			}
		case "border":
			i = min(max(i, 0), d-1)
		default:
			i = int(g.reflect(float64(i), lo[j], hi[j]))
		}
		off = off*d + i
	}
	return data[off]
}

func (g *refGridSample) run(x []float64, xs []int, grid []float64, gs []int) ([]float64, []int) {
	r := len(xs) - 2
	out := append([]int{xs[0], xs[1]}, gs[1:r+1]...)
	y := make([]float64, spProd(out))
	dims := xs[2:]
	lo, hi := make([]float64, r), make([]float64, r)
	for i, d := range dims {
		lo[i], hi[i] = -0.5, float64(d)-0.5
		if g.align {
			lo[i], hi[i] = 0, float64(d-1)
		}
	}
	plane, outPlane := spProd(dims), spProd(out[2:])
	for n := range xs[0] {
		for c := range xs[1] {
			data := x[(n*xs[1]+c)*plane : (n*xs[1]+c+1)*plane]
			for o := range outPlane {
				loc := grid[(n*outPlane+o)*r : (n*outPlane+o+1)*r]
				pos := make([]float64, r)
				for j := range r {
					v := loc[r-1-j]
					if g.align {
						pos[j] = (v + 1) / 2 * float64(dims[j]-1)
					} else {
						pos[j] = ((v+1)*float64(dims[j]) - 1) / 2
					}
					if g.mode == "nearest" {
						pos[j] = math.RoundToEven(pos[j])
					}
					if pos[j] < lo[j] || pos[j] > hi[j] {
						switch g.padding {
						case "border":
							pos[j] = min(max(pos[j], 0), float64(dims[j]-1))
						case "reflection":
							pos[j] = g.reflect(pos[j], lo[j], hi[j])
						}
					}
				}
				at := (n*xs[1]+c)*outPlane + o
				if g.mode == "nearest" {
					ip := make([]int, r)
					for j := range r {
						ip[j] = int(pos[j])
					}
					y[at] = g.nearest(data, dims, ip, lo, hi)
				} else {
					y[at] = g.interp(data, dims, pos, lo, hi)
				}
			}
		}
	}
	return y, out
}

func TestSpatialGridSampleRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 17))
	for it := range 300 {
		g := refGridSample{mode: spPickS(r, "nearest", "linear", "cubic"), padding: spPickS(r, "zeros", "border", "reflection"), align: r.IntN(2) == 0}
		rank := 1 + r.IntN(3)
		xs := []int{spPick(r, 1, 2), spPick(r, 1, 3)}
		gs := []int{xs[0]}
		for range rank {
			xs = append(xs, spPick(r, 1, 2, 3, 5))
			gs = append(gs, spPick(r, 1, 2, 3))
		}
		gs = append(gs, rank)
		x := spRandom(r, spProd(xs), true)
		grid := make([]float64, spProd(gs))
		for i := range grid {
			// Quarter steps put samples on pixel centres and halfway
			// points, where rounding and the padding modes matter most.
			grid[i] = float64(r.IntN(25)-12) / 8
			if r.IntN(4) == 0 {
				grid[i] = r.Float64()*5 - 2.5
			}
		}
		if g.align && g.padding == "reflection" {
			for i := 2; i < len(xs); i++ {
				xs[i] = max(xs[i], 2) // a one-pixel axis has no range to reflect in
			}
			x = spRandom(r, spProd(xs), true)
		}
		want, outShape := g.run(x, xs, grid, gs)
		attrs := []*graph.Attr{graph.StringAttr("mode", g.mode), graph.StringAttr("padding_mode", g.padding), graph.IntAttr("align_corners", b2i(g.align))}
		dt := []tensor.DType{tensor.Float32, tensor.Float64}[r.IntN(2)]
		t.Run(fmt.Sprintf("%d_%s_%s_%v", it, g.mode, g.padding, xs), func(t *testing.T) {
			spCheck(t, "GridSample", 20, attrs, spTensor(dt, outShape, want), spTensor(dt, xs, x), spTensor(tensor.Float32, gs, grid))
		})
	}
}

func TestSpatialGridSampleCases(t *testing.T) {
	x := f32(tensor.Shape{1, 1, 2, 2}, 1, 2, 3, 4)
	grid := f32(tensor.Shape{1, 1, 2, 2}, -1, -1, 0, 0)
	runCases(t, []opCase{
		{name: "opset 16 bilinear", op: "GridSample", opset: 16, attrs: []*graph.Attr{graph.StringAttr("mode", "bilinear")},
			in: []*tensor.Tensor{x, grid}, want: []*tensor.Tensor{f32(tensor.Shape{1, 1, 1, 2}, 0.25, 2.5)}},
		{name: "opset 16 is 2-D only", op: "GridSample", opset: 16,
			in: []*tensor.Tensor{f32(tensor.Shape{1, 1, 2}, 1, 2), f32(tensor.Shape{1, 1, 1}, 0)}, kind: fault.Invalid},
		{name: "uint8 truncates", op: "GridSample", opset: 20,
			in:   []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1, 1, 2}, []uint8{1, 4}), f32(tensor.Shape{1, 1, 1}, 0)},
			want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1, 1, 1}, []uint8{2})}},
		{name: "nearest strings", op: "GridSample", opset: 20, attrs: []*graph.Attr{graph.StringAttr("mode", "nearest")},
			in:   []*tensor.Tensor{spStrings(tensor.Shape{1, 1, 2}, "a", "b"), f32(tensor.Shape{1, 2, 1}, 0.5, 3)},
			want: []*tensor.Tensor{spStrings(tensor.Shape{1, 1, 2}, "b", "")}},
		{name: "linear bool refused", op: "GridSample", opset: 20,
			in: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1, 1, 1}, []bool{true}), f32(tensor.Shape{1, 1, 1}, 0)}, kind: fault.Unsupported},
		{name: "grid rank", op: "GridSample", opset: 20, in: []*tensor.Tensor{x, f32(tensor.Shape{1, 2, 2}, 0, 0, 0, 0)}, kind: fault.Invalid},
		{name: "grid batch", op: "GridSample", opset: 20, in: []*tensor.Tensor{x, f32(tensor.Shape{2, 1, 1, 2}, 0, 0, 0, 0)}, kind: fault.Invalid},
		{name: "NaN grid", op: "GridSample", opset: 20,
			in: []*tensor.Tensor{x, f32(tensor.Shape{1, 1, 1, 2}, float32(math.NaN()), 0)}, want: []*tensor.Tensor{f32(tensor.Shape{1, 1, 1, 1}, 0)}},
		{name: "bfloat16 grid", op: "GridSample", opset: 22,
			in: []*tensor.Tensor{bf16(tensor.Shape{1, 1, 2}, 2, 4), bf16(tensor.Shape{1, 1, 1}, 0)}, want: []*tensor.Tensor{bf16(tensor.Shape{1, 1, 1}, 3)}},
	})
}

func TestSpatialAffineGrid(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 9))
	for it := range 40 {
		nd := 2 + r.IntN(2)
		align := r.IntN(2) == 0
		n := spPick(r, 1, 2)
		size := []int64{int64(n), 3}
		for range nd {
			size = append(size, int64(spPick(r, 1, 2, 3, 5)))
		}
		theta := spRandom(r, n*nd*(nd+1), true)
		dims := make([]int, nd)
		for i := range dims {
			dims[i] = int(size[i+2])
		}
		out := append(append([]int{n}, dims...), nd)
		want := make([]float64, 0, spProd(out))
		for b := range n {
			idx := make([]int, nd)
			for range spProd(dims) {
				base := make([]float64, nd+1)
				base[nd] = 1
				for j := range nd { // x, y[, z]: innermost first
					d, i := dims[nd-1-j], idx[nd-1-j]
					if align {
						base[j] = -1
						if d > 1 {
							base[j] = -1 + 2*float64(i)/float64(d-1)
						}
					} else {
						base[j] = (2*float64(i)+1)/float64(d) - 1
					}
				}
				for row := range nd {
					v := 0.0
					for col := range nd + 1 {
						v += theta[(b*nd+row)*(nd+1)+col] * base[col]
					}
					want = append(want, v)
				}
				spNext(idx, dims)
			}
		}
		t.Run(fmt.Sprint(it), func(t *testing.T) {
			spCheck(t, "AffineGrid", 20, []*graph.Attr{graph.IntAttr("align_corners", b2i(align))}, spTensor(tensor.Float32, out, want),
				spTensor(tensor.Float32, []int{n, nd, nd + 1}, theta), i64(tensor.Shape{len(size)}, size...))
		})
	}
	runCases(t, []opCase{
		{name: "theta shape", op: "AffineGrid", opset: 20, in: []*tensor.Tensor{f32(tensor.Shape{1, 2, 2}, 1, 0, 0, 1), i64(tensor.Shape{4}, 1, 1, 2, 2)}, kind: fault.Invalid},
		{name: "size length", op: "AffineGrid", opset: 20, in: []*tensor.Tensor{f32(tensor.Shape{1, 2, 3}, 1, 0, 0, 0, 1, 0), i64(tensor.Shape{5}, 1, 1, 2, 2, 2)}, kind: fault.Invalid},
		{name: "batch mismatch", op: "AffineGrid", opset: 20, in: []*tensor.Tensor{f32(tensor.Shape{1, 2, 3}, 1, 0, 0, 0, 1, 0), i64(tensor.Shape{4}, 2, 1, 2, 2)}, kind: fault.Invalid},
		{name: "negative size", op: "AffineGrid", opset: 20, in: []*tensor.Tensor{f32(tensor.Shape{1, 2, 3}, 1, 0, 0, 0, 1, 0), i64(tensor.Shape{4}, 1, 1, -2, 2)}, kind: fault.Invalid},
		{name: "float16", op: "AffineGrid", opset: 20, in: []*tensor.Tensor{f16(tensor.Shape{1, 2, 3}, 1, 0, 0, 0, 1, 0), i64(tensor.Shape{4}, 1, 1, 1, 2)},
			want: []*tensor.Tensor{f16(tensor.Shape{1, 1, 2, 2}, -0.5, 0, 0.5, 0)}},
	})
}
