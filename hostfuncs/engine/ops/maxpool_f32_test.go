package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
)

// TestMaxPool2DMatchesGeneral checks the 2-D float32 path against the
// general N-D code, NaNs, infinities, padding, strides and
// dilations included, small planes in stacks of several.
func TestMaxPool2DMatchesGeneral(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		name  string
		in    [2]int
		attrs []*graph.Attr
	}{
		{"mnist 2x2", [2]int{28, 28}, []*graph.Attr{graph.IntsAttr("kernel_shape", 2, 2), graph.IntsAttr("strides", 2, 2)}},
		{"resnet 3x3/2 pad 1", [2]int{15, 16}, []*graph.Attr{graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("strides", 2, 2), graph.IntsAttr("pads", 1, 1, 1, 1)}},
		{"dilated asymmetric", [2]int{11, 9}, []*graph.Attr{graph.IntsAttr("kernel_shape", 3, 2), graph.IntsAttr("dilations", 2, 3), graph.IntsAttr("pads", 2, 0, 1, 3)}},
		{"same upper ceil", [2]int{7, 10}, []*graph.Attr{graph.IntsAttr("kernel_shape", 4, 3), graph.IntsAttr("strides", 3, 2), graph.StringAttr("auto_pad", "SAME_UPPER")}},
		{"window past the input", [2]int{3, 3}, []*graph.Attr{graph.IntsAttr("kernel_shape", 2, 2), graph.IntsAttr("pads", 3, 3, 3, 3)}},
		{"mnist 3x3/3, rows left over", [2]int{14, 14}, []*graph.Attr{graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("strides", 3, 3)}},
		{"1x1 stride 2", [2]int{9, 12}, []*graph.Attr{graph.IntsAttr("kernel_shape", 1, 1), graph.IntsAttr("strides", 2, 2)}},
		{"one wide row of windows", [2]int{2, 40}, []*graph.Attr{graph.IntsAttr("kernel_shape", 2, 5), graph.IntsAttr("strides", 1, 3)}},
		// Rows of wholePlaneWidth or more: vertical maxima row by row,
		// the rest per plane.
		{"wide 2x2", [2]int{6, 66}, []*graph.Attr{graph.IntsAttr("kernel_shape", 2, 2), graph.IntsAttr("strides", 2, 2)}},
		{"wide 3x3/2 pad 1", [2]int{9, 70}, []*graph.Attr{graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("strides", 2, 2), graph.IntsAttr("pads", 1, 1, 1, 1)}},
		{"wide dilated asymmetric", [2]int{12, 67}, []*graph.Attr{graph.IntsAttr("kernel_shape", 3, 2), graph.IntsAttr("dilations", 2, 3), graph.IntsAttr("pads", 2, 0, 1, 3), graph.IntsAttr("strides", 1, 2)}},
		{"wide same upper ceil", [2]int{7, 81}, []*graph.Attr{graph.IntsAttr("kernel_shape", 4, 3), graph.IntsAttr("strides", 3, 2), graph.StringAttr("auto_pad", "SAME_UPPER")}},
		{"wide 1 tall", [2]int{5, 64}, []*graph.Attr{graph.IntsAttr("kernel_shape", 1, 3), graph.IntsAttr("strides", 2, 1)}},
		{"wide window past the input", [2]int{3, 65}, []*graph.Attr{graph.IntsAttr("kernel_shape", 2, 2), graph.IntsAttr("pads", 3, 3, 3, 3)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			w, err := readWindow(&graph.Node{OpType: "MaxPool", Attrs: graph.Attrs(tc.attrs...)})
			is.NoErr(err)
			g, err := w.resolve(tc.in[:], w.kernel)
			is.NoErr(err)
			// More planes than a stack holds for the small ones
			// (maxPoolStack), and a stack left partial.
			planes := 5 + 2*maxPoolGroup(&g)
			x := make([]float32, planes*g.inSize())
			for i := range x {
				switch r.IntN(20) {
				case 0:
					x[i] = float32(math.NaN())
				case 1:
					x[i] = float32(math.Inf(-1))
				default:
					x[i] = r.Float32()*4 - 2
				}
			}
			want := make([]float32, planes*g.outSize())
			got := make([]float32, len(want))
			maxPoolTyped(&poolProblem{g: &g, planes: planes}, x, want, float32(math.Inf(-1)))
			maxPool2DPlanes(&g, x, got, make([]float32, maxPoolScratch(&g)), 1, planes)
			copy(got[:g.outSize()], want) // plane 0 left out: parts start anywhere
			for i := range want {
				if math.IsNaN(float64(want[i])) {
					is.True(math.IsNaN(float64(got[i])))
					continue
				}
				is.Equal(got[i], want[i])
			}
		})
	}
}
