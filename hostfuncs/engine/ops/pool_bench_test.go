package ops

import (
	"context"
	"runtime"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
)

// BenchmarkConvPool and BenchmarkOpsPool are BenchmarkConv and
// BenchmarkOps with the process's compute budget over all the cores
// (GOMAXPROCS), as one request running alone gets it.
func BenchmarkConvPool(b *testing.B) {
	cmp := kernels.NewCompute(runtime.GOMAXPROCS(0))
	defer cmp.Close()
	wrap := func(ctx context.Context) context.Context { return WithCompute(ctx, cmp) }
	for _, c := range convBenchCases {
		b.Run(c.name, func(b *testing.B) { benchConv(b, c, wrap) })
	}
}

// BenchmarkConvPackedPool is BenchmarkConvPool with the filters packed
// once, as a plan runs a constant W.
func BenchmarkConvPackedPool(b *testing.B) {
	cmp := kernels.NewCompute(runtime.GOMAXPROCS(0))
	defer cmp.Close()
	wrap := func(ctx context.Context) context.Context { return WithCompute(ctx, cmp) }
	for _, c := range convBenchCases {
		b.Run(c.name, func(b *testing.B) { benchConv(b, c, wrap, true) })
	}
}

func BenchmarkOpsPool(b *testing.B) {
	cmp := kernels.NewCompute(runtime.GOMAXPROCS(0))
	defer cmp.Close()
	wrap := func(ctx context.Context) context.Context { return WithCompute(ctx, cmp) }
	for _, c := range opBenchCases {
		b.Run(c.name, func(b *testing.B) { benchOp(b, c, wrap) })
	}
}
