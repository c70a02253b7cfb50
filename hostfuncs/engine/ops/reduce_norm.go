package ops

import (
	"context"
	"math"
	"slices"
	"sync"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// The normalisation operators work on float64 data for DOUBLE and on
// float32 otherwise (half precision widened), and accumulate statistics in
// float64, which meets any stash_type's precision.

// normRequested reports which of a node's outputs are named (used).
func normRequested(n *graph.Node) [5]bool {
	var r [5]bool
	for i, o := range n.Outputs {
		if i < len(r) {
			r[i] = o != ""
		}
	}
	return r
}

// normEpsilon reads the epsilon attribute.
func normEpsilon(n *graph.Node) (float64, error) {
	e, err := n.AttrFloat("epsilon", 1e-5)
	if err != nil {
		return 0, err
	}
	if !(e >= 0) || math.IsInf(float64(e), 0) {
		return 0, fault.Errorf(fault.Invalid, "epsilon must be a finite non-negative number, got %v", e)
	}
	return float64(e), nil
}

// normStash reads stash_type, the precision of the first stage (an ONNX
// float type code); allowed lists the codes the operator accepts.
func normStash(n *graph.Node, allowed ...tensor.DType) (tensor.DType, error) {
	s, err := n.AttrInt("stash_type", 1)
	if err != nil {
		return 0, err
	}
	for _, d := range allowed {
		if int64(d) == s {
			return d, nil
		}
	}
	return 0, fault.Errorf(fault.Invalid, "stash_type %d is not one of the float types %v allows", s, dtypeList(allowed))
}

// normRows standardises each contiguous row of n values of x into y:
// (x - mean) / sqrt(var + eps), or x / sqrt(mean(x²) + eps) for rms.
// mean and inv, when not nil, receive each row's mean and 1/sqrt(var+eps).
func normRows[F redFloat](y, x []F, rows, n int, eps float64, rms bool, mean, inv []float64) {
	for r := range rows {
		xs, ys := x[r*n:(r+1)*n], y[r*n:(r+1)*n]
		m := 0.0
		if !rms {
			for _, v := range xs {
				m += float64(v)
			}
			m /= float64(n)
		}
		q := 0.0
		for _, v := range xs {
			d := float64(v) - m
			q += d * d
		}
		iv := 1 / math.Sqrt(q/float64(n)+eps)
		for i, v := range xs {
			ys[i] = F((float64(v) - m) * iv)
		}
		if mean != nil {
			mean[r] = m
		}
		if inv != nil {
			inv[r] = iv
		}
	}
}

// normBroadcast multiplies y (of shape) by p, or adds p, where p's shape
// broadcasts to shape one way (from p to y).
func normBroadcast[F redFloat](op string, y []F, shape []int, p []F, pshape []int, add bool) error {
	bc, err := kernels.NewBroadcast(shape, shape, pshape)
	if err != nil {
		return fault.Errorf(fault.Invalid, "%s: %w", op, err)
	}
	n := bc.Inner()
	_, sb := bc.Steps()
	for r := bc.Runs(); r.Next(); {
		ys := y[r.Out : r.Out+n]
		switch {
		case sb == 1 && add:
			for i, v := range p[r.B : r.B+n] {
				ys[i] += v
			}
		case sb == 1:
			for i, v := range p[r.B : r.B+n] {
				ys[i] *= v
			}
		case add:
			v := p[r.B]
			for i := range ys {
				ys[i] += v
			}
		default:
			v := p[r.B]
			for i := range ys {
				ys[i] *= v
			}
		}
	}
	return nil
}

// normChannels applies y = x*a[c/per] + b[c/per] over an [N, C, S] view.
func normChannels[F redFloat](y, x []F, nb, c, s int, a, b []float64, per int) {
	for i := range nb {
		for ch := range c {
			off := (i*c + ch) * s
			av, bv := a[ch/per], b[ch/per]
			ys := y[off : off+s]
			for j, v := range x[off : off+s] {
				ys[j] = F(float64(v)*av + bv)
			}
		}
	}
}

// normParam checks a per-channel parameter's size and reads it.
func normParam(op, what string, sc *Scratch, t *tensor.Tensor, want int) ([]float64, error) {
	if !t.DType.IsFloat() {
		return nil, fault.Errorf(fault.Unsupported, "%s: %s of %s", op, what, t.DType.ONNXName())
	}
	if t.Len() != want {
		return nil, fault.Errorf(fault.Invalid, "%s: %s has shape %v; it needs %d values", op, what, []int(t.Shape), want)
	}
	return redF64(sc, t), nil
}

// normNCS views X as [N, C, S]; rank 1 is [N, 1, 1] as BatchNormalization
// allows.
func normNCS(shape []int) (nb, c, s int) {
	switch len(shape) {
	case 0:
		return 1, 1, 1
	case 1:
		return shape[0], 1, 1
	}
	s = 1
	for _, d := range shape[2:] {
		s *= d
	}
	return shape[0], shape[1], s
}

// ---- LayerNormalization ----

func layerNormSchemas() []Schema {
	return []Schema{{
		Since: 17, Inputs: params("X:T", "Scale:T", "B:T?"), Outputs: params("Y:T", "Mean:U?", "InvStdDev:U?"),
		Types: map[string][]tensor.DType{"T": floatsBF16(), "U": {tensor.Float32, tensor.BFloat16}},
		Attrs: []string{"axis", "epsilon", "stash_type"}, Build: buildLayerNorm,
	}}
}

type layerNormKernel struct {
	axis  int64
	eps   float64
	stash tensor.DType // the dtype of Mean and InvStdDev
	want  [5]bool
	rms   bool
}

func buildLayerNorm(n *graph.Node, _ int64) (Kernel, error) {
	k := layerNormKernel{want: normRequested(n)}
	var err error
	if k.axis, err = n.AttrInt("axis", -1); err != nil {
		return nil, err
	}
	if k.eps, err = normEpsilon(n); err != nil {
		return nil, err
	}
	if k.stash, err = normStash(n, tensor.Float32, tensor.BFloat16); err != nil {
		return nil, err
	}
	return k, nil
}

func (k layerNormKernel) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	name := "LayerNormalization"
	if k.rms {
		name = "RMSNormalization"
	}
	x, scale := in[0], in[1]
	var bias *tensor.Tensor
	if !k.rms && len(in) > 2 {
		bias = in[2]
	}
	for _, t := range []*tensor.Tensor{x, scale, bias} {
		if t != nil && !t.DType.IsFloat() {
			return fault.Errorf(fault.Unsupported, "%s of %s", name, t.DType.ONNXName())
		}
	}
	axis, err := redAxis(name, k.axis, len(x.Shape), false)
	if err != nil {
		return err
	}
	outer, n := redSplitAt(x.Shape, axis)
	// Y takes X's type, except in RMSNormalization, where it takes the
	// scale's.
	ydt := x.DType
	if k.rms {
		ydt = scale.DType
	}
	y, err := Output(ctx, out[0], ydt, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	sc := ScratchFrom(ctx)
	mean := ScratchSlice[float64](sc, outer)
	inv := ScratchSlice[float64](sc, outer)
	ln := layerNormData{name: name, eps: k.eps, rms: k.rms, outer: outer, n: n, mean: mean, inv: inv}
	if y.DType == tensor.Float64 {
		var b []float64
		if bias != nil {
			b = redF64(sc, bias)
		}
		err = layerNormRun(ln, redF64Out(sc, y), redF64(sc, x), redF64(sc, scale), b, x, scale, bias)
	} else {
		var b []float32
		if bias != nil {
			b = redAs32(sc, bias)
		}
		ys := redOut32(sc, y)
		if layerNormRowwise(x, scale, bias, n) {
			layerNormRows32(ctx, ln, ys, redAs32(sc, x), redAs32(sc, scale), b)
			redStore32(y, ys)
		} else if err = layerNormRun(ln, ys, redAs32(sc, x), redAs32(sc, scale), b, x, scale, bias); err == nil {
			redStore32(y, ys)
		}
	}
	if err != nil {
		return err
	}
	if k.rms {
		return nil
	}
	var buf [tensor.MaxRank]int
	shape := append(buf[:0], x.Shape...)
	for i := axis; i < len(shape); i++ {
		shape[i] = 1
	}
	for i, stat := range [][]float64{mean, inv} {
		if i+1 >= len(out) || !k.want[i+1] {
			continue
		}
		t, err := Output(ctx, out[i+1], k.stash, shape)
		if err != nil {
			return err
		}
		out[i+1] = t
		redStore(t, stat)
	}
	return nil
}

// layerNormData is what the typed part of LayerNormalization needs.
type layerNormData struct {
	name      string
	eps       float64
	rms       bool
	outer, n  int
	mean, inv []float64
}

// layerNormRun standardises the rows of x into y, then scales and shifts
// them with the broadcast scale and bias (bias nil when absent).
func layerNormRun[F redFloat](d layerNormData, y, x, scale, bias []F, xt, st, bt *tensor.Tensor) error {
	normRows(y, x, d.outer, d.n, d.eps, d.rms, d.mean, d.inv)
	if err := normBroadcast(d.name, y, xt.Shape, scale, st.Shape, false); err != nil {
		return err
	}
	if bt != nil {
		return normBroadcast(d.name, y, xt.Shape, bias, bt.Shape, true)
	}
	return nil
}

// layerNormRowwise reports whether scale and bias (nil when absent) each
// hold exactly one value per element of a normalised row of n, the usual
// case: then every row takes them as they are, and the float32 rows go
// through the fused kernel. (A parameter of n values that broadcasts to X
// must have X's trailing shape, give or take leading 1s.)
func layerNormRowwise(x, scale, bias *tensor.Tensor, n int) bool {
	for _, p := range []*tensor.Tensor{scale, bias} {
		if p == nil {
			continue
		}
		if p.Len() != n {
			return false
		}
		if _, err := kernels.NewBroadcast(x.Shape, x.Shape, p.Shape); err != nil {
			return false
		}
	}
	return true
}

// layerNormRows32 standardises each row of x into y and applies the scale
// and bias in the same pass (kernels.Normalize); the statistics are
// accumulated in float64, as in normRows. Many rows are split over the
// compute pool.
func layerNormRows32(ctx context.Context, d layerNormData, y, x, scale, bias []float32) {
	c := ComputeFrom(ctx)
	parts := min(d.outer, c.Split(d.outer*d.n*3, splitElems))
	if parts <= 1 {
		layerNormRowRange(&d, y, x, scale, bias, 0, d.outer)
		return
	}
	t := layerNormTasks.Get().(*layerNormTask)
	*t = layerNormTask{d: d, y: y, x: x, scale: scale, bias: bias, parts: parts}
	c.Parallel(parts, t)
	*t = layerNormTask{}
	layerNormTasks.Put(t)
}

func layerNormRowRange(d *layerNormData, y, x, scale, bias []float32, r0, r1 int) {
	n := d.n
	for r := r0; r < r1; r++ {
		xs, ys := x[r*n:(r+1)*n], y[r*n:(r+1)*n]
		m, q := 0.0, 0.0
		if d.rms {
			q = kernels.SumSquares(xs)
		} else {
			m = kernels.Sum(xs) / float64(n)
			q = kernels.SumSquaredDeviations(xs, m)
		}
		iv := 1 / math.Sqrt(q/float64(n)+d.eps)
		kernels.Normalize(ys, xs, scale, bias, m, iv)
		if d.mean != nil {
			d.mean[r] = m
		}
		if d.inv != nil {
			d.inv[r] = iv
		}
	}
}

type layerNormTask struct {
	d                 layerNormData
	y, x, scale, bias []float32
	parts             int
}

var layerNormTasks = sync.Pool{New: func() any { return new(layerNormTask) }}

func (t *layerNormTask) Part(i int) {
	layerNormRowRange(&t.d, t.y, t.x, t.scale, t.bias, i*t.d.outer/t.parts, (i+1)*t.d.outer/t.parts)
}

// ---- RMSNormalization ----

func rmsNormSchemas() []Schema {
	return []Schema{{
		Since: 23, Inputs: params("X:T", "scale:V"), Outputs: params("Y:V"),
		Types: map[string][]tensor.DType{"T": floatsBF16(), "V": floatsBF16()},
		Attrs: []string{"axis", "epsilon", "stash_type"}, Build: buildRMSNorm,
	}}
}

func buildRMSNorm(n *graph.Node, _ int64) (Kernel, error) {
	k := layerNormKernel{rms: true}
	var err error
	if k.axis, err = n.AttrInt("axis", -1); err != nil {
		return nil, err
	}
	if k.eps, err = normEpsilon(n); err != nil {
		return nil, err
	}
	if k.stash, err = normStash(n, floatsBF16()...); err != nil {
		return nil, err
	}
	return k, nil
}

// ---- BatchNormalization ----

func batchNormSchemas() []Schema {
	legacy := func(since int64, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("X:T", "scale:T", "B:T", "mean:T", "var:T"),
			Outputs: params("Y:T", "mean:T?", "var:T?", "saved_mean:T?", "saved_var:T?"),
			Types:   map[string][]tensor.DType{"T": floats()}, Attrs: attrs, Build: buildBatchNorm,
		}
	}
	return []Schema{
		legacy(1, "consumed_inputs", "epsilon", "is_test", "momentum", "spatial"),
		legacy(6, "epsilon", "is_test", "momentum", "spatial"),
		legacy(7, "epsilon", "momentum", "spatial"),
		legacy(9, "epsilon", "momentum"),
		{
			Since: 14, Inputs: params("X:T", "scale:T", "B:T", "input_mean:U", "input_var:U"),
			Outputs: params("Y:T", "running_mean:U?", "running_var:U?"),
			Types:   map[string][]tensor.DType{"T": floatsBF16(), "U": floatsBF16()},
			Attrs:   []string{"epsilon", "momentum", "training_mode"}, Build: buildBatchNorm,
		},
		{
			Since: 15, Inputs: params("X:T", "scale:T1", "B:T1", "input_mean:T2", "input_var:T2"),
			Outputs: params("Y:T", "running_mean:T2?", "running_var:T2?"),
			Types:   map[string][]tensor.DType{"T": floatsBF16(), "T1": floatsBF16(), "T2": floatsBF16()},
			Attrs:   []string{"epsilon", "momentum", "training_mode"}, Build: buildBatchNorm,
		},
	}
}

