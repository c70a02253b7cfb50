package ops

import (
	"context"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
)

type computeKey struct{}

// WithCompute returns a context that carries the process's compute budget
// (a shared worker pool and the count of running requests) to the kernels
// run under it. The executor adds it to every run of a plan compiled with
// one; without it, kernels run on the calling goroutine alone.
func WithCompute(ctx context.Context, c *kernels.Compute) context.Context {
	return context.WithValue(ctx, computeKey{}, c)
}

// ComputeFrom returns the compute budget ctx carries, or nil, which is a
// valid *kernels.Compute meaning one thread and no pool.
func ComputeFrom(ctx context.Context) *kernels.Compute {
	c, _ := ctx.Value(computeKey{}).(*kernels.Compute)
	return c
}

// stopOf is the Stop that makes a long kernel (a GEMM, a lowering) give up
// once ctx is cancelled, so that a run ends within milliseconds of its
// caller going away rather than at the end of the operator. An operator
// that passes it on must return ctx.Err() afterwards, since a stopped
// kernel leaves its output unfinished.
func stopOf(ctx context.Context) kernels.Stop { return kernels.StopOn(ctx.Done()) }

// Splitting thresholds: work below these stays on the calling goroutine,
// since handing a part to another core and joining it costs 1-2 µs (a
// queue push, a wake-up or a poll, and the join) that a smaller part would
// not repay. The GEMM threshold is kernels' own (2·m·n·k of 1 Mi, measured
// there). The others were measured on the 2-core Zen 5 machine (with the
// other core partly busy), 2 parts against 1: float32 Add of 64 Ki
// elements 3.6 against 3.1 µs, of 128 Ki 6.1 against 12.7 µs; Erf (16
// times the work per element) of 4 Ki elements 2.4 against 2.3 µs, of
// 8 Ki 3.8 against 4.6 µs. So a part must be worth about 64 Ki elements
// of a memory-bound loop, 2-3 µs.
const (
	// splitElems is the smallest share of an elementwise operation worth a
	// thread of its own, in elements of a memory-bound loop (an expensive
	// function counts each element several times, see ewUnaryCost).
	splitElems = 1 << 16
	// splitFlops is the smallest share of a compute-bound loop (the
	// depthwise convolution, about 60 GFLOPS on one core) worth a thread
	// of its own: about 4 µs.
	splitFlops = 1 << 18
)
