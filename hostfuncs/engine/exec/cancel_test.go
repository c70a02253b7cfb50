package exec_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/modelgen"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// TestCancelStopsInsideKernel cancels runs 20 ms into long kernels and
// checks that they return within 200 ms of the cancellation (and in a
// fifth of an uncancelled run; the first of up to three tries that does)
// with the context's error, as the GEMM and the convolution's lowering
// poll the context between blocks; that the
// run left the compute budget and gave its state back; and that the plan
// still computes correctly afterwards. The kernels: a chain of four
// 4096×4096 matrix products (over a second on two cores), and a 3×3
// convolution of one 256-channel 224×224 image to 256 channels (one
// image, so the convolution's check between images does not help).
func TestCancelStopsInsideKernel(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("runs second-long kernels, which the race detector makes far longer")
	}
	r := rand.New(rand.NewPCG(3, 4))
	cases := []cancelCase{matmulCancelCase(r), convCancelCase(r)}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			cmp := kernels.NewCompute(runtime.GOMAXPROCS(0))
			defer cmp.Close()
			p, err := exec.Compile(c.model, exec.WithCompute(cmp), exec.WithMaxIdleStates(1))
			is.NoErr(err)

			start := time.Now()
			_, err = p.Run(context.Background(), c.big)
			is.NoErr(err)
			full := time.Since(start)

			// A cancelled run is timed up to three times, and the test
			// fails only if every one returned late: on a host shared with
			// other test binaries a thread may wait tens of milliseconds
			// for a CPU (CI saw 30 ms once), while an engine that polled
			// too rarely is late every time.
			var latency time.Duration
			for try := 1; try <= 3; try++ {
				var ok bool
				latency, ok, err = cancelledRun(p, c.big)
				is.True(errors.Is(err, context.Canceled))
				is.Equal(fault.KindOf(err), fault.Canceled)
				is.True(ok) // the run was still going when cancelled
				t.Logf("uncancelled run %v; cancelled 20 ms in, returned %v after the cancellation (try %d)", full, latency, try)
				if latency < min(200*time.Millisecond, full/5) {
					break
				}
			}
			is.True(latency < 200*time.Millisecond)
			is.True(latency < full/5)   // it stopped well before the kernel's end
			is.Equal(cmp.Running(), 0)  // the run left the compute budget
			is.Equal(p.IdleStates(), 1) // and gave its state back

			out, err := p.Run(context.Background(), c.small)
			is.NoErr(err)
			is.NoErr(near(out[0].Tensor, c.want().f32(), 1e-4))
		})
	}
}

// cancelledRun runs p on in with a context cancelled 20 ms in, and
// returns how long after the cancellation the run returned, whether it was
// still going then, and its error.
func cancelledRun(p *exec.Plan, in []tensor.Named) (time.Duration, bool, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelled atomic.Int64
	timer := time.AfterFunc(20*time.Millisecond, func() {
		cancelled.Store(time.Now().UnixNano())
		cancel()
	})
	defer timer.Stop()
	_, err := p.Run(ctx, in)
	at := cancelled.Load()
	return time.Duration(time.Now().UnixNano() - at), at != 0, err
}

// cancelCase is a model with inputs for a long run, and small inputs with
// the result they must give.
type cancelCase struct {
	name  string
	model *graph.Model
	big   []tensor.Named
	small []tensor.Named
	want  func() arr
}

func matmulCancelCase(r *rand.Rand) cancelCase {
	const products, n = 4, 4096
	a, b := randArr(r, 7, 5), randArr(r, 5, 5)
	return cancelCase{
		name:  "matmul",
		model: matmulChain(products),
		big: []tensor.Named{ // B's columns sum to about 1, so the chain stays finite
			{Name: "A", Tensor: modelgen.RandomFloats(tensor.Shape{n, n}, -1, 1, 1)},
			{Name: "B", Tensor: modelgen.RandomFloats(tensor.Shape{n, n}, 0, 2.0/n, 2)},
		},
		small: []tensor.Named{{Name: "A", Tensor: a.f32()}, {Name: "B", Tensor: b.f32()}},
		want: func() arr {
			y := a
			for range products {
				y = refMatMul(y, b)
			}
			return y
		},
	}
}

func convCancelCase(r *rand.Rand) cancelCase {
	w, x := randArr(r, 256, 256, 3, 3), randArr(r, 2, 256, 5, 4)
	pads := graph.IntsAttr("pads", 1, 1, 1, 1)
	m := model(17, []*graph.Node{nd("Conv", []string{"X", "W"}, []string{"Y"}, pads)},
		[]tensor.Named{{Name: "X", Tensor: x.f32()}}, map[string]*tensor.Tensor{"W": w.f32()}, "Y")
	m.Graph.Inputs[0].Dims = []graph.Dim{graph.SymbolicDim("N"), graph.FixedDim(256), graph.SymbolicDim("H"), graph.SymbolicDim("W")}
	return cancelCase{
		name:  "conv",
		model: m,
		big:   []tensor.Named{{Name: "X", Tensor: modelgen.RandomFloats(tensor.Shape{1, 256, 224, 224}, -1, 1, 3)}},
		small: []tensor.Named{{Name: "X", Tensor: x.f32()}},
		want: func() arr {
			return refConv(x, w, nil, convParams{group: 1, strides: []int{1, 1}, pads: []int{1, 1, 1, 1}, dilation: []int{1, 1}})
		},
	}
}

// matmulChain is Y = A·B·B·…·B with the given number of products, over
// symbolic dimensions.
func matmulChain(products int) *graph.Model {
	mk, k := graph.SymbolicDim("m"), graph.SymbolicDim("k")
	g := &graph.Graph{
		Inputs: []graph.ValueInfo{
			{Name: "A", DType: tensor.Float32, Dims: []graph.Dim{mk, k}},
			{Name: "B", DType: tensor.Float32, Dims: []graph.Dim{k, k}},
		},
		Outputs: []graph.ValueInfo{{Name: "Y", DType: tensor.Float32, Dims: []graph.Dim{mk, k}}},
	}
	x := "A"
	for i := range products {
		y := fmt.Sprintf("y%d", i)
		if i == products-1 {
			y = "Y"
		}
		g.Nodes = append(g.Nodes, &graph.Node{Name: y, OpType: "MatMul", Inputs: []string{x, "B"}, Outputs: []string{y}})
		x = y
	}
	return &graph.Model{IRVersion: 8, Opsets: map[string]int64{"": 17}, Graph: g}
}
