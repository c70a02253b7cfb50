package ops

import (
	"context"
	"fmt"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func attentionSchemas() []Schema {
	attrs := []string{"is_causal", "kv_num_heads", "q_num_heads", "qk_matmul_output_mode", "scale", "softcap", "softmax_precision"}
	mask := cat([]tensor.DType{tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64},
		[]tensor.DType{tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64}, floatsBF16(), []tensor.DType{tensor.Bool})
	types := func() map[string][]tensor.DType {
		return map[string][]tensor.DType{"T1": floatsBF16(), "T2": floatsBF16(), "U": mask, "I": {tensor.Int64}}
	}
	outs := params("Y:T1", "present_key:T1?", "present_value:T2?", "qk_matmul_output:T1?")
	return []Schema{
		{
			Since: 23, Inputs: params("Q:T1", "K:T1", "V:T2", "attn_mask:U?", "past_key:T1?", "past_value:T2?"),
			Outputs: outs, Types: types(), Attrs: attrs, Build: buildAttention,
		},
		{
			Since: 24, Inputs: params("Q:T1", "K:T1", "V:T2", "attn_mask:U?", "past_key:T1?", "past_value:T2?", "nonpad_kv_seqlen:I?"),
			Outputs: outs, Types: types(), Attrs: attrs, Build: buildAttention,
		},
	}
}

// attention is scaled dot-product attention with optional masking, causal
// masking, softcapping, grouped KV heads and an in-operator KV cache.
type attention struct {
	causal          bool
	qHeads, kvHeads int // 0 when not given (4-D inputs carry them)
	scale           float64
	hasScale        bool
	softcap         float64
	qkMode          int
	// Which optional outputs the node names: an unnamed one is not computed.
	wantPresentK, wantPresentV, wantQK bool
}

func buildAttention(n *graph.Node, _ int64) (Kernel, error) {
	var k attention
	c, err := n.AttrInt("is_causal", 0)
	if err != nil {
		return nil, err
	}
	if c != 0 && c != 1 {
		return nil, fault.Errorf(fault.Invalid, "Attention: is_causal must be 0 or 1, got %d", c)
	}
	k.causal = c == 1
	for _, h := range []struct {
		name string
		dst  *int
	}{{"q_num_heads", &k.qHeads}, {"kv_num_heads", &k.kvHeads}} {
		if !n.HasAttr(h.name) {
			continue
		}
		v, err := n.AttrInt(h.name, 0)
		if err != nil {
			return nil, err
		}
		if v < 1 || v > tensor.MaxElements {
			return nil, fault.Errorf(fault.Invalid, "Attention: %s must be positive, got %d", h.name, v)
		}
		*h.dst = int(v)
	}
	mode, err := n.AttrInt("qk_matmul_output_mode", 0)
	if err != nil {
		return nil, err
	}
	if mode < 0 || mode > 3 {
		return nil, fault.Errorf(fault.Invalid, "Attention: qk_matmul_output_mode must be 0 to 3, got %d", mode)
	}
	k.qkMode = int(mode)
	if k.hasScale = n.HasAttr("scale"); k.hasScale {
		s, err := n.AttrFloat("scale", 0)
		if err != nil {
			return nil, err
		}
		k.scale = float64(s)
	}
	sc, err := n.AttrFloat("softcap", 0)
	if err != nil {
		return nil, err
	}
	if sc < 0 || math.IsNaN(float64(sc)) {
		return nil, fault.Errorf(fault.Invalid, "Attention: softcap must not be negative, got %g", sc)
	}
	k.softcap = float64(sc)
	if n.HasAttr("softmax_precision") {
		p, err := n.AttrInt("softmax_precision", 0)
		if err != nil {
			return nil, err
		}
		// Softmax is computed in float64 whatever is asked (exp has no
		// narrower implementation here), which meets any of these.
		switch tensor.DType(p) {
		case tensor.Float32, tensor.Float16, tensor.Float64, tensor.BFloat16:
		default:
			return nil, fault.Errorf(fault.Invalid, "Attention: softmax_precision %d is not a floating-point type", p)
		}
	}
	named := func(i int) bool { return len(n.Outputs) > i && n.Outputs[i] != "" }
	k.wantPresentK, k.wantPresentV, k.wantQK = named(1), named(2), named(3)
	if k.wantPresentK != k.wantPresentV {
		return nil, fault.Errorf(fault.Invalid, "Attention: present_key and present_value go together")
	}
	return k, nil
}

// attnGeom is the shape of one Attention problem. Q, K, V and Y are
// addressed through strides so 3-D inputs (heads interleaved in the last
// dimension) need no transposition.
type attnGeom struct {
	b, hq, hkv, sq, skv, past, total, d, dv int
	threeD                                  bool
}

// strides returns the batch, head and sequence strides of a tensor with the
// given heads, sequence length and head size in the layout the inputs use.
func (g *attnGeom) strides(heads, seq, dim int) (sb, sh, ss int) {
	if g.threeD {
		return seq * heads * dim, dim, heads * dim
	}
	return heads * seq * dim, seq * dim, dim
}

func (k attention) geometry(q, kk, v, pk, pv *tensor.Tensor) (attnGeom, error) {
	var g attnGeom
	fail := func(format string, args ...any) error {
		return fault.Errorf(fault.Invalid, "Attention: "+format, args...)
	}
	r := len(q.Shape)
	if r != len(kk.Shape) || r != len(v.Shape) || (r != 3 && r != 4) {
		return g, fail("Q %v, K %v and V %v must all be 3-D or all 4-D", []int(q.Shape), []int(kk.Shape), []int(v.Shape))
	}
	if q.Shape[0] != kk.Shape[0] || q.Shape[0] != v.Shape[0] {
		return g, fail("Q, K and V have different batch sizes")
	}
	g.b = q.Shape[0]
	if r == 4 {
		g.hq, g.sq, g.d = q.Shape[1], q.Shape[2], q.Shape[3]
		g.hkv, g.skv = kk.Shape[1], kk.Shape[2]
		if kk.Shape[3] != g.d {
			return g, fail("Q's head size %d differs from K's %d", g.d, kk.Shape[3])
		}
		if v.Shape[1] != g.hkv || v.Shape[2] != g.skv {
			return g, fail("K %v and V %v disagree on heads or sequence length", []int(kk.Shape), []int(v.Shape))
		}
		g.dv = v.Shape[3]
		if (k.qHeads != 0 && k.qHeads != g.hq) || (k.kvHeads != 0 && k.kvHeads != g.hkv) {
			return g, fail("q_num_heads and kv_num_heads disagree with the 4-D inputs")
		}
	} else {
		g.threeD = true
		if k.qHeads == 0 || k.kvHeads == 0 {
			return g, fail("3-D inputs need the q_num_heads and kv_num_heads attributes")
		}
		g.hq, g.hkv = k.qHeads, k.kvHeads
		g.sq, g.skv = q.Shape[1], kk.Shape[1]
		if v.Shape[1] != g.skv {
			return g, fail("K and V have different sequence lengths")
		}
		if q.Shape[2]%g.hq != 0 || kk.Shape[2]%g.hkv != 0 || v.Shape[2]%g.hkv != 0 {
			return g, fail("hidden sizes of Q %v, K %v, V %v are not multiples of the head counts", []int(q.Shape), []int(kk.Shape), []int(v.Shape))
		}
		g.d, g.dv = q.Shape[2]/g.hq, v.Shape[2]/g.hkv
		if kk.Shape[2]/g.hkv != g.d {
			return g, fail("Q's head size %d differs from K's %d", g.d, kk.Shape[2]/g.hkv)
		}
	}
	if g.hkv == 0 || g.hq%g.hkv != 0 {
		return g, fail("%d query heads cannot share %d key/value heads", g.hq, g.hkv)
	}
	if (pk == nil) != (pv == nil) {
		return g, fail("past_key and past_value go together")
	}
	if pk != nil {
		if len(pk.Shape) != 4 || len(pv.Shape) != 4 {
			return g, fail("past_key %v and past_value %v must be 4-D", []int(pk.Shape), []int(pv.Shape))
		}
		g.past = pk.Shape[2]
		want := [2][4]int{{g.b, g.hkv, g.past, g.d}, {g.b, g.hkv, g.past, g.dv}}
		for i, t := range []*tensor.Tensor{pk, pv} {
			for j, d := range want[i] {
				if t.Shape[j] != d {
					return g, fail("past cache %v should be %v", []int(t.Shape), want[i])
				}
			}
		}
	}
	g.total = g.past + g.skv
	return g, nil
}

func (k attention) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	q, kk, v := in[0], in[1], in[2]
	opt := func(i int) *tensor.Tensor {
		if len(in) > i {
			return in[i]
		}
		return nil
	}
	mask, pk, pv, nonpad := opt(3), opt(4), opt(5), opt(6)
	if kk.DType != q.DType || (pk != nil && pk.DType != q.DType) || (pv != nil && pv.DType != v.DType) {
		return fault.Errorf(fault.Invalid, "Attention: Q, K and past_key must share a dtype, as must V and past_value")
	}
	g, err := k.geometry(q, kk, v, pk, pv)
	if err != nil {
		return err
	}
	var ys []int
	if g.threeD {
		ys = []int{g.b, g.sq, g.hq * g.dv}
	} else {
		ys = []int{g.b, g.hq, g.sq, g.dv}
	}
	if out[0], err = Output(ctx, out[0], q.DType, ys); err != nil {
		return err
	}
	if k.wantPresentK {
		if out[1], err = Output(ctx, out[1], q.DType, []int{g.b, g.hkv, g.total, g.d}); err != nil {
			return err
		}
		if out[2], err = Output(ctx, out[2], v.DType, []int{g.b, g.hkv, g.total, g.dv}); err != nil {
			return err
		}
	}
	if k.wantQK {
		if out[3], err = Output(ctx, out[3], q.DType, []int{g.b, g.hq, g.sq, g.total}); err != nil {
			return err
		}
	}
	// One head's scores are held at a time; they are bounded like a tensor.
	if _, ok := numElements([]int{g.sq, g.total}); !ok {
		return fault.Errorf(fault.TooLarge, "Attention: %d queries by %d keys is too large", g.sq, g.total)
	}
	if nnNeedsF64(q.DType, v.DType) {
		return attentionRun[float64](ctx, &k, &g, q, kk, v, mask, pk, pv, nonpad, out)
	}
	return attentionRun[float32](ctx, &k, &g, q, kk, v, mask, pk, pv, nonpad, out)
}

