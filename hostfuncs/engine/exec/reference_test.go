package exec_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// The tests here build graphs in Go and compare the engine with
// straightforward float64 reference implementations. Inputs are small
// random integers held as floats, so every sum the engine forms is exact
// in float32 and the comparison tests indexing, not rounding.

// arr is a float64 reference array with its shape.
type arr struct {
	shape []int
	v     []float64
}

func randArr(r *rand.Rand, shape ...int) arr {
	v := make([]float64, tensor.Shape(shape).Size())
	for i := range v {
		v[i] = float64(r.IntN(9) - 4)
	}
	return arr{shape, v}
}

func (a arr) f32() *tensor.Tensor {
	v := make([]float32, len(a.v))
	for i, x := range a.v {
		v[i] = float32(x)
	}
	return tensor.MustFrom(a.shape, v)
}

func (a arr) f64() *tensor.Tensor { return tensor.MustFrom(a.shape, append([]float64(nil), a.v...)) }

func (a arr) i64() *tensor.Tensor {
	v := make([]int64, len(a.v))
	for i, x := range a.v {
		v[i] = int64(x)
	}
	return tensor.MustFrom(a.shape, v)
}

// at reads a at a multi-index.
func (a arr) at(idx ...int) float64 { return a.v[flat(a.shape, idx)] }

func flat(shape, idx []int) int {
	off := 0
	for i, d := range shape {
		off = off*d + idx[i]
	}
	return off
}

