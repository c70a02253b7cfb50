package ops

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// TestConvWinograd runs convolutions that take the Winograd path (filters
// prepared for X's shape) against the float64 path on the same values:
// odd output sizes (a last tile row and column half used), no padding,
// unequal padding, batches, chunks that end inside an image, on one thread
// and split over a pool, with scratch full of NaNs. Where this machine has
// no vector transforms, it runs the portable ones.
func TestConvWinograd(t *testing.T) {
	defer func(on bool) { winogradConv = on }(winogradConv)
	winogradConv = true
	cmp := kernels.NewCompute(3)
	defer cmp.Close()
	cases := []struct {
		name string
		x, w []int
		pads []int64
	}{
		{"even", []int{1, 16, 24, 20}, []int{16, 16, 3, 3}, []int64{1, 1, 1, 1}},
		{"odd", []int{1, 20, 21, 23}, []int{24, 20, 3, 3}, []int64{1, 1, 1, 1}},
		{"nopad", []int{2, 16, 22, 31}, []int{17, 16, 3, 3}, []int64{0, 0, 0, 0}},
		{"asym", []int{1, 18, 25, 26}, []int{16, 18, 3, 3}, []int64{1, 0, 0, 1}},
		{"batch_chunks", []int{3, 32, 40, 9}, []int{40, 32, 3, 3}, []int64{1, 1, 1, 1}},
		{"resnet_like", []int{1, 64, 28, 28}, []int{64, 64, 3, 3}, []int64{1, 1, 1, 1}},
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range cases {
		for _, withBias := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/bias=%v", tc.name, withBias), func(t *testing.T) {
				is := is.New(t)
				n := &graph.Node{Name: "c", OpType: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{"y"}, Attrs: graph.Attrs(graph.IntsAttr("pads", tc.pads...))}
				k, err := buildConv(n, 11)
				is.NoErr(err)
				in32, want := convRandomCase(t, r, k, tc.x, tc.w, withBias)
				pr := k.(conv).Prepack([]*tensor.Tensor{nil, in32[1], nil}, [][]int{tc.x, tc.w, {tc.w[0]}}, []bool{false, true, false})
				kk := pr.Kernel.(conv)
				is.True(kk.wino != nil)                              // the Winograd path was prepared
				is.True(pr.Bytes >= kk.wino.Bytes() && pr.Bytes > 0) // and counted
				in := append([]*tensor.Tensor{}, in32...)
				if pr.Stands != nil {
					in[1] = pr.Stands[1]
				}
				for _, pool := range []bool{false, true} {
					var sc Scratch
					ctx := context.Background()
					if pool {
						ctx = WithCompute(ctx, cmp)
					}
					ctx = WithScratch(ctx, &sc)
					got := make([]*tensor.Tensor, 1)
					for run := range 2 {
						sc.Reset()
						if run == 1 {
							for i := range sc.buf {
								sc.buf[i] = 0x7fc000007fc00000 // NaNs where padding must be zero
							}
						}
						is.NoErr(kk.Run(ctx, in, got))
					}
					is.Equal([]int(got[0].Shape), []int(want[0].Shape))
					g, w := tensor.Values[float32](got[0]), tensor.Values[float64](want[0])
					bound := 1e-5 * float64(tc.w[1]*9)
					for i := range w {
						if !(math.Abs(float64(g[i])-w[i]) <= bound) { // NaN fails too
							t.Fatalf("pool %v: y[%d] = %v, want %v", pool, i, g[i], w[i])
						}
					}

					// Fused (FusedConv): a residual of Y's shape and Relu,
					// Relu alone, a residual that broadcasts.
					ys := want[0].Shape
					for _, zShape := range [][]int{ys, nil, {1, ys[1], 1, 1}} {
						var z *tensor.Tensor
						if zShape != nil {
							z = randF32(r, zShape...)
						}
						fk := fusedConv{conv: kk, act: activation{op: kernels.Relu, set: true}}
						fin := []*tensor.Tensor{in[0], in[1], nil, z}
						if withBias {
							fin[2] = in[2]
						}
						fused := make([]*tensor.Tensor, 1)
						sc.Reset()
						is.NoErr(fk.Run(ctx, fin, fused))
						is.Equal([]int(fused[0].Shape), []int(ys))
						fg := tensor.Values[float32](fused[0])
						for i := range w {
							fw := w[i]
							if z != nil {
								fw += float64(tensor.Values[float32](z)[zIndex(i, ys, zShape)])
							}
							fw = max(0, fw)
							if !(math.Abs(float64(fg[i])-fw) <= bound) {
								t.Fatalf("pool %v, residual %v: y[%d] = %v, want %v", pool, zShape, i, fg[i], fw)
							}
						}
					}
				}
			})
		}
	}
}

