package ops

import (
	"context"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func rotaryEmbeddingSchemas() []Schema {
	return []Schema{{
		Since: 23, Inputs: params("X:T", "cos_cache:T", "sin_cache:T", "position_ids:M?"), Outputs: params("Y:T"),
		Types: map[string][]tensor.DType{"T": {tensor.Float32, tensor.Float16, tensor.BFloat16}, "M": {tensor.Int64}},
		Attrs: []string{"interleaved", "num_heads", "rotary_embedding_dim"}, Build: buildRotaryEmbedding,
	}}
}

// rotaryEmbedding rotates pairs of each head's first rotary_embedding_dim
// features by position-dependent angles given as cosine and sine caches;
// pairs are (i, i+dim/2), or (2i, 2i+1) when interleaved.
type rotaryEmbedding struct {
	interleaved bool
	heads       int // 0 when not given
	dim         int // 0: the whole head
}

func buildRotaryEmbedding(n *graph.Node, _ int64) (Kernel, error) {
	var k rotaryEmbedding
	il, err := n.AttrInt("interleaved", 0)
	if err != nil {
		return nil, err
	}
	k.interleaved = il != 0
	h, err := n.AttrInt("num_heads", 0)
	if err != nil {
		return nil, err
	}
	d, err := n.AttrInt("rotary_embedding_dim", 0)
	if err != nil {
		return nil, err
	}
	if h < 0 || h > tensor.MaxElements || d < 0 || d > tensor.MaxElements {
		return nil, fault.Errorf(fault.Invalid, "RotaryEmbedding: num_heads %d and rotary_embedding_dim %d must not be negative", h, d)
	}
	k.heads, k.dim = int(h), int(d)
	return k, nil
}

func (k rotaryEmbedding) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, cosc, sinc := in[0], in[1], in[2]
	var pos *tensor.Tensor
	if len(in) > 3 {
		pos = in[3]
	}
	fail := func(format string, args ...any) error {
		return fault.Errorf(fault.Invalid, "RotaryEmbedding: "+format, args...)
	}
	if cosc.DType != x.DType || sinc.DType != x.DType {
		return fail("X, cos_cache and sin_cache must share a dtype")
	}
	var b, heads, seq, hd int
	switch len(x.Shape) {
	case 4:
		b, heads, seq, hd = x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	case 3:
		if k.heads == 0 {
			return fail("a 3-D input needs the num_heads attribute")
		}
		b, seq, heads = x.Shape[0], x.Shape[1], k.heads
		if x.Shape[2]%heads != 0 {
			return fail("hidden size %d is not a multiple of num_heads %d", x.Shape[2], heads)
		}
		hd = x.Shape[2] / heads
	default:
		return fail("X %v must be 3-D or 4-D", []int(x.Shape))
	}
	rd := k.dim
	if rd == 0 {
		rd = hd
	}
	if rd > hd || rd%2 != 0 {
		return fail("rotary_embedding_dim %d must be even and at most the head size %d", rd, hd)
	}
	half := rd / 2
	if !tensor.Shape(cosc.Shape).Equal(sinc.Shape) {
		return fail("cos_cache %v and sin_cache %v differ in shape", []int(cosc.Shape), []int(sinc.Shape))
	}
	cs := cosc.Shape
	var ids []int64
	if pos != nil {
		if len(pos.Shape) != 2 || pos.Shape[0] != b || pos.Shape[1] != seq {
			return fail("position_ids %v must be (%d, %d)", []int(pos.Shape), b, seq)
		}
		if len(cs) != 2 || cs[1] != half {
			return fail("caches %v must be (max positions, %d) with position_ids", []int(cs), half)
		}
		ids = tensor.Values[int64](pos)
		for _, p := range ids {
			if p < 0 || p >= int64(cs[0]) {
				return fail("position id %d is outside the caches' %d positions", p, cs[0])
			}
		}
	} else if len(cs) != 3 || cs[0] != b || cs[1] != seq || cs[2] != half {
		return fail("caches %v must be (%d, %d, %d) without position_ids", []int(cs), b, seq, half)
	}
	y, err := Output(ctx, out[0], x.DType, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	sc := ScratchFrom(ctx)
	xf, cf, sf := nnFloats[float32](sc, x), nnFloats[float32](sc, cosc), nnFloats[float32](sc, sinc)
	yf := nnOutFloats[float32](sc, y)
	// Offsets of (batch, head, position) rows, for either layout.
	var sb, sh, ss int
	if len(x.Shape) == 4 {
		sb, sh, ss = heads*seq*hd, seq*hd, hd
	} else {
		sb, sh, ss = seq*heads*hd, hd, heads*hd
	}
	for bi := range b {
		for s := range seq {
			row := bi*seq + s // the cache row without position_ids
			if ids != nil {
				row = int(ids[bi*seq+s])
			}
			c, sn := cf[row*half:(row+1)*half], sf[row*half:(row+1)*half]
			for h := range heads {
				off := bi*sb + h*sh + s*ss
				k.rotate(yf[off:off+hd], xf[off:off+hd], c, sn, rd)
			}
		}
	}
	nnStore(y, yf)
	return nil
}

func (k rotaryEmbedding) rotate(y, x, c, s []float32, rd int) {
	half := rd / 2
	if k.interleaved {
		for i := range half {
			x1, x2 := x[2*i], x[2*i+1]
			y[2*i] = c[i]*x1 - s[i]*x2
			y[2*i+1] = s[i]*x1 + c[i]*x2
		}
	} else {
		for i := range half {
			x1, x2 := x[i], x[half+i]
			y[i] = c[i]*x1 - s[i]*x2
			y[half+i] = s[i]*x1 + c[i]*x2
		}
	}
	copy(y[rd:], x[rd:])
}
