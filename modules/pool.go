package modules

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// PoolConfig says how many instances a pool keeps, whom they work for and
// within which limits.
type PoolConfig struct {
	Size   int
	Caller hostfuncs.Caller
	// Limits override the runtime's defaults; MemoryPages is the module's
	// and cannot differ here.
	Limits Limits
}

// Pool holds up to size ready instances of one module for one owner (a
// tenant's use of a model). Instances are never shared between pools, so
// one tenant's guest state is never visible to another.
type Pool struct {
	m      *Module
	caller hostfuncs.Caller
	limits Limits
	size   int
	slots  chan struct{} // a token per instance that may exist

	mu     sync.Mutex
	idle   []*instance
	closed bool

	memBytes  atomic.Int64 // host memory held by live instances
	discarded atomic.Int64
}

// NewPool creates a pool of instances of m and instantiates all of them now,
// so the first requests pay no instantiation and the pool's memory is known
// up front.
func NewPool(ctx context.Context, m *Module, cfg PoolConfig) (*Pool, error) {
	size := max(cfg.Size, 1)
	caller := cfg.Caller
	if caller.Module == "" {
		caller.Module = m.name
	}
	if caller.Logger == nil {
		caller.Logger = m.rt.log
	}
	limits := cfg.Limits
	limits.MemoryPages = m.pages
	limits = limits.withDefaults(m.rt.cfg.Limits)
	p := &Pool{m: m, caller: caller, limits: limits, size: size, slots: make(chan struct{}, size)}
	for range size {
		inst, err := p.newInstance(ctx)
		if err != nil {
			p.Close(ctx)
			return nil, err
		}
		p.idle = append(p.idle, inst)
	}
	return p, nil
}

func (p *Pool) newInstance(ctx context.Context) (*instance, error) {
	inst, err := p.m.instantiate(ctx, p.caller, p.limits)
	if err != nil {
		return nil, err
	}
	inst.accounted = inst.memoryBytes()
	p.memBytes.Add(inst.accounted)
	return inst, nil
}

// account brings the pool's memory figure up to date with inst's memory,
// which a call may have grown.
func (p *Pool) account(inst *instance) {
	now := inst.memoryBytes()
	p.memBytes.Add(now - inst.accounted)
	inst.accounted = now
}

func (p *Pool) discard(ctx context.Context, inst *instance) {
	p.memBytes.Add(-inst.accounted)
	inst.accounted = 0
	inst.close(ctx)
}

// Module is the module the pool runs.
func (p *Pool) Module() *Module { return p.m }

// MemoryBytes estimates the host memory the pool's instances hold.
func (p *Pool) MemoryBytes() int64 { return p.memBytes.Load() }

// Discarded counts instances thrown away after a failed call.
func (p *Pool) Discarded() int64 { return p.discarded.Load() }

// errPoolClosed is returned to callers that reach a pool being torn down.
var errPoolClosed = errors.New("instance pool closed")

// acquire waits for an instance until ctx is done. Running out of time here
// means the module was saturated: the caller should retry later.
func (p *Pool) acquire(ctx context.Context) (*instance, error) {
	select {
	case p.slots <- struct{}{}:
	default:
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil, fault.Errorf(fault.Canceled, "module %s: canceled while waiting for an instance", p.m.name)
			}
			return nil, fault.Errorf(fault.Overloaded, "module %s: all %d instances stayed busy until the request deadline", p.m.name, p.size)
		}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return nil, fault.Wrap(fault.Unavailable, errPoolClosed)
	}
	if n := len(p.idle); n > 0 {
		inst := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return inst, nil
	}
	p.mu.Unlock()
	// An earlier instance was discarded: replace it in the caller's time,
	// which keeps the pool free of background goroutines.
	inst, err := p.newInstance(ctx)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return inst, nil
}

func (p *Pool) release(ctx context.Context, inst *instance, healthy bool) {
	p.mu.Lock()
	keep := healthy && !p.closed
	if keep {
		p.idle = append(p.idle, inst)
	}
	p.mu.Unlock()
	if !keep {
		if !healthy {
			p.discarded.Add(1)
		}
		p.discard(context.WithoutCancel(ctx), inst)
	}
	<-p.slots
}

// Call runs the module on inputs with an instance from the pool, within the
// process-wide execution limit. An instance whose call failed in any way
// other than a clean "invalid input" status is discarded.
func (p *Pool) Call(ctx context.Context, inputs []tensor.Named) ([]tensor.Named, error) {
	var ct *callTrace
	if tr := traceFrom(ctx); tr != nil {
		ct = &callTrace{sw: startStopwatch(true)}
		defer func() { tr.add(&ct.TraceTotals) }()
	}
	ctx, done, err := p.m.rt.exec.Acquire(ctx, p.caller.Tenant)
	if err != nil {
		return nil, err
	}
	defer done()
	inst, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	ct.lap(phaseWait)
	out, healthy, err := inst.call(ctx, inputs, ct)
	if healthy {
		p.account(inst)
	}
	p.release(ctx, inst, healthy)
	return out, err
}

// Close closes idle instances now; instances in use are closed when their
// call returns. Calls after Close fail with Unavailable.
func (p *Pool) Close(ctx context.Context) {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, inst := range idle {
		p.discard(ctx, inst)
	}
}
