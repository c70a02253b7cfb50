package main

import (
	"context"
	"fmt"
	"maps"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// float64Reference runs m with every float32 value widened to float64 (the
// weights, the Constant nodes, the inputs, the graph's declared types and
// Casts to float) on the engine, unfused, and returns its outputs: what
// the model computes with about 1e-16 rounding instead of 1e-7, against
// which both sides' float32 rounding can be measured. nil when the engine
// cannot run the widened model.
func float64Reference(m *graph.Model, inputs []tensor.Named) ([]tensor.Named, error) {
	wide := *m
	g := *m.Graph
	g.Initializers = maps.Clone(g.Initializers)
	for name, t := range g.Initializers {
		g.Initializers[name] = widen(t)
	}
	g.Inputs = widenInfos(g.Inputs)
	g.Outputs = widenInfos(g.Outputs)
	g.Nodes = make([]*graph.Node, len(m.Graph.Nodes))
	for i, n := range m.Graph.Nodes {
		c := *n
		c.Attrs = maps.Clone(n.Attrs)
		for name, a := range c.Attrs {
			switch {
			case a.Type == graph.AttrTensor && a.Tensor != nil && a.Tensor.DType == tensor.Float32:
				c.Attrs[name] = graph.TensorAttr(name, widen(a.Tensor))
			case c.OpType == "Cast" && name == "to" && a.Int == int64(tensor.Float32):
				c.Attrs[name] = graph.IntAttr("to", int64(tensor.Float64))
			}
		}
		g.Nodes[i] = &c
	}
	wide.Graph = &g
	p, err := exec.Compile(&wide, exec.WithoutFusion())
	if err != nil {
		return nil, err
	}
	in := make([]tensor.Named, len(inputs))
	for i, t := range inputs {
		in[i] = tensor.Named{Name: t.Name, Tensor: widen(t.Tensor)}
	}
	return p.Run(context.Background(), in)
}

func widen(t *tensor.Tensor) *tensor.Tensor {
	if t.DType != tensor.Float32 {
		return t
	}
	v := tensor.Values[float32](t)
	d := make([]float64, len(v))
	for i, x := range v {
		d[i] = float64(x)
	}
	return tensor.MustFrom(t.Shape.Clone(), d)
}

func widenInfos(vs []graph.ValueInfo) []graph.ValueInfo {
	out := make([]graph.ValueInfo, len(vs))
	for i, v := range vs {
		if v.DType == tensor.Float32 {
			v.DType = tensor.Float64
		}
		out[i] = v
	}
	return out
}

// printReferenceErrors prints, per output, how far each side is from the
// float64 reference: the largest absolute error and how many elements
// each side has outside the ONNX rule (1e-7 + 1e-3·|ref|) of it.
func printReferenceErrors(bc benchCase, threads int, ref []tensor.Named, mine []tensor.Named, theirs []*tensor.Tensor) {
	for i, r := range ref {
		if i >= len(mine) || i >= len(theirs) || r.Tensor.Len() != theirs[i].Len() || r.Tensor.Len() != mine[i].Tensor.Len() {
			continue
		}
		ea, en := refError(mine[i].Tensor, r.Tensor)
		oa, on := refError(theirs[i], r.Tensor)
		fmt.Printf("#   float64 reference model=%s batch=%d threads=%d output=%s: wasmgate max_abs_err=%.2e, %d elements outside the rule; ort max_abs_err=%.2e, %d outside\n",
			bc.model, bc.batch, threads, r.Name, ea, en, oa, on)
		if n, closer, size := disagreements(mine[i].Tensor, theirs[i], r.Tensor); n > 0 {
			fmt.Printf("#   where the sides disagree model=%s batch=%d threads=%d output=%s: %d elements, float64 values up to %.1e of the output's largest; the engine is the closer to float64 at %d of them\n",
				bc.model, bc.batch, threads, r.Name, n, size, closer)
		}
	}
}

// disagreements looks at the elements where the engine and onnxruntime
// disagree beyond the rule, against the float64 reference: how many, at how
// many the engine is the closer to it, and the largest reference value
// among them relative to the reference's largest, which says whether they
// are near-zero results, where float32 rounding of both sides is relatively
// large.
func disagreements(mine, theirs, ref *tensor.Tensor) (n, closer int, size float64) {
	var top float64
	for i := range ref.Len() {
		top = max(top, math.Abs(ref.Float64At(i)))
	}
	for i := range ref.Len() {
		g, o, w := mine.Float64At(i), theirs.Float64At(i), ref.Float64At(i)
		if math.Abs(g-o) <= enginetest.ATol+enginetest.RTol*math.Abs(o) {
			continue
		}
		n++
		if math.Abs(g-w) < math.Abs(o-w) {
			closer++
		}
		if top > 0 {
			size = max(size, math.Abs(w)/top)
		}
	}
	return n, closer, size
}

func refError(got, ref *tensor.Tensor) (maxAbs float64, outside int) {
	for i := range ref.Len() {
		g, w := got.Float64At(i), ref.Float64At(i)
		d := math.Abs(g - w)
		maxAbs = max(maxAbs, d)
		if !(d <= enginetest.ATol+enginetest.RTol*math.Abs(w)) { // NaN counts
			outside++
		}
	}
	return maxAbs, outside
}
