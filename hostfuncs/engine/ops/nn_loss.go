package ops

import (
	"context"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func nllLossSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("input:T", "target:Tind", "weight:T?"), Outputs: params("loss:T"),
			Types: map[string][]tensor.DType{"T": ts, "Tind": {tensor.Int32, tensor.Int64}},
			Attrs: []string{"ignore_index", "reduction"}, Build: buildNLLLoss,
		}
	}
	return []Schema{v(12, floats()), v(13, floats()), v(22, floatsBF16())}
}

func sceLossSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("scores:T", "labels:Tind", "weights:T?"), Outputs: params("output:T", "log_prob:T?"),
			Types: map[string][]tensor.DType{"T": ts, "Tind": {tensor.Int32, tensor.Int64}},
			Attrs: []string{"ignore_index", "reduction"}, Build: buildSCELoss,
		}
	}
	return []Schema{v(12, floats()), v(13, floatsBF16())}
}

type lossReduction int

const (
	reduceMean lossReduction = iota
	reduceSum
	reduceNone
)

// lossAttrs are the attributes NegativeLogLikelihoodLoss and
// SoftmaxCrossEntropyLoss share.
type lossAttrs struct {
	reduction lossReduction
	ignore    int64
	hasIgnore bool
}

func readLossAttrs(n *graph.Node, op string) (lossAttrs, error) {
	var a lossAttrs
	r, err := n.AttrString("reduction", "mean")
	if err != nil {
		return a, err
	}
	switch r {
	case "mean":
		a.reduction = reduceMean
	case "sum":
		a.reduction = reduceSum
	case "none":
		a.reduction = reduceNone
	default:
		return a, fault.Errorf(fault.Invalid, "%s: reduction %q is not none, sum or mean", op, r)
	}
	if a.hasIgnore = n.HasAttr("ignore_index"); a.hasIgnore {
		if a.ignore, err = n.AttrInt("ignore_index", 0); err != nil {
			return a, err
		}
	}
	return a, nil
}

type nllLoss struct{ lossAttrs }

func buildNLLLoss(n *graph.Node, _ int64) (Kernel, error) {
	a, err := readLossAttrs(n, "NegativeLogLikelihoodLoss")
	return nllLoss{a}, err
}

type sceLoss struct{ lossAttrs }

func buildSCELoss(n *graph.Node, _ int64) (Kernel, error) {
	a, err := readLossAttrs(n, "SoftmaxCrossEntropyLoss")
	return sceLoss{a}, err
}

// lossGeom is the (N, C, D) view of an input of shape (N, C, d1, ..., dk),
// D being the product of the trailing dimensions.
type lossGeom struct{ n, c, d int }

func lossShapes(op string, x, target, weight *tensor.Tensor) (lossGeom, error) {
	var g lossGeom
	if len(x.Shape) < 2 {
		return g, fault.Errorf(fault.Invalid, "%s: input %v must have rank 2 or more", op, []int(x.Shape))
	}
	if len(target.Shape) != len(x.Shape)-1 || target.Shape[0] != x.Shape[0] {
		return g, fault.Errorf(fault.Invalid, "%s: target %v does not match input %v", op, []int(target.Shape), []int(x.Shape))
	}
	for i, d := range target.Shape[1:] {
		if d != x.Shape[i+2] {
			return g, fault.Errorf(fault.Invalid, "%s: target %v does not match input %v", op, []int(target.Shape), []int(x.Shape))
		}
	}
	g.n, g.c, g.d = x.Shape[0], x.Shape[1], nnDims(x.Shape[2:])
	if weight != nil {
		if weight.DType != x.DType || len(weight.Shape) != 1 || weight.Shape[0] != g.c {
			return g, fault.Errorf(fault.Invalid, "%s: weight %v must be 1-D of the %d classes, of the input's dtype", op, weight, g.c)
		}
	}
	return g, nil
}

func (k nllLoss) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	const op = "NegativeLogLikelihoodLoss"
	x, target := in[0], in[1]
	var weight *tensor.Tensor
	if len(in) > 2 {
		weight = in[2]
	}
	g, err := lossShapes(op, x, target, weight)
	if err != nil {
		return err
	}
	if out[0], err = k.output(ctx, out[0], x.DType, target.Shape); err != nil {
		return err
	}
	sc := ScratchFrom(ctx)
	if x.DType == tensor.Float64 {
		return lossNLL(k.lossAttrs, op, sc, &g, nnFloats[float64](sc, x), target, weight, out[0])
	}
	return lossNLL(k.lossAttrs, op, sc, &g, nnFloats[float32](sc, x), target, weight, out[0])
}