// attnBias is the additive mask of one problem: the attn_mask input
// (broadcast, its last dimension padded with -inf) and the causal and
// padding exclusions.
type attnBias[F nnFloat] struct {
	mask             []F
	mb, mh, ms       int // mask strides along batch, head, query; 0 where broadcast
	mlen             int // mask's extent along the keys (≤ total)
	nonpad           []int64
	causal, causalBR bool // causalBR: align the diagonal to each batch's non-padded end
	past, sq, total  int
}

func newAttnBias[F nnFloat](sc *Scratch, k *attention, g *attnGeom, mask, nonpad *tensor.Tensor) (attnBias[F], error) {
	ab := attnBias[F]{causal: k.causal, past: g.past, sq: g.sq, total: g.total, mlen: g.total}
	if nonpad != nil {
		if len(nonpad.Shape) != 1 || nonpad.Shape[0] != g.b {
			return ab, fault.Errorf(fault.Invalid, "Attention: nonpad_kv_seqlen %v must be 1-D of the batch size %d", []int(nonpad.Shape), g.b)
		}
		ab.nonpad = tensor.Values[int64](nonpad)
		for _, n := range ab.nonpad {
			if n < 0 || n > int64(g.total) {
				return ab, fault.Errorf(fault.Invalid, "Attention: nonpad_kv_seqlen %d is outside [0, %d]", n, g.total)
			}
		}
		// An external cache holds the new queries' keys at its valid end,
		// so the causal diagonal ends there (as the reference does).
		ab.causalBR = g.past == 0
	}
	if mask == nil {
		return ab, nil
	}
	r := len(mask.Shape)
	if r < 1 || r > 4 {
		return ab, fault.Errorf(fault.Invalid, "Attention: attn_mask %v must have rank 1 to 4", []int(mask.Shape))
	}
	ab.mlen = mask.Shape[r-1]
	if ab.mlen > g.total {
		return ab, fault.Errorf(fault.Invalid, "Attention: attn_mask %v is longer than the %d keys", []int(mask.Shape), g.total)
	}
	// Right-align the mask against (batch, q heads, q sequence, keys).
	target := [3]int{g.b, g.hq, g.sq}
	var strides [3]int
	stride := ab.mlen
	for i := 2; i >= 0; i-- {
		d := r - 1 - (3 - i) // mask dimension aligned with target[i]
		if d < 0 {
			break
		}
		switch size := mask.Shape[d]; size {
		case target[i]:
			strides[i] = stride
		case 1:
		default:
			return ab, fault.Errorf(fault.Invalid, "Attention: attn_mask %v does not broadcast to (%d, %d, %d, %d)", []int(mask.Shape), g.b, g.hq, g.sq, g.total)
		}
		stride *= mask.Shape[d]
	}
	ab.mb, ab.mh, ab.ms = strides[0], strides[1], strides[2]
	if mask.DType == tensor.Bool {
		ab.mask = ScratchSlice[F](sc, mask.Len())
		inf := F(math.Inf(-1))
		for i, on := range tensor.Values[bool](mask) {
			ab.mask[i] = inf
			if on {
				ab.mask[i] = 0
			}
		}
	} else {
		ab.mask = nnFloats[F](sc, mask)
	}
	return ab, nil
}

