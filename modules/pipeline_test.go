package modules

import (
	"context"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
	"github.com/wasmgate/wasmgate/tests/wasmgen"
)

func echoStage(t *testing.T, rt *Runtime, desc string) Stage {
	t.Helper()
	s, err := NewWasmStage(context.Background(), compile(t, rt, wasmgen.Guest{Description: desc}), PoolConfig{Size: 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPipelineBindsByPosition(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	rt := newTestRuntime(t)
	// Echo stages return what they get, so each declares its output under
	// its input's name; b only sees "in" because the pipeline renames.
	a := echoStage(t, rt, `{"abi":1,"inputs":[{"name":"x","datatype":"FP32","shape":[-1]}],"outputs":[{"name":"x","datatype":"FP32","shape":[-1]}]}`)
	b := echoStage(t, rt, `{"abi":1,"inputs":[{"name":"in","datatype":"FP32","shape":[3]}],"outputs":[{"name":"in","datatype":"FP32","shape":[3]}]}`)
	p, err := NewPipeline(a, b)
	is.NoErr(err)
	defer p.Close(ctx)
	is.Equal(p.Inputs()[0].Name, "x")
	is.Equal(p.Outputs()[0].Name, "in")
	out, err := p.Run(ctx, xs(1, 2, 3))
	is.NoErr(err)
	is.Equal(out[0].Name, "in")
	is.Equal(tensor.Values[float32](out[0].Tensor), []float32{1, 2, 3})
	is.True(p.MemoryBytes() > 0)

	// Stage b takes shape [3]; a passes 2 elements through from the request.
	_, err = p.Run(ctx, xs(1, 2))
	is.Equal(fault.KindOf(err), fault.Invalid)
	is.True(strings.Contains(err.Error(), "stage test cannot take"))
}

func TestPipelineRejectsMismatchedStages(t *testing.T) {
	rt := newTestRuntime(t)
	cases := []struct {
		name, from, to, msg string
	}{
		{"dtype", `{"abi":1,"inputs":[],"outputs":[{"name":"o","datatype":"FP32","shape":[1]}]}`,
			`{"abi":1,"inputs":[{"name":"i","datatype":"INT64","shape":[1]}],"outputs":[]}`, "INT64"},
		{"shape", `{"abi":1,"inputs":[],"outputs":[{"name":"o","datatype":"FP32","shape":[2,3]}]}`,
			`{"abi":1,"inputs":[{"name":"i","datatype":"FP32","shape":[3,2]}],"outputs":[]}`, "shape"},
		{"count", `{"abi":1,"inputs":[],"outputs":[{"name":"o","datatype":"FP32","shape":[1]}]}`,
			`{"abi":1,"inputs":[],"outputs":[]}`, "takes 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			from, to := echoStage(t, rt, c.from), echoStage(t, rt, c.to)
			defer from.Close(context.Background())
			defer to.Close(context.Background())
			_, err := NewPipeline(from, to)
			is.Equal(fault.KindOf(err), fault.Invalid)
			is.True(strings.Contains(err.Error(), c.msg))
		})
	}
}

func TestCheckInputs(t *testing.T) {
	decl := []abi.TensorSpec{
		{Name: "image", DType: tensor.Bytes, Shape: []int64{1}, Optional: true},
		{Name: "pixels", DType: tensor.Float32, Shape: []int64{1, -1}, Optional: true},
		{Name: "k", DType: tensor.Int64, Shape: []int64{}},
	}
	k := tensor.Named{Name: "k", Tensor: tensor.MustFrom(tensor.Shape{}, []int64{3})}
	px := func(shape ...int) tensor.Named {
		return tensor.Named{Name: "pixels", Tensor: tensor.MustNew(tensor.Float32, shape)}
	}
	cases := []struct {
		name string
		in   []tensor.Named
		msg  string
	}{
		{"ok", []tensor.Named{k, px(1, 5)}, ""},
		{"only required", []tensor.Named{k}, ""},
		{"missing required", []tensor.Named{px(1, 5)}, `missing input "k"`},
		{"unknown", []tensor.Named{k, {Name: "z", Tensor: tensor.MustNew(tensor.Float32, tensor.Shape{1})}}, `unexpected input "z"`},
		{"twice", []tensor.Named{k, k}, "twice"},
		{"dtype", []tensor.Named{{Name: "k", Tensor: tensor.MustNew(tensor.Float32, tensor.Shape{})}}, "datatype FP32"},
		{"rank", []tensor.Named{k, px(5)}, "shape [5]"},
		{"fixed dim", []tensor.Named{k, px(2, 5)}, "shape [2 5]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			err := CheckInputs(decl, c.in)
			if c.msg == "" {
				is.NoErr(err)
				return
			}
			is.Equal(fault.KindOf(err), fault.Invalid)
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
		})
	}
}

// A stage that returns other tensors than it declares is broken, and the
// caller is told so rather than handed them.
func TestPipelineRejectsUndeclaredOutputs(t *testing.T) {
	is := is.New(t)
	rt := newTestRuntime(t)
	s := echoStage(t, rt, `{"abi":1,"inputs":[{"name":"x","datatype":"FP32","shape":[-1]}],"outputs":[{"name":"y","datatype":"FP32","shape":[-1]}]}`)
	p, err := NewPipeline(s)
	is.NoErr(err)
	defer p.Close(context.Background())
	_, err = p.Run(context.Background(), xs(1))
	is.Equal(fault.KindOf(err), fault.ModuleFault)
	is.True(strings.Contains(err.Error(), "it declares y"))
}
