//go:build !wasip1

package guest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/onnx"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// engineRunner serves ONNX plans by name, as the gateway serves
// repository models: inputs bound by position, other names not found.
type engineRunner struct {
	plans map[string]*exec.Plan
	runs  int
}

func (r *engineRunner) plan(name string) (*exec.Plan, error) {
	p, ok := r.plans[name]
	if !ok {
		return nil, fault.Errorf(fault.NotFound, "no model %s", name)
	}
	return p, nil
}

func (r *engineRunner) RunModel(ctx context.Context, name string, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	p, err := r.plan(name)
	if err != nil {
		return nil, err
	}
	r.runs++
	infos := p.InputInfo()
	if len(in) > len(infos) {
		return nil, fault.Errorf(fault.Invalid, "model %s takes %d inputs, got %d", name, len(infos), len(in))
	}
	var named []tensor.Named
	for i, t := range in {
		if t != nil {
			named = append(named, tensor.Named{Name: infos[i].Name, Tensor: t})
		}
	}
	outs, err := p.Run(ctx, named)
	if err != nil {
		return nil, err
	}
	res := make([]*tensor.Tensor, len(outs))
	for i, o := range outs {
		res[i] = o.Tensor
	}
	return res, nil
}

func (r *engineRunner) DescribeModel(_ context.Context, name string) (ins, outs []abi.TensorSpec, err error) {
	p, err := r.plan(name)
	if err != nil {
		return nil, nil, err
	}
	spec := func(name string, dt tensor.DType, dims []int64) abi.TensorSpec {
		return abi.TensorSpec{Name: name, DType: dt, Shape: dims}
	}
	for _, v := range p.InputInfo() {
		dims := make([]int64, len(v.Dims))
		for i, d := range v.Dims {
			dims[i] = d.Size
		}
		ins = append(ins, spec(v.Name, v.DType, dims))
	}
	for _, v := range p.OutputInfo() {
		dims := make([]int64, len(v.Dims))
		for i, d := range v.Dims {
			dims[i] = d.Size
		}
		outs = append(outs, spec(v.Name, v.DType, dims))
	}
	return ins, outs, nil
}

// undescribed hides DescribeModel: a runner that can only run models.
type undescribed struct{ r *engineRunner }

func (u undescribed) RunModel(ctx context.Context, name string, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return u.r.RunModel(ctx, name, in)
}

var mnistPlan = sync.OnceValues(func() (*exec.Plan, error) {
	b, err := os.ReadFile("../testdata/mnist/mnist-7/model.onnx")
	if err != nil {
		return nil, err
	}
	m, err := onnx.ReadModel(b)
	if err != nil {
		return nil, err
	}
	return exec.Compile(m)
})

