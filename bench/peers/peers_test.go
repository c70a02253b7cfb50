package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func TestTensorFileRoundTrip(t *testing.T) {
	cases := []*tensor.Tensor{
		tensor.MustFrom(tensor.Shape{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		tensor.MustFrom(tensor.Shape{1, 4}, []int64{-1, 0, 1, 1 << 40}),
		tensor.MustFrom(tensor.Shape{}, []float64{2.5}),
		tensor.MustFrom(tensor.Shape{0, 2}, []float32{}),
	}
	dir := t.TempDir()
	for _, want := range cases {
		t.Run(want.DType.String(), func(t *testing.T) {
			is := is.New(t)
			p := filepath.Join(dir, "t.bin")
			is.NoErr(writeTensorFile(p, want))
			got, err := readTensorFile(p)
			is.NoErr(err)
			is.Equal(got.DType, want.DType)
			is.Equal([]int(got.Shape), []int(want.Shape))
			is.True(bytes.Equal(got.Data, want.Data))
		})
	}
}

func TestTensorFileErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.bin")
	if err := writeTensorFile(good, tensor.MustFrom(tensor.Shape{2}, []float32{1, 2})); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	cases := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"bad magic", append([]byte("XXXX"), b[4:]...)},
		{"short data", b[:len(b)-1]},
		{"trailing data", append(append([]byte(nil), b...), 0)},
		{"bad dtype", append(append([]byte("WGT1"), 99, 0, 0, 0), b[8:]...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			p := filepath.Join(dir, "bad.bin")
			is.NoErr(os.WriteFile(p, tc.data, 0o644))
			_, err := readTensorFile(p)
			is.True(err != nil)
		})
	}
	is := is.New(t)
	is.True(writeTensorFile(filepath.Join(dir, "s.bin"), &tensor.Tensor{DType: tensor.Bytes, Shape: tensor.Shape{1}, Strings: [][]byte{nil}}) != nil)
}

func TestQuantile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	cases := []struct {
		name string
		d    []time.Duration
		q    float64
		want time.Duration
	}{
		{"odd median", ms(5, 1, 3), 0.5, 3 * time.Millisecond},
		{"even median", ms(4, 1, 3, 2), 0.5, 2500 * time.Microsecond},
		{"p10", ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 0.1, 2 * time.Millisecond},
		{"p90", ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 0.9, 10 * time.Millisecond},
		{"empty", nil, 0.5, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			is.Equal(quantile(tc.d, tc.q), tc.want)
		})
	}
}

func TestErrorStats(t *testing.T) {
	is := is.New(t)
	want := tensor.MustFrom(tensor.Shape{3}, []float32{1, -2, 0})
	got := tensor.MustFrom(tensor.Shape{3}, []float32{1.001, -2, 1e-7})
	absErr, relErr, worst, scale := errorStats(got, want)
	is.True(absErr > 0.000999 && absErr < 0.001001)
	is.True(relErr > 0.000999 && relErr < 0.001001) // the zero element does not count
	is.True(worst > 0.99 && worst < 1.01)           // 1e-7 against 1e-7 allowed at the zero
	is.Equal(scale, 2.0)
}
