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

// TestPanelBand checks the banding that evens out the threads' column
// panels on ResNet's stages at two threads, and that a band never exceeds
// the budget's.
func TestPanelBand(t *testing.T) {
	cases := []struct {
		o, band0, imgs, parts, width, nr, want int
	}{
		{14, 8, 1, 2, 16, 32, 8}, // 8 + 6 rows: 4 + 3 panels; 7 + 7 would be 4 + 4
		{28, 8, 1, 2, 30, 32, 7}, // 7 + 7 | 7 + 7: 14 panels each, not 16 | 12
		{56, 8, 1, 2, 58, 32, 7}, // 8 bands of 7
		{10, 3, 3, 4, 12, 32, 2}, // several images: 2-row bands, 1 panel each
		{5, 5, 1, 2, 7, 1, 3},    // one column a panel: 3 + 2 rows
	}
	for _, c := range cases {
		got := panelBand(c.o, c.band0, c.imgs, c.parts, c.width, c.nr)
		if got != c.want || got > c.band0 || got < 1 {
			t.Errorf("panelBand(%d, %d, %d, %d, %d, %d) = %d, want %d", c.o, c.band0, c.imgs, c.parts, c.width, c.nr, got, c.want)
		}
	}
}
