package ops

import (
	"context"
	"math/rand/v2"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func dropoutSchemas() []Schema {
	old := func(since int64, maskType tensor.DType, attrs ...string) Schema {
		ts := map[string][]tensor.DType{"T": floats()}
		mask := "mask:T?"
		if maskType == tensor.Bool {
			ts["T1"] = []tensor.DType{tensor.Bool}
			mask = "mask:T1?"
		}
		return Schema{
			Since: since, Inputs: params("data:T"), Outputs: params("output:T", mask),
			Types: ts, Attrs: attrs, Build: buildDropout,
			Volatile: since < 7, // is_test=0 drops at random
		}
	}
	v12 := func(since int64, t, t1 []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("data:T", "ratio:T1?", "training_mode:T2?"), Outputs: params("output:T", "mask:T2?"),
			Types: map[string][]tensor.DType{"T": t, "T1": t1, "T2": {tensor.Bool}},
			Attrs: []string{"seed"}, Build: buildDropout, Volatile: true,
		}
	}
	return []Schema{
		old(1, tensor.Invalid, "consumed_inputs", "is_test", "ratio"),
		old(6, tensor.Invalid, "is_test", "ratio"),
		old(7, tensor.Invalid, "ratio"),
		old(10, tensor.Bool, "ratio"),
		v12(12, floats(), floats()),
		v12(13, floatsBF16(), floats()),
		v12(22, floatsBF16(), floatsBF16()),
	}
}

// dropout is the identity in inference mode. Training mode, which opsets 1
// and 6 select with is_test=0 and opset 12 on with the training_mode
// input, zeroes each element with probability ratio and scales the rest by
// 1/(1-ratio); that output is random, so the schemas are volatile.
//
// The spec names no generator. The draws come from MT19937 seeded and read
// as numpy's RandomState(seed).uniform, which the ONNX reference runtime
// uses, so a seeded Dropout keeps the same elements as the reference and
// repeats run after run.
type dropout struct {
	ratio    float64
	training bool // opsets 1 and 6: is_test is 0
	inputs   bool // opset 12 on: ratio and training_mode are inputs
	seed     uint64
	hasSeed  bool
	maskBool bool // the mask output is BOOL (opset 10 on), else of the data's type
}

func buildDropout(n *graph.Node, opset int64) (Kernel, error) {
	k := dropout{ratio: 0.5, inputs: opset >= 12, maskBool: opset >= 10}
	if opset < 12 {
		r, err := n.AttrFloat("ratio", 0.5)
		if err != nil {
			return nil, err
		}
		k.ratio = float64(r)
	}
	if opset < 7 {
		t, err := n.AttrInt("is_test", 0)
		if err != nil {
			return nil, err
		}
		k.training = t == 0
	}
	if n.HasAttr("seed") {
		s, err := n.AttrInt("seed", 0)
		if err != nil {
			return nil, err
		}
		k.seed, k.hasSeed = uint64(s), true
	}
	return k, nil
}

