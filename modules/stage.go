package modules

import (
	"context"
	"sync"

	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
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

// WasmStage runs a module from a pool of its own. A stage of a model that
// serves several tenants (a built-in model) keeps one pool per tenant, made
// on the tenant's first request, so tenants never share an instance.
type WasmStage struct {
	m         *Module
	cfg       PoolConfig
	perTenant bool

	mu     sync.Mutex
	pools  map[string]*Pool
	closed bool
	grown  func() // called after a new tenant's pool adds memory
}

// NewWasmStage makes the stage and the pool of cfg.Caller.Tenant. With
// perTenant, other tenants get pools of their own as they arrive.
func NewWasmStage(ctx context.Context, m *Module, cfg PoolConfig, perTenant bool) (*WasmStage, error) {
	p, err := NewPool(ctx, m, cfg)
	if err != nil {
		return nil, err
	}
	return &WasmStage{m: m, cfg: cfg, perTenant: perTenant, pools: map[string]*Pool{cfg.Caller.Tenant: p}}, nil
}

// OnGrow registers f to be called when the stage's memory grows by a new
// tenant's pool, so the owner can charge it.
func (s *WasmStage) OnGrow(f func()) {
	s.mu.Lock()
	s.grown = f
	s.mu.Unlock()
}

func (s *WasmStage) Name() string              { return s.m.name }
func (s *WasmStage) Inputs() []abi.TensorSpec  { return s.m.desc.Inputs }
func (s *WasmStage) Outputs() []abi.TensorSpec { return s.m.desc.Outputs }

// MemoryBytes sums the stage's pools.
func (s *WasmStage) MemoryBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, p := range s.pools {
		n += p.MemoryBytes()
	}
	return n
}

// Close closes every pool.
func (s *WasmStage) Close(ctx context.Context) {
	s.mu.Lock()
	s.closed = true
	pools := s.pools
	s.pools = nil
	s.mu.Unlock()
	for _, p := range pools {
		p.Close(ctx)
	}
}

// Pool is the pool serving the request in ctx, made if its tenant has none.
func (s *WasmStage) Pool(ctx context.Context) (*Pool, error) {
	tenant := s.cfg.Caller.Tenant
	if s.perTenant {
		tenant = TenantFrom(ctx)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fault.Wrap(fault.Unavailable, errPoolClosed)
	}
	if p, ok := s.pools[tenant]; ok {
		s.mu.Unlock()
		return p, nil
	}
	s.mu.Unlock()
	cfg := s.cfg
	cfg.Caller.Tenant = tenant
	p, err := NewPool(ctx, s.m, cfg)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		p.Close(ctx)
		return nil, fault.Wrap(fault.Unavailable, errPoolClosed)
	}
	if q, ok := s.pools[tenant]; ok { // another request made it first
		s.mu.Unlock()
		p.Close(ctx)
		return q, nil
	}
	s.pools[tenant] = p
	grown := s.grown
	s.mu.Unlock()
	if grown != nil {
		grown()
	}
	return p, nil
}

func (s *WasmStage) Run(ctx context.Context, in []tensor.Named) ([]tensor.Named, error) {
	p, err := s.Pool(ctx)
	if err != nil {
		return nil, err
	}
	return p.Call(ctx, in)
}
