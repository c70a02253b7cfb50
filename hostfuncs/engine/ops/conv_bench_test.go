package ops

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// convBenchCase is a realistic float32 Conv layer.
type convBenchCase struct {
	name              string
	x, w              []int
	group, stride, pd int
}

// convBenchCases are ResNet-18 and MobileNet layers.
var convBenchCases = []convBenchCase{
	{"resnet3x3_64x56x56", []int{1, 64, 56, 56}, []int{64, 64, 3, 3}, 1, 1, 1},
	{"resnet3x3_128x28x28", []int{1, 128, 28, 28}, []int{128, 128, 3, 3}, 1, 1, 1},
	{"resnet3x3_256x14x14", []int{1, 256, 14, 14}, []int{256, 256, 3, 3}, 1, 1, 1},
	{"resnet3x3_512x7x7", []int{1, 512, 7, 7}, []int{512, 512, 3, 3}, 1, 1, 1},
	{"resnet3x3s2_64to128x56x56", []int{1, 64, 56, 56}, []int{128, 64, 3, 3}, 1, 2, 1},
	{"resnet3x3s2_128to256x28x28", []int{1, 128, 28, 28}, []int{256, 128, 3, 3}, 1, 2, 1},
	{"resnet3x3s2_256to512x14x14", []int{1, 256, 14, 14}, []int{512, 256, 3, 3}, 1, 2, 1},
	{"stem7x7s2_3x224x224", []int{1, 3, 224, 224}, []int{64, 3, 7, 7}, 1, 2, 3},
	{"depthwise3x3_32x112x112", []int{1, 32, 112, 112}, []int{32, 1, 3, 3}, 32, 1, 1},
	{"pointwise1x1_256to64x56x56", []int{1, 256, 56, 56}, []int{64, 256, 1, 1}, 1, 1, 0},
}

func convBenchNode(c convBenchCase) *graph.Node {
	return &graph.Node{Name: "c", OpType: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{"y"}, Attrs: graph.Attrs(
		graph.IntAttr("group", int64(c.group)),
		graph.IntsAttr("strides", int64(c.stride), int64(c.stride)),
		graph.IntsAttr("pads", int64(c.pd), int64(c.pd), int64(c.pd), int64(c.pd)),
	)}
}

func randF32(r *rand.Rand, shape ...int) *tensor.Tensor {
	v := make([]float32, tensor.Shape(shape).Size())
	for i := range v {
		v[i] = float32(r.Float64()*2 - 1)
	}
	return tensor.MustFrom(shape, v)
}

// BenchmarkConv runs each layer with bias, as a plan would: the kernel
// reuses its output and the run's scratch. It reports GFLOPS (2 per
// multiply-add of the direct definition).
func BenchmarkConv(b *testing.B) {
	for _, c := range convBenchCases {
		b.Run(c.name, func(b *testing.B) {
			benchConv(b, c, nil)
		})
	}
}

// BenchmarkConvPacked is BenchmarkConv with the filters packed once, as a
// plan does for a constant W (conv.Prepack).
func BenchmarkConvPacked(b *testing.B) {
	for _, c := range convBenchCases {
		b.Run(c.name, func(b *testing.B) {
			benchConv(b, c, nil, true)
		})
	}
}

func benchConv(b *testing.B, c convBenchCase, wrap func(context.Context) context.Context, packed ...bool) {
	k, err := buildConv(convBenchNode(c), 11)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	in := []*tensor.Tensor{randF32(r, c.x...), randF32(r, c.w...), randF32(r, c.w[0])}
	if len(packed) > 0 && packed[0] {
		if pr := k.(Prepacker).Prepack([]*tensor.Tensor{nil, in[1], nil}, [][]int{c.x, c.w, {c.w[0]}}, []bool{false, true, false}); pr.Kernel != nil {
			k = pr.Kernel
			if pr.Stands != nil {
				in[1] = pr.Stands[1]
			}
		}
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
	y := out[0].Shape
	flops := 2.0 * float64(y.Size()) * float64(c.w[1]*c.w[2]*c.w[3])
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}