type batchNormKernel struct {
	eps      float64
	momentum float64
	training bool // normalise by the batch's statistics and update the running ones
	perElem  bool // spatial = 0 (before opset 9): statistics per element of a sample, not per channel
	want     [5]bool
}

func buildBatchNorm(n *graph.Node, opset int64) (Kernel, error) {
	k := batchNormKernel{want: normRequested(n)}
	var err error
	if k.eps, err = normEpsilon(n); err != nil {
		return nil, err
	}
	m, err := n.AttrFloat("momentum", 0.9)
	if err != nil {
		return nil, err
	}
	k.momentum = float64(m)
	extra := slices.Contains(k.want[1:], true)
	if opset >= 14 {
		if k.training, err = redFlag(n, "training_mode", 0); err != nil {
			return nil, err
		}
		if extra && !k.training {
			return nil, fault.Errorf(fault.Invalid, "BatchNormalization: running_mean and running_var are outputs only when training_mode is 1")
		}
		return k, nil
	}
	// Before opset 14 the outputs say the mode: Y alone is inference;
	// the running and saved statistics are training.
	k.training = extra
	if opset < 7 {
		isTest, err := n.AttrInt("is_test", 0)
		if err != nil {
			return nil, err
		}
		if isTest != 0 && extra {
			return nil, fault.Errorf(fault.Invalid, "BatchNormalization: is_test is set but the node asks for training outputs")
		}
	}
	if opset < 9 {
		spatial, err := redFlag(n, "spatial", 1)
		if err != nil {
			return nil, err
		}
		k.perElem = !spatial
	}
	return k, nil
}

