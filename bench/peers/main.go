// Command peers measures the engine against onnxruntime on whole models, in
// one run, on the same inputs and the same thread counts.
//
//	go run ./bench/peers [-runs 200] [-block 20] [-warmup 10] [-threads 1,2]
//	                     [-models mnist,resnet18,bert] [-batch-dim dynamic|fixed]
//	                     [-decomposed-layernorm] [-reference] [-settle 100ms]
//	                     [-ort-spin=false] [-ort DIR] [-keep DIR] [-profile]
//	go run ./bench/peers -check-writer ../shared/corpus/onnx-node
//
// The models are built in Go by hostfuncs/engine/modelgen (random weights,
// fixed seeds), except MNIST at batch 1, which is mnist-7 from testdata with
// its first reference input. Each is written to a temporary directory with
// onnx.WriteModel, and onnxruntime loads that file, so the bench also checks
// that onnxruntime accepts what the writer writes.
//
// onnxruntime 1.30.0 is the library from the npm package onnxruntime-node
// (installed into -ort, default bench/peers/.ort, on first use), driven
// by ortrunner (csrc/ortrunner.c), a small C program that uses onnxruntime's
// C API, so that neither side pays for a language binding. The bench
// compiles it with the system C compiler; the C header comes from an npm
// package too (see ort.go). Each case gets a fresh ortrunner process with
// one session: graph optimisation level ALL, intra_op_num_threads = T,
// inter_op_num_threads = 1, sequential execution. ortrunner times each
// session Run call with CLOCK_MONOTONIC; the bench times each Plan.Run the
// same way, in this process.
//
// Per case and thread count: 10 warm-up runs each side, one run each whose
// outputs are compared (|engine − ort| ≤ 1e-7 + 1e-3·|ort|, the ONNX
// backend-test rule; a failure is printed loudly and the bench goes on),
// then alternating blocks of -block runs (engine, ORT, ORT, engine, ...)
// until each side has made -runs runs. It prints the medians:
//
//	model=NAME batch=B threads=T wasmgate_ms=X ort_ms=Y ratio=X/Y
//
// and '#' lines for context: machine, versions, load, spread, agreement,
// and the host's state before and after each case's timed runs (how long
// a cache line takes between CPUs 0 and 1 and back: bench/internal/
// hostprobe).
// With -reference, each model is also run widened to float64 on the
// engine, and each side's distance from that nearly exact result is
// printed: which side's float32 rounding is the larger when they disagree.
// With -profile, each side's median time per node over the timed runs is
// printed too: the engine's from exec.StepTimes, onnxruntime's from its
// session profiler (ORTRUNNER_PROFILE), which costs it a microsecond or two
// per node, so the ratios of a profiled run are not the comparison's.
//
// onnxruntime's intra-op threads spin while they wait for work (its
// default, kept unless -ort-spin=false), for about 30 ms after its last
// Run on this machine. At T = 2 on two cores, that spinning took a core
// from the engine's block that followed: measured on MNIST batch 64, the
// engine's median was 1.6 ms with back-to-back blocks and 0.86 ms with a
// pause of 100 ms before each. So every block (both sides) starts after
// -settle of idleness (default 100 ms), and each side is timed on an
// otherwise idle machine. -ort-spin=false turns the spinning off
// altogether (onnxruntime's own T = 2 runs are then slower, its threads
// woken for each parallel step).
//
// Threads: the engine runs with GOMAXPROCS=T and a compute budget of T
// cores (exec.WithCompute(kernels.NewCompute(T))), the server's setup, so
// its operators split over T threads as onnxruntime's intra-op pool does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/bench/internal/hostprobe"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/modelgen"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/onnx"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// targetRatio is the goal for wasmgate_ms / ort_ms.
const targetRatio = 1.25

