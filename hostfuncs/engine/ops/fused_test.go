package ops

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// fusedCase is a fused node and the unfused nodes it stands for, over
// named values.
type fusedCase struct {
	name    string
	fused   *graph.Node
	unfused []*graph.Node
	inputs  map[string][]int
}

func fusedCases() []fusedCase {
	n := func(domain, op string, in []string, out string, attrs ...*graph.Attr) *graph.Node {
		nd := &graph.Node{Name: out, OpType: op, Domain: domain, Inputs: in, Outputs: []string{out}}
		if len(attrs) > 0 {
			nd.Attrs = graph.Attrs(attrs...)
		}
		return nd
	}
	convAttrs := []*graph.Attr{graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("pads", 1, 1, 1, 1)}
	return []fusedCase{
		{"FusedConv residual relu",
			n(FusedDomain, "FusedConv", []string{"x", "w", "b", "z"}, "y", append(convAttrs, graph.StringAttr("activation", "Relu"))...),
			[]*graph.Node{n("", "Conv", []string{"x", "w", "b"}, "c", convAttrs...), n("", "Add", []string{"c", "z"}, "s"), n("", "Relu", []string{"s"}, "y")},
			map[string][]int{"x": {2, 8, 20, 20}, "w": {16, 8, 3, 3}, "b": {16}, "z": {2, 16, 20, 20}}},
		{"FusedMatMul bias gelu",
			n(FusedDomain, "FusedMatMul", []string{"a", "w", "b"}, "y", graph.StringAttr("activation", "Gelu")),
			[]*graph.Node{n("", "MatMul", []string{"a", "w"}, "m"), n("", "Add", []string{"m", "b"}, "s"), n("", "Gelu", []string{"s"}, "y")},
			map[string][]int{"a": {3, 64, 96}, "w": {96, 200}, "b": {200}}},
		{"FusedGemm relu",
			n(FusedDomain, "FusedGemm", []string{"a", "w", "b"}, "y", graph.IntAttr("transB", 1), graph.StringAttr("activation", "Relu")),
			[]*graph.Node{n("", "Gemm", []string{"a", "w", "b"}, "m", graph.IntAttr("transB", 1)), n("", "Relu", []string{"m"}, "y")},
			map[string][]int{"a": {64, 96}, "w": {200, 96}, "b": {200}}},
		{"FusedAttention mask",
			n(FusedDomain, "FusedAttention", []string{"q", "kt", "v", "mask"}, "y", graph.FloatAttr("scale", 8), graph.StringAttr("scale_op", "Div")),
			[]*graph.Node{n("", "MatMul", []string{"q", "kt"}, "s"), n("", "Div", []string{"s", "scale"}, "d"), n("", "Add", []string{"d", "mask"}, "m"),
				n("", "Softmax", []string{"m"}, "p", graph.IntAttr("axis", -1)), n("", "MatMul", []string{"p", "v"}, "y")},
			map[string][]int{"q": {2, 4, 64, 16}, "kt": {2, 4, 16, 64}, "v": {2, 4, 64, 16}, "mask": {2, 1, 1, 64}, "scale": {}}},
	}
}

// TestFusedKernelsMatchUnfused runs each fused kernel and the unfused
// kernels it replaces on the same inputs, serially and on a pool: the
// fused kernels do the same float32 arithmetic in the same order, so the
// results agree to a few units of rounding; and, warm, the fused kernels
// allocate nothing.
func TestFusedKernelsMatchUnfused(t *testing.T) {
	cmp := kernels.NewCompute(2)
	defer cmp.Close()
	opsets := map[string]int64{"": 20, FusedDomain: 1}
	for _, c := range fusedCases() {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			r := rand.New(rand.NewPCG(7, 8))
			vals := map[string]*tensor.Tensor{}
			for name, shape := range c.inputs {
				vals[name] = randF32(r, shape...)
			}
			if s, ok := vals["scale"]; ok {
				tensor.Values[float32](s)[0] = 8
			}
			run := func(ctx context.Context, nd *graph.Node, out []*tensor.Tensor) {
				k, _, err := Default().Build(nd, opsets)
				is.NoErr(err)
				in := make([]*tensor.Tensor, len(nd.Inputs))
				for i, name := range nd.Inputs {
					in[i] = vals[name]
				}
				is.NoErr(k.Run(ctx, in, out))
				vals[nd.Outputs[0]] = out[0]
			}
			for _, pool := range []bool{false, true} {
				ctx := context.Background()
				if pool {
					ctx = WithCompute(ctx, cmp)
				}
				var sc Scratch
				ctx = WithScratch(ctx, &sc)
				for _, nd := range c.unfused {
					run(ctx, nd, make([]*tensor.Tensor, 1))
				}
				want := vals["y"]
				out := make([]*tensor.Tensor, 1)
				k, _, err := Default().Build(c.fused, opsets)
				is.NoErr(err)
				in := make([]*tensor.Tensor, len(c.fused.Inputs))
				for i, name := range c.fused.Inputs {
					in[i] = vals[name]
				}
				once := func() {
					sc.Reset()
					is.NoErr(k.Run(ctx, in, out))
				}
				once()
				once()
				is.Equal(out[0].Shape, want.Shape)
				scale := 0.0
				for _, v := range tensor.Values[float32](want) {
					scale = max(scale, math.Abs(float64(v)))
				}
				for i, v := range tensor.Values[float32](out[0]) {
					w := tensor.Values[float32](want)[i]
					if !(math.Abs(float64(v-w)) <= 1e-6*scale) { // NaN fails too
						t.Fatalf("pool %v: y[%d] = %v, want %v", pool, i, v, w)
					}
				}
				if !raceOn {
					is.Equal(testing.AllocsPerRun(5, once), 0.0) // warm runs allocate nothing
				}
			}
		})
	}
}

// TestFusedAttentionStopsWhenCancelled runs a long attention (16 heads of
// 1,024 positions, about 4 GFLOP) once to completion and once with its
// context already cancelled: the cancelled run must return the context's
// error without doing the heads' work, since the kernel polls between
// heads and inside each head's products rather than only at its end.
func TestFusedAttentionStopsWhenCancelled(t *testing.T) {
	is := is.New(t)
	r := rand.New(rand.NewPCG(9, 10))
	const heads, seq, dim = 16, 1024, 64
	in := []*tensor.Tensor{randF32(r, 1, heads, seq, dim), randF32(r, 1, heads, dim, seq), randF32(r, 1, heads, seq, dim)}
	nd := &graph.Node{Name: "y", OpType: "FusedAttention", Domain: FusedDomain, Inputs: []string{"q", "kt", "v"}, Outputs: []string{"y"},
		Attrs: graph.Attrs(graph.FloatAttr("scale", 8), graph.StringAttr("scale_op", "Div"))}
	k, _, err := Default().Build(nd, map[string]int64{"": 20, FusedDomain: 1})
	is.NoErr(err)
	run := func(ctx context.Context) (time.Duration, error) {
		var sc Scratch
		start := time.Now()
		err := k.Run(WithScratch(ctx, &sc), in, make([]*tensor.Tensor, 1))
		return time.Since(start), err
	}
	full, err := run(context.Background())
	is.NoErr(err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stopped, err := run(ctx)
	t.Logf("whole run %v, cancelled run %v", full, stopped)
	is.True(errors.Is(err, context.Canceled))
	is.True(stopped < full/5)
}
