package ops_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

type spPoolCase struct {
	kind              string // "avg" or "lp"
	k, s, d, pads     []int
	autoPad           string
	ceil, countPad    bool
	p                 int
	nilStride, nilDil bool
}

// refPool pools straight from the spec's formulas, in float64.
func refPool(x []float64, shape []int, c spPoolCase) ([]float64, []int) {
	nd := len(shape) - 2
	out := []int{shape[0], shape[1]}
	pb, pe := make([]int, nd), make([]int, nd)
	for i := range nd {
		in, ext := shape[i+2], (c.k[i]-1)*c.d[i]+1
		var o int
		switch c.autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			o = (in + c.s[i] - 1) / c.s[i]
			total := max(0, (o-1)*c.s[i]+ext-in)
			pb[i], pe[i] = total/2, total-total/2
			if c.autoPad == "SAME_LOWER" {
				pb[i], pe[i] = pe[i], pb[i]
			}
		case "VALID":
			o = (in-ext)/c.s[i] + 1
		default:
			pb[i], pe[i] = c.pads[i], c.pads[i+nd]
			span := in + pb[i] + pe[i] - ext
			if c.ceil {
				o = int(math.Ceil(float64(span)/float64(c.s[i]))) + 1
				if (o-1)*c.s[i] >= in+pb[i] {
					o--
				}
			} else {
				o = span/c.s[i] + 1
			}
		}
		out = append(out, o)
	}
	y := make([]float64, spProd(out))
	inPlane, outPlane := spProd(shape[2:]), spProd(out[2:])
	for pl := range shape[0] * shape[1] {
		xo := make([]int, nd)
		for pos := range outPlane {
			sum, count, padCount := 0.0, 0, 0
			kk := make([]int, nd)
			for {
				inside, inPad := true, true
				at := make([]int, nd)
				for i := range nd {
					at[i] = xo[i]*c.s[i] - pb[i] + kk[i]*c.d[i]
					inside = inside && at[i] >= 0 && at[i] < shape[i+2]
					inPad = inPad && at[i] >= -pb[i] && at[i] < shape[i+2]+pe[i]
				}
				if inPad {
					padCount++
				}
				if inside {
					v := x[pl*inPlane+spOffset(at, shape[2:])]
					count++
					if c.kind == "lp" {
						sum += math.Pow(math.Abs(v), float64(c.p))
					} else {
						sum += v
					}
				}
				if !spNext(kk, c.k) {
					break
				}
			}
			switch {
			case c.kind == "lp":
				y[pl*outPlane+pos] = math.Pow(sum, 1/float64(c.p))
			case c.countPad:
				y[pl*outPlane+pos] = sum / float64(padCount)
			default:
				y[pl*outPlane+pos] = sum / float64(count)
			}
			spNext(xo, out[2:])
		}
	}
	return y, out
}

func TestSpatialPoolRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for it := range 300 {
		nd := 1 + r.IntN(3)
		shape := []int{spPick(r, 1, 2), spPick(r, 1, 3)}
		c := spPoolCase{kind: []string{"avg", "lp"}[r.IntN(2)], p: spPick(r, 1, 2, 3)}
		for range nd {
			c.k = append(c.k, 1+r.IntN(3))
			c.s = append(c.s, 1+r.IntN(3))
			c.d = append(c.d, 1+r.IntN(2))
		}
		for i := range nd {
			ext := (c.k[i]-1)*c.d[i] + 1
			shape = append(shape, ext+r.IntN(6))
		}
		for range 2 * nd {
			c.pads = append(c.pads, r.IntN(3))
		}
		c.autoPad = []string{"NOTSET", "NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"}[r.IntN(6)]
		c.ceil = r.IntN(2) == 0 && c.autoPad == "NOTSET"
		c.countPad = r.IntN(2) == 0
		attrs := []*graph.Attr{graph.IntsAttr("kernel_shape", spInts(c.k)...), graph.IntsAttr("strides", spInts(c.s)...),
			graph.IntsAttr("dilations", spInts(c.d)...), graph.StringAttr("auto_pad", c.autoPad), graph.IntAttr("ceil_mode", b2i(c.ceil))}
		if c.autoPad == "NOTSET" {
			attrs = append(attrs, graph.IntsAttr("pads", spInts(c.pads)...))
		} else {
			c.pads = make([]int, 2*nd)
		}
		op, opset := "AveragePool", int64(19)
		if c.kind == "lp" {
			op, opset = "LpPool", 18
			attrs = append(attrs, graph.IntAttr("p", int64(c.p)))
		} else {
			attrs = append(attrs, graph.IntAttr("count_include_pad", b2i(c.countPad)))
		}
		dt := []tensor.DType{tensor.Float32, tensor.Float32, tensor.Float64, tensor.Float16}[r.IntN(4)]
		if dt == tensor.Float16 {
			opset = 22
		}
		x := spRandom(r, spProd(shape), true)
		want, outShape := refPool(x, shape, c)
		t.Run(fmt.Sprintf("%d_%s_%v", it, op, shape), func(t *testing.T) {
			spCheck(t, op, opset, attrs, spTensor(dt, outShape, want), spTensor(dt, shape, x))
		})
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func TestSpatialPoolVersions(t *testing.T) {
	x := f32(tensor.Shape{1, 1, 4}, 1, -2, 3, -4)
	runCases(t, []opCase{
		{name: "avg opset 1", op: "AveragePool", opset: 1, attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 2), graph.IntsAttr("pads", 1, 1)},
			in: []*tensor.Tensor{x}, want: []*tensor.Tensor{f32(tensor.Shape{1, 1, 5}, 1, -0.5, 0.5, -0.5, -4)}},
		{name: "avg count_include_pad", op: "AveragePool", opset: 7, attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 2), graph.IntsAttr("pads", 1, 1), graph.IntAttr("count_include_pad", 1)},
			in: []*tensor.Tensor{x}, want: []*tensor.Tensor{f32(tensor.Shape{1, 1, 5}, 0.5, -0.5, 0.5, -0.5, -2)}},
		{name: "lp-1 float p", op: "LpPool", opset: 1, attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 4), graph.FloatAttr("p", 1)},
			in: []*tensor.Tensor{x}, want: []*tensor.Tensor{f32(tensor.Shape{1, 1, 1}, 10)}},
		{name: "lp default p 2", op: "LpPool", opset: 11, attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 2), graph.IntsAttr("strides", 2)},
			in: []*tensor.Tensor{f32(tensor.Shape{1, 1, 4}, 3, 4, 0, 0)}, want: []*tensor.Tensor{f32(tensor.Shape{1, 1, 2}, 5, 0)}},
		{name: "bfloat16", op: "AveragePool", opset: 22, attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 2)},
			in: []*tensor.Tensor{bf16(tensor.Shape{1, 1, 3}, 1, 3, 5)}, want: []*tensor.Tensor{bf16(tensor.Shape{1, 1, 2}, 2, 4)}},
		{name: "empty batch", op: "AveragePool", opset: 19, attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 2)},
			in: []*tensor.Tensor{f32(tensor.Shape{0, 1, 3})}, want: []*tensor.Tensor{f32(tensor.Shape{0, 1, 2})}},
		{name: "rank 2", op: "AveragePool", opset: 19, attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 2)},
			in: []*tensor.Tensor{f32(tensor.Shape{1, 3}, 1, 2, 3)}, kind: fault.Invalid},
		{name: "kernel too large", op: "LpPool", opset: 18, attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 5)},
			in: []*tensor.Tensor{x}, kind: fault.Invalid},
		{name: "kernel rank mismatch", op: "AveragePool", opset: 19, attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 1, 1)},
			in: []*tensor.Tensor{x}, kind: fault.Invalid},
		{name: "global avg", op: "GlobalAveragePool", opset: 1,
			in: []*tensor.Tensor{f32(tensor.Shape{1, 2, 2, 1}, 1, 2, 3, 5)}, want: []*tensor.Tensor{f32(tensor.Shape{1, 2, 1, 1}, 1.5, 4)}},
		{name: "global max NaN", op: "GlobalMaxPool", opset: 1,
			in:   []*tensor.Tensor{f32(tensor.Shape{2, 1, 3}, 1, float32(math.NaN()), 3, -7, -1, -9)},
			want: []*tensor.Tensor{f32(tensor.Shape{2, 1, 1}, float32(math.NaN()), -1)}},
		{name: "global max f16", op: "GlobalMaxPool", opset: 22,
			in: []*tensor.Tensor{f16(tensor.Shape{1, 1, 2, 2}, 1, 2, -3, 0.5)}, want: []*tensor.Tensor{f16(tensor.Shape{1, 1, 1, 1}, 2)}},
		{name: "global avg double rank 2", op: "GlobalAveragePool", opset: 22,
			in:   []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1, 2}, []float64{1, 2})},
			want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1, 2}, []float64{1, 2})}},
	})
}

func TestSpatialPoolBuildErrors(t *testing.T) {
	cases := []struct {
		op    string
		opset int64
		attrs []*graph.Attr
	}{
		{"AveragePool", 19, nil},
		{"AveragePool", 19, []*graph.Attr{graph.IntsAttr("kernel_shape", 2), graph.IntAttr("count_include_pad", 2)}},
		{"AveragePool", 10, []*graph.Attr{graph.IntsAttr("kernel_shape", 2), graph.IntsAttr("dilations", 2)}},
		{"AveragePool", 1, []*graph.Attr{graph.IntsAttr("kernel_shape", 2), graph.IntAttr("count_include_pad", 1)}},
		{"LpPool", 11, []*graph.Attr{graph.IntsAttr("kernel_shape", 2), graph.IntAttr("p", 0)}},
		{"LpPool", 11, []*graph.Attr{graph.IntsAttr("kernel_shape", 2), graph.IntAttr("ceil_mode", 1)}},
		{"LpPool", 2, []*graph.Attr{graph.IntsAttr("kernel_shape", 2), graph.FloatAttr("p", 2)}},
	}
	for _, tc := range cases {
		is := is.New(t)
		n := &graph.Node{Name: "n", OpType: tc.op, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: graph.Attrs(tc.attrs...)}
		_, _, err := defaultBuild(n, tc.opset)
		is.True(err != nil)
		is.Equal(fault.KindOf(err), fault.Invalid)
	}
}
