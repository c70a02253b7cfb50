package wasinn_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/matryer/is"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
	"github.com/wasmgate/wasmgate/hostfuncs/wasinn"
)

// The module exports exactly the witx functions and WasmEdge's two
// extensions, each (i32 × n) -> i32 as the core-module ABI lowers them.
func TestSignatures(t *testing.T) {
	is := is.New(t)
	runtime(t)
	host := env.rt.Module(wasinn.ModuleName)
	is.True(host != nil)
	defs := host.ExportedFunctionDefinitions()
	is.Equal(len(defs), len(witxParams))
	is.Equal(slices.Sorted(slices.Values(wasinn.Names())), slices.Sorted(func(yield func(string) bool) {
		for n := range witxParams {
			if !yield(n) {
				return
			}
		}
	}))
	for name, n := range witxParams {
		d, ok := defs[name]
		is.True(ok) // exported
		want := slices.Repeat([]api.ValueType{api.ValueTypeI32}, n)
		is.Equal(d.ParamTypes(), want)
		is.Equal(d.ResultTypes(), []api.ValueType{api.ValueTypeI32})
	}
}

// The errno values are those of wasi-nn.witx's nn_errno, in order.
func TestErrnoValues(t *testing.T) {
	is := is.New(t)
	for i, e := range []wasinn.Errno{wasinn.Success, wasinn.InvalidArgument, wasinn.InvalidEncoding, wasinn.MissingMemory,
		wasinn.Busy, wasinn.RuntimeError, wasinn.UnsupportedOperation, wasinn.TooLarge, wasinn.NotFound} {
		is.Equal(uint16(e), uint16(i))
	}
	is.Equal(wasinn.TooLarge.String(), "too_large")
	is.Equal(wasinn.Errno(100).String(), "errno(100)")
}

// typed returns n elements of dt as little-endian bytes with distinct
// values.
func typed(dt tensor.DType, n int) []byte {
	b := make([]byte, n*dt.Size())
	for i := range n {
		switch dt {
		case tensor.Float16:
			binary.LittleEndian.PutUint16(b[2*i:], 0x3c00+uint16(i)) // 1.0, 1.0009…, …
		case tensor.Float32:
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(i)+0.5))
		case tensor.Float64:
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(float64(i)-0.25))
		case tensor.Uint8:
			b[i] = byte(200 + i)
		case tensor.Int32:
			binary.LittleEndian.PutUint32(b[4*i:], uint32(int32(-7*i)))
		case tensor.Int64:
			binary.LittleEndian.PutUint64(b[8*i:], uint64(int64(i)<<40))
		}
	}
	return b
}

// Every tensor type of both numberings round-trips through an ONNX
// Identity graph: the code a guest sends selects the dtype of its module's
// numbering, and a code of the other numbering is refused or means another
// type.
func TestNumberings(t *testing.T) {
	tests := []struct {
		numbering string // the module's config; "" is the default (witx)
		code      uint8
		dt        tensor.DType
		want      wasinn.Errno
	}{
		{"", 0, tensor.Float16, wasinn.Success},
		{"", 1, tensor.Float32, wasinn.Success},
		{"", 2, tensor.Float64, wasinn.Success},
		{"", 3, tensor.Uint8, wasinn.Success},
		{"", 4, tensor.Int32, wasinn.Success},
		{"", 5, tensor.Int64, wasinn.Success},
		{"witx", 5, tensor.Int64, wasinn.Success},
		{"witx", 3, tensor.Int32, wasinn.InvalidArgument}, // 3 is u8 in witx: the graph wants i32
		{"witx", 6, tensor.Float32, wasinn.InvalidArgument},
		{"wasmedge", 0, tensor.Float16, wasinn.Success},
		{"wasmedge", 1, tensor.Float32, wasinn.Success},
		{"wasmedge", 2, tensor.Uint8, wasinn.Success},
		{"wasmedge", 3, tensor.Int32, wasinn.Success},
		{"wasmedge", 2, tensor.Float64, wasinn.InvalidArgument}, // 2 is u8 in wasmedge
		{"wasmedge", 4, tensor.Int32, wasinn.InvalidArgument},   // no such code
		{"wasmedge", 5, tensor.Int64, wasinn.InvalidArgument},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d/%v", tc.numbering, tc.code, tc.dt), func(t *testing.T) {
			is := is.New(t)
			var cfg []byte
			if tc.numbering != "" {
				cfg = fmt.Appendf(nil, `{"labels":[1,2],"wasi_nn":{"tensor_types":%q}}`, tc.numbering)
			}
			h := newHarness(t, hostfuncs.Caller{Config: cfg})
			g := h.load(identity(tc.dt, 2, 3))
			c := h.initCtx(g)
			data := typed(tc.dt, 6)
			is.Equal(h.nn("set_input", c, 0, h.tensor([]uint32{2, 3}, tc.code, data)), tc.want)
			if tc.want != wasinn.Success {
				return
			}
			h.must(h.nn("compute", c), "compute")
			got, e := h.getOutput(c, 0, 64)
			is.Equal(e, wasinn.Success)
			is.Equal(got, data)
		})
	}
	// A writer of a u32 type field (WasmEdge's host struct, #[repr(C)]
	// Rust enums) is read the same as a u8 tag with padding.
	t.Run("u32 type field", func(t *testing.T) {
		is := is.New(t)
		h := newHarness(t, hostfuncs.Caller{})
		c := h.initCtx(h.load(identity(tensor.Int64, 2)))
		dims := h.put([]byte{2, 0, 0, 0})
		data := typed(tensor.Int64, 2)
		is.Equal(h.nn("set_input", c, 0, h.record(dims, 1, 5, h.put(data), 16)), wasinn.Success)
		h.must(h.nn("compute", c), "compute")
		got, _ := h.getOutput(c, 0, 16)
		is.Equal(got, data)
	})
	t.Run("bad config", func(t *testing.T) {
		is := is.New(t)
		_, err := wasinn.NumberingFromConfig([]byte(`{"wasi_nn":{"tensor_types":"onnx"}}`))
		is.True(err != nil)
		_, err = wasinn.NumberingFromConfig([]byte(`[1]`))
		is.True(err != nil)
		n, err := wasinn.NumberingFromConfig([]byte(`{"wasi_nn":{}}`))
		is.NoErr(err)
		is.Equal(n, wasinn.Witx)
		h := newHarness(t, hostfuncs.Caller{Config: []byte(`{"wasi_nn":{"tensor_types":"tflite"}}`)})
		c := h.initCtx(h.load(identity(tensor.Float32, 1)))
		is.Equal(h.nn("set_input", c, 0, h.tensor([]uint32{1}, 1, typed(tensor.Float32, 1))), wasinn.InvalidArgument)
	})
}

