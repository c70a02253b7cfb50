package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/gateway/builtin"
	"github.com/wasmgate/wasmgate/guest"
	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/onnx"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
	"github.com/wasmgate/wasmgate/modules"
)

// A model's registry key is its name for a built-in (public) model and
// "tenant/name" for a tenant's own; neither part may contain '/'.
func modelKey(tenant, name string) string {
	if tenant == "" {
		return name
	}
	return tenant + "/" + name
}

// splitKey is modelKey's inverse.
func splitKey(key string) (tenant, name string) {
	if t, n, ok := strings.Cut(key, "/"); ok {
		return t, n
	}
	return "", key
}

// model is a loaded model: its pipeline and what its metadata says.
type model struct {
	key, version string
	pipeline     *modules.Pipeline
	timeout      time.Duration // the manifest's, 0 for the server's
	platform     string
}

func (m *model) MemoryBytes() int64        { return m.pipeline.MemoryBytes() }
func (m *model) Close(ctx context.Context) { m.pipeline.Close(ctx) }
func (m *model) Inputs() []abi.TensorSpec  { return m.pipeline.Inputs() }
func (m *model) Outputs() []abi.TensorSpec { return m.pipeline.Outputs() }

// run runs the pipeline within the model's own timeout, if it has one.
func (m *model) run(ctx context.Context, in []tensor.Named) ([]tensor.Named, error) {
	if m.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.timeout)
		defer cancel()
	}
	return m.pipeline.Run(ctx, in)
}

// Platforms reported by the metadata endpoint.
const (
	platformONNX    = "wasmgate_onnx"
	platformAdapter = "wasmgate_wasm"
)

// modelDef is a model version ready to build: a built-in, or a saved
// manifest of a tenant's.
type modelDef struct {
	tenant, name string
	saved        savedModel
	onnx         []byte // a built-in's graph; stored models' come from the store
}

// loader builds models from their definitions. Compiled modules are shared
// by every model that uses them; pools and run states belong to one load.
type loader struct {
	srv      *Server
	rt       *modules.Runtime
	builtins map[string]modelDef
	poolSize int
	log      *slog.Logger

	mu       sync.Mutex
	compiled map[string]*compileOnce // by digest and memory limit
}

type compileOnce struct {
	done chan struct{}
	m    *modules.Module
	err  error
}

