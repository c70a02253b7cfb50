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

// TestReadORTProfile reads a profile in onnxruntime's trace-event format:
// each node's kernel times become its median, in the order the nodes
// first ran, and the other events (session, run, fence) are left out.
func TestReadORTProfile(t *testing.T) {
	is := is.New(t)
	const profile = `[
{"cat":"Session","pid":1,"tid":1,"dur":900,"ts":1,"ph":"X","name":"model_loading_uri","args":{}},
{"cat":"Node","pid":1,"tid":1,"dur":7,"ts":10,"ph":"X","name":"conv_fence_before","args":{"op_name":"Conv"}},
{"cat":"Node","pid":1,"tid":1,"dur":30,"ts":11,"ph":"X","name":"conv_kernel_time","args":{"op_name":"Conv","provider":"CPUExecutionProvider"}},
{"cat":"Node","pid":1,"tid":1,"dur":4,"ts":42,"ph":"X","name":"pool_kernel_time","args":{"op_name":"MaxPool"}},
{"cat":"Session","pid":1,"tid":1,"dur":50,"ts":9,"ph":"X","name":"model_run","args":{}},
{"cat":"Node","pid":1,"tid":1,"dur":20,"ts":60,"ph":"X","name":"conv_kernel_time","args":{"op_name":"Conv"}},
{"cat":"Node","pid":1,"tid":1,"dur":6,"ts":81,"ph":"X","name":"pool_kernel_time","args":{"op_name":"MaxPool"}},
{"cat":"Node","pid":1,"tid":1,"dur":25,"ts":90,"ph":"X","name":"conv_kernel_time","args":{"op_name":"Conv"}}
]`
	path := filepath.Join(t.TempDir(), "profile.json")
	is.NoErr(os.WriteFile(path, []byte(profile), 0o644))
	nodes, err := readORTProfile(path)
	is.NoErr(err)
	is.Equal(nodes, []nodeTime{
		{name: "conv", op: "Conv", median: 25 * time.Microsecond, runs: 3},
		{name: "pool", op: "MaxPool", median: 5 * time.Microsecond, runs: 2},
	})
	is.NoErr(os.WriteFile(path, []byte(`[{"cat":`), 0o644))
	_, err = readORTProfile(path)
	is.True(err != nil) // a truncated profile is an error
}