// each calls fn for every multi-index of shape in row-major order.
func each(shape []int, fn func(idx []int)) {
	n := tensor.Shape(shape).Size()
	idx := make([]int, len(shape))
	for range n {
		fn(idx)
		for d := len(shape) - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// convParams are Conv's attributes, resolved: explicit pads always.
type convParams struct {
	group                   int
	strides, pads, dilation []int
}

// refConv is the definition of ONNX Conv.
func refConv(x, w arr, b *arr, p convParams) arr {
	nd := len(x.shape) - 2
	n, c, m := x.shape[0], x.shape[1], w.shape[0]
	cg, mg := c/p.group, m/p.group
	out := []int{n, m}
	for i := range nd {
		extent := (w.shape[2+i]-1)*p.dilation[i] + 1
		out = append(out, (x.shape[2+i]+p.pads[i]+p.pads[i+nd]-extent)/p.strides[i]+1)
	}
	y := arr{out, make([]float64, tensor.Shape(out).Size())}
	each(out, func(o []int) {
		mm := o[1]
		g := mm / mg
		s := 0.0
		if b != nil {
			s = b.v[mm]
		}
		each(w.shape[1:], func(k []int) { // k[0] is the channel within the group
			xi := []int{o[0], g*cg + k[0]}
			for i := range nd {
				pos := o[2+i]*p.strides[i] - p.pads[i] + k[1+i]*p.dilation[i]
				if pos < 0 || pos >= x.shape[2+i] {
					return
				}
				xi = append(xi, pos)
			}
			s += x.at(xi...) * w.at(append([]int{mm}, k...)...)
		})
		y.v[flat(out, o)] = s
	})
	return y
}

// refMaxPool is the definition of ONNX MaxPool for explicit pads, with
// the output shape given by the caller (computed by hand in each case).
func refMaxPool(x arr, kernel, strides, pads, dilation, outSpatial []int, colMajor bool) (arr, arr) {
	nd := len(kernel)
	out := append([]int{x.shape[0], x.shape[1]}, outSpatial...)
	y := arr{out, make([]float64, tensor.Shape(out).Size())}
	ind := arr{out, make([]float64, len(y.v))}
	spatial := x.shape[2:]
	each(out, func(o []int) {
		best, at, found := 0.0, 0, false
		each(kernel, func(k []int) {
			pos := make([]int, nd)
			for i := range nd {
				pos[i] = o[2+i]*strides[i] - pads[i] + k[i]*dilation[i]
				if pos[i] < 0 || pos[i] >= spatial[i] {
					return
				}
			}
			v := x.at(append([]int{o[0], o[1]}, pos...)...)
			if found && v <= best {
				return
			}
			best, at, found = v, flat(spatial, pos), true
			if colMajor { // the first spatial axis counts fastest
				at = 0
				for i := nd - 1; i >= 0; i-- {
					at = at*spatial[i] + pos[i]
				}
			}
		})
		y.v[flat(out, o)] = best
		ind.v[flat(out, o)] = float64((o[0]*x.shape[1]+o[1])*tensor.Shape(spatial).Size() + at)
	})
	return y, ind
}

// refBroadcast returns the numpy broadcast shape and, for an index into
// it, the index into an operand.
func broadcastShape(a, b []int) []int {
	r := max(len(a), len(b))
	out := make([]int, r)
	for i := range r {
		da, db := 1, 1
		if j := len(a) - r + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - r + i; j >= 0 {
			db = b[j]
		}
		out[i] = max(da, db)
	}
	return out
}

func operandIndex(shape, idx []int) []int {
	off := len(idx) - len(shape)
	out := make([]int, len(shape))
	for i, d := range shape {
		if d != 1 {
			out[i] = idx[off+i]
		}
	}
	return out
}

func refAdd(a, b arr) arr {
	out := broadcastShape(a.shape, b.shape)
	y := arr{out, make([]float64, tensor.Shape(out).Size())}
	each(out, func(idx []int) {
		y.v[flat(out, idx)] = a.at(operandIndex(a.shape, idx)...) + b.at(operandIndex(b.shape, idx)...)
	})
	return y
}

// refMatMul is numpy.matmul.
func refMatMul(a, b arr) arr {
	as, bs := a.shape, b.shape
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	m, k, n := as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
	batch := broadcastShape(as[:len(as)-2], bs[:len(bs)-2])
	full := append(append(append([]int{}, batch...), m), n)
	y := arr{full, make([]float64, tensor.Shape(full).Size())}
	each(full, func(idx []int) {
		bi := idx[:len(batch)]
		ai := operandIndex(as[:len(as)-2], bi)
		bj := operandIndex(bs[:len(bs)-2], bi)
		s := 0.0
		for p := range k {
			s += a.v[flat(as, append(append([]int{}, ai...), idx[len(batch)], p))] *
				b.v[flat(bs, append(append([]int{}, bj...), p, idx[len(batch)+1]))]
		}
		y.v[flat(full, idx)] = s
	})
	// Drop the dimensions numpy added for 1-D operands.
	out := append([]int{}, batch...)
	if len(a.shape) > 1 {
		out = append(out, m)
	}
	if len(b.shape) > 1 {
		out = append(out, n)
	}
	y.shape = out
	return y
}

func relu(a arr) arr {
	y := arr{a.shape, make([]float64, len(a.v))}
	for i, v := range a.v {
		y.v[i] = max(v, 0)
	}
	return y
}

// model wraps nodes into a model. Inputs with a tensor in consts become
// initializers; the rest are graph inputs declared with their given shapes.
func model(opset int64, nodes []*graph.Node, inputs []tensor.Named, consts map[string]*tensor.Tensor, outputs ...string) *graph.Model {
	g := &graph.Graph{Name: "test", Nodes: nodes, Initializers: consts}
	for _, in := range inputs {
		vi := graph.ValueInfo{Name: in.Name, DType: in.DType}
		for _, d := range in.Shape {
			vi.Dims = append(vi.Dims, graph.FixedDim(int64(d)))
		}
		g.Inputs = append(g.Inputs, vi)
	}
	for _, o := range outputs {
		g.Outputs = append(g.Outputs, graph.ValueInfo{Name: o, DType: tensor.Float32, UnknownRank: true})
	}
	return &graph.Model{IRVersion: 8, Opsets: map[string]int64{"": opset}, Graph: g}
}

func nd(op string, in []string, out []string, attrs ...*graph.Attr) *graph.Node {
	return &graph.Node{Name: op + "_" + out[0], OpType: op, Inputs: in, Outputs: out, Attrs: graph.Attrs(attrs...)}
}

func ints(v ...int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// check compiles m, runs it and compares every output with want.
func check(t *testing.T, m *graph.Model, inputs []tensor.Named, want ...*tensor.Tensor) {
	t.Helper()
	p, err := exec.Compile(m)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	got, err := p.Run(context.Background(), inputs)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d outputs, want %d", len(got), len(want))
	}
	for i := range want {
		if err := enginetest.AllClose(got[i].Tensor, want[i]); err != nil {
			t.Errorf("output %d: %v", i, err)
		}
	}
}

func TestConvMatchesReference(t *testing.T) {
	cases := []struct {
		name      string
		x, w      []int
		bias      bool
		p         convParams
		attrs     []*graph.Attr // as the node states them
		weightsIn bool          // W and B as initializers instead of inputs
		double    bool
	}{
		{name: "1-D strided dilated padded", x: []int{2, 3, 17}, w: []int{4, 3, 5}, bias: true,
			p:     convParams{1, []int{2}, []int{2, 1}, []int{2}},
			attrs: []*graph.Attr{graph.IntsAttr("strides", 2), graph.IntsAttr("pads", 2, 1), graph.IntsAttr("dilations", 2)}},
		{name: "2-D asymmetric", x: []int{1, 3, 11, 13}, w: []int{5, 3, 3, 3},
			p:     convParams{1, []int{2, 1}, []int{1, 0, 2, 1}, []int{1, 2}},
			attrs: []*graph.Attr{graph.IntsAttr("strides", 2, 1), graph.IntsAttr("pads", 1, 0, 2, 1), graph.IntsAttr("dilations", 1, 2), graph.IntsAttr("kernel_shape", 3, 3)}},
		{name: "2-D grouped with bias", x: []int{2, 4, 7, 6}, w: []int{6, 2, 3, 2}, bias: true, weightsIn: true,
			p:     convParams{2, []int{1, 1}, []int{1, 1, 1, 1}, []int{1, 1}},
			attrs: []*graph.Attr{graph.IntAttr("group", 2), graph.IntsAttr("pads", 1, 1, 1, 1)}},
		{name: "2-D depthwise SAME_UPPER", x: []int{1, 5, 9, 8}, w: []int{5, 1, 3, 3}, bias: true,
			// out = ceil(9/2)=5, ceil(8/2)=4; pads total (5-1)*2+3-9=2 → 1,1; (4-1)*2+3-8=1 → 0,1
			p:     convParams{5, []int{2, 2}, []int{1, 0, 1, 1}, []int{1, 1}},
			attrs: []*graph.Attr{graph.IntAttr("group", 5), graph.IntsAttr("strides", 2, 2), graph.StringAttr("auto_pad", "SAME_UPPER")}},
		{name: "2-D SAME_LOWER stride 3", x: []int{1, 2, 10, 7}, w: []int{3, 2, 4, 2},
			// out = 4, 3; totals (4-1)*3+4-10=3 → 2,1; (3-1)*3+2-7=1 → 1,0
			p:     convParams{1, []int{3, 3}, []int{2, 1, 1, 0}, []int{1, 1}},
			attrs: []*graph.Attr{graph.IntsAttr("strides", 3, 3), graph.StringAttr("auto_pad", "SAME_LOWER")}},
		{name: "2-D VALID", x: []int{1, 1, 6, 5}, w: []int{2, 1, 3, 3},
			p:     convParams{1, []int{2, 1}, []int{0, 0, 0, 0}, []int{1, 1}},
			attrs: []*graph.Attr{graph.IntsAttr("strides", 2, 1), graph.StringAttr("auto_pad", "VALID")}},
		{name: "2-D pointwise", x: []int{2, 7, 5, 3}, w: []int{3, 7, 1, 1}, bias: true,
			p: convParams{1, []int{1, 1}, []int{0, 0, 0, 0}, []int{1, 1}}},
		{name: "2-D larger", x: []int{1, 8, 31, 29}, w: []int{4, 8, 3, 3}, weightsIn: true,
			p:     convParams{1, []int{1, 1}, []int{1, 1, 1, 1}, []int{1, 1}},
			attrs: []*graph.Attr{graph.IntsAttr("pads", 1, 1, 1, 1)}},
		{name: "3-D", x: []int{1, 2, 5, 6, 7}, w: []int{3, 2, 2, 3, 2}, bias: true,
			p:     convParams{1, []int{1, 2, 1}, []int{1, 0, 1, 0, 1, 1}, []int{2, 1, 1}},
			attrs: []*graph.Attr{graph.IntsAttr("strides", 1, 2, 1), graph.IntsAttr("pads", 1, 0, 1, 0, 1, 1), graph.IntsAttr("dilations", 2, 1, 1)}},
		{name: "2-D float64 grouped", x: []int{1, 6, 5, 5}, w: []int{3, 2, 2, 2}, bias: true, double: true,
			p:     convParams{3, []int{1, 1}, []int{0, 1, 1, 0}, []int{1, 1}},
			attrs: []*graph.Attr{graph.IntAttr("group", 3), graph.IntsAttr("pads", 0, 1, 1, 0)}},
	}
	r := rand.New(rand.NewPCG(7, 7))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x, w := randArr(r, tc.x...), randArr(r, tc.w...)
			var b *arr
			in := []string{"X", "W"}
			conv := func(a arr) *tensor.Tensor {
				if tc.double {
					return a.f64()
				}
				return a.f32()
			}
			inputs := []tensor.Named{{Name: "X", Tensor: conv(x)}}
			consts := map[string]*tensor.Tensor{}
			weights := []tensor.Named{{Name: "W", Tensor: conv(w)}}
			if tc.bias {
				bb := randArr(r, tc.w[0])
				b = &bb
				in = append(in, "B")
				weights = append(weights, tensor.Named{Name: "B", Tensor: conv(bb)})
			}
			if tc.weightsIn {
				for _, wt := range weights {
					consts[wt.Name] = wt.Tensor
				}
			} else {
				inputs = append(inputs, weights...)
			}
			m := model(22, []*graph.Node{nd("Conv", in, []string{"Y"}, tc.attrs...)}, inputs, consts, "Y")
			want := refConv(x, w, b, tc.p)
			check(t, m, inputs, conv(want))
		})
	}
}