// Inputs bind by position; outputs come in graph order.
func TestTwoInputs(t *testing.T) {
	is := is.New(t)
	h := newHarness(t, hostfuncs.Caller{})
	c := h.initCtx(h.load(add(2)))
	f32 := func(v ...float32) []byte {
		b := make([]byte, 0, 4*len(v))
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
		return b
	}
	h.must(h.nn("set_input", c, 1, h.tensor([]uint32{2}, 1, f32(10, 20))), "set_input 1")
	is.Equal(h.nn("compute", c), wasinn.InvalidArgument) // input 0 is not set
	h.must(h.nn("set_input", c, 0, h.tensor([]uint32{2}, 1, f32(1, 2))), "set_input 0")
	h.must(h.nn("compute", c), "compute")
	got, _ := h.getOutput(c, 0, 8)
	is.Equal(got, f32(11, 22))
	// Setting an input again replaces it; compute again replaces outputs.
	h.must(h.nn("set_input", c, 0, h.tensor([]uint32{2}, 1, f32(-1, -2))), "set_input 0 again")
	h.must(h.nn("compute", c), "compute again")
	got, _ = h.getOutput(c, 0, 8)
	is.Equal(got, f32(9, 18))
	// A second context of the same graph is independent.
	c2 := h.initCtx(0)
	is.True(c2 != c)
	_, e := h.getOutput(c2, 0, 8)
	is.Equal(e, wasinn.InvalidArgument) // no compute yet in c2
}

// The real MNIST model loads from its ONNX bytes.
func TestLoadMNIST(t *testing.T) {
	is := is.New(t)
	model, err := os.ReadFile("../../testdata/mnist/mnist-7/model.onnx")
	is.NoErr(err)
	h := newHarness(t, hostfuncs.Caller{})
	c := h.initCtx(h.load(model))
	h.must(h.nn("set_input", c, 0, h.tensor([]uint32{1, 1, 28, 28}, 1, make([]byte, 4*784))), "set_input")
	h.must(h.nn("compute", c), "compute")
	got, e := h.getOutput(c, 0, 40)
	is.Equal(e, wasinn.Success)
	is.Equal(len(got), 40) // ten FP32 logits
	_, e = h.getOutput(c, 0, 39)
	is.Equal(e, wasinn.TooLarge)
	_, e = h.getOutput(c, 1, 40)
	is.Equal(e, wasinn.InvalidArgument) // one output
}

// fakeModel is a repository model as a fake runner serves it.
type fakeModel struct {
	ins, outs []abi.TensorSpec
	run       func(in []*tensor.Tensor) ([]*tensor.Tensor, error)
}

// runner serves models by name, like the gateway's model runner: models
// it does not list are not found, "secret" exists but may not be run.
type runner struct {
	models  map[string]fakeModel
	err     error // returned by RunModel when set
	gotName string
	got     []*tensor.Tensor
	calls   int
}

func (r *runner) RunModel(_ context.Context, name string, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	r.calls++
	r.gotName, r.got = name, in
	if r.err != nil {
		return nil, r.err
	}
	if name == "secret" {
		return nil, fault.Errorf(fault.Forbidden, "model x may not run secret: list it under \"calls\"")
	}
	m, ok := r.models[name]
	if !ok {
		return nil, fault.Errorf(fault.NotFound, "no model %s", name)
	}
	return m.run(in)
}

