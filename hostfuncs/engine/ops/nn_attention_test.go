package ops_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

type attnCase struct {
	name                       string
	b, hq, hkv, sq, skv, d, dv int
	past                       int
	threeD                     bool
	maskShape                  []int // nil: no mask
	boolMask                   bool
	causal                     bool
	scale, softcap             float64 // 0: not set
	mode                       int
	nonpad                     []int64
	dt, vdt                    tensor.DType
	outputs                    int // 1, 3 or 4
}

// attnRef4 is the reference on 4-D (batch, heads, seq, dim) arrays; it
// returns Y (4-D), present K and V, and the qk output of the mode.
func attnRef4(tc *attnCase, q, k, v, pk, pv, mask []float64) (y, presK, presV, qk []float64) {
	total := tc.past + tc.skv
	cat := func(past, cur []float64, dim int) []float64 {
		out := make([]float64, tc.b*tc.hkv*total*dim)
		for b := range tc.b {
			for h := range tc.hkv {
				for s := range total {
					for x := range dim {
						var val float64
						if s < tc.past {
							val = past[((b*tc.hkv+h)*tc.past+s)*dim+x]
						} else {
							val = cur[((b*tc.hkv+h)*tc.skv+s-tc.past)*dim+x]
						}
						out[((b*tc.hkv+h)*total+s)*dim+x] = val
					}
				}
			}
		}
		return out
	}
	presK, presV = cat(pk, k, tc.d), cat(pv, v, tc.dv)
	scale := tc.scale
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(tc.d))
	}
	y = make([]float64, tc.b*tc.hq*tc.sq*tc.dv)
	qk = make([]float64, tc.b*tc.hq*tc.sq*total)
	inf := math.Inf(-1)
	for b := range tc.b {
		for h := range tc.hq {
			kh := h / (tc.hq / tc.hkv)
			for i := range tc.sq {
				row := make([]float64, total)
				for j := range total {
					s := 0.0
					for x := range tc.d {
						s += q[((b*tc.hq+h)*tc.sq+i)*tc.d+x] * presK[((b*tc.hkv+kh)*total+j)*tc.d+x]
					}
					raw := s * scale
					capped := raw
					if tc.softcap > 0 {
						capped = tc.softcap * math.Tanh(raw/tc.softcap)
					}
					bias := 0.0
					if tc.maskShape != nil {
						ms := tc.maskShape
						mlen := ms[len(ms)-1]
						if j >= mlen {
							bias += inf
						} else {
							// Broadcast index into the mask.
							full := []int{b, h, i, j}
							off := 0
							for d := range ms {
								x := full[4-len(ms)+d]
								if ms[d] == 1 {
									x = 0
								}
								off = off*ms[d] + x
							}
							m := mask[off]
							if tc.boolMask {
								if m == 0 {
									m = inf
								} else {
									m = 0
								}
							}
							bias += m
						}
					}
					if tc.causal {
						limit := i + tc.past
						if tc.nonpad != nil && tc.past == 0 {
							limit = i + int(tc.nonpad[b]) - tc.sq
						}
						if j > limit {
							bias += inf
						}
					}
					if tc.nonpad != nil && j >= int(tc.nonpad[b]) {
						bias += inf
					}
					row[j] = capped + bias
					o := ((b*tc.hq+h)*tc.sq+i)*total + j
					switch tc.mode {
					case 0:
						qk[o] = raw
					case 1:
						qk[o] = capped
					case 2:
						qk[o] = row[j]
					}
				}
				m := math.Inf(-1)
				for _, x := range row {
					m = math.Max(m, x)
				}
				sum := 0.0
				for j, x := range row {
					row[j] = math.Exp(x - m)
					sum += row[j]
				}
				for j := range row {
					row[j] /= sum
					if tc.mode == 3 {
						qk[((b*tc.hq+h)*tc.sq+i)*total+j] = row[j]
					}
				}
				for x := range tc.dv {
					s := 0.0
					for j := range total {
						s += row[j] * presV[((b*tc.hkv+kh)*total+j)*tc.dv+x]
					}
					y[((b*tc.hq+h)*tc.sq+i)*tc.dv+x] = s
				}
			}
		}
	}
	return y, presK, presV, qk
}

