package ops

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// TestConvBanding checks that lowering the input a band of output rows at a
// time gives the same result as lowering it at once, for 1-D (bands along
// the only axis), 2-D and 3-D inputs.
func TestConvBanding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	randT := func(shape ...int) *tensor.Tensor {
		v := make([]float32, tensor.Shape(shape).Size())
		for i := range v {
			v[i] = float32(r.IntN(7) - 3)
		}
		return tensor.MustFrom(shape, v)
	}
	cases := []struct {
		name  string
		x, w  []int
		attrs []*graph.Attr
	}{
		{"1-D", []int{1, 3, 40}, []int{2, 3, 3}, []*graph.Attr{graph.IntsAttr("pads", 1, 2), graph.IntsAttr("strides", 2)}},
		{"2-D", []int{2, 4, 13, 11}, []int{4, 2, 3, 3}, []*graph.Attr{graph.IntAttr("group", 2), graph.IntsAttr("pads", 1, 0, 2, 1)}},
		{"3-D", []int{1, 2, 7, 5, 6}, []int{2, 2, 2, 2, 3}, []*graph.Attr{graph.IntsAttr("dilations", 2, 1, 1), graph.IntsAttr("pads", 1, 1, 1, 0, 0, 1)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := &graph.Node{Name: "c", OpType: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{"y"}, Attrs: graph.Attrs(tc.attrs...)}
			k, err := buildConv(n, 11)
			if err != nil {
				t.Fatal(err)
			}
			in := []*tensor.Tensor{randT(tc.x...), randT(tc.w...), randT(tc.w[0])}
			whole := make([]*tensor.Tensor, 1)
			if err := k.Run(context.Background(), in, whole); err != nil {
				t.Fatal(err)
			}
			for _, budget := range []int{1, 50, 200} {
				banded := k.(conv)
				banded.colBudget = budget
				out := make([]*tensor.Tensor, 1)
				if err := banded.Run(context.Background(), in, out); err != nil {
					t.Fatal(err)
				}
				if err := enginetest.AllClose(out[0], whole[0]); err != nil {
					t.Errorf("budget %d: %v", budget, err)
				}
			}
		})
	}
}