// zIndex is the element of a residual of shape z (Y's, or [1, C, 1, 1])
// that element i of Y (shape y) adds.
func zIndex(i int, y, z []int) int {
	if z[2] == y[2] && z[3] == y[3] {
		return i
	}
	return i / (y[2] * y[3]) % y[1]
}

// TestConvWinogradFits checks which convolutions take the Winograd path.
func TestConvWinogradFits(t *testing.T) {
	defer func(on bool) { winogradConv = on }(winogradConv)
	winogradConv = true
	is := is.New(t)
	geom := func(x, k int, pad []int, stride, dil int) geometry {
		w := window{pads: pad, strides: []int{stride, stride}, dilations: []int{dil, dil}}
		g, err := w.resolve([]int{x, x}, []int{k, k})
		is.NoErr(err)
		return g
	}
	for _, tc := range []struct {
		name        string
		g           geometry
		c, m, group int
		want        bool
	}{
		{"resnet56", geom(56, 3, []int{1, 1, 1, 1}, 1, 1), 64, 64, 1, true},
		{"resnet28", geom(28, 3, []int{1, 1, 1, 1}, 1, 1), 128, 128, 1, true},
		{"resnet14", geom(14, 3, []int{1, 1, 1, 1}, 1, 1), 256, 256, 1, true},
		{"resnet7_few_tiles", geom(7, 3, []int{1, 1, 1, 1}, 1, 1), 512, 512, 1, false},
		{"strided", geom(56, 3, []int{1, 1, 1, 1}, 2, 1), 64, 64, 1, false},
		{"dilated", geom(56, 3, []int{1, 1, 1, 1}, 1, 2), 64, 64, 1, false},
		{"pad2", geom(56, 3, []int{2, 2, 2, 2}, 1, 1), 64, 64, 1, false},
		{"5x5", geom(56, 5, []int{2, 2, 2, 2}, 1, 1), 64, 64, 1, false},
		{"few_channels", geom(56, 3, []int{1, 1, 1, 1}, 1, 1), 8, 64, 1, false},
		{"few_filters", geom(56, 3, []int{1, 1, 1, 1}, 1, 1), 64, 8, 1, false},
		{"grouped", geom(56, 3, []int{1, 1, 1, 1}, 1, 1), 64, 64, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is.New(t).Equal(winoFits(&tc.g, tc.c, tc.m, tc.group), tc.want)
		})
	}
}

// BenchmarkConvWinograd runs ResNet-18's 3×3 unit-stride layers with the
// Winograd path off and on, the filters packed as a plan packs them. The
// 7×7 layer, below winoMinTiles, takes the direct path both times.
func BenchmarkConvWinograd(b *testing.B) { benchWinograd(b, nil) }

// BenchmarkConvWinogradPool is BenchmarkConvWinograd over all the cores.
func BenchmarkConvWinogradPool(b *testing.B) {
	cmp := kernels.NewCompute(runtime.GOMAXPROCS(0))
	defer cmp.Close()
	benchWinograd(b, func(ctx context.Context) context.Context { return WithCompute(ctx, cmp) })
}

func benchWinograd(b *testing.B, wrap func(context.Context) context.Context) {
	for _, c := range convBenchCases[:4] {
		for _, on := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/winograd=%v", c.name, on), func(b *testing.B) {
				defer func(v bool) { winogradConv = v }(winogradConv)
				winogradConv = on
				benchConv(b, c, wrap, true)
			})
		}
	}
}
