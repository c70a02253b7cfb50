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
// image, so the convolution's check between images does not help), and
// one of 16×16 images, whose static size takes the Winograd path, on a
// batch of 256 (its threads take ranges of tile rows across images).
func TestCancelStopsInsideKernel(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("runs second-long kernels, which the race detector makes far longer")
	}
	r := rand.New(rand.NewPCG(3, 4))
	cases := []cancelCase{matmulCancelCase(r), convCancelCase(r), convWinogradCancelCase(r)}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			cmp := kernels.NewCompute(runtime.GOMAXPROCS(0))
			defer cmp.Close()
			p, err := exec.Compile(c.model, exec.WithCompute(cmp), exec.WithMaxIdleStates(1))
			is.NoErr(err)
			if c.winograd && kernels.WinogradFast() {
				// The filters are held transformed, 16 values for 9.
				is.Equal(p.WeightsBytes(), int64(kernels.WinogradTerms*256*256*4))
			}

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
	// winograd: the convolution's plan takes the Winograd path.
	winograd bool
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

// convWinogradCancelCase is a 3×3 convolution whose input's height and
// width are fixed (16×16, 64 tiles of 2×2 outputs), so that its plan
// prepares the Winograd path (where the machine runs it).
func convWinogradCancelCase(r *rand.Rand) cancelCase {
	w, x := randArr(r, 256, 256, 3, 3), randArr(r, 1, 256, 16, 16)
	pads := graph.IntsAttr("pads", 1, 1, 1, 1)
	m := model(17, []*graph.Node{nd("Conv", []string{"X", "W"}, []string{"Y"}, pads)},
		[]tensor.Named{{Name: "X", Tensor: x.f32()}}, map[string]*tensor.Tensor{"W": w.f32()}, "Y")
	m.Graph.Inputs[0].Dims = []graph.Dim{graph.SymbolicDim("N"), graph.FixedDim(256), graph.FixedDim(16), graph.FixedDim(16)}
	return cancelCase{
		name:     "conv_winograd",
		model:    m,
		big:      []tensor.Named{{Name: "X", Tensor: modelgen.RandomFloats(tensor.Shape{256, 256, 16, 16}, -1, 1, 5)}},
		small:    []tensor.Named{{Name: "X", Tensor: x.f32()}},
		want:     func() arr { return conv3x3Pad1(x, w) },
		winograd: true,
	}
}

// conv3x3Pad1 is a 3×3 convolution of one image with padding 1 in plain
// loops: refConv, which handles every attribute, takes seconds on 151
// million multiply-adds.
func conv3x3Pad1(x, w arr) arr {
	c, h, wd, m := x.shape[1], x.shape[2], x.shape[3], w.shape[0]
	y := arr{[]int{1, m, h, wd}, make([]float64, m*h*wd)}
	for f := range m {
		out := y.v[f*h*wd:][:h*wd]
		for ch := range c {
			in, k := x.v[ch*h*wd:][:h*wd], w.v[(f*c+ch)*9:][:9]
			for oy := range h {
				for ox := range wd {
					s := 0.0
					for ky := range 3 {
						iy := oy + ky - 1
						if iy < 0 || iy >= h {
							continue
						}
						for kx := range 3 {
							if ix := ox + kx - 1; ix >= 0 && ix < wd {
								s += k[ky*3+kx] * in[iy*wd+ix]
							}
						}
					}
					out[oy*wd+ox] += s
				}
			}
		}
	}
	return y
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