// to3D and from3D move between (b, h, s, d) and (b, s, h·d).
func to3D(v []float64, b, h, s, d int) []float64 {
	out := make([]float64, len(v))
	for bi := range b {
		for hi := range h {
			for si := range s {
				for di := range d {
					out[((bi*s+si)*h+hi)*d+di] = v[((bi*h+hi)*s+si)*d+di]
				}
			}
		}
	}
	return out
}

func TestAttention(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	base := attnCase{b: 2, hq: 3, hkv: 3, sq: 4, skv: 6, d: 8, dv: 8, dt: tensor.Float32, outputs: 1}
	with := func(name string, f func(c *attnCase)) attnCase {
		c := base
		c.name = name
		f(&c)
		return c
	}
	cases := []attnCase{
		with("4d", func(c *attnCase) {}),
		with("4d_dv", func(c *attnCase) { c.dv = 10 }),
		with("3d", func(c *attnCase) { c.threeD = true }),
		with("3d_dv", func(c *attnCase) { c.threeD, c.dv = true, 5 }),
		with("gqa", func(c *attnCase) { c.hq, c.hkv = 6, 2 }),
		with("gqa_3d", func(c *attnCase) { c.hq, c.hkv, c.threeD = 9, 3, true }),
		with("mqa", func(c *attnCase) { c.hq, c.hkv = 4, 1 }),
		with("mask2d", func(c *attnCase) { c.maskShape = []int{4, 6} }),
		with("mask_short", func(c *attnCase) { c.maskShape = []int{4, 4} }),
		with("mask_bool4d", func(c *attnCase) { c.maskShape, c.boolMask = []int{2, 3, 4, 6}, true }),
		with("mask_bool_short", func(c *attnCase) { c.maskShape, c.boolMask = []int{2, 1, 1, 5}, true }),
		with("mask3d", func(c *attnCase) { c.maskShape = []int{3, 4, 6} }),
		with("mask1d", func(c *attnCase) { c.maskShape = []int{6} }),
		with("causal", func(c *attnCase) { c.causal = true }),
		with("causal_mask", func(c *attnCase) { c.causal, c.maskShape = true, []int{2, 1, 4, 6} }),
		with("past", func(c *attnCase) { c.past, c.outputs = 5, 3 }),
		with("past_3d_gqa", func(c *attnCase) { c.past, c.outputs, c.threeD, c.hq, c.hkv, c.dv = 5, 3, true, 6, 3, 7 }),
		with("past_causal_mask", func(c *attnCase) { c.past, c.outputs, c.causal, c.maskShape = 3, 3, true, []int{4, 9} }),
		with("scale", func(c *attnCase) { c.scale = 0.05 }),
		with("softcap", func(c *attnCase) { c.softcap = 1.5 }),
		with("qk0", func(c *attnCase) { c.outputs, c.softcap, c.maskShape = 4, 2, []int{4, 6} }),
		with("qk1", func(c *attnCase) { c.outputs, c.softcap, c.maskShape, c.mode = 4, 2, []int{4, 6}, 1 }),
		with("qk2", func(c *attnCase) { c.outputs, c.softcap, c.maskShape, c.mode, c.past = 4, 2, []int{4, 8}, 2, 2 }),
		with("qk3", func(c *attnCase) { c.outputs, c.maskShape, c.mode, c.causal = 4, []int{4, 6}, 3, true }),
		with("nonpad", func(c *attnCase) { c.nonpad = []int64{3, 6}; c.maskShape = []int{2, 3, 4, 4} }),
		with("nonpad_causal", func(c *attnCase) { c.nonpad, c.causal = []int64{5, 6}, true }),
		with("fp16", func(c *attnCase) { c.dt, c.vdt = tensor.Float16, tensor.Float16 }),
		with("bf16_past", func(c *attnCase) { c.dt, c.vdt, c.past, c.outputs = tensor.BFloat16, tensor.BFloat16, 2, 3 }),
		with("fp64", func(c *attnCase) { c.dt, c.vdt, c.causal = tensor.Float64, tensor.Float64, true }),
		with("mixed", func(c *attnCase) { c.dt, c.vdt = tensor.Float16, tensor.Float32 }),
		with("mixed64", func(c *attnCase) { c.dt, c.vdt, c.outputs, c.past = tensor.Float32, tensor.Float64, 3, 1 }),
		with("odd", func(c *attnCase) { c.b, c.hq, c.hkv, c.sq, c.skv, c.d, c.dv = 1, 5, 5, 7, 11, 13, 3 }),
		with("empty_q", func(c *attnCase) { c.sq = 0 }),
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.vdt == tensor.Invalid {
				tc.vdt = tc.dt
			}
			total := tc.past + tc.skv
			q := nnRound(tc.dt, nnRandom(rng, tc.b*tc.hq*tc.sq*tc.d, -1, 1, false))
			k := nnRound(tc.dt, nnRandom(rng, tc.b*tc.hkv*tc.skv*tc.d, -1, 1, false))
			v := nnRound(tc.vdt, nnRandom(rng, tc.b*tc.hkv*tc.skv*tc.dv, -1, 1, false))
			pk := nnRound(tc.dt, nnRandom(rng, tc.b*tc.hkv*tc.past*tc.d, -1, 1, false))
			pv := nnRound(tc.vdt, nnRandom(rng, tc.b*tc.hkv*tc.past*tc.dv, -1, 1, false))
			var mask []float64
			var maskT *tensor.Tensor
			if tc.maskShape != nil {
				n := nnProd(tc.maskShape)
				if tc.boolMask {
					mask = nnRandom(rng, n, 0, 1.6, true) // mostly true
					maskT = nnT(tensor.Bool, tc.maskShape, mask)
				} else {
					mask = nnRound(tc.dt, nnRandom(rng, n, -1, 1, false))
					maskT = nnT(tc.dt, tc.maskShape, mask)
				}
			}
			y, presK, presV, qk := attnRef4(&tc, q, k, v, pk, pv, mask)
			shape := func(h, s, d int) tensor.Shape {
				if tc.threeD {
					return tensor.Shape{tc.b, s, h * d}
				}
				return tensor.Shape{tc.b, h, s, d}
			}
			lay := func(x []float64, h, s, d int) []float64 {
				if tc.threeD {
					return to3D(x, tc.b, h, s, d)
				}
				return x
			}
			ins := []*tensor.Tensor{
				nnT(tc.dt, shape(tc.hq, tc.sq, tc.d), lay(q, tc.hq, tc.sq, tc.d)),
				nnT(tc.dt, shape(tc.hkv, tc.skv, tc.d), lay(k, tc.hkv, tc.skv, tc.d)),
				nnT(tc.vdt, shape(tc.hkv, tc.skv, tc.dv), lay(v, tc.hkv, tc.skv, tc.dv)),
				maskT,
			}
			if tc.past > 0 {
				ins = append(ins, nnT(tc.dt, tensor.Shape{tc.b, tc.hkv, tc.past, tc.d}, pk), nnT(tc.vdt, tensor.Shape{tc.b, tc.hkv, tc.past, tc.dv}, pv))
			}
			opset := int64(23)
			if tc.nonpad != nil {
				opset = 24
				for len(ins) < 6 {
					ins = append(ins, nil)
				}
				ins = append(ins, tensor.MustFrom(tensor.Shape{tc.b}, tc.nonpad))
			}
			for len(ins) > 3 && ins[len(ins)-1] == nil {
				ins = ins[:len(ins)-1]
			}
			attrs := nnAttrs(graph.IntAttr("is_causal", nnB2I(tc.causal)), graph.IntAttr("qk_matmul_output_mode", int64(tc.mode)))
			if tc.threeD {
				attrs = append(attrs, graph.IntAttr("q_num_heads", int64(tc.hq)), graph.IntAttr("kv_num_heads", int64(tc.hkv)))
			}
			if tc.scale != 0 {
				attrs = append(attrs, graph.FloatAttr("scale", float32(tc.scale)))
			}
			if tc.softcap != 0 {
				attrs = append(attrs, graph.FloatAttr("softcap", float32(tc.softcap)))
			}
			got, err := runOp(t, "Attention", opset, tc.outputs, attrs, ins...)
			if err != nil {
				t.Fatal(err)
			}
			nnCheck(t, got[0], tc.dt, shape(tc.hq, tc.sq, tc.dv), lay(y, tc.hq, tc.sq, tc.dv))
			if tc.outputs >= 3 {
				nnCheck(t, got[1], tc.dt, tensor.Shape{tc.b, tc.hkv, total, tc.d}, presK)
				nnCheck(t, got[2], tc.vdt, tensor.Shape{tc.b, tc.hkv, total, tc.dv}, presV)
			}
			if tc.outputs == 4 {
				nnCheck(t, got[3], tc.dt, tensor.Shape{tc.b, tc.hq, tc.sq, total}, qk)
			}
		})
	}
}