func newLoader(s *Server, rt *modules.Runtime, poolSize int, log *slog.Logger) (*loader, error) {
	l := &loader{srv: s, rt: rt, poolSize: poolSize, log: log, builtins: map[string]modelDef{}, compiled: map[string]*compileOnce{}}
	for _, b := range builtin.Models() {
		def := modelDef{name: b.Name, onnx: b.ONNX}
		v, err := strconv.Atoi(b.Version)
		if err != nil {
			return nil, fmt.Errorf("built-in model %s: version %q is not a number", b.Name, b.Version)
		}
		def.saved = savedModel{Version: v, Core: savedStage{ONNX: digestOf(b.ONNX)}}
		for _, st := range []struct {
			name string
			dst  **savedStage
		}{{b.Pre, &def.saved.Pre}, {b.Post, &def.saved.Post}} {
			if st.name == "" {
				continue
			}
			wasm, ok := guest.Module(st.name)
			if !ok {
				return nil, fmt.Errorf("built-in model %s: no built-in module %s", b.Name, st.name)
			}
			*st.dst = &savedStage{Module: st.name, Digest: digestOf(wasm)}
		}
		l.builtins[b.Name] = def
	}
	return l, nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// moduleBytes returns a module's binary: a built-in's from the binary, an
// upload's from the store, checked against its digest either way; trusted
// is true for a built-in.
func (l *loader) moduleBytes(name, digest string) (wasm []byte, trusted bool, err error) {
	if wasm, ok := guest.Module(name); ok && digestOf(wasm) == digest {
		return wasm, true, nil
	}
	if l.srv.store == nil {
		return nil, false, fault.Errorf(fault.NotFound, "module %s (sha256 %.12s) is not stored", name, digest)
	}
	wasm, err = l.srv.store.Blob(digest)
	return wasm, false, err
}

// module compiles a module for a memory limit once; concurrent callers wait
// for the same compilation.
func (l *loader) module(ctx context.Context, name, digest string, pages uint32) (*modules.Module, error) {
	key := digest + "/" + strconv.FormatUint(uint64(pages), 10)
	l.mu.Lock()
	c, ok := l.compiled[key]
	if !ok {
		c = &compileOnce{done: make(chan struct{})}
		l.compiled[key] = c
	}
	l.mu.Unlock()
	if ok {
		select {
		case <-c.done:
			return c.m, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	defer close(c.done)
	wasm, trusted, err := l.moduleBytes(name, digest)
	if err == nil {
		l.log.Info("compiling module", "module", name, "sha256", digest[:12], "bytes", len(wasm), "cached", l.rt.PersistentCache())
		var opts []modules.CompileOption
		if !trusted {
			opts = append(opts, modules.Untrusted())
		}
		c.m, err = l.rt.Compile(ctx, name, wasm, pages, opts...)
	}
	if err != nil {
		c.err = err
		l.mu.Lock()
		delete(l.compiled, key) // a later attempt may succeed (a timeout, a transient error)
		l.mu.Unlock()
	}
	return c.m, c.err
}

// definition finds a model version: a built-in, or a saved manifest.
func (l *loader) definition(key, version string) (modelDef, error) {
	tenant, name := splitKey(key)
	if tenant == "" {
		def, ok := l.builtins[name]
		if !ok || strconv.Itoa(def.saved.Version) != version {
			return modelDef{}, fault.Errorf(fault.NotFound, "model %s version %s is not in the repository", name, version)
		}
		return def, nil
	}
	if l.srv.store == nil {
		return modelDef{}, fault.Errorf(fault.NotFound, "model %s is not in the repository", name)
	}
	def := modelDef{tenant: tenant, name: name}
	if err := l.srv.store.Record(modelRecord(tenant, name, version), &def.saved); err != nil {
		return modelDef{}, err
	}
	return def, nil
}

// load is the registry's loader.
func (l *loader) load(ctx context.Context, key, version string) (*model, error) {
	def, err := l.definition(key, version)
	if err != nil {
		return nil, err
	}
	return l.build(ctx, def)
}

// build compiles a model's modules, makes its pools and plans its graph.
func (l *loader) build(ctx context.Context, def modelDef) (m *model, err error) {
	key := modelKey(def.tenant, def.name)
	version := strconv.Itoa(def.saved.Version)
	lim := def.saved.Limits
	pages := uint32((int64(lim.Memory) + 65535) / 65536)
	if pages == 0 {
		pages = l.rt.Limits().MemoryPages
	}
	poolSize := lim.PoolSize
	if poolSize == 0 {
		poolSize = l.poolSize
	}
	limits := modules.Limits{
		MemoryPages:    pages,
		MaxOutputBytes: int(lim.MaxOutput),
		QuotaBytes:     int64(lim.HostMemory),
		InitTimeout:    time.Duration(lim.InitTimeout),
	}
	var stages []modules.Stage
	defer func() {
		if err != nil {
			for _, s := range stages {
				s.Close(ctx)
			}
		}
	}()
	// Every model gets a runner, so a module calling a model its manifest
	// does not list is told how to fix that.
	runner := &modelRunner{srv: l.srv, tenant: def.tenant, from: def.name, calls: def.saved.Calls}
	addModule := func(where string, st *savedStage) error {
		mod, err := l.module(ctx, st.Module, st.Digest, pages)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		cfg := modules.PoolConfig{
			Size:   poolSize,
			Limits: limits,
			Caller: hostfuncs.Caller{Model: key + "/" + version, Tenant: def.tenant, Config: st.Config, Runner: runner, Logger: l.log},
		}
		// A built-in model serves every tenant: each gets its own pool.
		stage, err := modules.NewWasmStage(ctx, mod, cfg, def.tenant == "")
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		stage.OnGrow(func() { l.srv.reg.Refresh(key) })
		stages = append(stages, stage)
		return nil
	}
	if def.saved.Pre != nil {
		if err := addModule("pre", def.saved.Pre); err != nil {
			return nil, err
		}
	}
	platform := platformAdapter
	if def.saved.Core.ONNX != "" {
		platform = platformONNX
		graphBytes := def.onnx
		if graphBytes == nil {
			if graphBytes, err = l.srv.store.Blob(def.saved.Core.ONNX); err != nil {
				return nil, fmt.Errorf("core: %w", err)
			}
		}
		g, err := onnx.ReadModel(graphBytes)
		if err != nil {
			return nil, fault.Errorf(fault.KindOf(err), "core: %w", err)
		}
		plan, err := exec.Compile(g, exec.WithMaxIdleStates(poolSize), exec.WithCompute(l.srv.compute),
			// An uploaded model's constants may not expand past what the
			// model cache may hold at all.
			exec.WithFoldBudget(int64(l.srv.cfg.MemoryBudget)))
		if err != nil {
			return nil, fault.Errorf(fault.KindOf(err), "core: %w", err)
		}
		core, err := modules.NewEngineStage(ctx, def.name+".onnx", plan, poolSize)
		if err != nil {
			return nil, err
		}
		logPlan(l.log, key, version, plan.Report())
		stages = append(stages, core)
	} else if err := addModule("core", &def.saved.Core); err != nil {
		return nil, err
	}
	if def.saved.Post != nil {
		if err := addModule("post", def.saved.Post); err != nil {
			return nil, err
		}
	}
	p, err := modules.NewPipeline(stages...)
	if err != nil {
		return nil, err
	}
	return &model{key: key, version: version, pipeline: p, timeout: time.Duration(lim.Timeout), platform: platform}, nil
}

// logPlan records what the engine made of a model's graph: the memory it
// holds and plans, and the fusions applied (docs/ENGINE.md).
func logPlan(log *slog.Logger, model, version string, r exec.Report) {
	fused := make([]string, 0, len(r.Fused))
	for _, kind := range slices.Sorted(maps.Keys(r.Fused)) {
		fused = append(fused, fmt.Sprintf("%s=%d", kind, r.Fused[kind]))
	}
	attrs := []any{"model", model, "version", version, "steps", r.Steps,
		"weights_bytes", r.WeightsBytes, "planned_working_bytes", r.PlannedBytes, "naive_working_bytes", r.NaiveBytes,
		"buffers", r.Buffers, "values", r.Values, "fused", strings.Join(fused, ",")}
	if r.FusionError != "" {
		attrs = append(attrs, "fusion_error", r.FusionError)
	}
	log.Info("engine plan", attrs...)
}

// maxCallDepth bounds nested model_run calls (docs/ABI.md §6).
const maxCallDepth = 4

type depthKey struct{}

func callDepth(ctx context.Context) int { d, _ := ctx.Value(depthKey{}).(int); return d }

// modelRunner lets one model's modules run the models its manifest lists.
type modelRunner struct {
	srv    *Server
	tenant string
	from   string
	calls  []string
}

// allowed holds a model to the calls its manifest lists.
func (r *modelRunner) allowed(name string) error {
	if !slices.Contains(r.calls, name) {
		return fault.Errorf(fault.Forbidden, "model %s may not run %s: list it under \"calls\" in its manifest", r.from, name)
	}
	return nil
}

// DescribeModel lets wasi-nn's load_by_name check a name and learn the
// model's inputs and outputs, under the same rule as RunModel.
func (r *modelRunner) DescribeModel(ctx context.Context, name string) (inputs, outputs []abi.TensorSpec, err error) {
	if err := r.allowed(name); err != nil {
		return nil, nil, err
	}
	lease, err := r.srv.reg.Acquire(ctx, r.srv.resolve(r.tenant, name), "")
	if err != nil {
		return nil, nil, err
	}
	defer lease.Release()
	return lease.Model().Inputs(), lease.Model().Outputs(), nil
}

func (r *modelRunner) RunModel(ctx context.Context, name string, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := r.allowed(name); err != nil {
		return nil, err
	}
	depth := callDepth(ctx) + 1
	if depth > maxCallDepth {
		return nil, fault.Errorf(fault.Forbidden, "model calls nest deeper than %d", maxCallDepth)
	}
	lease, err := r.srv.reg.Acquire(ctx, r.srv.resolve(r.tenant, name), "")
	if err != nil {
		return nil, err
	}
	defer lease.Release()
	m := lease.Model()
	specs := m.Inputs()
	if len(in) > len(specs) {
		return nil, fault.Errorf(fault.Invalid, "model %s takes %d inputs, got %d", name, len(specs), len(in))
	}
	named := make([]tensor.Named, 0, len(in))
	for i, t := range in {
		if t != nil { // nil: an optional input left out
			named = append(named, tensor.Named{Name: specs[i].Name, Tensor: t})
		}
	}
	outs, err := m.run(context.WithValue(ctx, depthKey{}, depth), named)
	if err != nil {
		return nil, err
	}
	res := make([]*tensor.Tensor, len(outs))
	for i, o := range outs {
		res[i] = o.Tensor
	}
	return res, nil
}
