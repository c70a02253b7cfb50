package modules

import (
	"context"

	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Stage is one step of a model's pipeline: a Wasm module or the native
// engine. Inputs and Outputs are what it declares; Run may assume its inputs
// were checked against them.
type Stage interface {
	Name() string
	Inputs() []abi.TensorSpec
	Outputs() []abi.TensorSpec
	Run(ctx context.Context, in []tensor.Named) ([]tensor.Named, error)
	// MemoryBytes is the host memory the stage holds while loaded.
	MemoryBytes() int64
	Close(ctx context.Context)
}

// WasmStage runs a module from its own pool.
type WasmStage struct {
	pool *Pool
}

// NewWasmStage wraps a pool as a pipeline stage.
func NewWasmStage(p *Pool) *WasmStage { return &WasmStage{pool: p} }

func (s *WasmStage) Name() string              { return s.pool.m.name }
func (s *WasmStage) Inputs() []abi.TensorSpec  { return s.pool.m.desc.Inputs }
func (s *WasmStage) Outputs() []abi.TensorSpec { return s.pool.m.desc.Outputs }
func (s *WasmStage) MemoryBytes() int64        { return s.pool.MemoryBytes() }
func (s *WasmStage) Close(ctx context.Context) { s.pool.Close(ctx) }

// Pool is the stage's instance pool.
func (s *WasmStage) Pool() *Pool { return s.pool }

func (s *WasmStage) Run(ctx context.Context, in []tensor.Named) ([]tensor.Named, error) {
	return s.pool.Call(ctx, in)
}