// add adds the bias of batch b, head h to the scores s (sq × total).
func (ab *attnBias[F]) add(s []F, b, h int) {
	inf := F(math.Inf(-1))
	valid := ab.total
	if ab.nonpad != nil {
		valid = int(ab.nonpad[b])
	}
	for i := range ab.sq {
		row := s[i*ab.total : (i+1)*ab.total]
		if ab.mask != nil {
			m := ab.mask[b*ab.mb+h*ab.mh+i*ab.ms:]
			for j := range ab.mlen {
				row[j] += m[j]
			}
			for j := ab.mlen; j < len(row); j++ {
				row[j] += inf
			}
		}
		end := len(row) // keys at or past end are excluded
		if ab.causal {
			last := i + ab.past // the last key this query may see
			if ab.causalBR {
				last = i + valid - ab.sq
			}
			end = min(end, max(0, last+1))
		}
		end = min(end, valid)
		for j := end; j < len(row); j++ {
			row[j] += inf
		}
	}
}

func attentionRun[F nnFloat](ctx context.Context, k *attention, g *attnGeom, q, kk, v, mask, pk, pv, nonpad *tensor.Tensor, out []*tensor.Tensor) error {
	sc := ScratchFrom(ctx)
	bias, err := newAttnBias[F](sc, k, g, mask, nonpad)
	if err != nil {
		return err
	}
	// The whole key and value sequences, past then new, as (batch, kv
	// heads, total, head size); they are the present outputs when asked.
	var kAll, vAll []F
	if k.wantPresentK {
		kAll, vAll = nnOutFloats[F](sc, out[1]), nnOutFloats[F](sc, out[2])
	} else {
		kAll, vAll = ScratchSlice[F](sc, g.b*g.hkv*g.total*g.d), ScratchSlice[F](sc, g.b*g.hkv*g.total*g.dv)
	}
	attnConcat(kAll, g, pk, kk, g.d)
	attnConcat(vAll, g, pv, v, g.dv)
	qf := nnFloats[F](sc, q)
	y := out[0]
	yf := nnOutFloats[F](sc, y)
	var qk []F
	if k.wantQK {
		qk = nnOutFloats[F](sc, out[3])
	}
	scale := k.scale
	if !k.hasScale {
		scale = 1 / math.Sqrt(float64(g.d))
	}
	qb, qh, qs := g.strides(g.hq, g.sq, g.d)
	yb, yh, ys := g.strides(g.hq, g.sq, g.dv)
	s := ScratchSlice[F](sc, g.sq*g.total)
	group := g.hq / g.hkv
	n := g.sq * g.total
	for b := range g.b {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("Attention: %w", err)
		}
		for h := range g.hq {
			kvh := h / group // each KV head serves group consecutive query heads
			kOff := (b*g.hkv + kvh) * g.total * g.d
			vOff := (b*g.hkv + kvh) * g.total * g.dv
			qkRow := qk
			if qk != nil {
				qkRow = qk[(b*g.hq+h)*n : (b*g.hq+h+1)*n]
			}
			if g.sq > 0 && g.total > 0 {
				kernels.Gemm(false, true, g.sq, g.total, g.d, F(scale), qf[b*qb+h*qh:], qs, kAll[kOff:], g.d, 0, s, g.total)
			} else {
				clear(s)
			}
			if qkRow != nil && k.qkMode == 0 {
				copy(qkRow, s)
			}
			if k.softcap > 0 {
				c := k.softcap
				for i, x := range s {
					s[i] = F(c * math.Tanh(float64(x)/c))
				}
			}
			if qkRow != nil && k.qkMode == 1 {
				copy(qkRow, s)
			}
			bias.add(s, b, h)
			if qkRow != nil && k.qkMode == 2 {
				copy(qkRow, s)
			}
			for i := range g.sq {
				attnSoftmax(s[i*g.total : (i+1)*g.total])
			}
			if qkRow != nil && k.qkMode == 3 {
				copy(qkRow, s)
			}
			if g.sq > 0 && g.dv > 0 {
				kernels.Gemm(false, false, g.sq, g.dv, g.total, 1, s, g.total, vAll[vOff:], g.dv, 0, yf[b*yb+h*yh:], ys)
			}
		}
	}
	nnStore(y, yf)
	if k.wantPresentK {
		nnStore(out[1], kAll)
		nnStore(out[2], vAll)
	}
	if k.wantQK {
		nnStore(out[3], qk)
	}
	return nil
}

