package ops

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// TestConvF32Paths runs float32 Conv through each of its paths (depthwise
// direct, 1×1 without lowering, the 2-D lowering, the generic lowering of
// other ranks) on random layers and compares with the float64 path on the
// same values, single-threaded and split over a compute pool, with and
// without bias, with tiny lowering bands.
func TestConvF32Paths(t *testing.T) {
	cmp := kernels.NewCompute(3)
	defer cmp.Close()
	cases := []struct {
		name  string
		x, w  []int
		attrs []*graph.Attr
	}{
		{"depthwise3x3", []int{2, 8, 13, 11}, []int{8, 1, 3, 3}, []*graph.Attr{graph.IntAttr("group", 8), graph.IntsAttr("pads", 1, 1, 1, 1)}},
		{"depthwise3x3s2", []int{1, 6, 15, 16}, []int{6, 1, 3, 3}, []*graph.Attr{graph.IntAttr("group", 6), graph.IntsAttr("pads", 1, 1, 1, 1), graph.IntsAttr("strides", 2, 2)}},
		{"depthwise5x5s3dil", []int{1, 4, 20, 23}, []int{4, 1, 5, 5}, []*graph.Attr{graph.IntAttr("group", 4), graph.IntsAttr("pads", 2, 0, 3, 1), graph.IntsAttr("strides", 3, 2), graph.IntsAttr("dilations", 1, 2)}},
		{"depthwise_mult2_same", []int{1, 3, 9, 200}, []int{6, 1, 3, 3}, []*graph.Attr{graph.IntAttr("group", 3), graph.StringAttr("auto_pad", "SAME_UPPER")}},
		{"depthwise1x7", []int{1, 5, 4, 37}, []int{5, 1, 1, 7}, []*graph.Attr{graph.IntAttr("group", 5), graph.IntsAttr("pads", 0, 3, 0, 3)}},
		{"pointwise", []int{2, 16, 9, 7}, []int{12, 16, 1, 1}, nil},
		{"pointwise_grouped", []int{1, 16, 9, 7}, []int{12, 16 / 4, 1, 1}, []*graph.Attr{graph.IntAttr("group", 4)}},
		{"pointwise_strided", []int{1, 8, 9, 7}, []int{4, 8, 1, 1}, []*graph.Attr{graph.IntsAttr("strides", 2, 2)}},
		{"3x3", []int{2, 5, 12, 14}, []int{7, 5, 3, 3}, []*graph.Attr{graph.IntsAttr("pads", 1, 1, 1, 1)}},
		{"7x7s2", []int{1, 3, 30, 31}, []int{8, 3, 7, 7}, []*graph.Attr{graph.IntsAttr("pads", 3, 3, 3, 3), graph.IntsAttr("strides", 2, 2)}},
		{"3x3s3dil2_asym", []int{1, 4, 25, 19}, []int{6, 4, 3, 3}, []*graph.Attr{graph.IntsAttr("pads", 0, 2, 1, 0), graph.IntsAttr("strides", 3, 1), graph.IntsAttr("dilations", 2, 2)}},
		{"grouped3x3", []int{1, 8, 10, 10}, []int{8, 2, 3, 3}, []*graph.Attr{graph.IntAttr("group", 4), graph.IntsAttr("pads", 1, 1, 1, 1)}},
		{"1d", []int{2, 3, 40}, []int{4, 3, 5}, []*graph.Attr{graph.IntsAttr("pads", 2, 2), graph.IntsAttr("strides", 2)}},
		{"3d", []int{1, 2, 6, 5, 7}, []int{3, 2, 2, 3, 2}, []*graph.Attr{graph.IntsAttr("pads", 1, 0, 1, 0, 1, 0)}},
		// Large enough to split by pieces over the pool (convSplit): a
		// batch by images, lowered at the padded width; a single image by
		// bands (with tiny bands); a 1×1 batch.
		{"batch5x5", []int{6, 8, 14, 14}, []int{16, 8, 5, 5}, []*graph.Attr{graph.IntsAttr("pads", 2, 2, 2, 2)}},
		{"bands3x3", []int{1, 16, 40, 40}, []int{16, 16, 3, 3}, []*graph.Attr{graph.IntsAttr("pads", 1, 1, 1, 1)}},
		{"batch1x1", []int{6, 64, 20, 20}, []int{64, 64, 1, 1}, nil},
		// Few positions, many filters: the GEMM runs transposed.
		{"transposed3x3", []int{2, 32, 7, 7}, []int{256, 32, 3, 3}, []*graph.Attr{graph.IntsAttr("pads", 1, 1, 1, 1)}},
		// Not transposed at its own size, but packed for a 5×5 X (the
		// "5x5" modes) as the transposed product's right operand.
		{"wide3x3", []int{1, 32, 16, 16}, []int{256, 32, 3, 3}, []*graph.Attr{graph.IntsAttr("pads", 1, 1, 1, 1)}},
		// Filters packed tap-major, the GEMM reading the padded planes
		// (split by row and column stride) in place: strided, 1×2 strided,
		// dilated and asymmetric, several bands and images.
		{"gather3x3s2", []int{1, 16, 15, 17}, []int{24, 16, 3, 3}, []*graph.Attr{graph.IntsAttr("pads", 1, 1, 1, 1), graph.IntsAttr("strides", 2, 2)}},
		{"gather1x2s2", []int{2, 32, 9, 11}, []int{20, 32, 1, 2}, []*graph.Attr{graph.IntsAttr("strides", 2, 2)}},
		{"gather3x3s3x2dil_asym", []int{1, 17, 31, 40}, []int{9, 17, 3, 3}, []*graph.Attr{graph.IntsAttr("pads", 2, 1, 0, 3), graph.IntsAttr("strides", 3, 2), graph.IntsAttr("dilations", 2, 2)}},
		{"gather5x4", []int{3, 20, 22, 26}, []int{33, 20, 5, 4}, []*graph.Attr{graph.IntsAttr("pads", 2, 1, 2, 2)}},
		// Unit column stride with unequal left and right padding: rows
		// share their padding columns (newPadPlanes), gathered and
		// lowered at the padded width.
		{"gather3x3_asym", []int{1, 16, 11, 13}, []int{12, 16, 3, 3}, []*graph.Attr{graph.IntsAttr("pads", 1, 2, 1, 0)}},
		{"wide5x5_asym", []int{2, 3, 9, 12}, []int{6, 3, 5, 5}, []*graph.Attr{graph.IntsAttr("pads", 2, 1, 2, 3)}},
		// One image gathered by a GEMM that splits over the pool by
		// filters (more filters than columns).
		{"gather3x3_filters", []int{1, 32, 8, 8}, []int{256, 32, 3, 3}, []*graph.Attr{graph.IntsAttr("pads", 1, 1, 1, 1)}},
	}
	r := rand.New(rand.NewPCG(41, 42))
	for _, tc := range cases {
		for _, withBias := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/bias=%v", tc.name, withBias), func(t *testing.T) {
				is := is.New(t)
				n := &graph.Node{Name: "c", OpType: "Conv", Inputs: []string{"x", "w", "b"}, Outputs: []string{"y"}, Attrs: graph.Attrs(tc.attrs...)}
				k, err := buildConv(n, 11)
				is.NoErr(err)
				if strings.HasPrefix(tc.name, "gather") { // packed tap-major, these gather
					kc := k.(conv)
					g, err := kc.w.resolve(tc.x[2:], tc.w[2:])
					is.NoErr(err)
					is.True(canGather(&g, tc.w[1]) && gatherWide(&g, newPadPlanesRows(&g).qw))
				}
				in32, want := convRandomCase(t, r, k, tc.x, tc.w, withBias)
				w32 := in32[1]
				// The packed modes run with W packed in advance (Prepack),
				// with X's shape known or not (then W is packed as the left
				// operand even where the GEMM would run transposed), or
				// packed for a 5×5 X (a product the other way round than
				// this X's would be); "stale" packs another W, which the
				// run must not use since it is not the W it is given.
				// "alone" lets the kernel take W over: it then runs with
				// the stand-in in W's place, from the panels alone.
				for _, mode := range []string{"serial", "pool", "tinybands", "pool+tinybands",
					"packed", "pool+packed", "tinybands+packed", "pool+tinybands+packed", "packed_noshape", "packed_stale",
					"packed_alone", "pool+packed_alone", "tinybands+packed_alone", "pool+tinybands+packed_alone",
					"packed_alone_noshape", "packed_alone_5x5", "pool+packed_alone_5x5", "tinybands+packed_5x5"} {
					kk := k.(conv)
					ctx := context.Background()
					var sc Scratch
					if strings.Contains(mode, "pool") {
						ctx = WithCompute(ctx, cmp)
					}
					if strings.Contains(mode, "tinybands") {
						kk.colBudget = 40
					}
					in := in32
					if strings.Contains(mode, "packed") {
						pw, shapes := w32, [][]int{tc.x, tc.w, {tc.w[0]}}
						switch {
						case strings.Contains(mode, "noshape"):
							shapes = nil
						case strings.Contains(mode, "stale"):
							pw = randF32(r, tc.w...)
						case strings.Contains(mode, "5x5") && len(tc.x) == 4:
							shapes[0] = []int{tc.x[0], tc.x[1], 5, 5}
						}
						alone := strings.Contains(mode, "alone")
						pr := kk.Prepack([]*tensor.Tensor{nil, pw, nil}, shapes, []bool{false, alone, false})
						if kk.group != 1 {
							is.True(pr.Kernel == nil) // only single-group convolutions pack
						} else {
							is.True(pr.Kernel != nil)
							is.True(pr.Bytes >= 0)
							kk = pr.Kernel.(conv)
							// Packed alone on the assembly variants; the
							// portable one keeps W.
							is.Equal(pr.Stands != nil, alone && kernels.SgemmVariant() != "portable")
							if pr.Stands != nil {
								stand := pr.Stands[1]
								is.Equal(stand.DType, tensor.Float32)
								is.Equal([]int(stand.Shape), tc.w)
								is.Equal(stand.ByteSize(), 0)
								in = append([]*tensor.Tensor{}, in32...)
								in[1] = stand
							}
						}
					}
					ctx = WithScratch(ctx, &sc)
					got := make([]*tensor.Tensor, 1)
					for run := range 2 { // the second run reuses the output and grown scratch
						sc.Reset()
						if run == 1 {
							// Scratch holds what other kernels left in
							// it: NaNs, where the padding must not be
							// taken for zeros already there.
							for i := range sc.buf {
								sc.buf[i] = 0x7fc000007fc00000
							}
						}
						is.NoErr(kk.Run(ctx, in, got))
					}
					g, w := tensor.Values[float32](got[0]), tensor.Values[float64](want[0])
					is.Equal([]int(got[0].Shape), []int(want[0].Shape))
					kSize := tc.w[1]
					for _, d := range tc.w[2:] {
						kSize *= d
					}
					for i := range w {
						if !(math.Abs(float64(g[i])-w[i]) <= 1e-5*float64(kSize)) { // NaN fails too
							t.Fatalf("%s: y[%d] = %v, want %v", mode, i, g[i], w[i])
						}
					}

					// Fused with a residual and Relu (FusedConv).
					z := randF32(r, want[0].Shape...)
					fin := []*tensor.Tensor{in[0], in[1], nil, z}
					if withBias {
						fin[2] = in[2]
					}
					fk := fusedConv{conv: kk, act: activation{op: kernels.Relu, set: true}}
					fused := make([]*tensor.Tensor, 1)
					sc.Reset()
					is.NoErr(fk.Run(ctx, fin, fused))
					fg, zs := tensor.Values[float32](fused[0]), tensor.Values[float32](z)
					for i := range w {
						fw := max(0, w[i]+float64(zs[i]))
						if !(math.Abs(float64(fg[i])-fw) <= 1e-5*float64(kSize)) {
							t.Fatalf("%s fused: y[%d] = %v, want %v", mode, i, fg[i], fw)
						}
					}
				}
			})
		}
	}
}

