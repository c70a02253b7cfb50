package ops_test

import (
	"math/rand/v2"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func TestRotaryEmbedding(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	cases := []struct {
		name                string
		b, h, s, d, rd, pos int // pos: cache positions; 0 without position_ids
		threeD, interleaved bool
		dt                  tensor.DType
	}{
		{"4d", 2, 3, 5, 8, 0, 9, false, false, tensor.Float32},
		{"4d_interleaved", 2, 3, 5, 8, 0, 9, false, true, tensor.Float32},
		{"3d", 2, 3, 5, 6, 0, 7, true, false, tensor.Float32},
		{"partial", 1, 2, 3, 10, 4, 5, false, false, tensor.Float32},
		{"partial_interleaved_3d", 3, 2, 3, 10, 6, 5, true, true, tensor.Float32},
		{"no_pos", 2, 3, 5, 8, 0, 0, false, false, tensor.Float32},
		{"no_pos_3d_partial", 2, 3, 5, 8, 2, 0, true, true, tensor.Float32},
		{"fp16", 2, 1, 3, 4, 0, 4, false, false, tensor.Float16},
		{"bf16", 2, 1, 3, 4, 0, 0, true, true, tensor.BFloat16},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rd := tc.rd
			if rd == 0 {
				rd = tc.d
			}
			half := rd / 2
			x := nnRound(tc.dt, nnRandom(rng, tc.b*tc.h*tc.s*tc.d, -2, 2, false))
			rows := tc.pos
			if rows == 0 {
				rows = tc.b * tc.s
			}
			cos := nnRound(tc.dt, nnRandom(rng, rows*half, -1, 1, false))
			sin := nnRound(tc.dt, nnRandom(rng, rows*half, -1, 1, false))
			ids := make([]int64, tc.b*tc.s)
			for i := range ids {
				ids[i] = int64(i)
				if tc.pos > 0 {
					ids[i] = rng.Int64N(int64(tc.pos))
				}
			}
			// Reference on (b, h, s, d).
			y := make([]float64, len(x))
			for b := range tc.b {
				for h := range tc.h {
					for s := range tc.s {
						row := ids[b*tc.s+s]
						off := ((b*tc.h+h)*tc.s + s) * tc.d
						for i := range tc.d {
							y[off+i] = x[off+i]
						}
						for i := range half {
							c, sn := cos[int(row)*half+i], sin[int(row)*half+i]
							i1, i2 := i, i+half
							if tc.interleaved {
								i1, i2 = 2*i, 2*i+1
							}
							x1, x2 := x[off+i1], x[off+i2]
							y[off+i1] = c*x1 - sn*x2
							y[off+i2] = sn*x1 + c*x2
						}
					}
				}
			}
			shape := tensor.Shape{tc.b, tc.h, tc.s, tc.d}
			xin, want := x, y
			if tc.threeD {
				shape = tensor.Shape{tc.b, tc.s, tc.h * tc.d}
				xin, want = to3D(x, tc.b, tc.h, tc.s, tc.d), to3D(y, tc.b, tc.h, tc.s, tc.d)
			}
			cshape := tensor.Shape{tc.b, tc.s, half}
			if tc.pos > 0 {
				cshape = tensor.Shape{tc.pos, half}
			}
			in := []*tensor.Tensor{nnT(tc.dt, shape, xin), nnT(tc.dt, cshape, cos), nnT(tc.dt, cshape, sin)}
			if tc.pos > 0 {
				in = append(in, tensor.MustFrom(tensor.Shape{tc.b, tc.s}, ids))
			}
			attrs := nnAttrs(graph.IntAttr("interleaved", nnB2I(tc.interleaved)), graph.IntAttr("rotary_embedding_dim", int64(tc.rd)))
			if tc.threeD {
				attrs = append(attrs, graph.IntAttr("num_heads", int64(tc.h)))
			}
			got, err := runOp(t, "RotaryEmbedding", 23, 1, attrs, in...)
			if err != nil {
				t.Fatal(err)
			}
			nnCheck(t, got[0], tc.dt, shape, want)
		})
	}
}

func TestRotaryEmbeddingErrors(t *testing.T) {
	is := is.New(t)
	x := nnT(tensor.Float32, tensor.Shape{1, 1, 2, 4}, make([]float64, 8))
	c := nnT(tensor.Float32, tensor.Shape{3, 2}, make([]float64, 6))
	for _, tc := range []struct {
		attrs []*graph.Attr
		in    []*tensor.Tensor
	}{
		{nil, []*tensor.Tensor{x, c, c, i64(tensor.Shape{1, 2}, 0, 3)}},                                                              // position out of range
		{nil, []*tensor.Tensor{x, c, c}},                                                                                             // caches need position ids
		{nnAttrs(graph.IntAttr("rotary_embedding_dim", 3)), []*tensor.Tensor{x, c, c, i64(tensor.Shape{1, 2}, 0, 1)}},                // odd
		{nil, []*tensor.Tensor{nnT(tensor.Float32, tensor.Shape{1, 2, 4}, make([]float64, 8)), c, c, i64(tensor.Shape{1, 2}, 0, 1)}}, // 3-D without num_heads
	} {
		_, err := runOp(t, "RotaryEmbedding", 23, 1, tc.attrs, tc.in...)
		is.Equal(fault.KindOf(err), fault.Invalid)
	}
}