func TestMaxPoolMatchesReference(t *testing.T) {
	cases := []struct {
		name     string
		x        []int
		kernel   []int
		strides  []int
		pads     []int // resolved
		dilation []int
		out      []int // spatial output shape, by hand
		colMajor bool
		attrs    []*graph.Attr
	}{
		{name: "2-D ceil dilated padded", x: []int{2, 3, 7, 9}, kernel: []int{3, 2}, strides: []int{2, 1}, pads: []int{1, 0, 1, 1}, dilation: []int{1, 2},
			// H: (7+2-3)/2 → ceil 3 +1 = 4; last start 6 < 7+1 ✓. W: (9+1-3)/1+1 = 8
			out: []int{4, 8},
			attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 3, 2), graph.IntsAttr("strides", 2, 1), graph.IntsAttr("pads", 1, 0, 1, 1),
				graph.IntsAttr("dilations", 1, 2), graph.IntAttr("ceil_mode", 1)}},
		{name: "1-D ceil drops window in end padding", x: []int{1, 2, 10}, kernel: []int{4}, strides: []int{3}, pads: []int{0, 2}, dilation: []int{1},
			// (10+2-4)/3 = 2.67 → ceil 3 + 1 = 4; start (4-1)*3 = 9 < 10 ✓ → 4
			out:   []int{4},
			attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 4), graph.IntsAttr("strides", 3), graph.IntsAttr("pads", 0, 2), graph.IntAttr("ceil_mode", 1)}},
		{name: "1-D ceil window starting in padding is dropped", x: []int{1, 1, 5}, kernel: []int{2}, strides: []int{2}, pads: []int{0, 2}, dilation: []int{1},
			// (5+2-2)/2 = 2.5 → ceil 3 + 1 = 4; start 3*2 = 6 >= 5 → 3
			out:   []int{3},
			attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 2), graph.IntsAttr("strides", 2), graph.IntsAttr("pads", 0, 2), graph.IntAttr("ceil_mode", 1)}},
		{name: "3-D dilated column-major indices", x: []int{1, 2, 6, 5, 7}, kernel: []int{2, 2, 3}, strides: []int{1, 2, 2}, pads: []int{0, 1, 1, 1, 0, 1}, dilation: []int{2, 1, 1},
			// D: (6+1-3)/1+1 = 5; H: (5+1-2)/2+1 = 3; W: (7+2-3)/2+1 = 4
			out: []int{5, 3, 4}, colMajor: true,
			attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 2, 2, 3), graph.IntsAttr("strides", 1, 2, 2), graph.IntsAttr("pads", 0, 1, 1, 1, 0, 1),
				graph.IntsAttr("dilations", 2, 1, 1), graph.IntAttr("storage_order", 1)}},
		{name: "2-D SAME_UPPER", x: []int{1, 1, 7, 6}, kernel: []int{3, 3}, strides: []int{2, 2}, dilation: []int{1, 1},
			// out 4, 3; totals (4-1)*2+3-7 = 2 → 1,1; (3-1)*2+3-6 = 1 → 0,1
			pads: []int{1, 0, 1, 1}, out: []int{4, 3},
			attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("strides", 2, 2), graph.StringAttr("auto_pad", "SAME_UPPER")}},
		{name: "2-D SAME_LOWER", x: []int{1, 1, 7, 6}, kernel: []int{3, 3}, strides: []int{2, 2}, dilation: []int{1, 1},
			pads: []int{1, 1, 1, 0}, out: []int{4, 3},
			attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("strides", 2, 2), graph.StringAttr("auto_pad", "SAME_LOWER")}},
	}
	r := rand.New(rand.NewPCG(8, 8))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := randArr(r, tc.x...)
			inputs := []tensor.Named{{Name: "X", Tensor: x.f32()}}
			m := model(22, []*graph.Node{nd("MaxPool", []string{"X"}, []string{"Y", "I"}, tc.attrs...)}, inputs, nil, "Y", "I")
			m.Graph.Outputs[1].DType = tensor.Int64
			y, ind := refMaxPool(x, tc.kernel, tc.strides, tc.pads, tc.dilation, tc.out, tc.colMajor)
			check(t, m, inputs, y.f32(), ind.i64())
		})
	}
}