func (r *runner) DescribeModel(_ context.Context, name string) ([]abi.TensorSpec, []abi.TensorSpec, error) {
	if name == "secret" {
		return nil, nil, fault.Errorf(fault.Forbidden, "model x may not run secret: list it under \"calls\"")
	}
	m, ok := r.models[name]
	if !ok {
		return nil, nil, fault.Errorf(fault.NotFound, "no model %s", name)
	}
	return m.ins, m.outs, nil
}

// plainRunner is a runner that cannot describe models.
type plainRunner struct{ r *runner }

func (p plainRunner) RunModel(ctx context.Context, name string, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return p.r.RunModel(ctx, name, in)
}

// echo takes "x" (FP32 [-1], required) and "y" (INT64 [1], optional) and
// returns x, then a BYTES tensor.
func newRunner() *runner {
	return &runner{models: map[string]fakeModel{
		"echo": {
			ins: []abi.TensorSpec{{Name: "x", DType: tensor.Float32, Shape: []int64{-1}},
				{Name: "y", DType: tensor.Int64, Shape: []int64{1}, Optional: true}},
			outs: []abi.TensorSpec{{Name: "x", DType: tensor.Float32, Shape: []int64{-1}},
				{Name: "s", DType: tensor.Bytes, Shape: []int64{1}}},
			run: func(in []*tensor.Tensor) ([]*tensor.Tensor, error) {
				return []*tensor.Tensor{in[0], {DType: tensor.Bytes, Shape: tensor.Shape{1}, Strings: [][]byte{[]byte("hi")}}}, nil
			},
		},
	}}
}

// load_by_name runs a repository model through the call's runner, inputs
// bound by position; with a describer the name and inputs are checked
// early, without one the runner reports at compute.
func TestLoadByName(t *testing.T) {
	x := typed(tensor.Float32, 3)
	t.Run("described", func(t *testing.T) {
		is := is.New(t)
		r := newRunner()
		h := newHarness(t, hostfuncs.Caller{Runner: r})
		g, e := h.loadByName("echo")
		is.Equal(e, wasinn.Success)
		c := h.initCtx(g)
		is.Equal(h.nn("set_input", c, 1, h.tensor([]uint32{1}, 1, typed(tensor.Float32, 1))), wasinn.InvalidArgument) // y is INT64
		is.Equal(h.nn("set_input", c, 1, h.tensor([]uint32{2}, 5, typed(tensor.Int64, 2))), wasinn.InvalidArgument)   // y is [1]
		is.Equal(h.nn("set_input", c, 2, h.tensor([]uint32{1}, 5, typed(tensor.Int64, 1))), wasinn.InvalidArgument)   // two inputs
		h.must(h.nn("set_input", c, 1, h.tensor([]uint32{1}, 5, typed(tensor.Int64, 1))), "set_input y")
		is.Equal(h.nn("compute", c), wasinn.InvalidArgument) // x is required
		is.Equal(r.calls, 0)
		h.must(h.nn("set_input", c, 0, h.tensor([]uint32{3}, 1, x)), "set_input x")
		h.must(h.nn("compute", c), "compute")
		is.Equal(r.gotName, "echo")
		is.Equal(len(r.got), 2)
		is.Equal(r.got[0].Data, x)
		got, e := h.getOutput(c, 0, 100)
		is.Equal(e, wasinn.Success)
		is.Equal(got, x)
		_, e = h.getOutput(c, 1, 100)
		is.Equal(e, wasinn.UnsupportedOperation) // BYTES
	})
	t.Run("optional left out", func(t *testing.T) {
		is := is.New(t)
		r := newRunner()
		h := newHarness(t, hostfuncs.Caller{Runner: r})
		g, _ := h.loadByName("echo")
		c := h.initCtx(g)
		h.must(h.nn("set_input", c, 0, h.tensor([]uint32{3}, 1, x)), "set_input x")
		h.must(h.nn("compute", c), "compute")
		is.Equal(len(r.got), 1) // inputs after the last one set are left out
	})
	t.Run("not described", func(t *testing.T) {
		is := is.New(t)
		r := newRunner()
		h := newHarness(t, hostfuncs.Caller{Runner: plainRunner{r}})
		g, e := h.loadByName("nope")
		is.Equal(e, wasinn.Success) // nothing to check it against yet
		c := h.initCtx(g)
		h.must(h.nn("set_input", c, 0, h.tensor([]uint32{3}, 1, x)), "set_input")
		is.Equal(h.nn("compute", c), wasinn.NotFound)
		is.Equal(h.nn("set_input", c, wasinn.MaxInputs, h.tensor([]uint32{3}, 1, x)), wasinn.InvalidArgument)
		g, _ = h.loadByName("echo")
		c = h.initCtx(g)
		h.must(h.nn("set_input", c, 0, h.tensor([]uint32{3}, 1, x)), "set_input")
		h.must(h.nn("compute", c), "compute")
		got, _ := h.getOutput(c, 0, 12)
		is.Equal(got, x)
	})
	// The runner of the call that computes runs the model, so a graph
	// loaded in one call and computed in another obeys the second's rights.
	t.Run("runner of the computing call", func(t *testing.T) {
		is := is.New(t)
		r := newRunner()
		h := newHarness(t, hostfuncs.Caller{Runner: r})
		g, _ := h.loadByName("echo")
		c := h.initCtx(g)
		h.must(h.nn("set_input", c, 0, h.tensor([]uint32{3}, 1, x)), "set_input")
		h.call = hostfuncs.NewCall(hostfuncs.Caller{})
		is.Equal(h.nn("compute", c), wasinn.NotFound) // this call may run no models
		is.Equal(r.calls, 0)
	})
}

