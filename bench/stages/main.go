// Command stages measures what each Wasm stage of a pipeline costs a
// request, next to the engine called directly, for the built-in MNIST model
// (mnistpre -> mnist-8 -> mnistpost) and for a text-embedding pipeline
// (bertpre -> a 4-layer BERT-style encoder -> meanpool), in one run.
//
// Every stage runs through its instance pool exactly as a request does
// (modules.WasmStage.Run), traced with modules.WithTrace, which splits a
// call into: waiting for an execution slot and an instance; encoding the
// inputs into the ABI tensor list; copying it into guest memory; the
// guest's run (host functions included); and copying and decoding its
// output. It also counts the bytes moved and the copies of tensor data a
// request makes across the boundary. The engine row is exec.Plan.Run on the
// same tensors the pre-processing stage produced, with no Wasm at all; the
// tokenizer row runs the same Go tokenizer natively, so the difference is
// the price of running it sandboxed.
//
//	go run ./bench/stages [-n 2000] [-markdown]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/gateway/builtin"
	"github.com/wasmgate/wasmgate/guest"
	"github.com/wasmgate/wasmgate/guest/tokenize/bertvocab"
	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/modelgen"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/onnx"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
	"github.com/wasmgate/wasmgate/modules"
	"github.com/wasmgate/wasmgate/tests/wasmgen"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "stages:", err)
		os.Exit(1)
	}
}

// row is one measured line: a Wasm stage (with its trace) or a native step.
type row struct {
	pipeline, stage, kind string
	median, p90           time.Duration
	trace                 modules.TraceTotals // per call (divided), Wasm rows only
	copies                float64             // copies of tensor data per call across the boundary
}