// firstMNIST returns the first n images of the MNIST test set as FP32
// [1,1,28,28] raw pixels (0..255), and their labels.
func firstMNIST(t *testing.T, n int) ([]*tensor.Tensor, []int64) {
	t.Helper()
	read := func(name string, size int) []byte {
		f, err := os.Open("../testdata/mnist/" + name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, size)
		if _, err := io.ReadFull(zr, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	img, lab := read("t10k-images-idx3-ubyte.gz", 16+n*784), read("t10k-labels-idx1-ubyte.gz", 8+n)
	if binary.BigEndian.Uint32(img) != 2051 || binary.BigEndian.Uint32(lab) != 2049 {
		t.Fatal("not MNIST IDX files")
	}
	var images []*tensor.Tensor
	var labels []int64
	for i := range n {
		px := make([]float32, 784)
		for j, v := range img[16+784*i : 16+784*(i+1)] {
			px[j] = float32(v)
		}
		images = append(images, tensor.MustFrom(tensor.Shape{1, 1, 28, 28}, px))
		labels = append(labels, int64(lab[8+i]))
	}
	return images, labels
}

// logBuffer is a concurrency-safe buffer for a test logger.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The C wasi-nn guest classifies the first MNIST test images through
// load_by_name("mnist"), the model being the real one run by the engine,
// and every error path it checks returns the errno of the spec, under both
// tensor_type numberings.
func TestCWasiNNMnist(t *testing.T) {
	plan, err := mnistPlan()
	if err != nil {
		t.Fatal(err)
	}
	images, labels := firstMNIST(t, 5)
	is.New(t).Equal(labels, []int64{7, 2, 1, 0, 4})
	const module = "c/wasinn_mnist"

	tests := []struct {
		name   string
		config string
		inline int // the inline limit: 8 sends the pixels host-held
		checks bool
	}{
		{name: "default", inline: inlineBytes},
		{name: "host-held pixels", inline: 8},
		{name: "check errors", config: `{"check_errors": true}`, inline: inlineBytes, checks: true},
		{name: "check errors, wasmedge numbering", config: `{"check_errors": true, "wasi_nn": {"tensor_types": "wasmedge"}}`, inline: inlineBytes, checks: true},
		{name: "named explicitly", config: `{"model": "mnist", "input_index": 0, "output_index": 0}`, inline: inlineBytes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			g := newInstance(t, module)
			var logs logBuffer
			r := &engineRunner{plans: map[string]*exec.Plan{"mnist": plan}}
			caller := hostfuncs.Caller{Runner: r, Config: []byte(tc.config), Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			for i, img := range images {
				status, msg, out := g.run(t, caller, tc.inline, named("pixels", img))
				is.Equal(msg, "")
				is.Equal(status, uint32(abi.StatusOK))
				is.Equal(len(out), 1)
				is.Equal(out[0].Name, "label")
				is.Equal(out[0].DType, tensor.Int64)
				is.True(out[0].Shape.Equal(tensor.Shape{1}))
				if got := tensor.Values[int64](out[0].Tensor)[0]; got != labels[i] {
					t.Errorf("image %d: label %d, want %d", i, got, labels[i])
				}
			}
			is.Equal(r.runs, len(images)) // one compute per call, through the runner
			if tc.checks {
				if !strings.Contains(logs.String(), "wasi-nn checks:") || !strings.Contains(logs.String(), "passed") {
					t.Errorf("the guest logged no passed checks: %s", logs.String())
				}
				t.Log(strings.TrimSpace(strings.Split(logs.String(), "\n")[0]))
			}
			is.Equal(g.nn.HeldBytes() > 0, true) // the graph and its tensors stay for the next call
		})
	}
}

// The guest's checks catch a host that deviates from the spec, and its
// wasi-nn failures reach the caller as statuses naming the errno.
func TestCWasiNNMnistFailures(t *testing.T) {
	plan, err := mnistPlan()
	if err != nil {
		t.Fatal(err)
	}
	images, _ := firstMNIST(t, 1)
	r := &engineRunner{plans: map[string]*exec.Plan{"mnist": plan}}
	tests := []struct {
		name   string
		runner hostfuncs.ModelRunner
		config string
		status uint32
		msg    []string
	}{
		// Without DescribeModel a missing name is only found out at
		// compute, so load_by_name's check sees success, not not_found.
		{"checks see a lazy load_by_name", undescribed{r}, `{"check_errors": true}`, abi.StatusFailed,
			[]string{"wasi-nn checks failed (1 of ", "load_by_name missing model: got 0 (success), want 8 (not_found)"}},
		{"missing model", r, `{"model": "mnist-9"}`, abi.StatusFailed, []string{"wasi-nn load_by_name (model mnist-9): not_found"}},
		{"no runner", nil, `{}`, abi.StatusFailed, []string{"load_by_name (model mnist): not_found"}},
		{"bad input index", r, `{"input_index": 3}`, abi.StatusFailed, []string{"set_input (model mnist): invalid_argument"}},
		{"bad output index", r, `{"output_index": 1}`, abi.StatusFailed, []string{"get_output (model mnist): invalid_argument"}},
		{"bad numbering", r, `{"wasi_nn": {"tensor_types": "tflite"}}`, abi.StatusFailed, []string{"set_input (model mnist): invalid_argument"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			g := newInstance(t, "c/wasinn_mnist")
			status, msg, _ := g.run(t, hostfuncs.Caller{Runner: tc.runner, Config: []byte(tc.config)}, inlineBytes, named("pixels", images[0]))
			is.Equal(status, tc.status)
			for _, m := range tc.msg {
				if !strings.Contains(msg, m) {
					t.Errorf("message %q does not contain %q", msg, m)
				}
			}
			// The instance still classifies once the host behaves.
			status, msg, out := g.run(t, hostfuncs.Caller{Runner: r}, inlineBytes, named("pixels", images[0]))
			is.Equal(msg, "")
			is.Equal(status, uint32(abi.StatusOK))
			is.Equal(tensor.Values[int64](out[0].Tensor), []int64{7})
		})
	}
}