func (k batchNormKernel) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	const name = "BatchNormalization"
	x := in[0]
	if !x.DType.IsFloat() {
		return fault.Errorf(fault.Unsupported, "%s of %s", name, x.DType.ONNXName())
	}
	if len(x.Shape) == 0 {
		return fault.Errorf(fault.Invalid, "%s: X must have at least one dimension", name)
	}
	nb, c, s := normNCS(x.Shape)
	if k.perElem && len(x.Shape) > 1 {
		c, s = c*s, 1
	}
	sc := ScratchFrom(ctx)
	var p [4][]float64
	for i, what := range []string{"scale", "B", "mean", "var"} {
		var err error
		if p[i], err = normParam(name, what, sc, in[i+1], c); err != nil {
			return err
		}
	}
	scale, bias, mean, variance := p[0], p[1], p[2], p[3]
	y, err := Output(ctx, out[0], x.DType, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	a := ScratchSlice[float64](sc, c)
	b := ScratchSlice[float64](sc, c)
	if !k.training {
		for i := range c {
			a[i] = scale[i] / math.Sqrt(variance[i]+k.eps)
			b[i] = bias[i] - mean[i]*a[i]
		}
	}
	// The batch's statistics, when training.
	bm := ScratchSlice[float64](sc, c)
	bv := ScratchSlice[float64](sc, c)
	bn := batchNormData{k: k, nb: nb, c: c, s: s, a: a, b: b, scale: scale, bias: bias, bm: bm, bv: bv}
	if x.DType == tensor.Float64 {
		batchNormRun(bn, tensor.Values[float64](y), tensor.Values[float64](x))
	} else {
		ys := redOut32(sc, y)
		batchNormRun(bn, ys, redAs32(sc, x))
		redStore32(y, ys)
	}
	if !k.training {
		return nil
	}
	// Outputs 1 and 2 are the updated running statistics, in the type of
	// input_mean; before opset 14, outputs 3 and 4 are the batch's own.
	rm := ScratchSlice[float64](sc, c)
	rv := ScratchSlice[float64](sc, c)
	for ch := range c {
		rm[ch] = mean[ch]*k.momentum + bm[ch]*(1-k.momentum)
		rv[ch] = variance[ch]*k.momentum + bv[ch]*(1-k.momentum)
	}
	stats := [][]float64{rm, rv, bm, bv}
	var shape [1]int
	shape[0] = c
	for i, st := range stats {
		o := i + 1
		if o >= len(out) || !k.want[o] {
			continue
		}
		dt := in[3].DType
		if o > 2 {
			dt = x.DType
		}
		t, err := Output(ctx, out[o], dt, shape[:])
		if err != nil {
			return err
		}
		out[o] = t
		redStore(t, st)
	}
	return nil
}

