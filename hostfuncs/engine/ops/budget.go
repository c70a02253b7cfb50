package ops

import (
	"context"
	"sync/atomic"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

// AllocBudget bounds the bytes operators may newly allocate for their
// outputs under one context. Untrusted callers (a guest's op or wasi-nn
// call) run with one sized to what is left of their host memory quota, so
// a one-node ConstantOfShape or Expand asking for gigabytes fails before
// allocating instead of after. Buffers reused from an earlier run are free.
type AllocBudget struct{ left atomic.Int64 }

// NewAllocBudget returns a budget of n bytes.
func NewAllocBudget(n int64) *AllocBudget {
	b := &AllocBudget{}
	b.left.Store(n)
	return b
}

// Left is what remains of the budget.
func (b *AllocBudget) Left() int64 { return b.left.Load() }

// take charges n bytes, or reports false (charging nothing) if they do not
// fit.
func (b *AllocBudget) take(n int64) bool {
	for {
		left := b.left.Load()
		if n > left {
			return false
		}
		if b.left.CompareAndSwap(left, left-n) {
			return true
		}
	}
}

type budgetKey struct{}

// WithAllocBudget returns a context under which Output charges new
// allocations to b.
func WithAllocBudget(ctx context.Context, b *AllocBudget) context.Context {
	return context.WithValue(ctx, budgetKey{}, b)
}

// AllocBudgetFrom returns the budget ctx carries, or nil.
func AllocBudgetFrom(ctx context.Context) *AllocBudget { return budgetFrom(ctx) }

func budgetFrom(ctx context.Context) *AllocBudget {
	b, _ := ctx.Value(budgetKey{}).(*AllocBudget)
	return b
}

// Charge takes n bytes from ctx's allocation budget, if it carries one, or
// fails with fault.TooLarge when they do not fit. The executor charges the
// output buffers it allocates ahead of a kernel with it, so memory it
// sizes for the kernels counts exactly as what Output allocates would.
func Charge(ctx context.Context, n int64) error {
	b := budgetFrom(ctx)
	if b == nil || b.take(n) {
		return nil
	}
	return fault.Errorf(fault.TooLarge, "%d bytes of output buffers are more than the %d left of the host memory quota", n, b.Left())
}