func (k dropout) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	sc := ScratchFrom(ctx)
	ratio, training := k.ratio, k.training
	if k.inputs {
		if len(in) > 1 && in[1] != nil {
			r, err := nnScalarFloat(in[1], "Dropout: ratio")
			if err != nil {
				return err
			}
			ratio = r
		}
		if len(in) > 2 && in[2] != nil {
			if in[2].DType != tensor.Bool || in[2].Len() != 1 {
				return fault.Errorf(fault.Invalid, "Dropout: training_mode must be one BOOL, got %v", in[2])
			}
			training = tensor.Values[bool](in[2])[0]
		}
	}
	if training && !(ratio >= 0 && ratio < 1) {
		return fault.Errorf(fault.Invalid, "Dropout: ratio %g is outside [0, 1)", ratio)
	}
	var err error
	random := training && ratio > 0
	if !random {
		if out[0], err = copyInto(ctx, out[0], x, x.Shape); err != nil {
			return err
		}
		if len(out) > 1 {
			return k.fullMask(ctx, sc, out, x)
		}
		return nil
	}
	y, err := Output(ctx, out[0], x.DType, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	var keep []bool
	if len(out) > 1 {
		mt := tensor.Bool
		if !k.maskBool {
			mt = x.DType
		}
		if out[1], err = Output(ctx, out[1], mt, x.Shape); err != nil {
			return err
		}
	}
	seed := k.seed
	if !k.hasSeed {
		seed = rand.Uint64()
	}
	rng := dropoutMT{state: ScratchSlice[uint32](sc, mtN)}
	rng.seed(uint32(seed))
	scale := 1 / (1 - ratio)
	if len(out) > 1 && out[1].DType == tensor.Bool {
		keep = tensor.Values[bool](out[1])
	} else {
		keep = ScratchSlice[bool](sc, x.Len())
	}
	for i := range keep {
		keep[i] = rng.float64() >= ratio
	}
	switch x.DType {
	case tensor.Float32:
		dropoutApply(tensor.Values[float32](y), tensor.Values[float32](x), keep, float32(scale))
	case tensor.Float64:
		dropoutApply(tensor.Values[float64](y), tensor.Values[float64](x), keep, scale)
	case tensor.Float16:
		d, s := tensor.Values[tensor.F16](y), tensor.Values[tensor.F16](x)
		for i, v := range s {
			d[i] = 0
			if keep[i] {
				d[i] = tensor.F16From(v.Float32() * float32(scale))
			}
		}
	case tensor.BFloat16:
		d, s := tensor.Values[tensor.BF16](y), tensor.Values[tensor.BF16](x)
		for i, v := range s {
			d[i] = 0
			if keep[i] {
				d[i] = tensor.BF16From(v.Float32() * float32(scale))
			}
		}
	default:
		return fault.Errorf(fault.Unsupported, "Dropout of %s", x.DType.ONNXName())
	}
	if len(out) > 1 && out[1].DType != tensor.Bool {
		dropoutMaskValues(sc, out[1], keep)
	}
	return nil
}

// fullMask sets the mask output to "everything kept".
func (k dropout) fullMask(ctx context.Context, sc *Scratch, out []*tensor.Tensor, x *tensor.Tensor) error {
	var err error
	if k.maskBool {
		if out[1], err = Output(ctx, out[1], tensor.Bool, x.Shape); err != nil {
			return err
		}
		for i := range out[1].Data {
			out[1].Data[i] = 1
		}
		return nil
	}
	if out[1], err = Output(ctx, out[1], x.DType, x.Shape); err != nil {
		return err
	}
	keep := ScratchSlice[bool](sc, x.Len())
	for i := range keep {
		keep[i] = true
	}
	dropoutMaskValues(sc, out[1], keep)
	return nil
}

// dropoutMaskValues writes a keep mask as ones and zeros of a float
// tensor, the mask type before opset 10.
func dropoutMaskValues(sc *Scratch, t *tensor.Tensor, keep []bool) {
	f := ScratchSlice[float32](sc, len(keep))
	for i, k := range keep {
		f[i] = 0
		if k {
			f[i] = 1
		}
	}
	nnStore(t, f)
}

func dropoutApply[T float32 | float64](y, x []T, keep []bool, scale T) {
	for i, v := range x {
		y[i] = 0
		if keep[i] {
			y[i] = v * scale
		}
	}
}

// mtN is MT19937's state length in words.
const mtN = 624

// dropoutMT is the MT19937 generator as numpy's legacy RandomState runs
// it; its state lives in the run's scratch.
type dropoutMT struct {
	state []uint32
	pos   int
}

// seed initialises the state as numpy's mt19937_seed (Matsumoto and
// Nishimura's init_genrand).
func (m *dropoutMT) seed(s uint32) {
	st := m.state[:mtN]
	for i := range st {
		st[i] = s
		s = 1812433253*(s^(s>>30)) + uint32(i) + 1
	}
	m.pos = mtN
}

func (m *dropoutMT) next32() uint32 {
	st := m.state[:mtN]
	if m.pos >= mtN {
		const upper, lower, matrix = 0x80000000, 0x7fffffff, 0x9908b0df
		for i := range mtN {
			y := st[i]&upper | st[(i+1)%mtN]&lower
			v := st[(i+397)%mtN] ^ y>>1
			if y&1 != 0 {
				v ^= matrix
			}
			st[i] = v
		}
		m.pos = 0
	}
	y := st[m.pos]
	m.pos++
	y ^= y >> 11
	y ^= y << 7 & 0x9d2c5680
	y ^= y << 15 & 0xefc60000
	return y ^ y>>18
}

// float64 is a uniform double in [0, 1) from 53 random bits, as numpy's
// random_sample draws it.
func (m *dropoutMT) float64() float64 {
	a, b := m.next32()>>5, m.next32()>>6
	return (float64(a)*67108864 + float64(b)) / 9007199254740992
}
