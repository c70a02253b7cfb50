package exec_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/device"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/modelgen"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// bertModel builds a generated BERT encoder, failing the test on error.
func bertModel(t testing.TB, c modelgen.BERTConfig) *graph.Model {
	m, err := modelgen.BERTEncoder(c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMemoryPlan checks the arena memory plan of the generated models:
// every intermediate gets a size from shape inference, the buffers the
// plan shares hold at most half of what one buffer per intermediate would
// (both from the inferred shapes at the batch size run), and a run holds
// the planned bytes in its value buffers.
func TestMemoryPlan(t *testing.T) {
	small := modelgen.SmallBERT() // symbolic batch, LayerNormalization
	decomposed := small
	decomposed.DecomposedLayerNorm = true
	dynSeq := small
	dynSeq.DynamicSeq, dynSeq.TokenTypes = true, true
	cases := []struct {
		name   string
		model  func(t testing.TB) *graph.Model
		inputs func(batch int) []tensor.Named
		batch  int
		dims   map[string]int64
		opts   []exec.Option
	}{
		{"bert/batch=1", func(t testing.TB) *graph.Model { return bertModel(t, small) },
			func(b int) []tensor.Named { return modelgen.RandomBERTInputs(small, b, 1) }, 1, nil, nil},
		{"bert/batch=8", func(t testing.TB) *graph.Model { return bertModel(t, small) },
			func(b int) []tensor.Named { return modelgen.RandomBERTInputs(small, b, 1) }, 8, nil, nil},
		{"bert/batch=8/unfused", func(t testing.TB) *graph.Model { return bertModel(t, small) },
			func(b int) []tensor.Named { return modelgen.RandomBERTInputs(small, b, 1) }, 8, nil, []exec.Option{exec.WithoutFusion()}},
		{"bert-decomposed-layernorm/batch=2", func(t testing.TB) *graph.Model { return bertModel(t, decomposed) },
			func(b int) []tensor.Named { return modelgen.RandomBERTInputs(decomposed, b, 1) }, 2, nil, []exec.Option{exec.WithoutFusion()}},
		{"bert-dynamic-sequence/batch=2", func(t testing.TB) *graph.Model { return bertModel(t, dynSeq) },
			func(b int) []tensor.Named { return modelgen.RandomBERTInputs(dynSeq, b, 1) }, 2,
			map[string]int64{"sequence_length": int64(dynSeq.Seq)}, []exec.Option{exec.WithoutFusion()}},
		{"resnet18/batch=1", func(testing.TB) *graph.Model { return modelgen.ResNet18(modelgen.Dynamic, 1) },
			func(b int) []tensor.Named { return []tensor.Named{modelgen.RandomResNet18Input(b, 2)} }, 1, nil, nil},
		{"resnet18/batch=1/unfused", func(testing.TB) *graph.Model { return modelgen.ResNet18(modelgen.Dynamic, 1) },
			func(b int) []tensor.Named { return []tensor.Named{modelgen.RandomResNet18Input(b, 2)} }, 1, nil, []exec.Option{exec.WithoutFusion()}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			p, err := exec.Compile(c.model(t), append([]exec.Option{exec.WithMaxIdleStates(1)}, c.opts...)...)
			is.NoErr(err)
			r := p.Report()
			is.Equal(r.Unsized, 0) // every intermediate's size is inferred
			dims := map[string]int64{modelgen.BatchDim: int64(c.batch)}
			for k, v := range c.dims {
				dims[k] = v
			}
			planned, naive := p.MemoryAt(dims)
			t.Logf("%d steps, %d intermediates in %d buffers, fused %v: planned %d bytes, naive %d bytes (%.1f%%)",
				r.Steps, r.Values, r.Buffers, r.Fused, planned, naive, 100*float64(planned)/float64(naive))
			is.True(naive > 0)
			is.True(2*planned <= naive)

			_, err = p.Run(context.Background(), c.inputs(c.batch))
			is.NoErr(err)
			r = p.Report()
			t.Logf("measured after a run: %d bytes of value buffers, %d with scratch", r.ArenaBytes, r.WorkingBytes)
			is.True(r.ArenaBytes >= planned-planned/20 && r.ArenaBytes <= planned+planned/20) // the run holds what was planned
			is.Equal(r.WorkingBytes, p.WorkingBytes())
		})
	}
}

// TestFusionIsReported checks that Compile applies the fusion pass by
// default, reports it, and computes what the graph as written computes.
func TestFusionIsReported(t *testing.T) {
	is := is.New(t)
	c := modelgen.SmallBERT()
	c.Layers = 2
	m := bertModel(t, c)
	fused, err := exec.Compile(m)
	is.NoErr(err)
	plain, err := exec.Compile(m, exec.WithoutFusion())
	is.NoErr(err)
	fr, pr := fused.Report(), plain.Report()
	t.Logf("fused: %v, %d steps against %d", fr.Fused, fr.Steps, pr.Steps)
	is.Equal(len(pr.Fused), 0)
	is.Equal(fr.FusionError, "")
	total := 0
	for _, n := range fr.Fused {
		total += n
	}
	is.True(total > 0 == (fr.Steps < pr.Steps)) // a fusion removes steps

	in := modelgen.RandomBERTInputs(c, 2, 5)
	got, err := fused.Run(context.Background(), in)
	is.NoErr(err)
	want, err := plain.Run(context.Background(), in)
	is.NoErr(err)
	is.NoErr(near(got[0].Tensor, want[0].Tensor, 1e-4))
}

// countingDevice is host memory that counts what is allocated through it.
type countingDevice struct {
	device.CPU
	allocs, bytes, freed atomic.Int64
}

func (d *countingDevice) Alloc(size int) (device.Buffer, error) {
	d.allocs.Add(1)
	d.bytes.Add(int64(size))
	return d.CPU.Alloc(size)
}

func (d *countingDevice) Free(b device.Buffer) { d.freed.Add(int64(b.Size)) }

// TestDynamicBatchOnePlan runs one plan of models with a symbolic batch at
// batch sizes 1, 8 and 3: each row of a batch matches the row run alone,
// the plan's layout never changes, its buffers come from the device, and
// once they have grown to the largest batch, smaller ones allocate
// nothing.
func TestDynamicBatchOnePlan(t *testing.T) {
	bert := modelgen.SmallBERT()
	bert.Layers = 2
	cases := []struct {
		name   string
		model  func(t testing.TB) *graph.Model
		inputs func(batch int) []tensor.Named
	}{
		{"bert", func(t testing.TB) *graph.Model { return bertModel(t, bert) },
			func(b int) []tensor.Named { return modelgen.RandomBERTInputs(bert, b, 7) }},
		{"mnist", func(testing.TB) *graph.Model { return modelgen.MNIST(modelgen.Dynamic, 1) },
			func(b int) []tensor.Named { return []tensor.Named{modelgen.RandomMNISTInput(b, 7)} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			dev := &countingDevice{}
			p, err := exec.Compile(c.model(t), exec.WithDevice(dev), exec.WithMaxIdleStates(1))
			is.NoErr(err)
			before := p.Report()
			big := c.inputs(8)
			var rows []*tensor.Tensor // the output of each row run alone
			for i := range 8 {
				out, err := p.Run(context.Background(), batchRows(big, i, i+1))
				is.NoErr(err)
				rows = append(rows, out[0].Tensor)
			}
			for _, batch := range []int{8, 3} {
				allocs := dev.allocs.Load()
				out, err := p.Run(context.Background(), batchRows(big, 0, batch))
				is.NoErr(err)
				for i := range batch {
					is.NoErr(near(batchRows([]tensor.Named{out[0]}, i, i+1)[0].Tensor, rows[i], 1e-4))
				}
				if batch == 3 {
					is.Equal(dev.allocs.Load(), allocs) // buffers sized for 8 serve 3
				}
			}
			after := p.Report()
			is.Equal(after.Layout, before.Layout) // the same plan ran every batch
			is.Equal(after.Steps, before.Steps)
			is.Equal(after.Buffers, before.Buffers)
			planned, _ := p.MemoryAt(map[string]int64{modelgen.BatchDim: 8})
			is.Equal(after.ArenaBytes, planned)                  // buffers grown to the largest batch
			is.Equal(dev.bytes.Load()-dev.freed.Load(), planned) // all of them from the device
			t.Logf("%d buffers, %d device allocations, %d bytes held at batch 8", after.Buffers, dev.allocs.Load(), after.ArenaBytes)
		})
	}
}

// batchRows is rows [lo, hi) of every input's first axis, copied.
func batchRows(in []tensor.Named, lo, hi int) []tensor.Named {
	out := make([]tensor.Named, len(in))
	for i, n := range in {
		shape := append(tensor.Shape{hi - lo}, n.Shape[1:]...)
		row := len(n.Data) / n.Shape[0]
		t := &tensor.Tensor{DType: n.DType, Shape: shape, Data: append([]byte(nil), n.Data[lo*row:hi*row]...)}
		out[i] = tensor.Named{Name: n.Name, Tensor: t}
	}
	return out
}

// acceleratorDevice is a device whose memory the host cannot address.
type acceleratorDevice struct{ device.CPU }

func (acceleratorDevice) Kind() device.Kind { return device.Accelerator }

func TestDeviceMustBeHostForCPUKernels(t *testing.T) {
	is := is.New(t)
	_, err := exec.Compile(modelgen.MNIST(1, 1), exec.WithDevice(acceleratorDevice{}))
	is.Equal(fault.KindOf(err), fault.Unsupported)
}

// TestBufferGrowthIsCharged checks that the buffers the executor sizes
// ahead of the kernels are charged to the run's allocation budget, as the
// kernels' own allocations are, so a guest's quota still bounds a run.
func TestBufferGrowthIsCharged(t *testing.T) {
	is := is.New(t)
	p, err := exec.Compile(modelgen.MNIST(modelgen.Dynamic, 1), exec.WithMaxIdleStates(1))
	is.NoErr(err)
	planned, _ := p.MemoryAt(map[string]int64{modelgen.BatchDim: 64})
	ctx := ops.WithAllocBudget(context.Background(), ops.NewAllocBudget(planned/2))
	_, err = p.Run(ctx, []tensor.Named{modelgen.RandomMNISTInput(64, 1)})
	is.Equal(fault.KindOf(err), fault.TooLarge)
	is.True(!errors.Is(err, context.Canceled))
}

// near checks float32 tensors of one shape for |got − want| ≤ tol·(1 +
// |want|): results of the same maths computed in another order (fused
// kernels, another split of a batch).
func near(got, want *tensor.Tensor, tol float64) error {
	if !got.Shape.Equal(want.Shape) || got.DType != tensor.Float32 || want.DType != tensor.Float32 {
		return fmt.Errorf("got %v%v, want %v%v", got.DType, []int(got.Shape), want.DType, []int(want.Shape))
	}
	g, w := tensor.Values[float32](got), tensor.Values[float32](want)
	for i := range w {
		if d := math.Abs(float64(g[i] - w[i])); !(d <= tol*(1+math.Abs(float64(w[i])))) {
			return fmt.Errorf("element %d: got %v, want %v", i, g[i], w[i])
		}
	}
	return nil
}

// TestPackedFiltersHeldOnce checks that ResNet-18's convolution filters,
// packed for the GEMM kernels when the plan is made, are held packed
// instead of beside the filters as given: the plan's weights stay within
// a few percent of the initializers' bytes. Its outputs match a plan that
// keeps every filter as given too (each is also a graph output, so no
// convolution is its only reader), at batch 1 and then at batch 3 on the
// same plan.
func TestPackedFiltersHeldOnce(t *testing.T) {
	is := is.New(t)
	m := modelgen.ResNet18(modelgen.Dynamic, 1)
	raw := int64(0)
	for _, w := range m.Graph.Initializers {
		raw += int64(w.ByteSize())
	}
	// The 3×3 stride-1 convolutions of the 56-, 28- and 14-wide stages
	// (as many filters as channels, 64 to 256) hold their filters
	// transformed for the Winograd path instead, 16 values for 9, where
	// the machine runs it.
	want := raw
	if kernels.WinogradFast() {
		for _, n := range m.Graph.Nodes {
			if n.OpType != "Conv" {
				continue
			}
			if w := m.Graph.Initializers[n.Inputs[1]]; w != nil && len(w.Shape) == 4 &&
				w.Shape[0] == w.Shape[1] && w.Shape[0] <= 256 && w.Shape[2] == 3 && w.Shape[3] == 3 {
				want += int64(w.ByteSize()) * 7 / 9
			}
		}
	}
	p, err := exec.Compile(m)
	is.NoErr(err)
	t.Logf("initializers %d bytes, plan weights %d bytes, expected %d", raw, p.WeightsBytes(), want)
	is.True(p.WeightsBytes() <= want+raw/50)
	is.True(p.WeightsBytes() >= want-raw/50)

	kept := modelgen.ResNet18(modelgen.Dynamic, 1)
	for _, n := range kept.Graph.Nodes {
		if n.OpType == "Conv" {
			kept.Graph.Outputs = append(kept.Graph.Outputs, graph.ValueInfo{Name: n.Inputs[1], DType: tensor.Float32, UnknownRank: true})
		}
	}
	ref, err := exec.Compile(kept)
	is.NoErr(err)
	t.Logf("filters kept as given too: plan weights %d bytes", ref.WeightsBytes())
	if kernels.SgemmVariant() != "portable" {
		is.True(ref.WeightsBytes() > raw+raw/2) // filters held twice there
	}
	for _, batch := range []int{1, 3} {
		in := []tensor.Named{modelgen.RandomResNet18Input(batch, 7)}
		got, err := p.Run(context.Background(), in)
		is.NoErr(err)
		want, err := ref.Run(context.Background(), in)
		is.NoErr(err)
		is.Equal(got[0].Name, want[0].Name)
		is.NoErr(near(got[0].Tensor, want[0].Tensor, 1e-5))
	}
}
