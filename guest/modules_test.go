//go:build !wasip1

package guest_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/matryer/is"
	"github.com/tetratelabs/wazero"

	"github.com/wasmgate/wasmgate/guest"
	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
	"github.com/wasmgate/wasmgate/hostfuncs/wasinn"
	"github.com/wasmgate/wasmgate/tests/wasmgen"
)

// Every import of every built module is one docs/ABI.md allows, and the
// doc's host functions are the host's.
func TestImportsWithinABI(t *testing.T) {
	wasmgate, wasi := abiImports(t)
	is.New(t).Equal(slices.Sorted(slices.Values(wasmgate)), slices.Sorted(slices.Values(hostfuncs.Names())))
	for _, name := range append(guest.CNames(), guest.Names()...) {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			c := compiled(t, name)
			for _, f := range c.ImportedFunctions() {
				mod, fn, _ := f.Import()
				switch mod {
				case abi.ImportModule:
					is.True(slices.Contains(wasmgate, fn)) // a wasmgate function of §5.3
				case "wasi_snapshot_preview1":
					is.True(slices.Contains(wasi, fn)) // a WASI function of §8
				case wasinn.ModuleName:
					is.True(strings.HasPrefix(name, guest.CPrefix+"wasinn_")) // only the wasi-nn guests
					is.True(slices.Contains(wasinn.Names(), fn))              // a function of docs/WASI-NN.md
				default:
					t.Errorf("%s imports %s.%s, from a module §8 does not allow", name, mod, fn)
				}
			}
			is.Equal(len(c.ImportedMemories()), 0)
			_, ok := c.ExportedMemories()[abi.ExportMemory]
			is.True(ok)
			if strings.HasPrefix(name, guest.CPrefix) {
				// Exactly the ABI's exports: nothing of libc leaks out.
				var fns []string
				for n := range c.ExportedFunctions() {
					fns = append(fns, n)
				}
				slices.Sort(fns)
				is.Equal(fns, []string{abi.ExportInitialize, abi.ExportABIVersion, abi.ExportDescribe, abi.ExportInput, abi.ExportOutput, abi.ExportRun})
				is.Equal(len(c.ExportedMemories()), 1)
			}
		})
	}
}