// attnConcat writes past (4-D, may be nil) followed by cur (3-D or 4-D)
// along the sequence into dst, laid out (batch, kv heads, total, dim).
func attnConcat[F nnFloat](dst []F, g *attnGeom, past, cur *tensor.Tensor, dim int) {
	cb, ch, cs := g.strides(g.hkv, g.skv, dim)
	for b := range g.b {
		for h := range g.hkv {
			base := (b*g.hkv + h) * g.total * dim
			if past != nil {
				off := (b*g.hkv + h) * g.past * dim
				attnRows(dst[base:base+g.past*dim], past, off, g.past*dim, dim, dim)
			}
			attnRows(dst[base+g.past*dim:base+g.total*dim], cur, b*cb+h*ch, g.skv, cs, dim)
		}
	}
}

// attnRows converts rows of dim elements, stride apart from off in src,
// into dst as F. When stride equals dim the rows are one run (n is then
// the element count).
func attnRows[F nnFloat](dst []F, src *tensor.Tensor, off, n, stride, dim int) {
	rows := n
	if stride == dim && dim > 0 {
		rows, dim, stride = 1, len(dst), len(dst)
	}
	for r := range rows {
		d := dst[r*dim : (r+1)*dim]
		o := off + r*stride
		switch src.DType {
		case tensor.Float32:
			nnConvertFrom(d, tensor.Values[float32](src)[o:o+dim])
		case tensor.Float64:
			nnConvertFrom(d, tensor.Values[float64](src)[o:o+dim])
		case tensor.Float16:
			for i, x := range tensor.Values[tensor.F16](src)[o : o+dim] {
				d[i] = F(x.Float32())
			}
		case tensor.BFloat16:
			for i, x := range tensor.Values[tensor.BF16](src)[o : o+dim] {
				d[i] = F(x.Float32())
			}
		}
	}
}

// attnSoftmax normalises a row in place, in float64. A row whose every
// score is -inf has no defined distribution and becomes NaN, as the
// reference's max-subtracted exponentials give.
func attnSoftmax[F nnFloat](row []F) {
	if len(row) == 0 {
		return
	}
	m := math.Inf(-1)
	for _, x := range row {
		m = max(m, float64(x))
	}
	sum := 0.0
	for i, x := range row {
		e := math.Exp(float64(x) - m)
		row[i] = F(e)
		sum += e
	}
	inv := 1 / sum
	for i, x := range row {
		row[i] = F(float64(x) * inv)
	}
}