func main() {
	var c config
	flag.IntVar(&c.runs, "runs", 200, "timed runs per side and case (at least)")
	flag.IntVar(&c.block, "block", 20, "runs per alternating block")
	flag.IntVar(&c.warmup, "warmup", 10, "untimed warm-up runs per side and case")
	flag.DurationVar(&c.settle, "settle", 100*time.Millisecond, "idle pause before each block, longer than onnxruntime's threads spin after a run (about 30 ms)")
	ortSpin := flag.Bool("ort-spin", true, "leave onnxruntime's intra-op threads spinning while they wait for work (its default); false sets session.intra_op.allow_spinning=0")
	threads := flag.String("threads", "1,2", "comma-separated thread counts")
	models := flag.String("models", "mnist,resnet18,bert", "comma-separated models to run")
	flag.StringVar(&c.batchDim, "batch-dim", "dynamic", "generated models' batch dimension: dynamic (symbolic, as exported with dynamic_axes) or fixed")
	flag.BoolVar(&c.decomposedLN, "decomposed-layernorm", false, "build BERT with the decomposed LayerNorm (ReduceMean/Sub/Pow/...) instead of LayerNormalization")
	flag.BoolVar(&c.reference, "reference", false, "also run each model widened to float64 on the engine and print how far each side's outputs are from it")
	flag.StringVar(&c.ortDir, "ort", "", "where onnxruntime is installed (default bench/peers/.ort in the module)")
	flag.StringVar(&c.keep, "keep", "", "also write the models and inputs to this directory")
	flag.BoolVar(&c.profile, "profile", false, "also print each side's median time per node over the timed runs (the engine's exec.StepTimes, onnxruntime's session profiler); profiling slows both sides, onnxruntime's by a microsecond or two per node, so the ratios of such a run are not the comparison's")
	writerCorpus := flag.String("check-writer", "", "instead of benchmarking: round-trip every model.onnx under this directory through the writer and check onnxruntime loads each written file that it loads as published")
	flag.Parse()
	c.ortNoSpin = !*ortSpin
	for _, f := range strings.Split(*threads, ",") {
		t, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || t < 1 {
			fmt.Fprintf(os.Stderr, "peers: bad thread count %q\n", f)
			os.Exit(2)
		}
		c.threads = append(c.threads, t)
	}
	c.models = strings.Split(*models, ",")
	if c.batchDim != "dynamic" && c.batchDim != "fixed" {
		fmt.Fprintf(os.Stderr, "peers: -batch-dim must be dynamic or fixed\n")
		os.Exit(2)
	}
	var err error
	if *writerCorpus != "" {
		err = checkWriter(c, *writerCorpus)
	} else {
		err = run(c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

type config struct {
	runs, block, warmup int
	threads             []int
	models              []string
	batchDim            string
	decomposedLN        bool
	reference           bool
	profile             bool
	ortNoSpin           bool
	settle              time.Duration
	ortDir, keep        string
	root                string // the module root
}

// benchCase is one model at one batch size.
type benchCase struct {
	model string
	batch int
	about string
	build func(c config) (*graph.Model, error)
	input func(c config) ([]tensor.Named, error)
}

// genBatch is the batch argument for a generated model.
func (c config) genBatch(batch int) int {
	if c.batchDim == "dynamic" {
		return modelgen.Dynamic
	}
	return batch
}

func cases() []benchCase {
	bert := func(batch int) benchCase {
		return benchCase{
			model: "bert", batch: batch,
			about: "modelgen.BERTEncoder(SmallBERT): 4 layers, hidden 256, 4 heads, FFN 1024, seq 128, vocab 1000, attention_mask, Erf GELU, LayerNorm per -decomposed-layernorm",
			build: func(c config) (*graph.Model, error) {
				cfg := modelgen.SmallBERT()
				cfg.Batch = c.genBatch(batch)
				cfg.DecomposedLayerNorm = c.decomposedLN
				return modelgen.BERTEncoder(cfg)
			},
			input: func(c config) ([]tensor.Named, error) {
				return modelgen.RandomBERTInputs(modelgen.SmallBERT(), batch, 2), nil
			},
		}
	}
	return []benchCase{
		{
			model: "mnist", batch: 1,
			about: "mnist-7 from testdata (trained weights, fixed batch 1), input test_data_set_0",
			build: func(c config) (*graph.Model, error) {
				b, err := os.ReadFile(filepath.Join(c.root, "testdata", "mnist", "mnist-7", "model.onnx"))
				if err != nil {
					return nil, err
				}
				return onnx.ReadModel(b)
			},
			input: func(c config) ([]tensor.Named, error) {
				b, err := os.ReadFile(filepath.Join(c.root, "testdata", "mnist", "mnist-7", "test_data_set_0", "input_0.pb"))
				if err != nil {
					return nil, err
				}
				t, err := onnx.ReadTensor(b)
				return []tensor.Named{{Name: modelgen.MNISTInput, Tensor: t}}, err
			},
		},
		{
			model: "mnist", batch: 64,
			about: "modelgen.MNIST: mnist-7's graph with random weights and a batch dimension (reshape to [-1,256] when dynamic)",
			build: func(c config) (*graph.Model, error) { return modelgen.MNIST(c.genBatch(64), 1), nil },
			input: func(c config) ([]tensor.Named, error) {
				return []tensor.Named{modelgen.RandomMNISTInput(64, 2)}, nil
			},
		},
		{
			model: "resnet18", batch: 1,
			about: "modelgen.ResNet18: torchvision resnet18, BN folded into Conv, 224x224",
			build: func(c config) (*graph.Model, error) { return modelgen.ResNet18(c.genBatch(1), 1), nil },
			input: func(c config) ([]tensor.Named, error) {
				return []tensor.Named{modelgen.RandomResNet18Input(1, 2)}, nil
			},
		},
		bert(1),
		bert(8),
	}
}

// engineOptions are the exec options for T threads: a compute budget of
// T cores, which the operators split their work over as the server's
// shared budget lets them (a lone request gets every core).
func engineOptions(cmp *kernels.Compute) []exec.Option {
	return []exec.Option{exec.WithCompute(cmp)}
}

func run(c config) error {
	var err error
	if c.root, err = moduleRoot(); err != nil {
		return err
	}
	if c.ortDir == "" {
		c.ortDir = filepath.Join(c.root, "bench", "peers", ".ort")
	}
	ort, err := setupORT(c.ortDir, os.Stdout)
	if err != nil {
		return err
	}
	ort.noSpin = c.ortNoSpin
	dir, err := os.MkdirTemp("", "wasmgate-peers-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if c.keep != "" {
		if err := os.MkdirAll(c.keep, 0o755); err != nil {
			return err
		}
	}

	ortVersion, ortAPI, engineFloor, ortFloor, err := probe(ort, dir)
	if err != nil {
		return err
	}
	fmt.Printf("# cpu=%q cores=%d go=%s %s/%s wasmgate_sgemm=%s\n",
		cpuModel(), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, kernels.SgemmVariant())
	fmt.Printf("# ort=%s from npm %s, driven through its C API (API version %s, header from npm %s) by ortrunner\n",
		ortVersion, ortPackage, ortAPI, headerPackage)
	fmt.Printf("# ort: graph_optimization_level=ALL intra_op_num_threads=T inter_op_num_threads=1 sequential allow_spinning=%v; engine: exec.Plan.Run with exec.WithCompute(kernels.NewCompute(T)), GOMAXPROCS=T\n", !c.ortNoSpin)
	fmt.Printf("# per-run floor (a one-node Identity model on one float, median of 1000): wasmgate %.2f us, ort %.2f us\n",
		float64(engineFloor)/1e3, float64(ortFloor)/1e3)
	fmt.Printf("# runs: %d warm-ups, then median of %d runs per side in alternating blocks of %d, each after %v idle; generated models' batch dimension: %s; BERT LayerNorm decomposed: %v\n",
		c.warmup, roundUp(c.runs, c.block), c.block, c.settle, c.batchDim, c.decomposedLN)
	fmt.Printf("# load before: %s\n", loadavg())
	fmt.Printf("# round trip: a cache line's between CPUs 0 and 1 and back, before and after each case's timed runs (bench/internal/hostprobe); on the 2-vCPU machines of bench/RESULTS.md 80-160 ns while the host is quiet, 360-480 ns while it has the vCPUs on different core complexes, where two-thread runs are slower\n")

	met, total, mismatches := 0, 0, 0
	for _, bc := range cases() {
		if !slices.Contains(c.models, bc.model) {
			continue
		}
		fmt.Printf("# %s batch %d: %s\n", bc.model, bc.batch, bc.about)
		m, err := bc.build(c)
		if err != nil {
			return fmt.Errorf("%s: %w", bc.model, err)
		}
		inputs, err := bc.input(c)
		if err != nil {
			return fmt.Errorf("%s inputs: %w", bc.model, err)
		}
		caseDir := filepath.Join(dir, fmt.Sprintf("%s-b%d", bc.model, bc.batch))
		files, modelPath, err := writeCase(caseDir, m, inputs)
		if err != nil {
			return err
		}
		if c.keep != "" {
			if err := copyDir(caseDir, filepath.Join(c.keep, filepath.Base(caseDir))); err != nil {
				return err
			}
		}
		for _, t := range c.threads {
			r, err := measure(c, ort, bc, m, modelPath, caseDir, inputs, files, t)
			if err != nil {
				return fmt.Errorf("%s batch %d threads %d: %w", bc.model, bc.batch, t, err)
			}
			total++
			if r.ratio <= targetRatio {
				met++
			}
			if !r.agree {
				mismatches++
			}
		}
	}
	fmt.Printf("# target ratio <= %.2f met on %d of %d cases; outputs disagreed on %d\n", targetRatio, met, total, mismatches)
	fmt.Printf("# load after: %s\n", loadavg())
	return nil
}

// writeCase writes the model (with the writer under test) and its inputs.
func writeCase(dir string, m *graph.Model, inputs []tensor.Named) ([]namedFile, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	b, err := onnx.WriteModel(m)
	if err != nil {
		return nil, "", fmt.Errorf("writing the model: %w", err)
	}
	modelPath := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(modelPath, b, 0o644); err != nil {
		return nil, "", err
	}
	var files []namedFile
	for i, in := range inputs {
		p := filepath.Join(dir, fmt.Sprintf("input_%d.bin", i))
		if err := writeTensorFile(p, in.Tensor); err != nil {
			return nil, "", err
		}
		files = append(files, namedFile{in.Name, p})
	}
	return files, modelPath, nil
}

type result struct {
	ratio float64
	agree bool
}

func measure(c config, ort ortSetup, bc benchCase, m *graph.Model, modelPath, dir string, inputs []tensor.Named, files []namedFile, threads int) (result, error) {
	prev := runtime.GOMAXPROCS(threads)
	defer runtime.GOMAXPROCS(prev)
	cmp := kernels.NewCompute(threads)
	defer cmp.Close()
	p, err := exec.Compile(m, engineOptions(cmp)...)
	if err != nil {
		return result{}, fmt.Errorf("engine compile: %w", err)
	}
	ctx := context.Background()
	engine := func() (time.Duration, []tensor.Named, error) {
		t0 := time.Now()
		out, err := p.Run(ctx, inputs)
		return time.Since(t0), out, err
	}
	var steps exec.StepTimes
	if c.profile {
		ort.profile = filepath.Join(dir, fmt.Sprintf("ort-profile-t%d", threads))
	}
	sess, err := startORT(ort, modelPath, threads, dir, files)
	if err != nil {
		return result{}, err
	}
	defer sess.close()

	var mine []tensor.Named
	for range c.warmup {
		if _, mine, err = engine(); err != nil {
			return result{}, fmt.Errorf("engine: %w", err)
		}
	}
	if _, err := sess.run(c.warmup); err != nil {
		return result{}, err
	}
	theirs, err := sess.dump()
	if err != nil {
		return result{}, err
	}
	agree := compare(bc, threads, mine, theirs)
	if c.reference {
		ref, err := float64Reference(m, inputs)
		if err != nil {
			fmt.Printf("#   float64 reference model=%s: not available: %v\n", bc.model, err)
		} else {
			printReferenceErrors(bc, threads, ref, mine, theirs)
		}
	}

	if c.profile { // the timed runs only
		ctx = exec.WithStepTimes(ctx, &steps)
	}
	rtBefore := roundTrip()
	var we, wo []time.Duration
	for blk := 0; len(we) < c.runs || len(wo) < c.runs; blk++ {
		ortFirst := blk%2 == 1 // engine, ORT, ORT, engine, engine, ...
		for side := range 2 {
			time.Sleep(c.settle)
			if (side == 0) == ortFirst {
				d, err := sess.run(c.block)
				if err != nil {
					return result{}, err
				}
				wo = append(wo, d...)
				continue
			}
			for range c.block {
				d, _, err := engine()
				if err != nil {
					return result{}, fmt.Errorf("engine: %w", err)
				}
				we = append(we, d)
			}
		}
	}
	rtAfter := roundTrip()
	mw, mo := ms(quantile(we, 0.5)), ms(quantile(wo, 0.5))
	ratio := mw / mo
	fmt.Printf("model=%s batch=%d threads=%d wasmgate_ms=%.3f ort_ms=%.3f ratio=%.2f\n", bc.model, bc.batch, threads, mw, mo, ratio)
	fmt.Printf("#   p10/p90 ms: wasmgate %.3f/%.3f ort %.3f/%.3f; %d runs each; engine working set %.1f MB; load %s; round trip before/after %s/%s\n",
		ms(quantile(we, 0.1)), ms(quantile(we, 0.9)), ms(quantile(wo, 0.1)), ms(quantile(wo, 0.9)), len(we),
		float64(p.WorkingBytes())/(1<<20), loadavg(), rtBefore, rtAfter)
	if c.profile {
		ortNodes, err := sess.profile()
		if err != nil {
			return result{}, err
		}
		printProfile(bc, threads, &steps, ortNodes)
	}
	return result{ratio: ratio, agree: agree}, nil
}

// printProfile prints each side's median time per node (-profile).
func printProfile(bc benchCase, threads int, mine *exec.StepTimes, theirs []nodeTime) {
	fmt.Printf("#   profile model=%s batch=%d threads=%d: median us per run of each node, in run order\n", bc.model, bc.batch, threads)
	var sum time.Duration
	for i, name := range mine.Steps {
		d := quantile(mine.Times[i], 0.5)
		sum += d
		fmt.Printf("#     wasmgate %9.1f  %s\n", float64(d)/1e3, name)
	}
	fmt.Printf("#     wasmgate %9.1f  (sum of the medians)\n", float64(sum)/1e3)
	sum = 0
	for _, n := range theirs {
		sum += n.median
		fmt.Printf("#     ort      %9.1f  %s (%s)\n", float64(n.median)/1e3, n.name, n.op)
	}
	fmt.Printf("#     ort      %9.1f  (sum of the medians)\n", float64(sum)/1e3)
}

// compare checks the engine's outputs against onnxruntime's with the ONNX
// rule and prints the largest errors.
func compare(bc benchCase, threads int, mine []tensor.Named, theirs []*tensor.Tensor) bool {
	if len(mine) != len(theirs) {
		fmt.Printf("# !!! MISMATCH model=%s batch=%d threads=%d: engine gave %d outputs, onnxruntime %d\n", bc.model, bc.batch, threads, len(mine), len(theirs))
		return false
	}
	ok := true
	for i, want := range theirs {
		got := mine[i].Tensor
		absErr, relErr, worst, scale := errorStats(got, want)
		status := "ok"
		if err := enginetest.AllClose(got, want); err != nil {
			status = "FAIL: " + err.Error()
			ok = false
		}
		fmt.Printf("#   check model=%s batch=%d threads=%d output=%s shape=%v: max|ort|=%.3g max_abs_err=%.2e (%.1e of max|ort|) max_rel_err=%.2e worst_err/allowed=%.3f %s\n",
			bc.model, bc.batch, threads, mine[i].Name, []int(want.Shape), scale, absErr, absErr/scale, relErr, worst, status)
		if !ok {
			fmt.Printf("# !!! MISMATCH model=%s batch=%d threads=%d: the engine and onnxruntime disagree beyond |d| <= 1e-7 + 1e-3*|ort|\n", bc.model, bc.batch, threads)
		}
	}
	return ok
}

// errorStats returns the largest absolute error, the largest relative
// error (over elements where onnxruntime's value is not zero), the largest
// ratio of an error to what the rule allows at that element, and the
// largest magnitude of onnxruntime's values (the scale the absolute error
// compares to).
func errorStats(got, want *tensor.Tensor) (absErr, relErr, worst, scale float64) {
	if got == nil || !got.Shape.Equal(want.Shape) || got.DType != want.DType || !want.DType.IsFloat() {
		return math.NaN(), math.NaN(), math.NaN(), math.NaN()
	}
	for i := range want.Len() {
		g, w := got.Float64At(i), want.Float64At(i)
		d := math.Abs(g - w)
		absErr = max(absErr, d)
		if w != 0 {
			relErr = max(relErr, d/math.Abs(w))
		}
		worst = max(worst, d/(enginetest.ATol+enginetest.RTol*math.Abs(w)))
		scale = max(scale, math.Abs(w))
	}
	return absErr, relErr, worst, scale
}

// probe starts ortrunner once on a one-node model (Identity of one
// float) to learn the library's version, and times that model on both
// sides: the fixed cost of one run.
func probe(o ortSetup, dir string) (version, api string, engineFloor, ortFloor time.Duration, err error) {
	m := &graph.Model{IRVersion: modelgen.IRVersion, Opsets: map[string]int64{"": modelgen.Opset}, Graph: &graph.Graph{
		Inputs:  []graph.ValueInfo{{Name: "x", DType: tensor.Float32, Dims: []graph.Dim{graph.FixedDim(1)}}},
		Outputs: []graph.ValueInfo{{Name: "y", DType: tensor.Float32, Dims: []graph.Dim{graph.FixedDim(1)}}},
		Nodes:   []*graph.Node{{OpType: "Identity", Inputs: []string{"x"}, Outputs: []string{"y"}}},
	}}
	inputs := []tensor.Named{{Name: "x", Tensor: tensor.MustFrom(tensor.Shape{1}, []float32{1})}}
	files, path, err := writeCase(filepath.Join(dir, "probe"), m, inputs)
	if err != nil {
		return "", "", 0, 0, err
	}
	s, err := startORT(o, path, 1, filepath.Join(dir, "probe"), files)
	if err != nil {
		return "", "", 0, 0, err
	}
	defer s.close()
	if _, err := s.run(100); err != nil {
		return "", "", 0, 0, err
	}
	d, err := s.run(1000)
	if err != nil {
		return "", "", 0, 0, err
	}
	p, err := exec.Compile(m)
	if err != nil {
		return "", "", 0, 0, err
	}
	var mine []time.Duration
	for i := range 1100 {
		t0 := time.Now()
		if _, err := p.Run(context.Background(), inputs); err != nil {
			return "", "", 0, 0, err
		}
		if i >= 100 {
			mine = append(mine, time.Since(t0))
		}
	}
	return s.version, s.api, quantile(mine, 0.5), quantile(d, 0.5), nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// quantile is the q-quantile of the durations (nearest rank).
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	if q == 0.5 && len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func roundUp(n, to int) int { return (n + to - 1) / to * to }

// moduleRoot walks up from the working directory to the go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the wasmgate module: run from the repository")
		}
		dir = parent
	}
}

var modelName = regexp.MustCompile(`(?m)^model name\s*:\s*(.+)$`)

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	m := modelName.FindSubmatch(b)
	if m == nil {
		return "unknown"
	}
	s := string(m[1])
	if strings.Contains(string(b), " avx512f") {
		s += ", AVX-512"
	}
	return s
}

// roundTrip is hostprobe.RoundTrip between CPUs 0 and 1, as "N ns", or
// why there is none. It lends the probe the second P it needs where a
// one-thread case has GOMAXPROCS=1.
func roundTrip() string {
	if runtime.NumCPU() < 2 {
		return "n/a (one CPU)"
	}
	if prev := runtime.GOMAXPROCS(0); prev < 2 {
		runtime.GOMAXPROCS(2)
		defer runtime.GOMAXPROCS(prev)
	}
	ns, err := hostprobe.RoundTrip(0, 1, 50000)
	if err != nil {
		return fmt.Sprintf("n/a (%v)", err)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
