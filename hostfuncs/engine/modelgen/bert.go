package modelgen

import (
	"fmt"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// BERT input and output names, as Hugging Face exports have them.
const (
	BERTInputIDs      = "input_ids"
	BERTAttentionMask = "attention_mask"
	BERTTokenTypeIDs  = "token_type_ids"
	BERTOutput        = "last_hidden_state"
)

// BERTConfig sizes a BERT-style encoder.
type BERTConfig struct {
	Layers, Hidden, Heads, FFN int
	// Seq is the sequence length, fixed in the model's input shapes.
	Seq int
	// Vocab is the word-embedding table's row count (BERT-base has
	// 30,522; a small table keeps generated models small without changing
	// the work per token). MaxPositions is the position table's.
	Vocab, MaxPositions int
	// Batch > 0 fixes the batch dimension; Dynamic makes it symbolic.
	Batch int
	// AttentionMask adds the attention_mask input and the additive mask
	// that Hugging Face's get_extended_attention_mask derives from it.
	AttentionMask bool
	// DecomposedLayerNorm writes each LayerNorm as the nine-node form
	// exports below opset 17 have instead of LayerNormalization.
	DecomposedLayerNorm bool
	// Epsilon is LayerNorm's epsilon (BERT's 1e-12 when zero).
	Epsilon float32
	// DynamicSeq makes the sequence length symbolic, as a dynamic-axes
	// export does: position ids come from slicing the position_ids buffer
	// to the input's length. Seq then only sizes RandomBERTInputs.
	DynamicSeq bool
	// TokenTypes adds the token_type_ids input (after attention_mask, as
	// Hugging Face orders them) and the token-type embedding.
	TokenTypes bool
	Seed       uint64
}

// SmallBERT is the benchmark encoder: 4 layers, hidden 256, 4 heads, FFN
// 1024, sequence 128, a 1,000-token vocabulary, 512 positions, with
// attention_mask, LayerNormalization ops, symbolic batch.
func SmallBERT() BERTConfig {
	return BERTConfig{Layers: 4, Hidden: 256, Heads: 4, FFN: 1024, Seq: 128, Vocab: 1000, MaxPositions: 512, AttentionMask: true, Seed: 1}
}

func (c BERTConfig) validate() error {
	switch {
	case c.Layers < 0 || c.Hidden <= 0 || c.Heads <= 0 || c.FFN <= 0 || c.Seq <= 0 || c.Vocab <= 0:
		return fault.Errorf(fault.Invalid, "BERT config %+v: sizes must be positive", c)
	case c.Hidden%c.Heads != 0:
		return fault.Errorf(fault.Invalid, "BERT config: hidden %d is not a multiple of heads %d", c.Hidden, c.Heads)
	case c.MaxPositions < c.Seq:
		return fault.Errorf(fault.Invalid, "BERT config: %d positions cannot hold sequence %d", c.MaxPositions, c.Seq)
	case c.Batch < 0:
		return fault.Errorf(fault.Invalid, "BERT config: batch %d", c.Batch)
	}
	return nil
}

// BERTEncoder builds a BertModel-style encoder (embeddings and c.Layers
// encoder layers, no pooler) as torch.onnx.export writes a Hugging Face
// BertModel at opset 17: see the package documentation. Linear weights are
// uniform ±1/√fan_in (PyTorch's default), embeddings of unit variance,
// LayerNorm scales around one.
func BERTEncoder(c BERTConfig) (*graph.Model, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.Epsilon == 0 {
		c.Epsilon = 1e-12
	}
	b := newBuilder("main_graph", c.Seed)
	e := &encoder{builder: b, c: c, headSize: c.Hidden / c.Heads}
	n, s := batchDim(c.Batch), graph.FixedDim(int64(c.Seq))
	if c.DynamicSeq {
		s = graph.SymbolicDim("sequence_length")
	}
	ids := b.input(BERTInputIDs, tensor.Int64, n, s)
	var mask, types string
	if c.AttentionMask {
		mask = b.input(BERTAttentionMask, tensor.Int64, n, s)
	}
	if c.TokenTypes {
		types = b.input(BERTTokenTypeIDs, tensor.Int64, n, s)
	}

	// Embeddings: words, positions and, if asked for, token types.
	word := b.weight("embeddings.word_embeddings.weight", 1.7320508, c.Vocab, c.Hidden)
	pos := b.weight("embeddings.position_embeddings.weight", 1.7320508, c.MaxPositions, c.Hidden)
	nPos := c.Seq
	if c.DynamicSeq {
		nPos = c.MaxPositions
	}
	posIDs := make([]int64, nPos)
	for i := range posIDs {
		posIDs[i] = int64(i)
	}
	positions := b.init("embeddings.position_ids", tensor.MustFrom(tensor.Shape{1, nPos}, posIDs))
	if c.DynamicSeq { // position_ids[:, :seq]
		shape := b.op1("/embeddings", "Shape", []string{ids})
		seq := b.op1("/embeddings", "Gather", []string{shape, b.constant("/embeddings", tensor.MustFrom(tensor.Shape{}, []int64{1}))}, graph.IntAttr("axis", 0))
		seq = b.op1("/embeddings", "Unsqueeze", []string{seq, b.ints("/embeddings", 0)})
		positions = b.op1("/embeddings", "Slice", []string{positions, b.ints("/embeddings", 0), seq, b.ints("/embeddings", 1)})
	}
	x := b.op1("/embeddings/word_embeddings", "Gather", []string{word, ids})
	p := b.op1("/embeddings/position_embeddings", "Gather", []string{pos, positions})
	x = b.op1("/embeddings", "Add", []string{x, p})
	if c.TokenTypes {
		tt := b.weight("embeddings.token_type_embeddings.weight", 1.7320508, 2, c.Hidden)
		x = b.op1("/embeddings", "Add", []string{x, b.op1("/embeddings/token_type_embeddings", "Gather", []string{tt, types})})
	}
	x = e.layerNorm("/embeddings/LayerNorm", "embeddings.LayerNorm", x)

	// The additive mask: (1 - mask) * finfo(float32).min, as [N,1,1,seq].
	var extMask string
	if c.AttentionMask {
		m := b.op1("", "Unsqueeze", []string{mask, b.ints("", 1)})
		m = b.op1("", "Unsqueeze", []string{m, b.ints("", 2)})
		m = b.op1("", "Cast", []string{m}, graph.IntAttr("to", int64(tensor.Float32)))
		m = b.op1("", "Sub", []string{b.scalar("", 1), m})
		extMask = b.op1("", "Mul", []string{m, b.scalar("", -math.MaxFloat32)})
	}

	for i := range c.Layers {
		x = e.layer(fmt.Sprintf("/encoder/layer.%d", i), fmt.Sprintf("encoder.layer.%d", i), x, extMask)
	}
	b.output(x, BERTOutput, tensor.Float32, n, s, graph.FixedDim(int64(c.Hidden)))
	return b.model(), nil
}

type encoder struct {
	*builder
	c        BERTConfig
	headSize int
}

// linear adds nn.Linear on a 3-D input as the exporter writes it: MatMul by
// the transposed weight (stored transposed, [in,out]), then Add of the
// bias first.
func (e *encoder) linear(scope, param, x string, in, out int) string {
	bound := kaiming(in, 1/1.7320508)
	w := e.weight(param+".weight", bound, in, out)
	bias := e.weight(param+".bias", bound, out)
	y := e.op1(scope, "MatMul", []string{x, w})
	return e.op1(scope, "Add", []string{bias, y})
}

// layerNorm adds nn.LayerNorm over the last axis.
func (e *encoder) layerNorm(scope, param, x string) string {
	gamma := e.around(param+".weight", 1, 0.5, e.c.Hidden)
	beta := e.weight(param+".bias", 0.1, e.c.Hidden)
	if !e.c.DecomposedLayerNorm {
		return e.op1(scope, "LayerNormalization", []string{x, gamma, beta},
			graph.IntAttr("axis", -1), graph.FloatAttr("epsilon", e.c.Epsilon))
	}
	mean := e.op1(scope, "ReduceMean", []string{x}, graph.IntsAttr("axes", -1), graph.IntAttr("keepdims", 1))
	d := e.op1(scope, "Sub", []string{x, mean})
	sq := e.op1(scope, "Pow", []string{d, e.scalar(scope, 2)})
	v := e.op1(scope, "ReduceMean", []string{sq}, graph.IntsAttr("axes", -1), graph.IntAttr("keepdims", 1))
	v = e.op1(scope, "Add", []string{v, e.scalar(scope, e.c.Epsilon)})
	v = e.op1(scope, "Sqrt", []string{v})
	y := e.op1(scope, "Div", []string{d, v})
	y = e.op1(scope, "Mul", []string{y, gamma})
	return e.op1(scope, "Add", []string{y, beta})
}

// reshapeTarget is the shape operand of a Reshape of x [N,seq,...] to
// [N,seq,tail...]: a constant initializer when the batch is fixed, else
// the exporter's Shape/Gather/Unsqueeze/Concat over x's dimensions.
func (e *encoder) reshapeTarget(scope, x string, tail ...int64) string {
	if e.c.Batch > 0 && !e.c.DynamicSeq {
		v := append([]int64{int64(e.c.Batch), int64(e.c.Seq)}, tail...)
		name := fmt.Sprintf("%s/shape_%d", scope, e.uses[scope+"/shape"])
		e.uses[scope+"/shape"]++
		return e.init(name, tensor.MustFrom(tensor.Shape{len(v)}, v))
	}
	shape := e.op1(scope, "Shape", []string{x})
	dims := make([]string, 0, 2+len(tail))
	for axis := range int64(2) {
		idx := e.constant(scope, tensor.MustFrom(tensor.Shape{}, []int64{axis}))
		d := e.op1(scope, "Gather", []string{shape, idx}, graph.IntAttr("axis", 0))
		dims = append(dims, e.op1(scope, "Unsqueeze", []string{d, e.ints(scope, 0)}))
	}
	for _, t := range tail {
		dims = append(dims, e.ints(scope, t))
	}
	return e.op1(scope, "Concat", dims, graph.IntAttr("axis", 0))
}

// heads splits [N,seq,hidden] into [N,heads,seq,headSize] (perm 0,2,1,3),
// or for the keys straight into Kᵀ [N,heads,headSize,seq] (perm 0,2,3,1),
// which is how the exporter merges transpose_for_scores with
// key.transpose(-1, -2).
func (e *encoder) heads(scope, x string, keys bool) string {
	y := e.op1(scope, "Reshape", []string{x, e.reshapeTarget(scope, x, int64(e.c.Heads), int64(e.headSize))})
	perm := []int64{0, 2, 1, 3}
	if keys {
		perm = []int64{0, 2, 3, 1}
	}
	return e.op1(scope, "Transpose", []string{y}, graph.IntsAttr("perm", perm...))
}

// layer adds one BertLayer: self-attention, output projection, residual
// and LayerNorm, then the GELU feed-forward, residual and LayerNorm.
func (e *encoder) layer(scope, param, x, extMask string) string {
	h := e.c.Hidden
	attn := scope + "/attention/self"
	q := e.linear(attn+"/query", param+".attention.self.query", x, h, h)
	k := e.linear(attn+"/key", param+".attention.self.key", x, h, h)
	v := e.linear(attn+"/value", param+".attention.self.value", x, h, h)
	kt := e.heads(attn, k, true)
	vh := e.heads(attn, v, false)
	qh := e.heads(attn, q, false)

	scores := e.op1(attn, "MatMul", []string{qh, kt})
	scores = e.op1(attn, "Div", []string{scores, e.scalar(attn, float32(math.Sqrt(float64(e.headSize))))})
	if extMask != "" {
		scores = e.op1(attn, "Add", []string{scores, extMask})
	}
	probs := e.op1(attn, "Softmax", []string{scores}, graph.IntAttr("axis", -1))
	ctx := e.op1(attn, "MatMul", []string{probs, vh})
	ctx = e.op1(attn, "Transpose", []string{ctx}, graph.IntsAttr("perm", 0, 2, 1, 3))
	ctx = e.op1(attn, "Reshape", []string{ctx, e.reshapeTarget(attn, ctx, int64(h))})

	out := scope + "/attention/output"
	y := e.linear(out+"/dense", param+".attention.output.dense", ctx, h, h)
	y = e.op1(out, "Add", []string{y, x})
	y = e.layerNorm(out+"/LayerNorm", param+".attention.output.LayerNorm", y)

	inter := scope + "/intermediate"
	f := e.linear(inter+"/dense", param+".intermediate.dense", y, h, e.c.FFN)
	f = e.gelu(inter+"/intermediate_act_fn", f)
	o := scope + "/output"
	z := e.linear(o+"/dense", param+".output.dense", f, e.c.FFN, h)
	z = e.op1(o, "Add", []string{z, y})
	return e.layerNorm(o+"/LayerNorm", param+".output.LayerNorm", z)
}

// gelu adds the exact GELU, x·½·(1 + erf(x/√2)), as the exporter writes it
// below opset 20: Div, Erf, Add, Mul, Mul.
func (e *encoder) gelu(scope, x string) string {
	d := e.op1(scope, "Div", []string{x, e.scalar(scope, math.Sqrt2)})
	d = e.op1(scope, "Erf", []string{d})
	d = e.op1(scope, "Add", []string{d, e.scalar(scope, 1)})
	d = e.op1(scope, "Mul", []string{x, d})
	return e.op1(scope, "Mul", []string{d, e.scalar(scope, 0.5)})
}

// RandomBERTInputs is a batch of token ids uniform over the vocabulary and,
// if the model has one, an attention mask of ones (no padding).
func RandomBERTInputs(c BERTConfig, batch int, seed uint64) []tensor.Named {
	r := newRNG(seed)
	ids := make([]int64, batch*c.Seq)
	for i := range ids {
		ids[i] = r.intn(int64(c.Vocab))
	}
	in := []tensor.Named{{Name: BERTInputIDs, Tensor: tensor.MustFrom(tensor.Shape{batch, c.Seq}, ids)}}
	if c.AttentionMask {
		ones := make([]int64, batch*c.Seq)
		for i := range ones {
			ones[i] = 1
		}
		in = append(in, tensor.Named{Name: BERTAttentionMask, Tensor: tensor.MustFrom(tensor.Shape{batch, c.Seq}, ones)})
	}
	if c.TokenTypes {
		in = append(in, tensor.Named{Name: BERTTokenTypeIDs, Tensor: tensor.MustNew(tensor.Int64, tensor.Shape{batch, c.Seq})})
	}
	return in
}