// A module that imports a host function the host does not have fails to
// instantiate, and the error names the function (docs/ABI.md §7).
func TestUnknownHostImport(t *testing.T) {
	tests := []struct {
		module, name string
		want         []string // what the error must name
	}{
		{abi.ImportModule, "no_such_function", []string{"wasmgate", "no_such_function"}},
		{abi.ImportModule, "tensor_reshape", []string{"wasmgate", "tensor_reshape"}},
		{"wasmgate_v2", "log", []string{"wasmgate_v2"}},
	}
	for _, tc := range tests {
		t.Run(tc.module+"."+tc.name, func(t *testing.T) {
			is := is.New(t)
			var m wasmgen.Module
			f := m.ImportFunc(tc.module, tc.name, []wasmgen.ValType{wasmgen.I32}, []wasmgen.ValType{wasmgen.I32})
			m.Export("f", m.Func([]wasmgen.ValType{wasmgen.I32}, []wasmgen.ValType{wasmgen.I32}, nil, wasmgen.LocalGet(0), wasmgen.Call(f)))
			m.Memory(1, 0)
			_, err := runtime(t).InstantiateModule(context.Background(), mustCompile(t, m.Bytes()), wazero.NewModuleConfig().WithName(""))
			is.True(err != nil)
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

func mustCompile(t *testing.T, b []byte) wazero.CompiledModule {
	t.Helper()
	c, err := runtime(t).CompileModule(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The C modules describe themselves as their Go twins do.
func TestCDescriptions(t *testing.T) {
	for _, name := range []string{"mnistpost", "mnistadapter"} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			is.Equal(newInstance(t, guest.CPrefix+name).describe(t), newInstance(t, name).describe(t))
		})
	}
}

// allclose is the tolerance used everywhere in wasmgate.
func allclose(got, want float64) bool { return math.Abs(got-want) <= 1e-7+1e-3*math.Abs(want) }

func softmax64(x []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	out := make([]float64, len(x))
	var s float64
	for i, v := range x {
		out[i] = math.Exp(float64(v) - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

// The C mnistpost gives the Go one's label and probabilities on the same
// logits, and the same answers to bad input.
func TestCMnistPostMatchesGo(t *testing.T) {
	goPost, cPost := newInstance(t, "mnistpost"), newInstance(t, "c/mnistpost")
	logits := func(v ...float32) tensor.Named {
		return named("logits", tensor.MustFrom(tensor.Shape{1, 10}, v))
	}
	ok := []struct {
		name   string
		in     tensor.Named
		inline int
	}{
		{"clear winner", logits(-2.1, 0.4, 1.3, 9.7, -0.2, 2.2, -4, 0.9, 3.3, 1.1), inlineBytes},
		{"close call", logits(0, 0, 0, 0, 0, 0, 0, 1e-3, 0, 0), inlineBytes},
		{"large magnitudes", logits(-500, 800, 790, 0, 0, 0, 0, 0, 0, 805), inlineBytes},
		{"uniform: the first wins", logits(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), inlineBytes},
		{"ties after the first", logits(1, 5, 5, 5, 1, 1, 1, 1, 1, 1), inlineBytes},
		{"tiny and huge", logits(-3e38, 3e38, 1e-38, -1e-38, 0, 88, 89, -88, 1, 2), inlineBytes},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			gs, gmsg, gout := goPost.run(t, hostfuncs.Caller{}, tc.inline, tc.in)
			cs, cmsg, cout := cPost.run(t, hostfuncs.Caller{}, tc.inline, tc.in)
			is.Equal(gmsg, "")
			is.Equal(cmsg, "")
			is.Equal(gs, uint32(abi.StatusOK))
			is.Equal(cs, uint32(abi.StatusOK))
			is.Equal(len(cout), 2)
			is.Equal(cout[0].Name, "label")
			is.Equal(cout[0].DType, tensor.Int64)
			is.True(cout[0].Shape.Equal(tensor.Shape{1}))
			is.Equal(tensor.Values[int64](cout[0].Tensor), tensor.Values[int64](gout[0].Tensor))
			is.Equal(cout[1].Name, "probabilities")
			is.True(cout[1].Shape.Equal(tensor.Shape{1, 10}))
			got, want := tensor.Values[float32](cout[1].Tensor), tensor.Values[float32](gout[1].Tensor)
			exact := softmax64(tensor.Values[float32](tc.in.Tensor))
			for i := range want {
				if !allclose(float64(got[i]), float64(want[i])) || !allclose(float64(got[i]), exact[i]) {
					t.Errorf("p[%d]: C %v, Go %v, exact %v", i, got[i], want[i], exact[i])
				}
			}
		})
	}

	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	bad := []struct {
		name   string
		in     []tensor.Named
		status uint32
	}{
		{"NaN", []tensor.Named{logits(0, 1, nan, 3, 4, 5, 6, 7, 8, 9)}, abi.StatusFailed},
		{"+Inf", []tensor.Named{logits(inf, 1, 2, 3, 4, 5, 6, 7, 8, 9)}, abi.StatusFailed},
		{"-Inf", []tensor.Named{logits(0, 1, 2, 3, 4, 5, 6, 7, 8, -inf)}, abi.StatusFailed},
		{"missing", nil, abi.StatusInvalid},
		{"unknown", []tensor.Named{logits(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), named("extra", tensor.MustFrom(tensor.Shape{1}, []float32{1}))}, abi.StatusInvalid},
		{"dtype", []tensor.Named{named("logits", tensor.MustNew(tensor.Float64, tensor.Shape{1, 10}))}, abi.StatusInvalid},
		{"shape", []tensor.Named{named("logits", tensor.MustNew(tensor.Float32, tensor.Shape{1, 3}))}, abi.StatusInvalid},
		{"rank", []tensor.Named{named("logits", tensor.MustNew(tensor.Float32, tensor.Shape{10}))}, abi.StatusInvalid},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			gs, gmsg, _ := goPost.run(t, hostfuncs.Caller{}, inlineBytes, tc.in...)
			cs, cmsg, _ := cPost.run(t, hostfuncs.Caller{}, inlineBytes, tc.in...)
			is.Equal(gs, tc.status)
			is.Equal(cs, tc.status)
			is.Equal(cmsg, gmsg) // the same message, word for word
		})
	}
	// The C module also takes its logits host-held, should the inline
	// limit be tiny (the Go one reads them inline only, so that it imports
	// nothing but log).
	t.Run("host-held", func(t *testing.T) {
		is := is.New(t)
		in := logits(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
		s, msg, out := cPost.run(t, hostfuncs.Caller{}, 8, in)
		is.Equal(msg, "")
		is.Equal(s, uint32(abi.StatusOK))
		is.Equal(tensor.Values[int64](out[0].Tensor), []int64{9})
		for i, want := range softmax64(tensor.Values[float32](in.Tensor)) {
			is.True(allclose(float64(tensor.Values[float32](out[1].Tensor)[i]), want))
		}
	})
	// Both instances still answer after all that.
	s, msg, _ := cPost.run(t, hostfuncs.Caller{}, inlineBytes, logits(0, 1, 2, 3, 4, 5, 6, 7, 8, 9))
	is.New(t).Equal(msg, "")
	is.New(t).Equal(s, uint32(abi.StatusOK))
}

// The C module's side of the ABI edges the Go SDK covers in
// hostfuncs/abi's TestGuestContract, and memory that stays flat over many
// calls.
func TestCContract(t *testing.T) {
	is := is.New(t)
	g := newInstance(t, "c/mnistpost")
	ctx := context.Background()
	p, err := g.call(ctx, abi.ExportInput, 1<<31)
	is.NoErr(err)
	is.Equal(p, uint64(0)) // no buffer this large

	send := func(list []byte) (uint64, string) {
		p, err := g.call(ctx, abi.ExportInput, uint64(len(list)))
		is.NoErr(err)
		is.True(p != 0 && p%8 == 0)
		is.True(g.mod.Memory().Write(uint32(p), list))
		s, err := g.call(ctx, abi.ExportRun, p, uint64(len(list)))
		is.NoErr(err)
		out, err := g.output(ctx)
		is.NoErr(err)
		return s, string(out)
	}
	for _, tc := range []struct {
		list []byte
		want string
	}{
		{[]byte("WGTL\x05\x00\x00\x00 not a list"), "malformed input list"},
		{[]byte("WGTL\x01\x00\x00\x00\x01\x00\x00\x00x\x01\x00\x00\x80\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), "handle 0"},
		{[]byte("XXXX\x00\x00\x00\x00"), "magic"},
	} {
		s, out := send(tc.list)
		is.Equal(s, uint64(abi.StatusFailed))
		if !strings.Contains(out, tc.want) {
			t.Errorf("message %q does not contain %q", out, tc.want)
		}
	}
	p, err = g.call(ctx, abi.ExportInput, 64)
	is.NoErr(err)
	s, err := g.call(ctx, abi.ExportRun, p+8, 64)
	is.NoErr(err)
	is.Equal(s, uint64(abi.StatusFailed))
	out, err := g.output(ctx)
	is.NoErr(err)
	is.True(strings.Contains(string(out), "not within the buffer"))

	in := named("logits", tensor.MustFrom(tensor.Shape{1, 10}, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}))
	start := g.mod.Memory().Size()
	for i := range 20_000 {
		if s, msg, _ := g.run(t, hostfuncs.Caller{}, inlineBytes, in); s != abi.StatusOK {
			t.Fatalf("call %d: status %d: %s", i, s, msg)
		}
	}
	t.Logf("c/mnistpost: memory %d pages before and %d after 20,000 calls", start/65536, g.mod.Memory().Size()/65536)
	is.Equal(g.mod.Memory().Size(), start) // nothing leaks
}

// runner stands in for the server's model runner: it records what it was
// given and returns out.
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

// Both adapters run mnist through model_run and return its outputs by
// handle: the very tensors the runner made.
func TestAdapters(t *testing.T) {
	img := &tensor.Tensor{DType: tensor.Bytes, Shape: tensor.Shape{1}, Strings: [][]byte{[]byte("a PNG, as far as the adapter knows")}}
	pix := tensor.MustNew(tensor.Float32, tensor.Shape{1, 1, 28, 28})
	tests := []struct {
		name   string
		in     []tensor.Named
		inline int
		out    []*tensor.Tensor
		err    error
		status uint32
		msg    string // substring of the message when not OK
		sent   []*tensor.Tensor
	}{
		{name: "image", in: []tensor.Named{named("image", img)}, inline: inlineBytes, out: mnistOutputs(), sent: []*tensor.Tensor{img}},
		{name: "image held", in: []tensor.Named{named("image", img)}, inline: 1, out: mnistOutputs(), sent: []*tensor.Tensor{img}},
		{name: "both", in: []tensor.Named{named("pixels", pix), named("image", img)}, inline: inlineBytes, out: mnistOutputs(), sent: []*tensor.Tensor{img, pix}},
		{name: "both held", in: []tensor.Named{named("pixels", pix), named("image", img)}, inline: 1, out: mnistOutputs(), sent: []*tensor.Tensor{img, pix}},
		{name: "model refuses", in: []tensor.Named{named("image", img)}, inline: inlineBytes, err: fault.Errorf(fault.Invalid, "image: corrupt PNG"),
			status: abi.StatusInvalid, msg: "mnist: image: corrupt PNG"},
		{name: "not in calls", in: []tensor.Named{named("image", img)}, inline: inlineBytes, err: fault.Errorf(fault.Forbidden, "mnist is not in calls"),
			status: abi.StatusFailed, msg: "mnist is not in calls (EDENIED)"},
		{name: "no such model", in: []tensor.Named{named("image", img)}, inline: inlineBytes, err: fault.Errorf(fault.NotFound, "no model mnist"),
			status: abi.StatusFailed, msg: "(ENOTFOUND)"},
		{name: "one output", in: []tensor.Named{named("image", img)}, inline: inlineBytes, out: mnistOutputs()[:1],
			status: abi.StatusFailed, msg: "mnist returned 1 outputs, want 2"},
		{name: "output shape", in: []tensor.Named{named("image", img)}, inline: inlineBytes,
			out:    []*tensor.Tensor{mnistOutputs()[0], tensor.MustNew(tensor.Float32, tensor.Shape{10})},
			status: abi.StatusFailed, msg: `output "probabilities": shape is [10], want [1 10]`},
		{name: "output dtype", in: []tensor.Named{named("image", img)}, inline: inlineBytes,
			out:    []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1}, []int32{8}), mnistOutputs()[1]},
			status: abi.StatusFailed, msg: `output "label": datatype is INT32, want INT64`},
		{name: "unknown input", in: []tensor.Named{named("img", img)}, inline: inlineBytes,
			status: abi.StatusInvalid, msg: `unknown input "img" (this module takes "image", "pixels")`},
		{name: "input dtype", in: []tensor.Named{named("pixels", tensor.MustNew(tensor.Float64, tensor.Shape{1, 1, 28, 28}))}, inline: inlineBytes,
			status: abi.StatusInvalid, msg: `input "pixels": datatype is FP64, want FP32`},
	}
	for _, module := range []string{"mnistadapter", "c/mnistadapter"} {
		g := newInstance(t, module) // one instance for every case: failures must not spoil it
		for _, tc := range tests {
			t.Run(module+"/"+tc.name, func(t *testing.T) {
				is := is.New(t)
				r := &runner{out: tc.out, err: tc.err}
				status, msg, out := g.run(t, hostfuncs.Caller{Runner: r}, tc.inline, tc.in...)
				is.Equal(status, tc.status)
				if tc.status != abi.StatusOK {
					if !strings.Contains(msg, tc.msg) {
						t.Fatalf("message %q does not contain %q", msg, tc.msg)
					}
					return
				}
				is.Equal(msg, "")
				is.Equal(r.name, "mnist")
				is.Equal(len(r.in), len(tc.sent))
				for i, want := range tc.sent {
					is.True(r.in[i] != nil)
					is.Equal(r.in[i].DType, want.DType)
					is.True(r.in[i].Shape.Equal(want.Shape))
					if want.DType == tensor.Bytes {
						is.Equal(r.in[i].Strings, want.Strings)
					}
					if tc.inline < inlineBytes {
						is.True(r.in[i] == want) // a held input passes on by handle, never copied
					}
				}
				is.Equal(len(out), 2)
				is.Equal(out[0].Name, "label")
				is.Equal(out[1].Name, "probabilities")
				is.True(out[0].Tensor == tc.out[0]) // by handle: the runner's own tensors
				is.True(out[1].Tensor == tc.out[1])
			})
		}
	}
}

// Only "pixels", mnist's second input, goes to model_run as the handles
// (0, pixels): docs/ABI.md §5.3 makes 0 an omitted optional input.
func TestAdaptersPixelsOnly(t *testing.T) {
	pix := tensor.MustNew(tensor.Float32, tensor.Shape{1, 1, 28, 28})
	for _, module := range []string{"mnistadapter", "c/mnistadapter"} {
		t.Run(module, func(t *testing.T) {
			is := is.New(t)
			r := &runner{out: mnistOutputs()}
			status, msg, out := newInstance(t, module).run(t, hostfuncs.Caller{Runner: r}, inlineBytes, named("pixels", pix))
			is.Equal(msg, "")
			is.Equal(status, uint32(abi.StatusOK))
			is.Equal(len(r.in), 2)
			is.True(r.in[0] == nil)
			is.True(r.in[1] != nil)
			is.True(out[0].Tensor == r.out[0])
		})
	}
}