// Every error path of every function, with the errno it returns.
func TestErrors(t *testing.T) {
	ident := identity(tensor.Float32, 2)
	f32x2 := typed(tensor.Float32, 2)
	// setup returns a harness with an identity graph 0 and its context 0.
	withCtx := func(h *harness) (g, c uint32) {
		g = h.load(ident)
		return g, h.initCtx(g)
	}
	computed := func(h *harness) uint32 {
		_, c := withCtx(h)
		h.must(h.nn("set_input", c, 0, h.tensor([]uint32{2}, 1, f32x2)), "set_input")
		h.must(h.nn("compute", c), "compute")
		return c
	}
	load := func(h *harness, model []byte, enc, target uint32) wasinn.Errno {
		arr, n := h.builders(model)
		return h.nn("load", arr, n, enc, target, h.alloc(4))
	}
	withConfig := func(h *harness, cfg string) wasinn.Errno {
		np, nl := h.str("echo")
		cp, cl := h.str(cfg)
		return h.nn("load_by_name_with_config", np, nl, cp, cl, h.alloc(4))
	}
	runErr := func(err error) func(h *harness) wasinn.Errno {
		return func(h *harness) wasinn.Errno {
			r := newRunner()
			h.call = hostfuncs.NewCall(hostfuncs.Caller{Runner: r})
			g, _ := h.loadByName("echo")
			c := h.initCtx(g)
			h.must(h.nn("set_input", c, 0, h.tensor([]uint32{2}, 1, f32x2)), "set_input")
			r.err = err
			return h.nn("compute", c)
		}
	}
	tests := []struct {
		name string
		run  func(h *harness) wasinn.Errno
		want wasinn.Errno
	}{
		// load
		{"load openvino", func(h *harness) wasinn.Errno { return load(h, ident, wasinn.EncodingOpenVINO, 0) }, wasinn.InvalidEncoding},
		{"load tensorflow", func(h *harness) wasinn.Errno { return load(h, ident, wasinn.EncodingTensorflow, 0) }, wasinn.InvalidEncoding},
		{"load pytorch", func(h *harness) wasinn.Errno { return load(h, ident, wasinn.EncodingPyTorch, 0) }, wasinn.InvalidEncoding},
		{"load tflite", func(h *harness) wasinn.Errno { return load(h, ident, wasinn.EncodingTensorflowLite, 0) }, wasinn.InvalidEncoding},
		{"load ggml", func(h *harness) wasinn.Errno { return load(h, ident, 6, 0) }, wasinn.InvalidEncoding},
		{"load encoding 1000", func(h *harness) wasinn.Errno { return load(h, ident, 1000, 0) }, wasinn.InvalidEncoding},
		{"load autodetect", func(h *harness) wasinn.Errno { return load(h, ident, wasinn.EncodingAutodetect, 0) }, wasinn.Success},
		{"load autodetect garbage", func(h *harness) wasinn.Errno { return load(h, []byte("GGUF...."), wasinn.EncodingAutodetect, 0) }, wasinn.InvalidEncoding},
		{"load gpu", func(h *harness) wasinn.Errno { return load(h, ident, wasinn.EncodingONNX, wasinn.TargetGPU) }, wasinn.UnsupportedOperation},
		{"load tpu", func(h *harness) wasinn.Errno { return load(h, ident, wasinn.EncodingONNX, wasinn.TargetTPU) }, wasinn.UnsupportedOperation},
		{"load auto target", func(h *harness) wasinn.Errno { return load(h, ident, wasinn.EncodingONNX, wasinn.TargetAuto) }, wasinn.Success},
		{"load target 4", func(h *harness) wasinn.Errno { return load(h, ident, wasinn.EncodingONNX, 4) }, wasinn.InvalidArgument},
		{"load no builders", func(h *harness) wasinn.Errno {
			arr, _ := h.builders()
			return h.nn("load", arr, 0, wasinn.EncodingONNX, 0, h.alloc(4))
		}, wasinn.InvalidArgument},
		{"load two builders", func(h *harness) wasinn.Errno {
			arr, n := h.builders(ident, ident)
			return h.nn("load", arr, n, wasinn.EncodingONNX, 0, h.alloc(4))
		}, wasinn.InvalidArgument},
		{"load builder array out of bounds", func(h *harness) wasinn.Errno {
			return h.nn("load", oob, 1, wasinn.EncodingONNX, 0, h.alloc(4))
		}, wasinn.InvalidArgument},
		{"load builder out of bounds", func(h *harness) wasinn.Errno {
			arr := h.put(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, memSize-10), 100))
			return h.nn("load", arr, 1, wasinn.EncodingONNX, 0, h.alloc(4))
		}, wasinn.InvalidArgument},
		{"load builder length wraps", func(h *harness) wasinn.Errno {
			arr := h.put(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 64), 0xffffffff))
			h.call = hostfuncs.NewCall(hostfuncs.Caller{QuotaBytes: 1 << 33})
			return h.nn("load", arr, 1, wasinn.EncodingONNX, 0, h.alloc(4))
		}, wasinn.InvalidArgument},
		{"load graph pointer out of bounds", func(h *harness) wasinn.Errno {
			arr, n := h.builders(ident)
			return h.nn("load", arr, n, wasinn.EncodingONNX, 0, oob)
		}, wasinn.InvalidArgument},
		{"load garbage", func(h *harness) wasinn.Errno { return load(h, []byte("not an onnx model"), wasinn.EncodingONNX, 0) }, wasinn.InvalidArgument},
		{"load empty", func(h *harness) wasinn.Errno { return load(h, nil, wasinn.EncodingONNX, 0) }, wasinn.InvalidArgument},
		{"load unknown operator", func(h *harness) wasinn.Errno {
			return load(h, onnxModel("NoSuchOp", []vi{{"x", tensor.Float32, []int64{1}}}, []vi{{"y", tensor.Float32, []int64{1}}}), wasinn.EncodingONNX, 0)
		}, wasinn.UnsupportedOperation},
		{"load over quota", func(h *harness) wasinn.Errno {
			h.call = hostfuncs.NewCall(hostfuncs.Caller{QuotaBytes: int64(len(ident)) - 1})
			return load(h, ident, wasinn.EncodingONNX, 0)
		}, wasinn.TooLarge},
		{"load outside a guest call", func(h *harness) wasinn.Errno {
			arr, n := h.builders(ident)
			return h.nnCtx(context.Background(), "load", arr, n, wasinn.EncodingONNX, 0, h.alloc(4))
		}, wasinn.TooLarge},
		{"load too many graphs", func(h *harness) wasinn.Errno {
			for range wasinn.MaxGraphs {
				h.load(ident)
			}
			return load(h, ident, wasinn.EncodingONNX, 0)
		}, wasinn.Busy},
		{"load after unload frees a slot", func(h *harness) wasinn.Errno {
			for range wasinn.MaxGraphs {
				h.load(ident)
			}
			h.must(h.nn("unload", 3), "unload")
			return load(h, ident, wasinn.EncodingONNX, 0)
		}, wasinn.Success},

		// load_by_name, load_by_name_with_config
		{"load_by_name without a runner", func(h *harness) wasinn.Errno { _, e := h.loadByName("echo"); return e }, wasinn.NotFound},
		{"load_by_name missing", func(h *harness) wasinn.Errno {
			h.call = hostfuncs.NewCall(hostfuncs.Caller{Runner: newRunner()})
			_, e := h.loadByName("mnist")
			return e
		}, wasinn.NotFound},
		{"load_by_name not in calls", func(h *harness) wasinn.Errno {
			h.call = hostfuncs.NewCall(hostfuncs.Caller{Runner: newRunner()})
			_, e := h.loadByName("secret")
			return e
		}, wasinn.NotFound},
		{"load_by_name empty", func(h *harness) wasinn.Errno {
			h.call = hostfuncs.NewCall(hostfuncs.Caller{Runner: newRunner()})
			_, e := h.loadByName("")
			return e
		}, wasinn.InvalidArgument},
		{"load_by_name too long", func(h *harness) wasinn.Errno {
			h.call = hostfuncs.NewCall(hostfuncs.Caller{Runner: newRunner()})
			_, e := h.loadByName(strings.Repeat("m", wasinn.MaxNameBytes+1))
			return e
		}, wasinn.InvalidArgument},
		{"load_by_name not UTF-8", func(h *harness) wasinn.Errno {
			h.call = hostfuncs.NewCall(hostfuncs.Caller{Runner: newRunner()})
			_, e := h.loadByName("ech\xff")
			return e
		}, wasinn.InvalidArgument},
		{"load_by_name name out of bounds", func(h *harness) wasinn.Errno {
			h.call = hostfuncs.NewCall(hostfuncs.Caller{Runner: newRunner()})
			return h.nn("load_by_name", oob, 4, h.alloc(4))
		}, wasinn.InvalidArgument},
		{"load_by_name graph pointer out of bounds", func(h *harness) wasinn.Errno {
			h.call = hostfuncs.NewCall(hostfuncs.Caller{Runner: newRunner()})
			p, n := h.str("echo")
			return h.nn("load_by_name", p, n, oob)
		}, wasinn.InvalidArgument},
		{"with_config unknown keys", func(h *harness) wasinn.Errno {
			h.call = hostfuncs.NewCall(hostfuncs.Caller{Runner: newRunner()})
			return withConfig(h, `{"n-gpu-layers": 99, "ctx-size": 512}`)
		}, wasinn.Success},
		{"with_config empty", func(h *harness) wasinn.Errno {
			h.call = hostfuncs.NewCall(hostfuncs.Caller{Runner: newRunner()})
			return withConfig(h, "")
		}, wasinn.Success},
		{"with_config not JSON", func(h *harness) wasinn.Errno {
			h.call = hostfuncs.NewCall(hostfuncs.Caller{Runner: newRunner()})
			return withConfig(h, `{"ctx-size": `)
		}, wasinn.InvalidArgument},
		{"with_config not an object", func(h *harness) wasinn.Errno {
			h.call = hostfuncs.NewCall(hostfuncs.Caller{Runner: newRunner()})
			return withConfig(h, `[1, 2]`)
		}, wasinn.InvalidArgument},
		{"with_config null", func(h *harness) wasinn.Errno {
			h.call = hostfuncs.NewCall(hostfuncs.Caller{Runner: newRunner()})
			return withConfig(h, `null`)
		}, wasinn.InvalidArgument},
		{"with_config too large", func(h *harness) wasinn.Errno {
			h.call = hostfuncs.NewCall(hostfuncs.Caller{Runner: newRunner()})
			np, nl := h.str("echo")
			return h.nn("load_by_name_with_config", np, nl, 64, wasinn.MaxConfigBytes+1, h.alloc(4))
		}, wasinn.InvalidArgument},
		{"with_config out of bounds", func(h *harness) wasinn.Errno {
			h.call = hostfuncs.NewCall(hostfuncs.Caller{Runner: newRunner()})
			np, nl := h.str("echo")
			return h.nn("load_by_name_with_config", np, nl, oob, 10, h.alloc(4))
		}, wasinn.InvalidArgument},
		{"with_config missing model", func(h *harness) wasinn.Errno {
			h.call = hostfuncs.NewCall(hostfuncs.Caller{Runner: newRunner()})
			np, nl := h.str("nope")
			cp, cl := h.str("{}")
			return h.nn("load_by_name_with_config", np, nl, cp, cl, h.alloc(4))
		}, wasinn.NotFound},

		// init_execution_context
		{"init bad graph", func(h *harness) wasinn.Errno { return h.nn("init_execution_context", 7, h.alloc(4)) }, wasinn.InvalidArgument},
		{"init context pointer out of bounds", func(h *harness) wasinn.Errno {
			return h.nn("init_execution_context", h.load(ident), oob)
		}, wasinn.InvalidArgument},
		{"init unloaded graph", func(h *harness) wasinn.Errno {
			g := h.load(ident)
			h.must(h.nn("unload", g), "unload")
			return h.nn("init_execution_context", g, h.alloc(4))
		}, wasinn.InvalidArgument},
		{"init too many contexts", func(h *harness) wasinn.Errno {
			g := h.load(ident)
			for range wasinn.MaxContexts {
				h.initCtx(g)
			}
			return h.nn("init_execution_context", g, h.alloc(4))
		}, wasinn.Busy},

		// set_input
		{"set_input bad context", func(h *harness) wasinn.Errno {
			withCtx(h)
			return h.nn("set_input", 9, 0, h.tensor([]uint32{2}, 1, f32x2))
		}, wasinn.InvalidArgument},
		{"set_input tensor out of bounds", func(h *harness) wasinn.Errno {
			_, c := withCtx(h)
			return h.nn("set_input", c, 0, memSize-19)
		}, wasinn.InvalidArgument},
		{"set_input dims out of bounds", func(h *harness) wasinn.Errno {
			_, c := withCtx(h)
			return h.nn("set_input", c, 0, h.record(oob, 1, 1, h.put(f32x2), 8))
		}, wasinn.InvalidArgument},
		{"set_input data out of bounds", func(h *harness) wasinn.Errno {
			_, c := withCtx(h)
			return h.nn("set_input", c, 0, h.record(h.put([]byte{2, 0, 0, 0}), 1, 1, memSize-4, 8))
		}, wasinn.InvalidArgument},
		{"set_input unknown type", func(h *harness) wasinn.Errno {
			_, c := withCtx(h)
			return h.nn("set_input", c, 0, h.tensor([]uint32{2}, 9, f32x2))
		}, wasinn.InvalidArgument},
		{"set_input rank 17", func(h *harness) wasinn.Errno {
			_, c := withCtx(h)
			return h.nn("set_input", c, 0, h.tensor(slices.Repeat([]uint32{1}, 17), 1, typed(tensor.Float32, 1)))
		}, wasinn.InvalidArgument},
		{"set_input too many elements", func(h *harness) wasinn.Errno {
			_, c := withCtx(h)
			return h.nn("set_input", c, 0, h.tensor([]uint32{1 << 16, 1 << 16}, 1, f32x2))
		}, wasinn.InvalidArgument},
		{"set_input data length", func(h *harness) wasinn.Errno {
			_, c := withCtx(h)
			return h.nn("set_input", c, 0, h.tensor([]uint32{3}, 1, f32x2))
		}, wasinn.InvalidArgument},
		{"set_input wrong type", func(h *harness) wasinn.Errno {
			_, c := withCtx(h)
			return h.nn("set_input", c, 0, h.tensor([]uint32{2}, 4, typed(tensor.Int32, 2)))
		}, wasinn.InvalidArgument},
		{"set_input wrong shape", func(h *harness) wasinn.Errno {
			_, c := withCtx(h)
			return h.nn("set_input", c, 0, h.tensor([]uint32{1, 2}, 1, f32x2))
		}, wasinn.InvalidArgument},
		{"set_input index out of range", func(h *harness) wasinn.Errno {
			_, c := withCtx(h)
			return h.nn("set_input", c, 1, h.tensor([]uint32{2}, 1, f32x2))
		}, wasinn.InvalidArgument},
		{"set_input over quota", func(h *harness) wasinn.Errno {
			_, c := withCtx(h)
			h.call = hostfuncs.NewCall(hostfuncs.Caller{QuotaBytes: h.inst.HeldBytes() + 7})
			return h.nn("set_input", c, 0, h.tensor([]uint32{2}, 1, f32x2))
		}, wasinn.TooLarge},
		{"set_input at the quota", func(h *harness) wasinn.Errno {
			_, c := withCtx(h)
			h.call = hostfuncs.NewCall(hostfuncs.Caller{QuotaBytes: h.inst.HeldBytes() + 8})
			return h.nn("set_input", c, 0, h.tensor([]uint32{2}, 1, f32x2))
		}, wasinn.Success},

		// compute
		{"compute bad context", func(h *harness) wasinn.Errno { withCtx(h); return h.nn("compute", 5) }, wasinn.InvalidArgument},
		{"compute without input", func(h *harness) wasinn.Errno { _, c := withCtx(h); return h.nn("compute", c) }, wasinn.InvalidArgument},
		{"compute outputs over quota", func(h *harness) wasinn.Errno {
			_, c := withCtx(h)
			h.must(h.nn("set_input", c, 0, h.tensor([]uint32{2}, 1, f32x2)), "set_input")
			h.call = hostfuncs.NewCall(hostfuncs.Caller{QuotaBytes: h.inst.HeldBytes() + 7})
			return h.nn("compute", c)
		}, wasinn.TooLarge},
		{"compute model refuses input", runErr(fault.Errorf(fault.Invalid, "pixels must be within 0..255")), wasinn.InvalidArgument},
		{"compute model gone", runErr(fault.Errorf(fault.NotFound, "no model echo")), wasinn.NotFound},
		{"compute model forbidden", runErr(fault.Errorf(fault.Forbidden, "not in calls")), wasinn.NotFound},
		{"compute unsupported", runErr(fault.Errorf(fault.Unsupported, "operator")), wasinn.UnsupportedOperation},
		{"compute overloaded", runErr(fault.Errorf(fault.Overloaded, "no instance free")), wasinn.Busy},
		{"compute unavailable", runErr(fault.Errorf(fault.Unavailable, "loading")), wasinn.Busy},
		{"compute too large", runErr(fault.Errorf(fault.TooLarge, "quota")), wasinn.TooLarge},
		{"compute module fault", runErr(fault.Errorf(fault.ModuleFault, "trapped")), wasinn.RuntimeError},
		{"compute timeout", runErr(context.DeadlineExceeded), wasinn.RuntimeError},
		{"compute internal", runErr(fmt.Errorf("kernel bug")), wasinn.RuntimeError},

		// get_output
		{"get_output bad context", func(h *harness) wasinn.Errno { computed(h); _, e := h.getOutput(4, 0, 64); return e }, wasinn.InvalidArgument},
		{"get_output before compute", func(h *harness) wasinn.Errno { _, c := withCtx(h); _, e := h.getOutput(c, 0, 64); return e }, wasinn.InvalidArgument},
		{"get_output after failed compute", func(h *harness) wasinn.Errno {
			c := computed(h)
			h.call = hostfuncs.NewCall(hostfuncs.Caller{QuotaBytes: h.inst.HeldBytes() - 1})
			if e := h.nn("compute", c); e != wasinn.TooLarge {
				return e
			}
			_, e := h.getOutput(c, 0, 64)
			return e
		}, wasinn.InvalidArgument},
		{"get_output index out of range", func(h *harness) wasinn.Errno { _, e := h.getOutput(computed(h), 1, 64); return e }, wasinn.InvalidArgument},
		{"get_output buffer too small", func(h *harness) wasinn.Errno { _, e := h.getOutput(computed(h), 0, 7); return e }, wasinn.TooLarge},
		{"get_output buffer just enough", func(h *harness) wasinn.Errno { _, e := h.getOutput(computed(h), 0, 8); return e }, wasinn.Success},
		{"get_output zero buffer", func(h *harness) wasinn.Errno { _, e := h.getOutput(computed(h), 0, 0); return e }, wasinn.TooLarge},
		{"get_output buffer out of bounds", func(h *harness) wasinn.Errno {
			return h.nn("get_output", computed(h), 0, memSize-4, 8, h.alloc(4))
		}, wasinn.InvalidArgument},
		{"get_output buffer max out of bounds", func(h *harness) wasinn.Errno {
			// The whole buffer must be guest memory, not just the bytes written.
			return h.nn("get_output", computed(h), 0, memSize-64, 65, h.alloc(4))
		}, wasinn.InvalidArgument},
		{"get_output bytes_written out of bounds", func(h *harness) wasinn.Errno {
			return h.nn("get_output", computed(h), 0, h.alloc(8), 8, oob)
		}, wasinn.InvalidArgument},

		// unload
		{"unload bad graph", func(h *harness) wasinn.Errno { return h.nn("unload", 0) }, wasinn.InvalidArgument},
		{"unload twice", func(h *harness) wasinn.Errno {
			g := h.load(ident)
			h.must(h.nn("unload", g), "unload")
			return h.nn("unload", g)
		}, wasinn.InvalidArgument},
		{"unload ends contexts", func(h *harness) wasinn.Errno {
			g, c := withCtx(h)
			h.must(h.nn("unload", g), "unload")
			return h.nn("set_input", c, 0, h.tensor([]uint32{2}, 1, f32x2))
		}, wasinn.InvalidArgument},
		{"unload ends outputs", func(h *harness) wasinn.Errno {
			c := computed(h)
			h.must(h.nn("unload", 0), "unload")
			_, e := h.getOutput(c, 0, 64)
			return e
		}, wasinn.InvalidArgument},
		{"unload a named graph", func(h *harness) wasinn.Errno {
			h.call = hostfuncs.NewCall(hostfuncs.Caller{Runner: newRunner()})
			g, _ := h.loadByName("echo")
			return h.nn("unload", g)
		}, wasinn.Success},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, hostfuncs.Caller{})
			if got := tc.run(h); got != tc.want {
				t.Errorf("errno %v, want %v", got, tc.want)
			}
		})
	}
}