func TestMatMulMatchesReference(t *testing.T) {
	cases := []struct {
		a, b   []int
		double bool
	}{
		{a: []int{2, 1, 3, 4}, b: []int{3, 4, 5}},
		{a: []int{5}, b: []int{2, 5, 3}},
		{a: []int{2, 3, 4}, b: []int{4}},
		{a: []int{7}, b: []int{7}},
		{a: []int{7, 6}, b: []int{6, 9}},
		{a: []int{3, 2, 5, 4}, b: []int{4, 6}},    // one B for every batch entry
		{a: []int{1, 3, 4}, b: []int{2, 1, 4, 2}}, // both broadcast
		{a: []int{3, 1, 13, 17}, b: []int{1, 4, 17, 11}, double: true},
	}
	r := rand.New(rand.NewPCG(9, 9))
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.a, tc.b, tc.double), func(t *testing.T) {
			a, b := randArr(r, tc.a...), randArr(r, tc.b...)
			conv := arr.f32
			if tc.double {
				conv = arr.f64
			}
			inputs := []tensor.Named{{Name: "A", Tensor: conv(a)}, {Name: "B", Tensor: conv(b)}}
			m := model(13, []*graph.Node{nd("MatMul", []string{"A", "B"}, []string{"Y"})}, inputs, nil, "Y")
			check(t, m, inputs, conv(refMatMul(a, b)))
		})
	}
}

