package enginetest

import (
	"math"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func TestAllClose(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	f64 := func(v ...float64) *tensor.Tensor { return tensor.MustFrom(tensor.Shape{len(v)}, v) }
	str := func(s ...string) *tensor.Tensor {
		b := make([][]byte, len(s))
		for i, x := range s {
			b[i] = []byte(x)
		}
		t, _ := tensor.FromStrings(tensor.Shape{len(s)}, b)
		return t
	}
	cases := []struct {
		name      string
		got, want *tensor.Tensor
		ok        bool
	}{
		{"equal", f64(1, 2), f64(1, 2), true},
		{"within rtol", f64(1000.9), f64(1000), true},
		{"beyond rtol", f64(1001.1), f64(1000), false},
		{"within atol at zero", f64(5e-8), f64(0), true},
		{"beyond atol at zero", f64(2e-7), f64(0), false},
		{"rtol is relative to want", f64(0), f64(1e-3), false},
		{"NaN matches NaN", f64(nan), f64(nan), true},
		{"NaN does not match a number", f64(nan), f64(1), false},
		{"a number does not match NaN", f64(1), f64(nan), false},
		{"inf matches inf", f64(inf), f64(inf), true},
		{"inf does not match -inf", f64(inf), f64(-inf), false},
		{"float32", tensor.MustFrom(tensor.Shape{1}, []float32{1.0005}), tensor.MustFrom(tensor.Shape{1}, []float32{1}), true},
		{"float16", tensor.MustFrom(tensor.Shape{1}, []tensor.F16{tensor.F16From(2)}), tensor.MustFrom(tensor.Shape{1}, []tensor.F16{tensor.F16From(2.01)}), false},
		{"int exact", tensor.MustFrom(tensor.Shape{1}, []int32{1}), tensor.MustFrom(tensor.Shape{1}, []int32{2}), false},
		{"int64 beyond float64 precision", tensor.MustFrom(tensor.Shape{1}, []int64{1<<62 + 1}), tensor.MustFrom(tensor.Shape{1}, []int64{1 << 62}), false},
		{"bool", tensor.MustFrom(tensor.Shape{1}, []bool{true}), tensor.MustFrom(tensor.Shape{1}, []bool{true}), true},
		{"strings", str("a", "b"), str("a", "b"), true},
		{"strings differ", str("a", "b"), str("a", "c"), false},
		{"dtype differs", tensor.MustFrom(tensor.Shape{1}, []float32{1}), f64(1), false},
		{"shape differs", tensor.MustFrom(tensor.Shape{1, 2}, []float64{1, 2}), f64(1, 2), false},
		{"nil", nil, f64(1), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := AllClose(tc.got, tc.want)
			if (err == nil) != tc.ok {
				t.Fatalf("AllClose = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
