package exec_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func reluModel(nodes ...*graph.Node) *graph.Model {
	m := model(14, nodes, []tensor.Named{{Name: "X", Tensor: tensor.MustFrom(tensor.Shape{2}, []float32{0, 0})}}, nil, "Y")
	return m
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name string
		m    *graph.Model
		kind fault.Kind
		msg  string
	}{
		{"unsupported op", reluModel(nd("NoSuchOp", []string{"X"}, []string{"Y"})), fault.Unsupported,
			`node "NoSuchOp_Y" (NoSuchOp): unsupported operator "NoSuchOp" (domain ai.onnx, opset 14)`},
		{"custom domain", func() *graph.Model {
			m := reluModel(&graph.Node{Name: "f", OpType: "Fused", Domain: "com.microsoft", Inputs: []string{"X"}, Outputs: []string{"Y"}})
			m.Opsets["com.microsoft"] = 1
			return m
		}(), fault.Unsupported, `unsupported operator "Fused" (domain com.microsoft, opset 1)`},
		{"undefined input", reluModel(nd("Relu", []string{"Z"}, []string{"Y"})), fault.Invalid,
			`node "Relu_Y" (Relu): input "Z" is not defined`},
		{"cycle", reluModel(
			nd("Add", []string{"X", "b"}, []string{"a"}),
			nd("Relu", []string{"a"}, []string{"b"}),
			nd("Relu", []string{"b"}, []string{"Y"})), fault.Invalid, "cycle"},
		{"self loop", reluModel(nd("Add", []string{"X", "Y"}, []string{"Y"})), fault.Invalid, "cycle"},
		{"two producers", reluModel(nd("Relu", []string{"X"}, []string{"Y"}), nd("Relu", []string{"X"}, []string{"Y"})), fault.Invalid, "produced by both"},
		{"output shadows input", reluModel(nd("Relu", []string{"X"}, []string{"X"})), fault.Invalid, "redefines"},
		{"undefined output", reluModel(nd("Relu", []string{"X"}, []string{"Z"})), fault.Invalid, `graph output "Y" is not defined`},
		{"type constraint", reluModel(nd("Conv", []string{"X", "X"}, []string{"Y"})), 0, ""},
		{"dtype refused", func() *graph.Model {
			m := reluModel(nd("Relu", []string{"X"}, []string{"Y"}))
			m.Opsets[""] = 13
			m.Graph.Inputs[0].DType = tensor.Int32
			return m
		}(), fault.Unsupported, "dtype INT32 is not supported"},
		{"mixed dtypes", func() *graph.Model {
			m := reluModel(nd("Add", []string{"X", "c"}, []string{"Y"}))
			m.Graph.Initializers = map[string]*tensor.Tensor{"c": tensor.MustFrom(tensor.Shape{1}, []int64{1})}
			return m
		}(), fault.Invalid, "must be the same type"},
		{"constant folding fails", func() *graph.Model {
			m := reluModel(nd("Add", []string{"X", "c"}, []string{"Y"}), nd("Reshape", []string{"k", "s"}, []string{"c"}))
			m.Graph.Initializers = map[string]*tensor.Tensor{
				"k": tensor.MustFrom(tensor.Shape{2}, []float32{1, 2}),
				"s": tensor.MustFrom(tensor.Shape{1}, []int64{3}),
			}
			return m
		}(), fault.Invalid, "evaluating constant inputs: node \"Reshape_c\""},
		{"no graph", &graph.Model{}, fault.Invalid, "no graph"},
		{"duplicate input", func() *graph.Model {
			m := reluModel(nd("Relu", []string{"X"}, []string{"Y"}))
			m.Graph.Inputs = append(m.Graph.Inputs, m.Graph.Inputs[0])
			return m
		}(), fault.Invalid, "declared twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			_, err := exec.Compile(tc.m)
			if tc.kind == 0 {
				is.NoErr(err)
				return
			}
			is.True(err != nil)
			is.Equal(fault.KindOf(err), tc.kind)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not contain %q", err, tc.msg)
			}
		})
	}
}

func mnistPlan(t testing.TB, opts ...exec.Option) (*exec.Plan, [][]tensor.Named, []*tensor.Tensor) {
	dir := filepath.Join(testdata, "mnist", "mnist-7")
	p := compileFile(t, filepath.Join(dir, "model.onnx"))
	if len(opts) > 0 {
		var err error
		b := mustRead(t, filepath.Join(dir, "model.onnx"))
		if p, err = exec.Compile(b, opts...); err != nil {
			t.Fatal(err)
		}
	}
	var inputs [][]tensor.Named
	var want []*tensor.Tensor
	for _, set := range []string{"test_data_set_0", "test_data_set_1", "test_data_set_2"} {
		inputs = append(inputs, []tensor.Named{{Name: "Input3", Tensor: readPB(t, filepath.Join(dir, set, "input_0.pb"))}})
		want = append(want, readPB(t, filepath.Join(dir, set, "output_0.pb")))
	}
	return p, inputs, want
}

