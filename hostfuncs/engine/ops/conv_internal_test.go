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

// TestPadPlanesLayout fills padded planes, with and without row phases,
// and reads every padded element back where the convolution reads it
// (phase plane, row·qw + column): the input inside, zero in the padding,
// including where unit-stride rows share their padding columns, and never
// past the planes.
func TestPadPlanesLayout(t *testing.T) {
	cases := []struct {
		name  string
		x, w  []int
		attrs []*graph.Attr
	}{
		{"3x3", []int{5, 7}, []int{3, 3}, []*graph.Attr{graph.IntsAttr("pads", 1, 1, 1, 1)}},
		{"3x3_aligned", []int{4, 14}, []int{3, 3}, []*graph.Attr{graph.IntsAttr("pads", 1, 1, 1, 1)}},
		{"5x5", []int{6, 14}, []int{5, 5}, []*graph.Attr{graph.IntsAttr("pads", 2, 2, 2, 2)}},
		{"asym", []int{6, 9}, []int{3, 4}, []*graph.Attr{graph.IntsAttr("pads", 0, 3, 2, 1)}},
		{"right_only", []int{3, 8}, []int{1, 3}, []*graph.Attr{graph.IntsAttr("pads", 0, 0, 0, 2)}},
		{"wide_pads", []int{4, 5}, []int{3, 3}, []*graph.Attr{graph.IntsAttr("pads", 2, 4, 1, 5)}},
		{"dilated", []int{7, 11}, []int{3, 3}, []*graph.Attr{graph.IntsAttr("pads", 2, 2, 2, 2), graph.IntsAttr("dilations", 2, 2)}},
		{"no_pads", []int{5, 6}, []int{2, 3}, nil},
		{"rows_s2", []int{9, 10}, []int{3, 3}, []*graph.Attr{graph.IntsAttr("pads", 1, 1, 1, 1), graph.IntsAttr("strides", 2, 1)}},
		{"s2", []int{9, 10}, []int{3, 3}, []*graph.Attr{graph.IntsAttr("pads", 1, 1, 1, 1), graph.IntsAttr("strides", 2, 2)}},
		{"s3x2_asym", []int{11, 13}, []int{3, 3}, []*graph.Attr{graph.IntsAttr("pads", 2, 1, 0, 3), graph.IntsAttr("strides", 3, 2)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := &graph.Node{Name: "c", OpType: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"y"}, Attrs: graph.Attrs(tc.attrs...)}
			k, err := buildConv(n, 11)
			if err != nil {
				t.Fatal(err)
			}
			kc := k.(conv)
			g, err := kc.w.resolve(tc.x, tc.w)
			if err != nil {
				t.Fatal(err)
			}
			h, w := g.in[0], g.in[1]
			x := make([]float32, h*w)
			for i := range x {
				x[i] = float32(i + 1)
			}
			for _, pp := range []padPlanes{newPadPlanes(&g), newPadPlanesRows(&g)} {
				if pp.s1 == 1 && (pp.qw < w+max(g.pb[1], g.pe[1]) || pp.qw > pp.pw) {
					t.Fatalf("row pitch %d outside [%d, %d]", pp.qw, w+max(g.pb[1], g.pe[1]), pp.pw)
				}
				buf := make([]float32, pp.size)
				pp.fill(buf, x, &g)
				for r := range pp.ph {
					for c := range pp.pw {
						i := ((c%pp.s1)*pp.s0+r%pp.s0)*pp.rh*pp.qw + r/pp.s0*pp.qw + c/pp.s1
						if i >= pp.planes() {
							t.Fatalf("s0=%d: padded (%d, %d) at %d, past the planes' %d", pp.s0, r, c, i, pp.planes())
						}
						want := float32(0)
						if ih, iw := r-g.pb[0], c-g.pb[1]; ih >= 0 && ih < h && iw >= 0 && iw < w {
							want = x[ih*w+iw]
						}
						if buf[i] != want {
							t.Fatalf("s0=%d qw=%d: padded (%d, %d) reads %v, want %v", pp.s0, pp.qw, r, c, buf[i], want)
						}
					}
				}
			}
		})
	}
}
