package ops_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Test helpers of the reduce family: tensors of any dtype from float64
// values, and a reference reduction written the obvious way.

var redNaN = math.NaN()

// redMake builds a tensor of dtype dt holding v (rounded or truncated as
// the dtype requires).
func redMake(dt tensor.DType, shape tensor.Shape, v []float64) *tensor.Tensor {
	switch dt {
	case tensor.Float32:
		return tensor.MustFrom(shape, redConv[float32](v))
	case tensor.Float64:
		return tensor.MustFrom(shape, redConv[float64](v))
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
	case tensor.Int8:
		return tensor.MustFrom(shape, redConv[int8](v))
	case tensor.Int16:
		return tensor.MustFrom(shape, redConv[int16](v))
	case tensor.Int32:
		return tensor.MustFrom(shape, redConv[int32](v))
	case tensor.Int64:
		return tensor.MustFrom(shape, redConv[int64](v))
	case tensor.Uint8:
		return tensor.MustFrom(shape, redConv[uint8](v))
	case tensor.Uint16:
		return tensor.MustFrom(shape, redConv[uint16](v))
	case tensor.Uint32:
		return tensor.MustFrom(shape, redConv[uint32](v))
	case tensor.Uint64:
		return tensor.MustFrom(shape, redConv[uint64](v))
	case tensor.Bool:
		b := make([]bool, len(v))
		for i, x := range v {
			b[i] = x != 0
		}
		return tensor.MustFrom(shape, b)
	}
	panic("redMake: dtype " + dt.String())
}

func redConv[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64](v []float64) []T {
	out := make([]T, len(v))
	for i, x := range v {
		out[i] = T(x)
	}
	return out
}

// redValues reads any numeric tensor back as float64.
func redValues(t *tensor.Tensor) []float64 {
	out := make([]float64, t.Len())
	for i := range out {
		out[i] = t.Float64At(i)
	}
	return out
}

// redRand returns n values in [-3, 3), or small integers when ints is set
// (non-negative if unsigned).
func redRand(r *rand.Rand, n int, dt tensor.DType) []float64 {
	v := make([]float64, n)
	for i := range v {
		switch dt {
		case tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64:
			v[i] = float64(r.IntN(7))
		case tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64:
			v[i] = float64(r.IntN(13) - 6)
		case tensor.Bool:
			v[i] = float64(r.IntN(2))
		default:
			v[i] = r.Float64()*6 - 3
		}
	}
	return v
}

// redRound rounds values as storing them in dt would.
func redRound(dt tensor.DType, v []float64) []float64 {
	return redValues(redMake(dt, tensor.Shape{len(v)}, v))
}

// redRefReduce groups x's elements by their position outside the reduced
// axes and folds each group with fold.
func redRefReduce(shape []int, x []float64, mask []bool, keep bool, fold func([]float64) float64) ([]int, []float64) {
	var outShape []int
	nOut := 1
	for i, d := range shape {
		if !mask[i] {
			outShape = append(outShape, d)
			nOut *= d
		} else if keep {
			outShape = append(outShape, 1)
		}
	}
	groups := make([][]float64, nOut)
	idx := make([]int, len(shape))
	for _, v := range x {
		o := 0
		for i, d := range shape {
			if !mask[i] {
				o = o*d + idx[i]
			}
		}
		groups[o] = append(groups[o], v)
		for i := len(shape) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	out := make([]float64, nOut)
	for i, g := range groups {
		out[i] = fold(g)
	}
	if outShape == nil {
		outShape = []int{}
	}
	return outShape, out
}

// redCheck compares got with want built as dtype dt.
func redCheck(t *testing.T, got *tensor.Tensor, dt tensor.DType, shape []int, want []float64) {
	t.Helper()
	if err := enginetest.AllClose(got, redMake(dt, shape, want)); err != nil {
		t.Fatal(err)
	}
}

// redExpectErr runs a node and checks it fails with the given kind.
func redExpectErr(t *testing.T, op string, opset int64, nOut int, attrs []*graph.Attr, kind fault.Kind, in ...*tensor.Tensor) {
	t.Helper()
	is := is.New(t)
	_, err := runOp(t, op, opset, nOut, attrs, in...)
	is.True(err != nil)
	is.Equal(fault.KindOf(err), kind)
}

// redExpectBuildErr checks that building a node fails with kind.
func redExpectBuildErr(t *testing.T, n *graph.Node, opset int64, kind fault.Kind) {
	t.Helper()
	is := is.New(t)
	_, _, err := redBuild(n, opset)
	is.True(err != nil)
	is.Equal(fault.KindOf(err), kind)
}

func redBuild(n *graph.Node, opset int64) (ops.Kernel, *ops.Schema, error) {
	return ops.Default().Build(n, map[string]int64{"": opset})
}

func redLookup(op string, opset int64) (*ops.Schema, error) {
	return ops.Default().Lookup("", op, opset)
}