func TestAttentionEdges(t *testing.T) {
	is := is.New(t)
	q := nnT(tensor.Float32, tensor.Shape{1, 1, 2, 2}, []float64{1, 0, 0, 1})
	k := nnT(tensor.Float32, tensor.Shape{1, 1, 2, 2}, []float64{1, 0, 0, 1})
	v := nnT(tensor.Float32, tensor.Shape{1, 1, 2, 2}, []float64{1, 2, 3, 4})
	// A row whose every key is masked out has no distribution: NaN.
	mask := nnT(tensor.Bool, tensor.Shape{2, 2}, []float64{0, 0, 1, 1})
	got, err := runOp(t, "Attention", 23, 1, nil, q, k, v, mask)
	is.NoErr(err)
	y := nnVals(got[0])
	is.True(math.IsNaN(y[0]) && math.IsNaN(y[1]))
	is.True(!math.IsNaN(y[2]))
	for i, tc := range []struct {
		attrs []*graph.Attr
		in    []*tensor.Tensor
	}{
		{nil, []*tensor.Tensor{nnT(tensor.Float32, tensor.Shape{1, 2, 6}, make([]float64, 12)), nnT(tensor.Float32, tensor.Shape{1, 2, 6}, make([]float64, 12)), nnT(tensor.Float32, tensor.Shape{1, 2, 6}, make([]float64, 12))}},
		{nil, []*tensor.Tensor{nnT(tensor.Float32, tensor.Shape{1, 3, 2, 2}, make([]float64, 12)), nnT(tensor.Float32, tensor.Shape{1, 2, 2, 2}, make([]float64, 8)), nnT(tensor.Float32, tensor.Shape{1, 2, 2, 2}, make([]float64, 8))}},
		{nil, []*tensor.Tensor{q, k, v, nnT(tensor.Float32, tensor.Shape{2, 3}, make([]float64, 6))}},
		{nil, []*tensor.Tensor{q, k, v, nnT(tensor.Float32, tensor.Shape{3, 2}, make([]float64, 6))}},
		{nil, []*tensor.Tensor{q, nnT(tensor.Float32, tensor.Shape{1, 1, 2, 3}, make([]float64, 6)), v}},
		{nnAttrs(graph.IntAttr("q_num_heads", 2), graph.IntAttr("kv_num_heads", 1)), []*tensor.Tensor{q, k, v}},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			_, err := runOp(t, "Attention", 23, 1, tc.attrs, tc.in...)
			if fault.KindOf(err) != fault.Invalid {
				t.Fatalf("got %v, want an invalid error", err)
			}
		})
	}
}