// batchNormData is what the typed part of BatchNormalization needs: in
// inference mode the per-channel factors a and b of y = x*a + b; in
// training mode the parameters, from which a and b follow the batch
// statistics it computes into bm and bv.
type batchNormData struct {
	k           batchNormKernel
	nb, c, s    int
	a, b        []float64
	scale, bias []float64
	bm, bv      []float64
}

func batchNormRun[F redFloat](d batchNormData, y, x []F) {
	if d.k.training {
		// Per channel over N and the spatial axes, with the population
		// variance.
		clear(d.bm)
		clear(d.bv)
		for i := range d.nb {
			for ch := range d.c {
				off := (i*d.c + ch) * d.s
				for _, v := range x[off : off+d.s] {
					d.bm[ch] += float64(v)
				}
			}
		}
		count := float64(d.nb * d.s)
		for ch := range d.bm {
			d.bm[ch] /= count
		}
		for i := range d.nb {
			for ch := range d.c {
				off := (i*d.c + ch) * d.s
				m := d.bm[ch]
				for _, v := range x[off : off+d.s] {
					e := float64(v) - m
					d.bv[ch] += e * e
				}
			}
		}
		for ch := range d.bv {
			d.bv[ch] /= count
			d.a[ch] = d.scale[ch] / math.Sqrt(d.bv[ch]+d.k.eps)
			d.b[ch] = d.bias[ch] - d.bm[ch]*d.a[ch]
		}
	}
	normChannels(y, x, d.nb, d.c, d.s, d.a, d.b, 1)
}