// A module without memory gets missing_memory from every function.
func TestMissingMemory(t *testing.T) {
	runtime(t)
	ctx := context.Background()
	mod, err := env.rt.InstantiateModule(ctx, env.noMemory, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	for _, name := range wasinn.Names() {
		t.Run(name, func(t *testing.T) {
			res, err := mod.ExportedFunction("x_"+name).Call(ctx, make([]uint64, witxParams[name])...)
			is := is.New(t)
			is.NoErr(err)
			is.Equal(wasinn.Errno(res[0]), wasinn.MissingMemory)
		})
	}
}

// The host memory an instance holds is counted, returned by unload and by
// a new compute, and all of it by Release, after which its handles are
// gone; an instance closed without Release is swept later.

func TestHeldBytesAndRelease(t *testing.T) {
	is := is.New(t)
	h := newHarness(t, hostfuncs.Caller{})
	is.Equal(h.inst.HeldBytes(), int64(0))
	g := h.load(identity(tensor.Float32, 1000))
	graphBytes := h.inst.HeldBytes()
	is.True(graphBytes > 0)
	c := h.initCtx(g)
	h.must(h.nn("set_input", c, 0, h.tensor([]uint32{1000}, 1, typed(tensor.Float32, 1000))), "set_input")
	is.Equal(h.inst.HeldBytes(), graphBytes+4000)
	h.must(h.nn("set_input", c, 0, h.tensor([]uint32{1000}, 1, typed(tensor.Float32, 1000))), "set_input again")
	is.Equal(h.inst.HeldBytes(), graphBytes+4000) // replaced, not added
	h.must(h.nn("compute", c), "compute")
	is.Equal(h.inst.HeldBytes(), graphBytes+8000)
	h.must(h.nn("compute", c), "compute again")
	is.Equal(h.inst.HeldBytes(), graphBytes+8000)
	g2 := h.load(identity(tensor.Float32, 1))
	h.must(h.nn("unload", g), "unload")
	is.True(h.inst.HeldBytes() > 0)
	h.must(h.nn("unload", g2), "unload")
	is.Equal(h.inst.HeldBytes(), int64(0))

	g = h.load(identity(tensor.Float32, 1))
	h.inst.Release()
	is.Equal(h.inst.HeldBytes(), int64(0))
	is.Equal(h.nn("init_execution_context", g, h.alloc(4)), wasinn.InvalidArgument) // its graphs are gone
}
