package ops

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// TestParallelPathsMatchSerial runs operators large enough to split over a
// compute pool and checks that the result is bit for bit the serial one:
// the parts are computed by the same kernels on the same elements (rows,
// runs, batch entries). A GEMM split in row blocks may block its depth
// differently from the whole (kernels.SgemmParallel), so MatMul and Gemm
// are compared within float32 rounding instead.
func TestParallelPathsMatchSerial(t *testing.T) {
	cmp := kernels.NewCompute(3)
	defer cmp.Close()
	cases := []struct {
		op     string
		opset  int64
		attrs  []*graph.Attr
		inputs [][]int
	}{
		{"Add", 14, nil, [][]int{{300001}, {300001}}},
		{"Add", 14, nil, [][]int{{512, 301}, {301}}},
		{"Sub", 14, nil, [][]int{{3, 1, 300000}, {3, 1, 1}}},
		{"Mul", 14, nil, [][]int{{512, 300}, {512, 1}}},
		{"Div", 14, nil, [][]int{{1}, {200000}}},
		{"Relu", 14, nil, [][]int{{300001}}},
		{"Erf", 13, nil, [][]int{{100003}}},
		{"Gelu", 20, nil, [][]int{{100003}}},
		{"Softmax", 13, nil, [][]int{{512, 301}}},
		{"LogSoftmax", 13, nil, [][]int{{512, 301}}},
		{"LayerNormalization", 17, nil, [][]int{{512, 301}, {301}, {301}}},
		{"MatMul", 13, nil, [][]int{{64, 32, 40}, {64, 40, 24}}},
		{"MatMul", 13, nil, [][]int{{8, 1, 16, 48}, {1, 4, 48, 16}}},
		{"MatMul", 13, nil, [][]int{{3, 200, 300}, {300, 100}}},
		{"Gemm", 13, []*graph.Attr{graph.IntAttr("transB", 1)}, [][]int{{100, 300}, {200, 300}, {200}}},
	}
	r := rand.New(rand.NewPCG(51, 52))
	for _, c := range cases {
		t.Run(c.op, func(t *testing.T) {
			is := is.New(t)
			n := &graph.Node{Name: c.op, OpType: c.op, Attrs: graph.Attrs(c.attrs...), Outputs: []string{"y"}}
			in := make([]*tensor.Tensor, len(c.inputs))
			for i, s := range c.inputs {
				n.Inputs = append(n.Inputs, string(rune('a'+i)))
				in[i] = randF32(r, s...)
			}
			k, _, err := Default().Build(n, map[string]int64{"": c.opset})
			is.NoErr(err)
			run := func(ctx context.Context) []float32 {
				var sc Scratch
				out := make([]*tensor.Tensor, 1)
				is.NoErr(k.Run(WithScratch(ctx, &sc), in, out))
				return tensor.Values[float32](out[0])
			}
			want := run(context.Background())
			got := run(WithCompute(context.Background(), cmp))
			is.Equal(len(got), len(want))
			gemm := c.op == "MatMul" || c.op == "Gemm"
			for i := range want {
				same := math.Float32bits(got[i]) == math.Float32bits(want[i])
				if gemm {
					same = math.Abs(float64(got[i]-want[i])) <= 1e-5*(1+math.Abs(float64(want[i])))
				}
				if !same {
					t.Fatalf("element %d: %v on the pool, %v serially", i, got[i], want[i])
				}
			}
		})
	}
}
