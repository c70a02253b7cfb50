package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestConvRows checks every variant's direct-convolution tiles against a
// float64 sum: every row count (one- and two-row tiles and an odd last
// row), widths that cover every vector count and tail, 1 to 49 taps, and
// sentinels between the output rows that must survive.
func TestConvRows(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, v := range vecVariants {
		t.Run(v.name, func(t *testing.T) {
			for _, rows := range []int{1, 2, 3, 5} {
				for _, n := range []int{1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 56, 64, 100, 112, 127, 128, 129, 200, 300} {
					for _, taps := range []int{1, 4, 9, 25, 49} {
						srcStride := n + 3 + r.IntN(9)
						offs := make([]int32, taps)
						for i := range offs {
							offs[i] = int32(r.IntN(3 * srcStride))
						}
						w := randSlice(r, taps)
						bias := float32(r.Float64() - 0.5)
						src := randSlice(r, (rows-1)*srcStride+3*srcStride+n+ConvSlack)
						dstStride := n + 5
						dst := make([]float32, rows*dstStride)
						for i := range dst {
							dst[i] = sentinel
						}
						v.convRows(rows, n, dst, dstStride, src, srcStride, offs, w, bias)
						for row := range rows {
							for i := range dstStride {
								got := dst[row*dstStride+i]
								if i >= n {
									if got != sentinel {
										t.Fatalf("rows=%d n=%d taps=%d: padding [%d,%d] changed", rows, n, taps, row, i)
									}
									continue
								}
								want, mag := float64(bias), math.Abs(float64(bias))
								for k, o := range offs {
									p := float64(w[k]) * float64(src[row*srcStride+int(o)+i])
									want += p
									mag += math.Abs(p)
								}
								if !(math.Abs(float64(got)-want) <= tolerance(taps, mag)) { // NaN fails too
									t.Fatalf("rows=%d n=%d taps=%d: [%d,%d] = %v, want %v", rows, n, taps, row, i, got, want)
								}
							}
						}
					}
				}
			}
		})
	}
}

func TestConvRowsChecksBounds(t *testing.T) {
	for _, f := range []func(){
		func() { ConvRows(2, 8, make([]float32, 15), 8, make([]float32, 100), 8, []int32{0}, []float32{1}, 0) },
		func() {
			ConvRows(1, 8, make([]float32, 8), 8, make([]float32, 8+ConvSlack-1), 8, []int32{0}, []float32{1}, 0)
		},
		func() { ConvRows(1, 8, make([]float32, 8), 8, make([]float32, 100), 8, nil, nil, 0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f()
		}()
	}
}

// BenchmarkConvRows is a 3×3 depthwise channel of 112×112 (MobileNet's
// first depthwise layer), reported in GFLOPS.
func BenchmarkConvRows(b *testing.B) {
	for _, v := range vecVariants {
		b.Run(fmt.Sprintf("%s/3x3_112x112", v.name), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			const n, pw = 112, 114
			src := randSlice(r, pw*pw+ConvSlack)
			dst := make([]float32, n*n)
			var offs []int32
			for i := range 3 {
				for j := range 3 {
					offs = append(offs, int32(i*pw+j))
				}
			}
			w := randSlice(r, 9)
			for b.Loop() {
				v.convRows(n, n, dst, n, src, pw, offs, w, 0.5)
			}
			b.ReportMetric(2*9*n*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}
