package ops_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// TestReduceFamilyNoAllocs checks that, once warm, the family's kernels
// run on scratch and reused outputs without allocating.
func TestReduceFamilyNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 3))
	x := redMake(tensor.Float32, tensor.Shape{2, 3, 5}, redRand(r, 30, tensor.Float32))
	h := redMake(tensor.Float16, tensor.Shape{2, 3, 5}, redRand(r, 30, tensor.Float16))
	i32 := redMake(tensor.Int32, tensor.Shape{2, 3, 5}, redRand(r, 30, tensor.Int32))
	c3 := redMake(tensor.Float32, tensor.Shape{3}, []float64{1, 2, 3})
	v3 := redMake(tensor.Float32, tensor.Shape{3}, []float64{1, 2, 3})
	s5 := redMake(tensor.Float32, tensor.Shape{5}, []float64{1, 2, 3, 4, 5})
	axes := tensor.MustFrom(tensor.Shape{2}, []int64{0, -1})
	cases := []struct {
		op    string
		opset int64
		nOut  int
		attrs []*graph.Attr
		in    []*tensor.Tensor
	}{
		{"ReduceSum", 13, 1, nil, []*tensor.Tensor{x, axes}},
		{"ReduceLogSumExp", 18, 1, nil, []*tensor.Tensor{h, axes}},
		{"ReduceMax", 18, 1, nil, []*tensor.Tensor{i32, axes}},
		{"ReduceMean", 18, 1, nil, []*tensor.Tensor{i32, axes}},
		{"ArgMax", 13, 1, nil, []*tensor.Tensor{h}},
		{"Softmax", 13, 1, []*graph.Attr{graph.IntAttr("axis", 1)}, []*tensor.Tensor{h}},
		{"LogSoftmax", 11, 1, nil, []*tensor.Tensor{x}},
		{"Hardmax", 13, 1, nil, []*tensor.Tensor{x}},
		{"CumSum", 14, 1, nil, []*tensor.Tensor{h, tensor.MustFrom(nil, []int64{1})}},
		{"TopK", 11, 2, nil, []*tensor.Tensor{i32, tensor.MustFrom(tensor.Shape{1}, []int64{3})}},
		{"LayerNormalization", 17, 3, nil, []*tensor.Tensor{x, s5, s5}},
		{"RMSNormalization", 23, 1, nil, []*tensor.Tensor{h, redMake(tensor.Float16, tensor.Shape{5}, []float64{1, 2, 3, 4, 5})}},
		{"BatchNormalization", 15, 3, []*graph.Attr{graph.IntAttr("training_mode", 1)}, []*tensor.Tensor{x, c3, c3, c3, v3}},
		{"BatchNormalization", 9, 1, nil, []*tensor.Tensor{x, c3, c3, c3, v3}},
		{"InstanceNormalization", 6, 1, nil, []*tensor.Tensor{x, c3, c3}},
		{"GroupNormalization", 21, 1, []*graph.Attr{graph.IntAttr("num_groups", 3)}, []*tensor.Tensor{x, c3, c3}},
		{"LpNormalization", 1, 1, []*graph.Attr{graph.IntAttr("axis", 1)}, []*tensor.Tensor{x}},
		{"MeanVarianceNormalization", 13, 1, []*graph.Attr{graph.IntsAttr("axes", 0, 2)}, []*tensor.Tensor{x}},
	}
	for _, tc := range cases {
		t.Run(tc.op, func(t *testing.T) {
			n := &graph.Node{Name: tc.op, OpType: tc.op, Attrs: graph.Attrs(tc.attrs...)}
			for i := range tc.in {
				n.Inputs = append(n.Inputs, string(rune('a'+i)))
			}
			for i := range tc.nOut {
				n.Outputs = append(n.Outputs, string(rune('p'+i)))
			}
			k, _, err := redBuild(n, tc.opset)
			if err != nil {
				t.Fatal(err)
			}
			var sc ops.Scratch
			ctx := ops.WithScratch(context.Background(), &sc)
			out := make([]*tensor.Tensor, tc.nOut)
			run := func() {
				sc.Reset()
				if err := k.Run(ctx, tc.in, out); err != nil {
					t.Fatal(err)
				}
			}
			run()
			run()
			if a := testing.AllocsPerRun(10, run); a != 0 {
				t.Errorf("%v allocations per run", a)
			}
		})
	}
}