func (a lossAttrs) output(ctx context.Context, prev *tensor.Tensor, dt tensor.DType, targetShape tensor.Shape) (*tensor.Tensor, error) {
	if a.reduction == reduceNone {
		return Output(ctx, prev, dt, targetShape)
	}
	return Output(ctx, prev, dt, nil)
}

// lossNLL computes the (weighted) negative log likelihood of logp, laid
// out (N, C, D), at the target classes, reduced as asked, into y.
func lossNLL[F nnFloat](a lossAttrs, op string, sc *Scratch, g *lossGeom, logp []F, target, weight, y *tensor.Tensor) error {
	var w []F
	if weight != nil {
		w = nnFloats[F](sc, weight)
	}
	var t32 []int32
	var t64 []int64
	if target.DType == tensor.Int32 {
		t32 = tensor.Values[int32](target)
	} else {
		t64 = tensor.Values[int64](target)
	}
	nd := g.n * g.d
	losses := nnOutFloats[F](sc, y)
	if a.reduction != reduceNone {
		losses = ScratchSlice[F](sc, nd)
	}
	var sum, wsum float64
	for i := range nd {
		var t int64
		if t32 != nil {
			t = int64(t32[i])
		} else {
			t = t64[i]
		}
		if a.hasIgnore && t == a.ignore {
			losses[i] = 0
			continue
		}
		if t < 0 || t >= int64(g.c) {
			return fault.Errorf(fault.Invalid, "%s: target %d is outside [0, %d)", op, t, g.c)
		}
		n, d := i/g.d, i%g.d
		wt := 1.0
		if w != nil {
			wt = float64(w[t])
		}
		l := -wt * float64(logp[(n*g.c+int(t))*g.d+d])
		losses[i] = F(l)
		sum += l
		wsum += wt
	}
	switch a.reduction {
	case reduceNone:
		nnStore(y, losses)
		return nil
	case reduceMean:
		// Weighted mean over the samples not ignored: 0/0 (every sample
		// ignored) is NaN, as in the reference and PyTorch.
		sum /= wsum
	}
	r := ScratchSlice[F](sc, 1)
	r[0] = F(sum)
	nnStore(y, r)
	return nil
}

func (k sceLoss) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	const op = "SoftmaxCrossEntropyLoss"
	x, labels := in[0], in[1]
	var weight *tensor.Tensor
	if len(in) > 2 {
		weight = in[2]
	}
	g, err := lossShapes(op, x, labels, weight)
	if err != nil {
		return err
	}
	if out[0], err = k.output(ctx, out[0], x.DType, labels.Shape); err != nil {
		return err
	}
	if len(out) > 1 {
		if out[1], err = Output(ctx, out[1], x.DType, x.Shape); err != nil {
			return err
		}
	}
	sc := ScratchFrom(ctx)
	if x.DType == tensor.Float64 {
		return sceRun[float64](k.lossAttrs, sc, &g, x, labels, weight, out)
	}
	return sceRun[float32](k.lossAttrs, sc, &g, x, labels, weight, out)
}

func sceRun[F nnFloat](a lossAttrs, sc *Scratch, g *lossGeom, x, labels, weight *tensor.Tensor, out []*tensor.Tensor) error {
	xs := nnFloats[F](sc, x)
	var logp []F
	if len(out) > 1 {
		logp = nnOutFloats[F](sc, out[1])
	} else {
		logp = ScratchSlice[F](sc, len(xs))
	}
	logSoftmaxAxis1(logp, xs, g)
	if err := lossNLL(a, "SoftmaxCrossEntropyLoss", sc, g, logp, labels, weight, out[0]); err != nil {
		return err
	}
	if len(out) > 1 {
		nnStore(out[1], logp)
	}
	return nil
}

// logSoftmaxAxis1 computes log(softmax(x)) over the class axis of an
// (N, C, D) layout, as x - max - log(Σ exp(x - max)) in float64.
func logSoftmaxAxis1[F nnFloat](dst, x []F, g *lossGeom) {
	for n := range g.n {
		for d := range g.d {
			base := n*g.c*g.d + d
			m := math.Inf(-1)
			for c := range g.c {
				m = max(m, float64(x[base+c*g.d]))
			}
			s := 0.0
			for c := range g.c {
				s += math.Exp(float64(x[base+c*g.d]) - m)
			}
			ls := m + math.Log(s)
			for c := range g.c {
				dst[base+c*g.d] = F(float64(x[base+c*g.d]) - ls)
			}
		}
	}
}
