package ops_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// spTensor builds a tensor of dtype dt from float64 values (rounded to dt;
// integers truncate toward zero as numpy's astype does).
func spTensor(dt tensor.DType, shape []int, v []float64) *tensor.Tensor {
	switch dt {
	case tensor.Float64:
		return tensor.MustFrom(shape, append([]float64(nil), v...))
	case tensor.Float16:
		h := make([]tensor.F16, len(v))
		for i, x := range v {
			h[i] = tensor.F16From(float32(x))
		}
		return tensor.MustFrom(shape, h)
	case tensor.BFloat16:
		h := make([]tensor.BF16, len(v))
		for i, x := range v {
			h[i] = tensor.BF16From(float32(x))
		}
		return tensor.MustFrom(shape, h)
	case tensor.Int32:
		h := make([]int32, len(v))
		for i, x := range v {
			h[i] = int32(x)
		}
		return tensor.MustFrom(shape, h)
	case tensor.Int64:
		h := make([]int64, len(v))
		for i, x := range v {
			h[i] = int64(x)
		}
		return tensor.MustFrom(shape, h)
	case tensor.Uint8:
		h := make([]uint8, len(v))
		for i, x := range v {
			h[i] = uint8(x)
		}
		return tensor.MustFrom(shape, h)
	}
	h := make([]float32, len(v))
	for i, x := range v {
		h[i] = float32(x)
	}
	return tensor.MustFrom(shape, h)
}

// spValues reads any numeric tensor as float64s.
func spValues(t *tensor.Tensor) []float64 {
	v := make([]float64, t.Len())
	for i := range v {
		v[i] = t.Float64At(i)
	}
	return v
}

// spRandom returns n values in [-4, 4), rounded to multiples of 1/64 when
// coarse so that half-precision inputs hold them exactly.
func spRandom(r *rand.Rand, n int, coarse bool) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = r.Float64()*8 - 4
		if coarse {
			v[i] = math.Round(v[i]*64) / 64
		}
	}
	return v
}

func spPick(r *rand.Rand, vs ...int) int { return vs[r.IntN(len(vs))] }

func spInts(vs []int) []int64 {
	out := make([]int64, len(vs))
	for i, v := range vs {
		out[i] = int64(v)
	}
	return out
}

func spProd(s []int) int {
	p := 1
	for _, v := range s {
		p *= v
	}
	return p
}

// spNext advances a row-major multi-index over shape; false after the last.
func spNext(idx, shape []int) bool {
	for j := len(shape) - 1; j >= 0; j-- {
		if idx[j]++; idx[j] < shape[j] {
			return true
		}
		idx[j] = 0
	}
	return false
}

func spOffset(idx, shape []int) int {
	off := 0
	for j := range shape {
		off = off*shape[j] + idx[j]
	}
	return off
}

// spCheck runs op and compares its only output with want.
func spCheck(t *testing.T, op string, opset int64, attrs []*graph.Attr, want *tensor.Tensor, in ...*tensor.Tensor) {
	t.Helper()
	got, err := runOp(t, op, opset, 1, attrs, in...)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	if err := enginetest.AllClose(got[0], want); err != nil {
		t.Fatalf("%s: %v", op, err)
	}
}

func defaultBuild(n *graph.Node, opset int64) (ops.Kernel, *ops.Schema, error) {
	return ops.Default().Build(n, map[string]int64{"": opset})
}
