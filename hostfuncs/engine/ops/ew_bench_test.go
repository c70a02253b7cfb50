package ops

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// opBenchCase is one float32 operator on realistic shapes (transformer
// activations of 128 tokens × 768, a 1000-class classifier, attention
// scores, CNN pools). bytes is what one run must read and write at least.
type opBenchCase struct {
	name   string
	op     string
	opset  int64
	attrs  []*graph.Attr
	inputs [][]int
}

var opBenchCases = []opBenchCase{
	{"Add_same_128x768", "Add", 14, nil, [][]int{{128, 768}, {128, 768}}},
	{"Add_row_128x768+768", "Add", 14, nil, [][]int{{128, 768}, {768}}},
	{"Add_same_1M", "Add", 14, nil, [][]int{{1 << 20}, {1 << 20}}},
	{"Mul_same_128x768", "Mul", 14, nil, [][]int{{128, 768}, {128, 768}}},
	{"Mul_scalar_128x768", "Mul", 14, nil, [][]int{{128, 768}, {1}}},
	{"Sub_row_128x768-768", "Sub", 14, nil, [][]int{{128, 768}, {768}}},
	{"Div_col_128x768/128x1", "Div", 14, nil, [][]int{{128, 768}, {128, 1}}},
	{"Relu_64x56x56", "Relu", 14, nil, [][]int{{1, 64, 56, 56}}},
	{"Exp_128x768", "Exp", 13, nil, [][]int{{128, 768}}},
	{"Erf_128x768", "Erf", 13, nil, [][]int{{128, 768}}},
	{"Tanh_128x768", "Tanh", 13, nil, [][]int{{128, 768}}},
	{"Sigmoid_128x768", "Sigmoid", 13, nil, [][]int{{128, 768}}},
	{"Gelu_128x3072", "Gelu", 20, nil, [][]int{{128, 3072}}},
	{"Softmax_12x128x128", "Softmax", 13, nil, [][]int{{12, 128, 128}}},
	{"Softmax_64x1000", "Softmax", 13, nil, [][]int{{64, 1000}}},
	{"LogSoftmax_64x1000", "LogSoftmax", 13, nil, [][]int{{64, 1000}}},
	{"LayerNorm_128x768", "LayerNormalization", 17, nil, [][]int{{128, 768}, {768}, {768}}},
	{"ReduceSum_128x768_last", "ReduceSum", 13, nil, [][]int{{128, 768}, {1}}},
	{"ReduceMean_128x768_last", "ReduceMean", 18, nil, [][]int{{128, 768}, {1}}},
	{"ReduceMax_128x768_last", "ReduceMax", 18, nil, [][]int{{128, 768}, {1}}},
	// The pools of MNIST batch 64 and of ResNet-18's stem.
	{"MaxPool_2x2s2_64x8x28x28", "MaxPool", 12, []*graph.Attr{graph.IntsAttr("kernel_shape", 2, 2), graph.IntsAttr("strides", 2, 2)}, [][]int{{64, 8, 28, 28}}},
	{"MaxPool_3x3s3_64x16x14x14", "MaxPool", 12, []*graph.Attr{graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("strides", 3, 3)}, [][]int{{64, 16, 14, 14}}},
	{"MaxPool_3x3s2p1_64x112x112", "MaxPool", 12, []*graph.Attr{graph.IntsAttr("kernel_shape", 3, 3), graph.IntsAttr("strides", 2, 2), graph.IntsAttr("pads", 1, 1, 1, 1)}, [][]int{{1, 64, 112, 112}}},
}

// BenchmarkOps runs each case as a plan would (output and scratch
// reused) and reports GB/s: the bytes of the inputs and the output over
// the time of one run.
func BenchmarkOps(b *testing.B) {
	for _, c := range opBenchCases {
		b.Run(c.name, func(b *testing.B) { benchOp(b, c, nil) })
	}
}

func benchOp(b *testing.B, c opBenchCase, wrap func(context.Context) context.Context) {
	n := &graph.Node{Name: c.op, OpType: c.op, Attrs: graph.Attrs(c.attrs...), Outputs: []string{"y"}}
	r := rand.New(rand.NewPCG(3, 4))
	in := make([]*tensor.Tensor, len(c.inputs))
	bytes := 0
	for i, s := range c.inputs {
		n.Inputs = append(n.Inputs, string(rune('a'+i)))
		if c.op[:min(6, len(c.op))] == "Reduce" && i == 1 {
			in[i] = tensor.MustFrom([]int{1}, []int64{-1}) // axes: the last
			continue
		}
		in[i] = randF32(r, s...)
		bytes += in[i].ByteSize()
	}
	k, _, err := Default().Build(n, map[string]int64{"": c.opset})
	if err != nil {
		b.Fatal(err)
	}
	out := make([]*tensor.Tensor, 1)
	var sc Scratch
	ctx := WithScratch(context.Background(), &sc)
	if wrap != nil {
		ctx = wrap(ctx)
	}
	run := func() {
		sc.Reset()
		if err := k.Run(ctx, in, out); err != nil {
			b.Fatal(err)
		}
	}
	run()
	run()
	bytes += out[0].ByteSize()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	b.ReportMetric(float64(bytes)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}
