package ops

import (
	"context"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// topkSchemas lists TopK's versions: k is an attribute at 1 and an input
// from 10; largest and sorted (and integer types) arrive at 11, BFLOAT16
// at 24.
func topkSchemas() []Schema {
	withInput := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("X:T", "K:I"), Outputs: params("Values:T", "Indices:I"),
			Types: map[string][]tensor.DType{"T": ts, "I": {tensor.Int64}}, Attrs: attrs, Build: buildTopK,
		}
	}
	numeric := func() []tensor.DType { return cat(floats(), wideInts(), narrowInts()) }
	return []Schema{
		{
			Since: 1, Inputs: params("X:T"), Outputs: params("Values:T", "Indices:I"),
			Types: map[string][]tensor.DType{"T": floats(), "I": {tensor.Int64}},
			Attrs: []string{"axis", "k"}, Build: buildTopK,
		},
		withInput(10, floats(), "axis"),
		withInput(11, numeric(), "axis", "largest", "sorted"),
		withInput(24, cat(numeric(), []tensor.DType{tensor.BFloat16}), "axis", "largest", "sorted"),
	}
}

type topkKernel struct {
	axis    int64
	k       int64 // the attribute of opset 1; -1 when k is an input
	largest bool
}

func buildTopK(n *graph.Node, opset int64) (Kernel, error) {
	k := topkKernel{k: -1}
	var err error
	if k.axis, err = n.AttrInt("axis", -1); err != nil {
		return nil, err
	}
	if opset < 10 {
		if !n.HasAttr("k") {
			return nil, fault.Errorf(fault.Invalid, "TopK: attribute k is required before opset 10")
		}
		if k.k, err = n.AttrInt("k", 0); err != nil {
			return nil, err
		}
		if k.k < 0 {
			return nil, fault.Errorf(fault.Invalid, "TopK: k must not be negative, got %d", k.k)
		}
	}
	if k.largest, err = redFlag(n, "largest", 1); err != nil {
		return nil, err
	}
	// Results always come sorted, which "sorted = 0" (any order) allows.
	if _, err = redFlag(n, "sorted", 1); err != nil {
		return nil, err
	}
	return k, nil
}

func (k topkKernel) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	kk := k.k
	if kk < 0 {
		t := in[1]
		if t.DType != tensor.Int64 || len(t.Shape) > 1 || t.Len() != 1 {
			return fault.Errorf(fault.Invalid, "TopK: K must be a 1-D INT64 tensor of one value, got %s%v", t.DType.ONNXName(), []int(t.Shape))
		}
		kk = tensor.Values[int64](t)[0]
	}
	axis, err := redAxis("TopK", k.axis, len(x.Shape), false)
	if err != nil {
		return err
	}
	outer, n, inner := redSplit(x.Shape, axis)
	if kk < 0 || kk > int64(n) {
		return fault.Errorf(fault.Invalid, "TopK: k = %d is outside [0, %d], the size of axis %d", kk, n, axis)
	}
	kn := int(kk)
	var buf [tensor.MaxRank]int
	shape := append(buf[:0], x.Shape...)
	shape[axis] = kn
	vals, err := Output(ctx, out[0], x.DType, shape)
	if err != nil {
		return err
	}
	out[0] = vals
	var idx *tensor.Tensor
	if len(out) > 1 {
		if idx, err = Output(ctx, out[1], tensor.Int64, shape); err != nil {
			return err
		}
		out[1] = idx
	} else if idx, err = Output(ctx, nil, tensor.Int64, shape); err != nil {
		return err
	}
	ix := tensor.Values[int64](idx)
	sc := ScratchFrom(ctx)
	heap := ScratchSlice[int64](sc, kn)
	g := topkGeom{outer: outer, n: n, inner: inner, k: kn, largest: k.largest}
	switch x.DType {
	case tensor.Float32:
		topkSelect(g, tensor.Values[float32](x), ix, heap)
		topkGather(g, tensor.Values[float32](vals), tensor.Values[float32](x), ix)
	case tensor.Float64:
		topkSelect(g, tensor.Values[float64](x), ix, heap)
		topkGather(g, tensor.Values[float64](vals), tensor.Values[float64](x), ix)
	case tensor.Float16:
		xs := ScratchSlice[float32](sc, x.Len())
		widen(xs, x)
		topkSelect(g, xs, ix, heap)
		topkGather(g, tensor.Values[tensor.F16](vals), tensor.Values[tensor.F16](x), ix)
	case tensor.BFloat16:
		xs := ScratchSlice[float32](sc, x.Len())
		widen(xs, x)
		topkSelect(g, xs, ix, heap)
		topkGather(g, tensor.Values[tensor.BF16](vals), tensor.Values[tensor.BF16](x), ix)
	case tensor.Int8:
		topkSelect(g, tensor.Values[int8](x), ix, heap)
		topkGather(g, tensor.Values[int8](vals), tensor.Values[int8](x), ix)
	case tensor.Int16:
		topkSelect(g, tensor.Values[int16](x), ix, heap)
		topkGather(g, tensor.Values[int16](vals), tensor.Values[int16](x), ix)
	case tensor.Int32:
		topkSelect(g, tensor.Values[int32](x), ix, heap)
		topkGather(g, tensor.Values[int32](vals), tensor.Values[int32](x), ix)
	case tensor.Int64:
		topkSelect(g, tensor.Values[int64](x), ix, heap)
		topkGather(g, tensor.Values[int64](vals), tensor.Values[int64](x), ix)
	case tensor.Uint8:
		topkSelect(g, tensor.Values[uint8](x), ix, heap)
		topkGather(g, tensor.Values[uint8](vals), tensor.Values[uint8](x), ix)
	case tensor.Uint16:
		topkSelect(g, tensor.Values[uint16](x), ix, heap)
		topkGather(g, tensor.Values[uint16](vals), tensor.Values[uint16](x), ix)
	case tensor.Uint32:
		topkSelect(g, tensor.Values[uint32](x), ix, heap)
		topkGather(g, tensor.Values[uint32](vals), tensor.Values[uint32](x), ix)
	case tensor.Uint64:
		topkSelect(g, tensor.Values[uint64](x), ix, heap)
		topkGather(g, tensor.Values[uint64](vals), tensor.Values[uint64](x), ix)
	default:
		return fault.Errorf(fault.Unsupported, "TopK of %s", x.DType.ONNXName())
	}
	return nil
}

