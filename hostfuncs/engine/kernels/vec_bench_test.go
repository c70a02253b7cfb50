package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// vecBenchSizes: a row in L1 (4 Ki floats, 16 KiB) and a transformer
// activation in L2 (96 Ki floats, 384 KiB).
var vecBenchSizes = []int{4096, 98304}

// BenchmarkVec reports GB/s (bytes read and written) and, for the
// transcendental functions, Gelem/s, per variant, kernel and size.
func BenchmarkVec(b *testing.B) {
	for _, v := range vecVariants {
		for _, n := range vecBenchSizes {
			r := rand.New(rand.NewPCG(1, 1))
			x, y, z := vecInputs(r, n, -5, 5), vecInputs(r, n, -5, 5), make([]float32, n)
			for i := range x { // no NaN or Inf: time the common case
				if x[i] != x[i] || x[i] > 1e6 || x[i] < -1e6 {
					x[i] = 1
				}
			}
			bench := func(name string, bytes int, f func()) {
				b.Run(fmt.Sprintf("%s/%s/n=%d", v.name, name, n), func(b *testing.B) {
					for b.Loop() {
						f()
					}
					s := b.Elapsed().Seconds()
					b.ReportMetric(float64(bytes)*float64(b.N)/s/1e9, "GB/s")
					b.ReportMetric(float64(n)*float64(b.N)/s/1e9, "Gelem/s")
				})
			}
			for op := range numBinOps {
				bench("vv_"+op.String(), 12*n, func() { v.binary(op, z, x, y) })
			}
			bench("vs_Mul", 8*n, func() { v.binaryScalar(Mul, z, x, 1.5) })
			for op := range numUnaryOps {
				bench(op.String(), 8*n, func() { v.unaryOf(op, z, x) })
			}
			bench("Sum", 4*n, func() { _ = v.sumOf(v.sum, x, goSum) })
			bench("SumSqDev", 4*n, func() { _ = v.sumSqDevOf(x, 0.5) })
			bench("Max", 4*n, func() { _ = v.maxOf(x) })
			bench("ExpShiftSum", 8*n, func() { _ = v.expShiftSumOf(z, x, 5) })
			bench("Normalize", 16*n, func() { v.normalize(z, x, y, y, 0.1, 1.2) })
		}
	}
}