func run() error {
	n := flag.Int("n", 2000, "timed calls per stage (after 100 warm-ups)")
	textN := flag.Int("text-n", 300, "timed calls per stage of the text pipeline, whose encoder takes milliseconds")
	markdown := flag.Bool("markdown", false, "also print the table as Markdown")
	flag.Parse()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cache, err := os.MkdirTemp("", "wasmgate-stages-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(cache)
	rt, err := modules.NewRuntime(ctx, modules.Config{CacheDir: cache, Logger: log})
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	compute := kernels.NewCompute(runtime.GOMAXPROCS(0))
	defer compute.Close()

	fmt.Printf("# stages: GOMAXPROCS=%d %s/%s %s, %s\n", runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version(), time.Now().UTC().Format(time.RFC3339))
	floor, err := floorRow(ctx, rt, *n)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	rows := []row{floor}
	mn, err := mnist(ctx, rt, compute, *n)
	if err != nil {
		return fmt.Errorf("mnist: %w", err)
	}
	rows = append(rows, mn...)
	for _, tc := range []struct{ name, text string }{
		{"text-short", "wasmgate runs your code in the request path, sandboxed."},
		{"text-128", strings.Repeat("The quick brown fox jumps over the lazy dog while the gateway keeps serving. ", 12)},
	} {
		tx, err := text(ctx, rt, compute, tc.name, tc.text, *textN)
		if err != nil {
			return fmt.Errorf("%s: %w", tc.name, err)
		}
		rows = append(rows, tx...)
	}
	for _, r := range rows {
		fmt.Println(r.line())
	}
	summary(rows)
	if *markdown {
		printMarkdown(rows)
	}
	return nil
}

// floorRow times a pooled call of the smallest possible module: an echo
// written directly in Wasm (no language runtime), on MNIST's logits. What a
// Go guest costs above it is its runtime and the SDK's codec.
func floorRow(ctx context.Context, rt *modules.Runtime, n int) (row, error) {
	mod, err := rt.Compile(ctx, "echo", wasmgen.Guest{}.Bytes(), 0)
	if err != nil {
		return row{}, err
	}
	p, err := modules.NewPool(ctx, mod, modules.PoolConfig{Size: 1})
	if err != nil {
		return row{}, err
	}
	defer p.Close(ctx)
	in := []tensor.Named{{Name: "x", Tensor: tensor.MustNew(tensor.Float32, tensor.Shape{1, 10})}}
	var tr modules.Trace
	tctx := modules.WithTrace(ctx, &tr)
	for range 100 {
		if _, err := p.Call(tctx, in); err != nil {
			return row{}, err
		}
	}
	tr.Reset()
	t := timeIt(n, func() error { _, err := p.Call(tctx, in); return err })
	if t.err != nil {
		return row{}, t.err
	}
	r := row{pipeline: "floor", stage: "echo written in Wasm (no runtime)", kind: "wasm", median: t.median, p90: t.p90, trace: perCall(tr.Totals())}
	r.copies = copiesPerCall(r.trace)
	return r, nil
}

func mnist(ctx context.Context, rt *modules.Runtime, compute *kernels.Compute, n int) ([]row, error) {
	m := builtin.Models()[0]
	g, err := onnx.ReadModel(m.ONNX)
	if err != nil {
		return nil, err
	}
	plan, err := exec.Compile(g, exec.WithCompute(compute))
	if err != nil {
		return nil, err
	}
	png, err := os.ReadFile("testdata/mnist/8_28x28.png")
	if err != nil {
		return nil, fmt.Errorf("%w (run from the repository root)", err)
	}
	in := []tensor.Named{{Name: "image", Tensor: &tensor.Tensor{DType: tensor.Bytes, Shape: tensor.Shape{1}, Strings: [][]byte{png}}}}
	return measurePipeline(ctx, rt, plan, "mnist", m.Pre, m.Post, nil, in, n)
}

func text(ctx context.Context, rt *modules.Runtime, compute *kernels.Compute, name, s string, n int) ([]row, error) {
	cfg := modelgen.BERTConfig{Layers: 4, Hidden: 256, Heads: 4, FFN: 1024, Seq: 16, Vocab: 30522, MaxPositions: 512,
		AttentionMask: true, TokenTypes: true, DynamicSeq: true, Seed: 11}
	g, err := modelgen.BERTEncoder(cfg)
	if err != nil {
		return nil, err
	}
	plan, err := exec.Compile(g, exec.WithCompute(compute))
	if err != nil {
		return nil, err
	}
	in := []tensor.Named{{Name: "text", Tensor: &tensor.Tensor{DType: tensor.Bytes, Shape: tensor.Shape{1}, Strings: [][]byte{[]byte(s)}}}}
	rows, err := measurePipeline(ctx, rt, plan, name, "bertpre", "meanpool", nil, in, n)
	if err != nil {
		return nil, err
	}
	// The same tokenizer, compiled natively.
	tok, err := bertvocab.NewUncased()
	if err != nil {
		return nil, err
	}
	native := timeIt(n, func() error {
		ids := tok.Encode(s, 128)
		t := make([]int64, 3*len(ids))
		for i, id := range ids {
			t[i], t[len(ids)+i] = int64(id), 1
		}
		return nil
	})
	rows = slices.Insert(rows, 1, row{pipeline: name, stage: "bertpre (same Go code, native)", kind: "native", median: native.median, p90: native.p90})
	return rows, nil
}

// measurePipeline times pre, the engine and post one after another on the
// tensors each hands the next, then the whole pipeline.
func measurePipeline(ctx context.Context, rt *modules.Runtime, plan *exec.Plan, name, pre, post string, config []byte, in []tensor.Named, n int) ([]row, error) {
	preStage, err := wasmStage(ctx, rt, pre, config)
	if err != nil {
		return nil, err
	}
	defer preStage.Close(ctx)
	postStage, err := wasmStage(ctx, rt, post, nil)
	if err != nil {
		return nil, err
	}
	defer postStage.Close(ctx)
	core, err := modules.NewEngineStage(ctx, name+".onnx", plan, 1)
	if err != nil {
		return nil, err
	}
	pipe, err := modules.NewPipeline(preStage, core, postStage)
	if err != nil {
		return nil, err
	}

	var rows []row
	stages := []modules.Stage{preStage, core, postStage}
	cur := in
	for i, st := range stages {
		var out []tensor.Named
		call := func(ctx context.Context) error {
			var err error
			out, err = st.Run(ctx, cur)
			return err
		}
		r := row{pipeline: name, stage: st.Name(), kind: "wasm"}
		if i == 1 {
			r.kind, r.stage = "engine", "engine direct (exec.Plan.Run)"
		}
		var tr modules.Trace
		tctx := modules.WithTrace(ctx, &tr)
		for range 100 {
			if err := call(tctx); err != nil {
				return nil, fmt.Errorf("%s: %w", st.Name(), err)
			}
		}
		tr.Reset()
		t := timeIt(n, func() error { return call(tctx) })
		if t.err != nil {
			return nil, fmt.Errorf("%s: %w", st.Name(), t.err)
		}
		r.median, r.p90 = t.median, t.p90
		if r.kind == "wasm" {
			r.trace = perCall(tr.Totals())
			r.copies = copiesPerCall(r.trace)
		}
		rows = append(rows, r)
		// The next stage takes these outputs by position, as the pipeline
		// binds them.
		cur = slices.Clone(out)
		if i+1 < len(stages) {
			for j := range cur {
				cur[j].Name = stages[i+1].Inputs()[j].Name
			}
		}
	}
	whole := timeIt(n, func() error { _, err := pipe.Run(ctx, in); return err })
	if whole.err != nil {
		return nil, whole.err
	}
	rows = append(rows, row{pipeline: name, stage: "whole pipeline (modules.Pipeline.Run)", kind: "pipeline", median: whole.median, p90: whole.p90})
	return rows, nil
}

func wasmStage(ctx context.Context, rt *modules.Runtime, name string, config []byte) (*modules.WasmStage, error) {
	wasm, ok := guest.Module(name)
	if !ok {
		return nil, fmt.Errorf("no built module %q", name)
	}
	mod, err := rt.Compile(ctx, name, wasm, 0)
	if err != nil {
		return nil, err
	}
	return modules.NewWasmStage(ctx, mod, modules.PoolConfig{
		Size:   1,
		Caller: hostfuncs.Caller{Module: name, Model: "bench/1", Config: config},
	}, false)
}

type timing struct {
	median, p90 time.Duration
	err         error
}

// timeIt calls f n times and returns the median and 90th percentile.
func timeIt(n int, f func() error) timing {
	d := make([]time.Duration, n)
	for i := range d {
		start := time.Now()
		if err := f(); err != nil {
			return timing{err: err}
		}
		d[i] = time.Since(start)
	}
	slices.Sort(d)
	return timing{median: d[n/2], p90: d[n*9/10]}
}

// perCall divides a trace's totals by its call count.
func perCall(t modules.TraceTotals) modules.TraceTotals {
	c := max(t.Calls, 1)
	div := func(d time.Duration) time.Duration { return d / time.Duration(c) }
	return modules.TraceTotals{
		Calls: 1, Wait: div(t.Wait), Encode: div(t.Encode), CopyIn: div(t.CopyIn), Guest: div(t.Guest), CopyOut: div(t.CopyOut),
		InBytes: t.InBytes / int64(c), OutBytes: t.OutBytes / int64(c), HeldIn: t.HeldIn / c,
		InPayload: t.InPayload / int64(c), OutPayload: t.OutPayload / int64(c),
		HostFunctions: hostfuncs.Transfers{
			Reads: t.HostFunctions.Reads / c, ReadBytes: t.HostFunctions.ReadBytes / int64(c),
			Puts: t.HostFunctions.Puts / c, PutBytes: t.HostFunctions.PutBytes / int64(c),
		},
	}
}

// copiesPerCall counts the copies of tensor data one call makes across the
// boundary: inline inputs are copied twice (into the host's list buffer,
// then into guest memory; the guest SDK reads them in place), outputs twice
// (the guest encodes its list, the host decodes it out of guest memory),
// and each tensor_read or tensor_put once.
func copiesPerCall(t modules.TraceTotals) float64 {
	c := 0.0
	if t.InPayload > 0 {
		c += 2
	}
	if t.OutPayload > 0 {
		c += 2
	}
	return c + float64(t.HostFunctions.Reads+t.HostFunctions.Puts)
}

func us(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Microsecond)) }

