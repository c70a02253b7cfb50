package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/wasmgate/wasmgate/gateway/builtin"
	"github.com/wasmgate/wasmgate/guest"
	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/onnx"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/modules"
)

// model is a loaded model: its pipeline and what its metadata says.
type model struct {
	name, version string
	pipeline      *modules.Pipeline
}

func (m *model) MemoryBytes() int64        { return m.pipeline.MemoryBytes() }
func (m *model) Close(ctx context.Context) { m.pipeline.Close(ctx) }
func (m *model) Inputs() []abi.TensorSpec  { return m.pipeline.Inputs() }
func (m *model) Outputs() []abi.TensorSpec { return m.pipeline.Outputs() }

// platform is what the metadata endpoint reports as the model's framework.
const platform = "wasmgate_onnx"

// loader builds models from their definitions. Modules are compiled once
// per process and shared by every model that uses them; pools and run states
// belong to one load of one model.
type loader struct {
	rt       *modules.Runtime
	defs     map[string]builtin.Model
	poolSize int
	log      *slog.Logger

	mu       sync.Mutex
	compiled map[string]*modules.Module
}

func newLoader(rt *modules.Runtime, defs []builtin.Model, poolSize int, log *slog.Logger) *loader {
	l := &loader{rt: rt, defs: map[string]builtin.Model{}, poolSize: poolSize, log: log, compiled: map[string]*modules.Module{}}
	for _, d := range defs {
		l.defs[d.Name] = d
	}
	return l
}

// module compiles an embedded module on first use.
func (l *loader) module(ctx context.Context, name string) (*modules.Module, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m, ok := l.compiled[name]; ok {
		return m, nil
	}
	wasm, ok := guest.Module(name)
	if !ok {
		return nil, fault.Errorf(fault.NotFound, "no module named %q", name)
	}
	l.log.Info("compiling module", "module", name, "bytes", len(wasm), "cached", l.rt.PersistentCache())
	m, err := l.rt.Compile(ctx, name, wasm)
	if err != nil {
		return nil, err
	}
	l.compiled[name] = m
	return m, nil
}

func (l *loader) load(ctx context.Context, name, version string) (m *model, err error) {
	def, ok := l.defs[name]
	if !ok || def.Version != version {
		return nil, fault.Errorf(fault.NotFound, "model %s version %s is not in the repository", name, version)
	}
	var stages []modules.Stage
	defer func() {
		if err != nil {
			for _, s := range stages {
				s.Close(ctx)
			}
		}
	}()
	caller := hostfuncs.Caller{Model: name + "/" + version, Logger: l.log}
	addPool := func(module string) error {
		mod, err := l.module(ctx, module)
		if err != nil {
			return err
		}
		c := caller
		c.Module = module
		pool, err := modules.NewPool(ctx, mod, l.poolSize, c)
		if err != nil {
			return err
		}
		stages = append(stages, modules.NewWasmStage(pool))
		return nil
	}
	if def.Pre != "" {
		if err := addPool(def.Pre); err != nil {
			return nil, err
		}
	}
	g, err := onnx.ReadModel(def.ONNX)
	if err != nil {
		return nil, fault.Errorf(fault.KindOf(err), "model %s: %w", name, err)
	}
	plan, err := exec.Compile(g, exec.WithMaxIdleStates(l.poolSize))
	if err != nil {
		return nil, fault.Errorf(fault.KindOf(err), "model %s: %w", name, err)
	}
	core, err := modules.NewEngineStage(ctx, name+".onnx", plan, l.poolSize)
	if err != nil {
		return nil, err
	}
	stages = append(stages, core)
	if def.Post != "" {
		if err := addPool(def.Post); err != nil {
			return nil, err
		}
	}
	p, err := modules.NewPipeline(stages...)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", name, err)
	}
	return &model{name: name, version: version, pipeline: p}, nil
}