// convRandomCase draws X, W and B (dropped without bias) of shapes x, w
// and [w[0]], and runs k on their float64 copies: the float32 inputs, and
// the float64 result to compare with.
func convRandomCase(t *testing.T, r *rand.Rand, k Kernel, x, w []int, withBias bool) (in32, want []*tensor.Tensor) {
	t.Helper()
	x32, w32, b32 := randF32(r, x...), randF32(r, w...), randF32(r, w[0])
	in32 = []*tensor.Tensor{x32, w32, b32}
	in64 := []*tensor.Tensor{to64(x32), to64(w32), to64(b32)}
	if !withBias {
		in32, in64 = in32[:2], in64[:2]
	}
	want = make([]*tensor.Tensor, 1)
	if err := k.Run(context.Background(), in64, want); err != nil {
		t.Fatal(err)
	}
	return in32, want
}

func to64(t *tensor.Tensor) *tensor.Tensor {
	v := tensor.Values[float32](t)
	d := make([]float64, len(v))
	for i, e := range v {
		d[i] = float64(e)
	}
	return tensor.MustFrom([]int(t.Shape), d)
}

// TestConvF32DoesNotAllocate runs each benchmark layer twice on warm
// scratch, serially and on a pool, and counts allocations.
func TestConvF32DoesNotAllocate(t *testing.T) {
	if raceOn {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	is := is.New(t)
	cmp := kernels.NewCompute(2)
	defer cmp.Close()
	small := []convBenchCase{
		{"dw", []int{1, 8, 20, 20}, []int{8, 1, 3, 3}, 8, 1, 1},
		{"3x3", []int{1, 8, 20, 20}, []int{16, 8, 3, 3}, 1, 1, 1},
		{"1x1", []int{1, 64, 20, 20}, []int{64, 64, 1, 1}, 1, 1, 0},
		{"s2", []int{1, 3, 40, 40}, []int{16, 3, 7, 7}, 1, 2, 3},
	}
	for _, c := range small {
		k, err := buildConv(convBenchNode(c), 11)
		is.NoErr(err)
		r := rand.New(rand.NewPCG(1, 2))
		in := []*tensor.Tensor{randF32(r, c.x...), randF32(r, c.w...), randF32(r, c.w[0])}
		if pr := k.(conv).Prepack([]*tensor.Tensor{nil, in[1], nil}, [][]int{c.x, c.w, {c.w[0]}}, []bool{false, true, false}); pr.Kernel != nil && c.group == 1 {
			k = pr.Kernel // the packed filters alone too: runs allocate nothing either
			if pr.Stands != nil {
				in[1] = pr.Stands[1]
			}
		}
		out := make([]*tensor.Tensor, 1)
		for _, withPool := range []bool{false, true} {
			var sc Scratch
			ctx := context.Background()
			if withPool {
				ctx = WithCompute(ctx, cmp)
			}
			ctx = WithScratch(ctx, &sc)
			run := func() {
				sc.Reset()
				is.NoErr(k.Run(ctx, in, out))
			}
			run()
			run()
			if a := testing.AllocsPerRun(10, run); a != 0 {
				t.Errorf("%s (pool %v): %v allocations per run", c.name, withPool, a)
			}
		}
	}
}