// topkGeom is the [outer, n, inner] view of the input and the k selected
// along n.
type topkGeom struct {
	outer, n, inner, k int
	largest            bool
}

// topkCol is one column of the input along the axis, with the order TopK
// ranks its elements in: by value (a NaN above every number, as a sort
// puts it last), then by lower index.
type topkCol[T redReal] struct {
	x       []T
	base    int
	stride  int
	largest bool
}

// before reports whether element a ranks ahead of element b.
func (c *topkCol[T]) before(a, b int64) bool {
	va, vb := c.x[c.base+int(a)*c.stride], c.x[c.base+int(b)*c.stride]
	if va == vb || (va != va && vb != vb) {
		return a < b
	}
	if c.largest {
		return va > vb || va != va
	}
	return va < vb || vb != vb
}

// down restores the heap below i, whose root is the element ranked last.
func (c *topkCol[T]) down(h []int64, i int) {
	for {
		w := i
		if l := 2*i + 1; l < len(h) && c.before(h[w], h[l]) {
			w = l
		}
		if r := 2*i + 2; r < len(h) && c.before(h[w], h[r]) {
			w = r
		}
		if w == i {
			return
		}
		h[i], h[w] = h[w], h[i]
		i = w
	}
}

// topkSelect writes the indices of each column's k best elements, best
// first: a heap of the k best seen so far, rooted at the worst of them,
// then sorted in place.
func topkSelect[T redReal](g topkGeom, x []T, idx []int64, h []int64) {
	if g.k == 0 {
		return
	}
	for o := range g.outer {
		for i := range g.inner {
			c := topkCol[T]{x: x, base: o*g.n*g.inner + i, stride: g.inner, largest: g.largest}
			for j := range h {
				h[j] = int64(j)
			}
			for j := len(h)/2 - 1; j >= 0; j-- {
				c.down(h, j)
			}
			for j := int64(g.k); j < int64(g.n); j++ {
				if c.before(j, h[0]) {
					h[0] = j
					c.down(h, 0)
				}
			}
			for m := len(h) - 1; m > 0; m-- {
				h[0], h[m] = h[m], h[0]
				c.down(h[:m], 0)
			}
			ob := o*g.k*g.inner + i
			for m, j := range h {
				idx[ob+m*g.inner] = j
			}
		}
	}
}

// topkGather copies the selected elements into the values output.
func topkGather[T any](g topkGeom, vals, x []T, idx []int64) {
	for o := range g.outer {
		xb, vb := o*g.n*g.inner, o*g.k*g.inner
		for m := range g.k {
			row := vb + m*g.inner
			for i := range g.inner {
				vals[row+i] = x[xb+int(idx[row+i])*g.inner+i]
			}
		}
	}
}
