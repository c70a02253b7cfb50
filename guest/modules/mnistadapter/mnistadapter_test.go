//go:build !wasip1

package main

import (
	"context"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/guest/sdk"
	"github.com/wasmgate/wasmgate/guest/sdk/sdktest"
	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// runner stands in for the server's model runner.
type runner struct {
	name string
	in   []*tensor.Tensor
	out  []*tensor.Tensor
	err  error
}

func (r *runner) RunModel(_ context.Context, name string, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	r.name, r.in = name, in
	return r.out, r.err
}

func mnistOutputs() []*tensor.Tensor {
	return []*tensor.Tensor{
		tensor.MustFrom(tensor.Shape{1}, []int64{8}),
		tensor.MustFrom(tensor.Shape{1, 10}, []float32{0, 0, 0, 0, 0, 0, 0, 0, 1, 0}),
	}
}

func TestAdapter(t *testing.T) {
	img := &tensor.Tensor{DType: tensor.Bytes, Shape: tensor.Shape{1}, Strings: [][]byte{[]byte("a PNG")}}
	pix := tensor.MustNew(tensor.Float32, tensor.Shape{1, 1, 28, 28})
	tests := []struct {
		name   string
		in     []tensor.Named
		inline int // the server's inline limit; 0 for the default
		out    []*tensor.Tensor
		err    error
		status int32
		msg    string           // substring of the message when not OK
		sent   []*tensor.Tensor // what the runner must get (nil for an omitted input)
	}{
		{name: "image", in: []tensor.Named{{Name: "image", Tensor: img}}, out: mnistOutputs(), sent: []*tensor.Tensor{img}},
		{name: "image held", in: []tensor.Named{{Name: "image", Tensor: img}}, inline: 1, out: mnistOutputs(), sent: []*tensor.Tensor{img}},
		{name: "both", in: []tensor.Named{{Name: "pixels", Tensor: pix}, {Name: "image", Tensor: img}}, out: mnistOutputs(), sent: []*tensor.Tensor{img, pix}},
		{name: "model refuses", in: []tensor.Named{{Name: "image", Tensor: img}}, err: fault.Errorf(fault.Invalid, "image: corrupt PNG"),
			status: sdk.StatusInvalid, msg: "mnist: image: corrupt PNG"},
		{name: "not allowed", in: []tensor.Named{{Name: "image", Tensor: img}}, err: fault.Errorf(fault.Forbidden, "mnist is not in calls"),
			status: sdk.StatusFailed, msg: "EDENIED"},
		{name: "wrong outputs", in: []tensor.Named{{Name: "image", Tensor: img}}, out: mnistOutputs()[:1],
			status: sdk.StatusFailed, msg: "returned 1 outputs, want 2"},
		{name: "wrong output shape", in: []tensor.Named{{Name: "image", Tensor: img}},
			out:    []*tensor.Tensor{mnistOutputs()[0], tensor.MustNew(tensor.Float32, tensor.Shape{10})},
			status: sdk.StatusFailed, msg: `output "probabilities": shape is [10], want [1 10]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			r := &runner{out: tc.out, err: tc.err}
			h := sdktest.New(t, hostfuncs.Caller{Runner: r})
			if tc.inline > 0 {
				h.InlineBytes = tc.inline
			}
			status, msg, out, err := h.Run(tc.in...)
			is.NoErr(err)
			is.Equal(status, tc.status)
			if tc.status != sdk.StatusOK {
				if !strings.Contains(msg, tc.msg) {
					t.Fatalf("message %q does not contain %q", msg, tc.msg)
				}
				return
			}
			is.Equal(r.name, "mnist")
			is.Equal(len(r.in), len(tc.sent))
			for i := range tc.sent {
				is.True(r.in[i] != nil)
				is.Equal(r.in[i].DType, tc.sent[i].DType)
				is.True(r.in[i].Shape.Equal(tc.sent[i].Shape))
			}
			is.Equal(len(out), 2)
			is.Equal(out[0].Name, "label")
			is.Equal(out[1].Name, "probabilities")
			// The runner's own tensors come back: by handle, not copied.
			is.True(out[0].Tensor == tc.out[0])
			is.True(out[1].Tensor == tc.out[1])
			if tc.inline > 0 {
				is.True(r.in[0] == img) // a held input passes on by handle, never copied
			}
		})
	}
}

// Only "pixels", mnist's second input, goes as handles (0, pixels). The
// model_run of this host may not accept handle 0 for an omitted input yet.
func TestAdapterPixelsOnly(t *testing.T) {
	is := is.New(t)
	r := &runner{out: mnistOutputs()}
	h := sdktest.New(t, hostfuncs.Caller{Runner: r})
	pix := tensor.MustNew(tensor.Float32, tensor.Shape{1, 1, 28, 28})
	status, msg, out, err := h.Run(tensor.Named{Name: "pixels", Tensor: pix})
	is.NoErr(err)
	is.Equal(msg, "")
	is.Equal(status, sdk.StatusOK)
	is.Equal(len(r.in), 2)
	is.True(r.in[0] == nil)
	is.True(r.in[1] != nil)
	is.True(out[0].Tensor == r.out[0])
}

func TestAdapterNoInputs(t *testing.T) {
	is := is.New(t)
	r := &runner{err: fault.Errorf(fault.Invalid, `give one of "image" (a PNG or JPEG) or "pixels"`)}
	h := sdktest.New(t, hostfuncs.Caller{Runner: r})
	status, msg, _, err := h.Run()
	is.NoErr(err)
	is.Equal(status, sdk.StatusInvalid) // mnist's answer, passed on
	is.True(strings.Contains(msg, `give one of "image"`))
	is.Equal(len(r.in), 0)
}
