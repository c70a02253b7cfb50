//go:build !wasip1

package main

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/guest/sdk"
	"github.com/wasmgate/wasmgate/guest/sdk/sdktest"
	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func pool(t *testing.T, x *tensor.Tensor, inline int) (int32, string, []float32) {
	t.Helper()
	h := sdktest.New(t, hostfuncs.Caller{})
	if inline > 0 {
		h.InlineBytes = inline
	}
	status, msg, out, err := h.Run(tensor.Named{Name: "last_hidden_state", Tensor: x})
	if err != nil {
		t.Fatal(err)
	}
	if status != sdk.StatusOK {
		return status, msg, nil
	}
	if len(out) != 1 || out[0].Name != "embedding" || out[0].DType != tensor.Float32 || !out[0].Shape.Equal(tensor.Shape{1, x.Shape[2]}) {
		t.Fatalf("outputs %v", out)
	}
	return status, "", tensor.Values[float32](out[0].Tensor)
}

// want is sentence-transformers' pooling in float64: the mean over tokens,
// then x / max(‖x‖, 1e-12).
func want(x []float32, tokens, hidden int) []float64 {
	m := make([]float64, hidden)
	for i := range tokens {
		for j := range hidden {
			m[j] += float64(x[i*hidden+j])
		}
	}
	var ss float64
	for j := range m {
		m[j] /= float64(tokens)
		ss += m[j] * m[j]
	}
	n := max(math.Sqrt(ss), 1e-12)
	for j := range m {
		m[j] /= n
	}
	return m
}

func TestPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		tokens, hidden, inline int
	}{
		{1, 1, 0}, {1, 4, 0}, {7, 8, 0}, {128, 384, 0}, {128, 768, 0}, {512, 768, 0} /* over 1 MiB: host-held */, {9, 16, 64},
	} {
		x := make([]float32, tc.tokens*tc.hidden)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		status, msg, got := pool(t, tensor.MustFrom(tensor.Shape{1, tc.tokens, tc.hidden}, x), tc.inline)
		if status != sdk.StatusOK {
			t.Fatalf("%d×%d: status %d %s", tc.tokens, tc.hidden, status, msg)
		}
		var norm float64
		for j, w := range want(x, tc.tokens, tc.hidden) {
			if d := math.Abs(float64(got[j]) - w); d > 1e-6 {
				t.Fatalf("%d×%d: feature %d is %v, want %v", tc.tokens, tc.hidden, j, got[j], w)
			}
			norm += float64(got[j]) * float64(got[j])
		}
		if math.Abs(norm-1) > 1e-5 {
			t.Errorf("%d×%d: squared norm %v", tc.tokens, tc.hidden, norm)
		}
	}
}

func TestPoolEdges(t *testing.T) {
	is := is.New(t)
	// All zeros stay zeros (divided by 1e-12, not by 0).
	status, _, got := pool(t, tensor.MustNew(tensor.Float32, tensor.Shape{1, 3, 4}), 0)
	is.Equal(status, sdk.StatusOK)
	is.Equal(got, []float32{0, 0, 0, 0})
	for _, tc := range []struct {
		name  string
		x     *tensor.Tensor
		state int32
		msg   string
	}{
		{"no tokens", tensor.MustNew(tensor.Float32, tensor.Shape{1, 0, 4}), sdk.StatusFailed, "no tokens or no features"},
		{"NaN", tensor.MustFrom(tensor.Shape{1, 2, 2}, []float32{1, float32(math.NaN()), 3, 4}), sdk.StatusFailed, "non-finite"},
		{"Inf", tensor.MustFrom(tensor.Shape{1, 1, 2}, []float32{float32(math.Inf(-1)), 4}), sdk.StatusFailed, "non-finite"},
		{"rank", tensor.MustNew(tensor.Float32, tensor.Shape{1, 4}), sdk.StatusInvalid, "shape"},
		{"batch", tensor.MustNew(tensor.Float32, tensor.Shape{2, 3, 4}), sdk.StatusInvalid, "shape"},
	} {
		status, msg, _ := pool(t, tc.x, 0)
		if status != tc.state || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: status %d %q, want %d with %q", tc.name, status, msg, tc.state, tc.msg)
		}
	}
}
