package ops

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// TestSpatialBanding checks that ConvTranspose and DeformConv, which lower
// a band of positions at a time when the column buffer would exceed its
// budget, give the same result for any band size.
func TestSpatialBanding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	randT := func(shape ...int) *tensor.Tensor {
		v := make([]float32, tensor.Shape(shape).Size())
		for i := range v {
			v[i] = float32(r.IntN(9)-4) / 4
		}
		return tensor.MustFrom(shape, v)
	}
	cases := []struct {
		name  string
		op    string
		in    []*tensor.Tensor
		attrs []*graph.Attr
	}{
		{"ConvTranspose 1-D", "ConvTranspose", []*tensor.Tensor{randT(2, 3, 17), randT(3, 2, 3), randT(2)}, []*graph.Attr{graph.IntsAttr("strides", 2), graph.IntsAttr("pads", 1, 2)}},
		{"ConvTranspose 2-D groups", "ConvTranspose", []*tensor.Tensor{randT(1, 4, 7, 5), randT(4, 3, 2, 3)}, []*graph.Attr{graph.IntAttr("group", 2), graph.IntsAttr("dilations", 2, 1)}},
		{"ConvTranspose 3-D", "ConvTranspose", []*tensor.Tensor{randT(1, 2, 3, 4, 5), randT(2, 1, 2, 2, 2)}, []*graph.Attr{graph.IntsAttr("output_padding", 1, 0, 1), graph.IntsAttr("strides", 2, 1, 2)}},
		{"DeformConv 2-D", "DeformConv", []*tensor.Tensor{randT(2, 4, 6, 5), randT(4, 2, 2, 2), randT(2, 16, 5, 4), randT(4), randT(2, 8, 5, 4)}, []*graph.Attr{graph.IntAttr("group", 2), graph.IntAttr("offset_group", 2)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := &graph.Node{Name: "n", OpType: tc.op, Inputs: make([]string, len(tc.in)), Outputs: []string{"y"}, Attrs: graph.Attrs(tc.attrs...)}
			for i := range n.Inputs {
				n.Inputs[i] = string(rune('a' + i))
			}
			k, _, err := Default().Build(n, map[string]int64{"": 22})
			if err != nil {
				t.Fatal(err)
			}
			whole := make([]*tensor.Tensor, 1)
			if err := k.Run(context.Background(), tc.in, whole); err != nil {
				t.Fatal(err)
			}
			for _, budget := range []int{1, 7, 50, 200} {
				var banded Kernel
				switch k := k.(type) {
				case convTranspose:
					k.colBudget = budget
					banded = k
				case deformConv:
					k.colBudget = budget
					banded = k
				}
				out := make([]*tensor.Tensor, 1)
				if err := banded.Run(WithScratch(context.Background(), &Scratch{}), tc.in, out); err != nil {
					t.Fatal(err)
				}
				if err := enginetest.AllClose(out[0], whole[0]); err != nil {
					t.Errorf("budget %d: %v", budget, err)
				}
			}
		})
	}
}

// TestSpatialSteadyStateAllocs runs each operator twice on the same
// buffers and checks that the second run allocates nothing.
func TestSpatialSteadyStateAllocs(t *testing.T) {
	if raceOn {
		t.Skip("the race detector makes sync.Pool (the GEMM's packing buffers) drop items, which allocates")
	}
	f := func(shape ...int) *tensor.Tensor {
		v := make([]float32, tensor.Shape(shape).Size())
		for i := range v {
			v[i] = float32(i%5) - 2
		}
		return tensor.MustFrom(shape, v)
	}
	i64 := func(v ...int64) *tensor.Tensor { return tensor.MustFrom(tensor.Shape{len(v)}, v) }
	cases := []struct {
		op    string
		in    []*tensor.Tensor
		attrs []*graph.Attr
	}{
		{"AveragePool", []*tensor.Tensor{f(1, 2, 9, 9)}, []*graph.Attr{graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("pads", 1, 1, 1, 1)}},
		{"ConvTranspose", []*tensor.Tensor{f(1, 2, 9, 9), f(2, 3, 3, 3)}, nil},
		{"Resize", []*tensor.Tensor{f(1, 2, 9, 9), nil, tensor.MustFrom(tensor.Shape{4}, []float32{1, 1, 1.5, 0.5})}, []*graph.Attr{graph.StringAttr("mode", "cubic")}},
		{"Resize", []*tensor.Tensor{f(1, 2, 9, 9), nil, nil, i64(1, 2, 20, 4)}, nil},
		{"GridSample", []*tensor.Tensor{f(1, 2, 9, 9), f(1, 4, 4, 2)}, nil},
		{"Col2Im", []*tensor.Tensor{f(1, 8, 4), i64(3, 3), i64(2, 2)}, nil},
		{"LRN", []*tensor.Tensor{f(1, 5, 4, 4)}, []*graph.Attr{graph.IntAttr("size", 3)}},
		{"RoiAlign", []*tensor.Tensor{f(1, 2, 9, 9), f(2, 4), tensor.MustFrom(tensor.Shape{2}, []int64{0, 0})}, nil},
		{"DeformConv", []*tensor.Tensor{f(1, 2, 6, 6), f(2, 2, 2, 2), f(1, 8, 5, 5)}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.op, func(t *testing.T) {
			n := &graph.Node{Name: "n", OpType: tc.op, Inputs: make([]string, len(tc.in)), Outputs: []string{"y"}, Attrs: graph.Attrs(tc.attrs...)}
			for i, in := range tc.in {
				if in != nil {
					n.Inputs[i] = string(rune('a' + i))
				}
			}
			k, _, err := Default().Build(n, map[string]int64{"": 22})
			if err != nil {
				t.Fatal(err)
			}
			sc := &Scratch{}
			ctx := WithScratch(context.Background(), sc)
			out := make([]*tensor.Tensor, 1)
			run := func() {
				sc.Reset()
				if err := k.Run(ctx, tc.in, out); err != nil {
					t.Fatal(err)
				}
			}
			run()
			run()
			if a := testing.AllocsPerRun(5, run); a > 0 {
				t.Errorf("%v allocations per steady-state run", a)
			}
		})
	}
}