// ---- InstanceNormalization and GroupNormalization ----

func instanceNormSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("input:T", "scale:T", "B:T"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": ts}, Attrs: attrs, Build: buildGroupNorm,
		}
	}
	return []Schema{
		v(1, floats(), "consumed_inputs", "epsilon"),
		v(6, floats(), "epsilon"),
		v(22, floatsBF16(), "epsilon"),
	}
}

func groupNormSchemas() []Schema {
	v := func(since int64, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("X:T", "scale:T", "bias:T"), Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": floatsBF16()}, Attrs: attrs, Build: buildGroupNorm,
		}
	}
	return []Schema{v(18, "epsilon", "num_groups"), v(21, "epsilon", "num_groups", "stash_type")}
}

// groupNormKernel is GroupNormalization, and InstanceNormalization as
// the case of one channel per group.
type groupNormKernel struct {
	instance bool
	groups   int64
	perGroup bool // GroupNormalization-18: scale and bias hold one value per group
	eps      float64
}

func buildGroupNorm(n *graph.Node, opset int64) (Kernel, error) {
	k := groupNormKernel{instance: n.OpType == "InstanceNormalization"}
	var err error
	if k.eps, err = normEpsilon(n); err != nil {
		return nil, err
	}
	if k.instance {
		return k, nil
	}
	if !n.HasAttr("num_groups") {
		return nil, fault.Errorf(fault.Invalid, "GroupNormalization: attribute num_groups is required")
	}
	if k.groups, err = n.AttrInt("num_groups", 0); err != nil {
		return nil, err
	}
	if k.groups <= 0 {
		return nil, fault.Errorf(fault.Invalid, "GroupNormalization: num_groups must be positive, got %d", k.groups)
	}
	k.perGroup = opset < 21
	if _, err := normStash(n, floatsBF16()...); err != nil {
		return nil, err
	}
	return k, nil
}