func (r row) line() string {
	s := fmt.Sprintf("pipeline=%s stage=%q kind=%s median_us=%s p90_us=%s", r.pipeline, r.stage, r.kind, us(r.median), us(r.p90))
	if r.kind == "wasm" {
		t := r.trace
		s += fmt.Sprintf(" wait_us=%s encode_us=%s copy_in_us=%s guest_us=%s copy_out_us=%s in_list_bytes=%d out_list_bytes=%d held_in=%d tensor_read_bytes=%d copies=%.0f",
			us(t.Wait), us(t.Encode), us(t.CopyIn), us(t.Guest), us(t.CopyOut), t.InBytes, t.OutBytes, t.HeldIn, t.HostFunctions.ReadBytes, r.copies)
	}
	return s
}

// summary prints, per pipeline, the Wasm stages' share of a request and the
// part of it that is boundary overhead rather than the guests' own work.
func summary(rows []row) {
	byPipe := map[string][]row{}
	var order []string
	for _, r := range rows {
		if _, ok := byPipe[r.pipeline]; !ok {
			order = append(order, r.pipeline)
		}
		byPipe[r.pipeline] = append(byPipe[r.pipeline], r)
	}
	for _, p := range order {
		if p == "floor" {
			continue
		}
		var engine, whole, wasm, boundary time.Duration
		for _, r := range byPipe[p] {
			switch r.kind {
			case "engine":
				engine = r.median
			case "pipeline":
				whole = r.median
			case "wasm":
				wasm += r.median
				t := r.trace
				boundary += t.Wait + t.Encode + t.CopyIn + t.CopyOut
			}
		}
		fmt.Printf("pipeline=%s engine_direct_us=%s wasm_stages_us=%s boundary_us=%s whole_us=%s whole_over_engine=%.2f\n",
			p, us(engine), us(wasm), us(boundary), us(whole), ratio(whole, engine))
	}
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func printMarkdown(rows []row) {
	fmt.Println()
	fmt.Println("| pipeline | stage | median µs | p90 µs | wait | encode | copy in | guest | copy out | list in/out bytes | tensor_read bytes | data copies |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		if r.kind != "wasm" {
			fmt.Printf("| %s | %s | %s | %s | | | | | | | | |\n", r.pipeline, r.stage, us(r.median), us(r.p90))
			continue
		}
		t := r.trace
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d / %d | %d | %.0f |\n", r.pipeline, r.stage, us(r.median), us(r.p90),
			us(t.Wait), us(t.Encode), us(t.CopyIn), us(t.Guest), us(t.CopyOut), t.InBytes, t.OutBytes, t.HostFunctions.ReadBytes, r.copies)
	}
}
