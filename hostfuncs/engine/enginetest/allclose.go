package enginetest

import (
	"bytes"
	"fmt"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Tolerances of the ONNX backend test runner (numpy.allclose's form).
const (
	ATol = 1e-7
	RTol = 1e-3
)

// AllClose is the engine's one rule for comparing a result with a
// reference. Shape and dtype must be equal. Floats must satisfy
// |got − want| ≤ ATol + RTol·|want|, with NaN matching only NaN and an
// infinity only the same infinity; integers, booleans and strings must be
// equal. The error names the first mismatch and counts them all.
func AllClose(got, want *tensor.Tensor) error {
	if got == nil || want == nil {
		return fmt.Errorf("got %v, want %v", got, want)
	}
	if got.DType != want.DType || !got.Shape.Equal(want.Shape) {
		return fmt.Errorf("got %v%v, want %v%v", got.DType, []int(got.Shape), want.DType, []int(want.Shape))
	}
	if err := got.Validate(); err != nil {
		return fmt.Errorf("got an invalid tensor: %w", err)
	}
	if err := want.Validate(); err != nil {
		return fmt.Errorf("want is an invalid tensor: %w", err)
	}
	n := want.Len()
	bad, first := 0, -1
	for i := range n {
		if !elemClose(got, want, i) {
			if bad == 0 {
				first = i
			}
			bad++
		}
	}
	if bad == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d elements differ; first at flat index %d: got %s, want %s",
		bad, n, first, elemString(got, first), elemString(want, first))
}

func elemClose(got, want *tensor.Tensor, i int) bool {
	switch {
	case want.DType == tensor.Bytes:
		return bytes.Equal(got.Strings[i], want.Strings[i])
	case want.DType.IsFloat():
		g, w := got.Float64At(i), want.Float64At(i)
		switch {
		case math.IsNaN(w) || math.IsNaN(g):
			return math.IsNaN(w) && math.IsNaN(g)
		case math.IsInf(w, 0) || math.IsInf(g, 0):
			return g == w
		}
		return math.Abs(g-w) <= ATol+RTol*math.Abs(w)
	}
	// Integers and booleans: compare the stored bytes, exact for 64-bit
	// values too, where float64 would round.
	s := want.DType.Size()
	return bytes.Equal(got.Data[i*s:(i+1)*s], want.Data[i*s:(i+1)*s])
}

func elemString(t *tensor.Tensor, i int) string {
	switch {
	case t.DType == tensor.Bytes:
		return fmt.Sprintf("%q", t.Strings[i])
	case t.DType == tensor.Uint64:
		return fmt.Sprint(tensor.Values[uint64](t)[i])
	case t.DType == tensor.Int64:
		return fmt.Sprint(tensor.Values[int64](t)[i])
	}
	return fmt.Sprint(t.Float64At(i))
}