func (k groupNormKernel) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	name := "GroupNormalization"
	if k.instance {
		name = "InstanceNormalization"
	}
	x := in[0]
	if !x.DType.IsFloat() {
		return fault.Errorf(fault.Unsupported, "%s of %s", name, x.DType.ONNXName())
	}
	if len(x.Shape) < 2 {
		return fault.Errorf(fault.Invalid, "%s: input must be at least (N x C), got shape %v", name, []int(x.Shape))
	}
	nb, c, s := normNCS(x.Shape)
	g := c
	if !k.instance {
		if int64(c)%k.groups != 0 {
			return fault.Errorf(fault.Invalid, "%s: %d channels do not split into %d groups", name, c, k.groups)
		}
		g = int(k.groups)
	}
	per := 1 // channels per scale value
	params := c
	if k.perGroup {
		per, params = c/g, g
	}
	sc := ScratchFrom(ctx)
	scale, err := normParam(name, "scale", sc, in[1], params)
	if err != nil {
		return err
	}
	bias, err := normParam(name, "bias", sc, in[2], params)
	if err != nil {
		return err
	}
	y, err := Output(ctx, out[0], x.DType, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	if nb*c*s == 0 {
		return nil
	}
	if x.DType == tensor.Float64 {
		groupNormRun(tensor.Values[float64](y), tensor.Values[float64](x), nb, c, s, g, per, k.eps, scale, bias)
		return nil
	}
	ys := redOut32(sc, y)
	groupNormRun(ys, redAs32(sc, x), nb, c, s, g, per, k.eps, scale, bias)
	redStore32(y, ys)
	return nil
}

// groupNormRun normalises an [N, C, S] tensor in groups of g channels'
// worth. A group's channels are contiguous, so each (sample, group) is
// one row.
func groupNormRun[F redFloat](y, x []F, nb, c, s, g, per int, eps float64, scale, bias []float64) {
	normRows(y, x, nb*g, c/g*s, eps, false, nil, nil)
	normChannels(y, y, nb, c, s, scale, bias, per)
}

// ---- LpNormalization ----

func lpNormSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("input:T"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": ts}, Attrs: []string{"axis", "p"}, Build: buildLpNorm,
		}
	}
	return []Schema{v(1, floats()), v(22, floatsBF16())}
}

type lpNormKernel struct {
	axis int64
	p    int64
}

func buildLpNorm(n *graph.Node, _ int64) (Kernel, error) {
	var k lpNormKernel
	var err error
	if k.axis, err = n.AttrInt("axis", -1); err != nil {
		return nil, err
	}
	if k.p, err = n.AttrInt("p", 2); err != nil {
		return nil, err
	}
	if k.p != 1 && k.p != 2 {
		return nil, fault.Errorf(fault.Invalid, "LpNormalization: p must be 1 or 2, got %d", k.p)
	}
	return k, nil
}

func (k lpNormKernel) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	if !x.DType.IsFloat() {
		return fault.Errorf(fault.Unsupported, "LpNormalization of %s", x.DType.ONNXName())
	}
	axis, err := redAxis("LpNormalization", k.axis, len(x.Shape), false)
	if err != nil {
		return err
	}
	outer, n, inner := redSplit(x.Shape, axis)
	y, err := Output(ctx, out[0], x.DType, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	sc := ScratchFrom(ctx)
	norm := ScratchSlice[float64](sc, inner)
	if x.DType == tensor.Float64 {
		lpNormRun(tensor.Values[float64](y), tensor.Values[float64](x), outer, n, inner, k.p, norm)
		return nil
	}
	ys := redOut32(sc, y)
	lpNormRun(ys, redAs32(sc, x), outer, n, inner, k.p, norm)
	redStore32(y, ys)
	return nil
}