func TestRunValidatesInputs(t *testing.T) {
	p, inputs, _ := mnistPlan(t)
	img := inputs[0][0].Tensor
	cases := []struct {
		name   string
		inputs []tensor.Named
		msg    string
	}{
		{"missing", nil, `missing input "Input3" (FP32[1,1,28,28])`},
		{"unknown", []tensor.Named{inputs[0][0], {Name: "Image", Tensor: img}}, `unknown input "Image"; the model's inputs are "Input3" FP32[1,1,28,28]`},
		{"twice", []tensor.Named{inputs[0][0], inputs[0][0]}, `input "Input3" is given twice`},
		{"dtype", []tensor.Named{{Name: "Input3", Tensor: tensor.MustNew(tensor.Float64, tensor.Shape{1, 1, 28, 28})}}, `input "Input3": expected FP32[1,1,28,28], got FP64[1,1,28,28]`},
		{"shape", []tensor.Named{{Name: "Input3", Tensor: tensor.MustNew(tensor.Float32, tensor.Shape{1, 1, 28, 29})}}, `input "Input3": expected FP32[1,1,28,28], got FP32[1,1,28,29]`},
		{"rank", []tensor.Named{{Name: "Input3", Tensor: tensor.MustNew(tensor.Float32, tensor.Shape{784})}}, `expected FP32[1,1,28,28], got FP32[784]`},
		{"nil tensor", []tensor.Named{{Name: "Input3"}}, `input "Input3": no tensor given`},
		{"bad data", []tensor.Named{{Name: "Input3", Tensor: &tensor.Tensor{DType: tensor.Float32, Shape: tensor.Shape{1, 1, 28, 28}, Data: make([]byte, 3)}}}, `input "Input3": shape`},
		{"initializer is not an input", []tensor.Named{inputs[0][0], {Name: "Parameter5", Tensor: img}}, `unknown input "Parameter5"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			_, err := p.Run(context.Background(), tc.inputs)
			is.True(err != nil)
			is.Equal(fault.KindOf(err), fault.Invalid)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not contain %q", err, tc.msg)
			}
		})
	}
	// A failed validation leaves the plan usable.
	_, err := p.Run(context.Background(), inputs[0])
	is.New(t).NoErr(err)
}

func TestSymbolicDimsAcceptAnySize(t *testing.T) {
	is := is.New(t)
	m := reluModel(nd("Relu", []string{"X"}, []string{"Y"}))
	m.Graph.Inputs[0].Dims = []graph.Dim{graph.SymbolicDim("N"), graph.FixedDim(2)}
	p, err := exec.Compile(m)
	is.NoErr(err)
	is.Equal(p.InputInfo()[0].String(), "FP32[N,2]")
	for _, n := range []int{1, 3, 0} {
		x := tensor.MustFrom(tensor.Shape{n, 2}, make([]float32, 2*n))
		out, err := p.Run(context.Background(), []tensor.Named{{Name: "X", Tensor: x}})
		is.NoErr(err)
		is.Equal([]int(out[0].Shape), []int{n, 2})
	}
	_, err = p.Run(context.Background(), []tensor.Named{{Name: "X", Tensor: tensor.MustNew(tensor.Float32, tensor.Shape{3, 3})}})
	is.Equal(fault.KindOf(err), fault.Invalid)
	is.NoErr(p.Warm(context.Background(), 2)) // not all fixed: nothing to do
	is.Equal(p.IdleStates(), 1)               // only the state the runs above left
}

func TestMisalignedInputIsCopied(t *testing.T) {
	is := is.New(t)
	p, inputs, want := mnistPlan(t)
	img := inputs[0][0].Tensor
	buf := make([]byte, len(img.Data)+1)
	copy(buf[1:], img.Data)
	shifted := &tensor.Tensor{DType: tensor.Float32, Shape: img.Shape, Data: buf[1:]}
	out, err := p.Run(context.Background(), []tensor.Named{{Name: "Input3", Tensor: shifted}})
	is.NoErr(err)
	is.NoErr(enginetest.AllClose(out[0].Tensor, want[0]))
}

// TestOutputsAreDetached checks that a later run does not overwrite the
// outputs of an earlier one.
func TestOutputsAreDetached(t *testing.T) {
	is := is.New(t)
	p, inputs, want := mnistPlan(t, exec.WithMaxIdleStates(1))
	first, err := p.Run(context.Background(), inputs[0])
	is.NoErr(err)
	for range 3 {
		_, err := p.Run(context.Background(), inputs[1])
		is.NoErr(err)
	}
	is.NoErr(enginetest.AllClose(first[0].Tensor, want[0]))
}

func TestConstantAndInputOutputsAreCopies(t *testing.T) {
	is := is.New(t)
	c := tensor.MustFrom(tensor.Shape{1}, []float32{5})
	m := reluModel(nd("Identity", []string{"X"}, []string{"Y"}))
	m.Graph.Initializers = map[string]*tensor.Tensor{"C": c}
	m.Graph.Outputs = append(m.Graph.Outputs,
		graph.ValueInfo{Name: "C", DType: tensor.Float32}, graph.ValueInfo{Name: "X", DType: tensor.Float32}, graph.ValueInfo{Name: "Y", DType: tensor.Float32})
	p, err := exec.Compile(m)
	is.NoErr(err)
	x := tensor.MustFrom(tensor.Shape{2}, []float32{1, 2})
	out, err := p.Run(context.Background(), []tensor.Named{{Name: "X", Tensor: x}})
	is.NoErr(err)
	is.Equal(len(out), 4)
	tensor.Values[float32](out[1].Tensor)[0] = 9 // the constant
	tensor.Values[float32](out[2].Tensor)[0] = 9 // the input
	tensor.Values[float32](out[3].Tensor)[0] = 9 // Y listed twice
	is.Equal(tensor.Values[float32](c)[0], float32(5))
	is.Equal(tensor.Values[float32](x)[0], float32(1))
	is.Equal(tensor.Values[float32](out[0].Tensor)[0], float32(1))
	out2, err := p.Run(context.Background(), []tensor.Named{{Name: "X", Tensor: x}})
	is.NoErr(err)
	is.Equal(tensor.Values[float32](out2[1].Tensor)[0], float32(5))
}

// cancelKernel cancels the run's context while it runs, as a caller going
// away mid-run would; countKernel counts its runs.
type cancelKernel struct{ cancel context.CancelFunc }

func (k cancelKernel) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	k.cancel()
	var err error
	out[0], err = ops.Output(ctx, out[0], in[0].DType, in[0].Shape)
	return err
}

func TestCancellationStopsBetweenNodes(t *testing.T) {
	is := is.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var after int
	unary := func(build ops.Builder) ops.Schema {
		return ops.Schema{Since: 1, Inputs: []ops.Param{{Name: "x", Type: "T"}}, Outputs: []ops.Param{{Name: "y", Type: "T"}},
			Types: map[string][]tensor.DType{"T": {tensor.Float32}}, Build: build}
	}
	reg := ops.Default().
		With("test", "Cancel", unary(func(*graph.Node, int64) (ops.Kernel, error) { return cancelKernel{cancel}, nil })).
		With("test", "Count", unary(func(*graph.Node, int64) (ops.Kernel, error) {
			return ops.KernelFunc(func(ctx context.Context, in, out []*tensor.Tensor) error {
				after++
				var err error
				out[0], err = ops.Output(ctx, out[0], in[0].DType, in[0].Shape)
				return err
			}), nil
		}))
	m := reluModel(
		&graph.Node{Name: "cancel", OpType: "Cancel", Domain: "test", Inputs: []string{"X"}, Outputs: []string{"a"}},
		&graph.Node{Name: "count", OpType: "Count", Domain: "test", Inputs: []string{"a"}, Outputs: []string{"Y"}})
	m.Opsets["test"] = 1
	p, err := exec.Compile(m, exec.WithRegistry(reg))
	is.NoErr(err)
	_, err = p.Run(ctx, []tensor.Named{{Name: "X", Tensor: tensor.MustNew(tensor.Float32, tensor.Shape{2})}})
	is.True(errors.Is(err, context.Canceled))
	is.Equal(fault.KindOf(err), fault.Canceled)
	is.True(strings.Contains(err.Error(), `before node "count"`))
	is.Equal(after, 0) // the node after the cancellation never ran
}

// TestKernelPanicIsAnError checks that a kernel bug fails the run with an
// Internal error instead of crashing, at compile time and at run time.
func TestKernelPanicIsAnError(t *testing.T) {
	is := is.New(t)
	reg := ops.Default().With("test", "Panic", ops.Schema{
		Since: 1, Inputs: []ops.Param{{Name: "x", Type: "T", Optional: true}}, Outputs: []ops.Param{{Name: "y", Type: "T"}},
		Types: map[string][]tensor.DType{"T": {tensor.Float32}},
		Build: func(*graph.Node, int64) (ops.Kernel, error) {
			return ops.KernelFunc(func(context.Context, []*tensor.Tensor, []*tensor.Tensor) error { panic("boom") }), nil
		},
	})
	m := reluModel(&graph.Node{Name: "p", OpType: "Panic", Domain: "test", Inputs: []string{"X"}, Outputs: []string{"Y"}})
	m.Opsets["test"] = 1
	p, err := exec.Compile(m, exec.WithRegistry(reg))
	is.NoErr(err)
	_, err = p.Run(context.Background(), []tensor.Named{{Name: "X", Tensor: tensor.MustNew(tensor.Float32, tensor.Shape{2})}})
	is.Equal(fault.KindOf(err), fault.Internal)
	is.True(strings.Contains(err.Error(), `node "p" (Panic): kernel panicked: boom`))
	is.Equal(p.IdleStates(), 0) // the state of a broken run is not reused

	m.Graph.Nodes[0].Inputs = nil // no inputs: evaluated at compile time
	_, err = exec.Compile(m, exec.WithRegistry(reg))
	is.Equal(fault.KindOf(err), fault.Internal)
}

func TestConcurrentRuns(t *testing.T) {
	p, inputs, want := mnistPlan(t, exec.WithMaxIdleStates(2))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			for i := range 4 {
				k := (g + i) % len(inputs)
				out, err := p.Run(context.Background(), inputs[k])
				if err == nil {
					err = enginetest.AllClose(out[0].Tensor, want[k])
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := p.IdleStates(); n > 2 {
		t.Errorf("%d idle states kept, want at most 2", n)
	}
}

func TestWarmAndMemoryAccounting(t *testing.T) {
	is := is.New(t)
	p, inputs, want := mnistPlan(t, exec.WithMaxIdleStates(3))
	is.Equal(p.WorkingBytes(), int64(0))
	// Initializers as held after compile: the MatMul weights reshaped once
	// (Parameter193 is dropped), the shape only that reshape used too. The
	// two convolutions' filters are held packed for the GEMM kernels
	// instead of as given (the same sizes), or as given on the portable
	// variant, which packs nothing.
	is.Equal(p.WeightsBytes(), int64(800+32+12800+64+16+10240+40))
	is.NoErr(p.Warm(context.Background(), 5))
	is.Equal(p.IdleStates(), 3) // bounded by WithMaxIdleStates
	wb := p.WorkingBytes()
	// The value buffers are the memory plan's: what the plan predicted,
	// less than one buffer per intermediate, as the intermediates of one
	// inference do not all live at once; the first convolution's output
	// (8×28×28) and the pooling of it (8×14×14) do.
	r := p.Report()
	is.Equal(r.ArenaBytes, r.PlannedBytes)
	is.True(r.ArenaBytes >= 4*(8*784+8*196))
	is.True(r.ArenaBytes < r.NaiveBytes)
	is.True(wb > r.ArenaBytes) // and the kernels' scratch
	out, err := p.Run(context.Background(), inputs[2])
	is.NoErr(err)
	is.NoErr(enginetest.AllClose(out[0].Tensor, want[2]))
	is.Equal(p.WorkingBytes(), wb) // a warm state does not grow
	info := p.InputInfo()
	info[0].Name = "changed"
	is.Equal(p.InputInfo()[0].Name, "Input3") // callers get copies
	is.Equal(p.OutputInfo()[0].String(), "FP32[1,10]")
}

// TestSteadyStateAllocations checks that a warm run allocates only what it
// hands out (the output list and the output tensor's header, shape and
// data) and the context that carries its scratch: nothing per node.
func TestSteadyStateAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, which allocates")
	}
	p, inputs, _ := mnistPlan(t, exec.WithMaxIdleStates(1))
	if _, err := p.Run(context.Background(), inputs[0]); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := p.Run(context.Background(), inputs[0]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 5 {
		t.Errorf("%v allocations per warm run", allocs)
	}
}

// A model whose constants expand past the fold budget fails to compile
// with TooLarge; within it, the same model compiles.
func TestFoldBudget(t *testing.T) {
	is := is.New(t)
	m := reluModel(nd("ConstantOfShape", []string{"S"}, []string{"Z"}), nd("Identity", []string{"X"}, []string{"Y"}))
	m.Graph.Initializers = map[string]*tensor.Tensor{"S": tensor.MustFrom(tensor.Shape{2}, []int64{1 << 14, 1 << 14})} // 1 GiB of float32
	m.Graph.Outputs = append(m.Graph.Outputs, graph.ValueInfo{Name: "Z", DType: tensor.Float32})
	_, err := exec.Compile(m, exec.WithFoldBudget(64<<20))
	is.Equal(fault.KindOf(err), fault.TooLarge)
	m.Graph.Initializers["S"] = tensor.MustFrom(tensor.Shape{2}, []int64{16, 16})
	_, err = exec.Compile(m, exec.WithFoldBudget(64<<20))
	is.NoErr(err)
}
