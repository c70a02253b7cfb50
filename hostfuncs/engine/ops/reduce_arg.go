package ops

import (
	"context"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// argSchemas lists ArgMax's or ArgMin's versions: negative axes from 11,
// select_last_index from 12, BFLOAT16 from 13.
func argSchemas(isMax bool) []Schema {
	v := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("data:T"), Outputs: params("reduced:I"),
			Types: map[string][]tensor.DType{"T": ts, "I": {tensor.Int64}},
			Attrs: attrs, Build: argBuilder(isMax),
		}
	}
	base := func() []tensor.DType { return cat(floats(), wideInts(), narrowInts()) }
	return []Schema{
		v(1, base(), "axis", "keepdims"),
		v(11, base(), "axis", "keepdims"),
		v(12, base(), "axis", "keepdims", "select_last_index"),
		v(13, cat(base(), []tensor.DType{tensor.BFloat16}), "axis", "keepdims", "select_last_index"),
	}
}

type argKernel struct {
	isMax    bool
	axis     int64
	keepdims bool
	last     bool // ties go to the last index instead of the first
}

func argBuilder(isMax bool) Builder {
	return func(n *graph.Node, _ int64) (Kernel, error) {
		k := argKernel{isMax: isMax}
		var err error
		if k.axis, err = n.AttrInt("axis", 0); err != nil {
			return nil, err
		}
		if k.keepdims, err = redFlag(n, "keepdims", 1); err != nil {
			return nil, err
		}
		if k.last, err = redFlag(n, "select_last_index", 0); err != nil {
			return nil, err
		}
		return k, nil
	}
}

func (k argKernel) name() string {
	if k.isMax {
		return "ArgMax"
	}
	return "ArgMin"
}

func (k argKernel) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	axis, err := redAxis(k.name(), k.axis, len(x.Shape), false)
	if err != nil {
		return err
	}
	outer, n, inner := redSplit(x.Shape, axis)
	if n == 0 && outer*inner > 0 {
		return fault.Errorf(fault.Invalid, "%s: the axis to reduce is empty", k.name())
	}
	var buf [tensor.MaxRank]int
	shape := buf[:0]
	for i, d := range x.Shape {
		switch {
		case i != axis:
			shape = append(shape, d)
		case k.keepdims:
			shape = append(shape, 1)
		}
	}
	y, err := Output(ctx, out[0], tensor.Int64, shape)
	if err != nil {
		return err
	}
	out[0] = y
	idx := tensor.Values[int64](y)
	switch x.DType {
	case tensor.Float32:
		redArgOf(idx, tensor.Values[float32](x), outer, n, inner, k.isMax, k.last)
	case tensor.Float64:
		redArgOf(idx, tensor.Values[float64](x), outer, n, inner, k.isMax, k.last)
	case tensor.Float16, tensor.BFloat16:
		// Widening preserves order, NaNs included.
		xs := ScratchSlice[float32](ScratchFrom(ctx), x.Len())
		widen(xs, x)
		redArgOf(idx, xs, outer, n, inner, k.isMax, k.last)
	case tensor.Int8:
		redArgOf(idx, tensor.Values[int8](x), outer, n, inner, k.isMax, k.last)
	case tensor.Int16:
		redArgOf(idx, tensor.Values[int16](x), outer, n, inner, k.isMax, k.last)
	case tensor.Int32:
		redArgOf(idx, tensor.Values[int32](x), outer, n, inner, k.isMax, k.last)
	case tensor.Int64:
		redArgOf(idx, tensor.Values[int64](x), outer, n, inner, k.isMax, k.last)
	case tensor.Uint8:
		redArgOf(idx, tensor.Values[uint8](x), outer, n, inner, k.isMax, k.last)
	case tensor.Uint16:
		redArgOf(idx, tensor.Values[uint16](x), outer, n, inner, k.isMax, k.last)
	case tensor.Uint32:
		redArgOf(idx, tensor.Values[uint32](x), outer, n, inner, k.isMax, k.last)
	case tensor.Uint64:
		redArgOf(idx, tensor.Values[uint64](x), outer, n, inner, k.isMax, k.last)
	default:
		return fault.Errorf(fault.Unsupported, "%s of %s", k.name(), x.DType.ONNXName())
	}
	return nil
}

// redArgOf writes the index of the extreme along the middle axis of an
// [outer, n, inner] view. A NaN counts as the extreme either way, as in
// numpy's argmax and argmin.
func redArgOf[T redReal](idx []int64, x []T, outer, n, inner int, isMax, last bool) {
	for o := range outer {
		base := o * n * inner
		for i := range inner {
			best, at := x[base+i], 0
			for j := 1; j < n; j++ {
				v := x[base+j*inner+i]
				if redArgBetter(v, best, isMax, last) {
					best, at = v, j
				}
			}
			idx[o*inner+i] = int64(at)
		}
	}
}

// redArgBetter reports whether v, met after best, replaces it.
func redArgBetter[T redReal](v, best T, isMax, last bool) bool {
	if best != best { // a NaN already won; only a later NaN displaces it
		return last && v != v
	}
	if v != v {
		return true
	}
	if v == best {
		return last
	}
	return (v > best) == isMax
}

// hardmaxOf writes one-hot rows marking the first maximum along the
// middle axis of an [outer, n, inner] view.
func hardmaxOf[F redFloat](y, x []F, outer, n, inner int) {
	clear(y)
	if n == 0 {
		return
	}
	for o := range outer {
		base := o * n * inner
		for i := range inner {
			best, at := x[base+i], 0
			for j := 1; j < n; j++ {
				if v := x[base+j*inner+i]; redArgBetter(v, best, true, false) {
					best, at = v, j
				}
			}
			y[base+at*inner+i] = 1
		}
	}
}