// lpNormRun divides each line along the middle axis of an [outer, n,
// inner] view by its L1 or L2 norm; norm holds the inner positions' norms.
func lpNormRun[F redFloat](y, x []F, outer, n, inner int, p int64, norm []float64) {
	block := n * inner
	for o := range outer {
		xb, yb := x[o*block:(o+1)*block], y[o*block:(o+1)*block]
		clear(norm)
		for j := range n {
			for i, v := range xb[j*inner : (j+1)*inner] {
				f := float64(v)
				if p == 1 {
					norm[i] += math.Abs(f)
				} else {
					norm[i] += f * f
				}
			}
		}
		for i, v := range norm {
			if p == 2 {
				v = math.Sqrt(v)
			}
			// A zero norm gives zeros rather than 0/0.
			if v != 0 {
				v = 1 / v
			}
			norm[i] = v
		}
		for j := range n {
			row := yb[j*inner : (j+1)*inner]
			for i, v := range xb[j*inner : (j+1)*inner] {
				row[i] = F(float64(v) * norm[i])
			}
		}
	}
}

// ---- MeanVarianceNormalization ----

func mvnSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("X:T"), Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": ts}, Attrs: []string{"axes"}, Build: buildMVN,
		}
	}
	return []Schema{v(9, floats()), v(13, floatsBF16())}
}

type mvnKernel struct{ axes []int64 }

// mvnEpsilon is the constant the operator's function body adds to the
// standard deviation.
const mvnEpsilon = 1e-9

func buildMVN(n *graph.Node, _ int64) (Kernel, error) {
	axes, err := n.AttrInts("axes", []int64{0, 2, 3})
	if err != nil {
		return nil, err
	}
	return mvnKernel{axes: slices.Clone(axes)}, nil
}

func (k mvnKernel) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	const name = "MeanVarianceNormalization"
	x := in[0]
	if !x.DType.IsFloat() {
		return fault.Errorf(fault.Unsupported, "%s of %s", name, x.DType.ONNXName())
	}
	if len(x.Shape) > tensor.MaxRank {
		return fault.Errorf(fault.TooLarge, "%s: rank %d exceeds %d", name, len(x.Shape), tensor.MaxRank)
	}
	mask, err := redMask(name, k.axes, len(x.Shape))
	if err != nil {
		return err
	}
	p := newRedPlan(x.Shape, &mask)
	y, err := Output(ctx, out[0], x.DType, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	sc := ScratchFrom(ctx)
	if x.DType == tensor.Float64 {
		mvnRun(&p, sc, tensor.Values[float64](y), tensor.Values[float64](x))
		return nil
	}
	ys := redOut32(sc, y)
	mvnRun(&p, sc, ys, redAs32(sc, x))
	redStore32(y, ys)
	return nil
}

// mvnRun computes (x - mean) / (std + mvnEpsilon) over the plan's groups.
func mvnRun[F redFloat](p *redPlan, sc *Scratch, y, x []F) {
	mean := ScratchSlice[float64](sc, p.nOut)
	redAccumulate(p, x, mean, redModeSum)
	for i := range mean {
		mean[i] /= float64(p.count)
	}
	n := p.inner()
	red := p.innerReduced()
	// The variance is the mean of the squared deviations, which stays
	// non-negative, unlike E[x²] - E[x]².
	vr := ScratchSlice[float64](sc, p.nOut)
	clear(vr)
	for r := p.runs(); r.next(); {
		src := x[r.In : r.In+n]
		if red {
			m, acc := mean[r.Out], vr[r.Out]
			for _, v := range src {
				d := float64(v) - m
				acc += d * d
			}
			vr[r.Out] = acc
			continue
		}
		ms, vs := mean[r.Out:r.Out+n], vr[r.Out:r.Out+n]
		for i, v := range src {
			d := float64(v) - ms[i]
			vs[i] += d * d
		}
	}
	for i, v := range vr {
		vr[i] = 1 / (math.Sqrt(v/float64(p.count)) + mvnEpsilon)
	}
	for r := p.runs(); r.next(); {
		src, dst := x[r.In:r.In+n], y[r.In:r.In+n]
		if red {
			m, f := mean[r.Out], vr[r.Out]
			for i, v := range src {
				dst[i] = F((float64(v) - m) * f)
			}
			continue
		}
		ms, fs := mean[r.Out:r.Out+n], vr[r.Out:r.Out+n]
		for i, v := range src {
			dst[i] = F((float64(v) - ms[i]) * fs[i])
		}
	}
}
