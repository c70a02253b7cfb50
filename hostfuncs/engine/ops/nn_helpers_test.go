package ops_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// nnT builds a tensor of dtype dt from float64 values, rounding (and for
// integers truncating) as a conversion would.
func nnT(dt tensor.DType, shape tensor.Shape, v []float64) *tensor.Tensor {
	t := tensor.MustNew(dt, shape)
	for i, x := range v {
		switch dt {
		case tensor.Float32:
			tensor.Values[float32](t)[i] = float32(x)
		case tensor.Float64:
			tensor.Values[float64](t)[i] = x
		case tensor.Float16:
			tensor.Values[tensor.F16](t)[i] = tensor.F16From(float32(x))
		case tensor.BFloat16:
			tensor.Values[tensor.BF16](t)[i] = tensor.BF16From(float32(x))
		case tensor.Int8:
			tensor.Values[int8](t)[i] = int8(x)
		case tensor.Uint8:
			tensor.Values[uint8](t)[i] = uint8(x)
		case tensor.Int16:
			tensor.Values[int16](t)[i] = int16(x)
		case tensor.Uint16:
			tensor.Values[uint16](t)[i] = uint16(x)
		case tensor.Int32:
			tensor.Values[int32](t)[i] = int32(x)
		case tensor.Uint32:
			tensor.Values[uint32](t)[i] = uint32(x)
		case tensor.Int64:
			tensor.Values[int64](t)[i] = int64(x)
		case tensor.Uint64:
			tensor.Values[uint64](t)[i] = uint64(x)
		case tensor.Bool:
			tensor.Values[bool](t)[i] = x != 0
		}
	}
	return t
}

// nnVals reads a tensor's values as float64.
func nnVals(t *tensor.Tensor) []float64 {
	v := make([]float64, t.Len())
	for i := range v {
		v[i] = t.Float64At(i)
	}
	return v
}

// nnRound passes values through dtype dt, so a float64 reference sees the
// inputs the kernel sees.
func nnRound(dt tensor.DType, v []float64) []float64 {
	return nnVals(nnT(dt, tensor.Shape{len(v)}, v))
}

// nnRandom returns n values uniform in [lo, hi); integral when ints.
func nnRandom(rng *rand.Rand, n int, lo, hi float64, ints bool) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + rng.Float64()*(hi-lo)
		if ints {
			v[i] = math.Floor(v[i])
		}
	}
	return v
}

// nnCheck compares got with want (float64 values) under AllClose after
// rounding want to got's dtype; half-precision results get a tolerance
// that fits one rounding of the inputs and the output.
func nnCheck(t *testing.T, got *tensor.Tensor, dt tensor.DType, shape tensor.Shape, want []float64) {
	t.Helper()
	if got == nil {
		t.Fatal("no output")
	}
	if dt == tensor.Float16 || dt == tensor.BFloat16 {
		if got.DType != dt || !got.Shape.Equal(shape) {
			t.Fatalf("got %v%v, want %v%v", got.DType, []int(got.Shape), dt, []int(shape))
		}
		tol := 1e-2
		if dt == tensor.BFloat16 {
			tol = 5e-2
		}
		for i, w := range want {
			g := got.Float64At(i)
			if !(math.Abs(g-w) <= tol*(1+math.Abs(w))) && !(math.IsNaN(g) && math.IsNaN(w)) { // a NaN only where one is wanted
				t.Fatalf("element %d: got %g, want %g", i, g, w)
			}
		}
		return
	}
	if err := enginetest.AllClose(got, nnT(dt, shape, want)); err != nil {
		t.Fatal(err)
	}
}

func nnAttrs(as ...*graph.Attr) []*graph.Attr { return as }
