package exec_test

import (
	"context"
	"sync"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// TestRunEntersCompute checks the executor's side of the compute policy:
// a plan compiled WithCompute hands the budget to its kernels and counts
// each run as running while its kernels execute, and only then (also when
// the run fails); a plan without one hands none.
func TestRunEntersCompute(t *testing.T) {
	is := is.New(t)
	cmp := kernels.NewCompute(2)
	defer cmp.Close()
	var seen *kernels.Compute
	var running int
	reg := ops.Default().With("test", "Probe", ops.Schema{
		Since: 1, Inputs: []ops.Param{{Name: "x", Type: "T"}}, Outputs: []ops.Param{{Name: "y", Type: "T"}},
		Types: map[string][]tensor.DType{"T": {tensor.Float32}},
		Build: func(*graph.Node, int64) (ops.Kernel, error) {
			return ops.KernelFunc(func(ctx context.Context, in, out []*tensor.Tensor) error {
				seen = ops.ComputeFrom(ctx)
				running = seen.Running()
				var err error
				out[0], err = ops.Output(ctx, out[0], in[0].DType, in[0].Shape)
				return err
			}), nil
		},
	})
	m := reluModel(&graph.Node{Name: "p", OpType: "Probe", Domain: "test", Inputs: []string{"X"}, Outputs: []string{"Y"}})
	m.Opsets["test"] = 1
	x := []tensor.Named{{Name: "X", Tensor: tensor.MustNew(tensor.Float32, tensor.Shape{2})}}

	p, err := exec.Compile(m, exec.WithRegistry(reg), exec.WithCompute(cmp))
	is.NoErr(err)
	_, err = p.Run(context.Background(), x)
	is.NoErr(err)
	is.True(seen == cmp)
	is.Equal(running, 1)                      // this run, counted while it computes
	is.Equal(cmp.Running(), 0)                // and no longer after
	_, err = p.Run(context.Background(), nil) // a missing input fails the run
	is.True(err != nil)
	is.Equal(cmp.Running(), 0)

	plain, err := exec.Compile(m, exec.WithRegistry(reg))
	is.NoErr(err)
	_, err = plain.Run(context.Background(), x)
	is.NoErr(err)
	is.True(seen == nil) // no budget: kernels run on the caller
}

// TestComputeRunsMatchSerial runs MNIST on a plan with a compute budget
// from several goroutines at once and checks the results and that every
// run left the budget.
func TestComputeRunsMatchSerial(t *testing.T) {
	cmp := kernels.NewCompute(2)
	defer cmp.Close()
	p, inputs, want := mnistPlan(t, exec.WithCompute(cmp), exec.WithMaxIdleStates(2))
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			for i := range 6 {
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
	if n := cmp.Running(); n != 0 {
		t.Errorf("%d runs still counted as running", n)
	}
}

// TestComputeSteadyStateAllocations: the budget costs a warm run one
// allocation, the context value that carries it.
func TestComputeSteadyStateAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, which allocates")
	}
	cmp := kernels.NewCompute(2)
	defer cmp.Close()
	p, inputs, _ := mnistPlan(t, exec.WithMaxIdleStates(1), exec.WithCompute(cmp))
	if _, err := p.Run(context.Background(), inputs[0]); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := p.Run(context.Background(), inputs[0]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 6 {
		t.Errorf("%v allocations per warm run", allocs)
	}
}