func TestAddMatchesReference(t *testing.T) {
	cases := []struct{ a, b []int }{
		{[]int{2, 3, 1, 5}, []int{3, 4, 1}},
		{[]int{1}, []int{4, 1, 3}},
		{[]int{}, []int{2, 2}},
		{[]int{3, 7}, []int{3, 7}},
		{[]int{1, 8, 5, 5}, []int{8, 1, 1}},
		{[]int{5, 1}, []int{1, 5}},
	}
	r := rand.New(rand.NewPCG(10, 10))
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.a, tc.b), func(t *testing.T) {
			a, b := randArr(r, tc.a...), randArr(r, tc.b...)
			inputs := []tensor.Named{{Name: "A", Tensor: a.f32()}, {Name: "B", Tensor: b.f32()}}
			m := model(14, []*graph.Node{nd("Add", []string{"A", "B"}, []string{"C"})}, inputs, nil, "C")
			check(t, m, inputs, refAdd(a, b).f32())
		})
	}
}

// TestNetworkMatchesReference runs a small convolutional network, shaped
// like mnist but with odd sizes, built node by node, against the
// composition of the reference implementations.
func TestNetworkMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	x := randArr(r, 2, 3, 13, 11)
	w1, b1 := randArr(r, 4, 3, 3, 3), randArr(r, 4, 1, 1)
	w2 := randArr(r, 6, 2, 2, 2)
	fc, fb := randArr(r, 6*3*2, 5), randArr(r, 5)

	h := refConv(x, w1, nil, convParams{1, []int{1, 1}, []int{1, 1, 1, 1}, []int{1, 1}}) // 2,4,13,11
	h = relu(refAdd(h, b1))
	h, _ = refMaxPool(h, []int{2, 2}, []int{2, 2}, []int{0, 0, 0, 0}, []int{1, 1}, []int{6, 5}, false)
	h = refConv(h, w2, nil, convParams{2, []int{2, 2}, []int{0, 0, 0, 0}, []int{1, 1}}) // 2,6,3,2
	h = arr{[]int{2, 36}, h.v}
	want := refAdd(refMatMul(h, fc), fb)

	nodes := []*graph.Node{ // deliberately out of order: the executor sorts
		nd("Add", []string{"mm", "fb"}, []string{"logits"}),
		nd("Conv", []string{"X", "w1"}, []string{"c1"}, graph.IntsAttr("pads", 1, 1, 1, 1)),
		nd("Add", []string{"c1", "b1"}, []string{"a1"}),
		nd("Relu", []string{"a1"}, []string{"r1"}),
		nd("MaxPool", []string{"r1"}, []string{"p1"}, graph.IntsAttr("kernel_shape", 2, 2), graph.IntsAttr("strides", 2, 2)),
		nd("Conv", []string{"p1", "w2"}, []string{"c2"}, graph.IntAttr("group", 2), graph.IntsAttr("strides", 2, 2)),
		nd("Reshape", []string{"c2", "flat"}, []string{"f"}),
		nd("MatMul", []string{"f", "fcw"}, []string{"mm"}),
		nd("Constant", nil, []string{"flat"}, graph.IntsAttr("value_ints", 0, -1)),
		nd("Reshape", []string{"fc", "fcshape"}, []string{"fcw"}), // folded at compile time
		nd("Relu", []string{"X"}, []string{"unused"}),             // pruned
	}
	consts := map[string]*tensor.Tensor{
		"w1": w1.f32(), "b1": b1.f32(), "w2": w2.f32(), "fb": fb.f32(),
		"fc": arr{[]int{fc.shape[0] * fc.shape[1]}, fc.v}.f32(), "fcshape": tensor.MustFrom(tensor.Shape{2}, ints(36, 5)),
	}
	inputs := []tensor.Named{{Name: "X", Tensor: x.f32()}}
	check(t, model(13, nodes, inputs, consts, "logits"), inputs, want.f32())
}
