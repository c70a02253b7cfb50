//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

//go:generate go run ./internal/asmgen -out sgemm_amd64.s

// Tile shapes of the assembly kernels; internal/asmgen must agree.
const (
	mr512 = 14
	nr512 = 32
	mr256 = 6
	nr256 = 16
)

// The GEMM micro-kernels, one per row count of the tile (see
// internal/asmgen for the register layout and the contract).

//go:noescape
func gemm512x1(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512x2(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512x3(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512x4(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512x5(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512x6(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512x7(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512x8(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512x9(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512x10(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512x11(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512x12(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512x13(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512x14(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

// The gathering AVX-512 micro-kernels, one per row count: a tile over
// segments of B read in place (see internal/asmgen, gemm512g).
//
//go:noescape
func gemm512gx1(segs *int64, nseg int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512gx2(segs *int64, nseg int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512gx3(segs *int64, nseg int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512gx4(segs *int64, nseg int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512gx5(segs *int64, nseg int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512gx6(segs *int64, nseg int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512gx7(segs *int64, nseg int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512gx8(segs *int64, nseg int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512gx9(segs *int64, nseg int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512gx10(segs *int64, nseg int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512gx11(segs *int64, nseg int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512gx12(segs *int64, nseg int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512gx13(segs *int64, nseg int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm512gx14(segs *int64, nseg int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm256x1(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm256x2(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm256x3(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm256x4(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm256x5(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemm256x6(kc int, a, b *float32, bs int, c *float32, ldc int, mask uint64, beta float32, load bool, bias *float32)

//go:noescape
func gemvT512(k, n int, x, w *float32, ldw int, y *float32, alpha float32)

//go:noescape
func gemvT256(k, n int, x, w *float32, ldw int, y *float32, alpha float32)

//go:noescape
func dot512x4(k int, a *float32, lda int, x *float32, out *[4]float32)

//go:noescape
func dot512x1(k int, a *float32, lda int, x *float32, out *[4]float32)

//go:noescape
func dot256x4(k int, a *float32, lda int, x *float32, out *[4]float32)

//go:noescape
func dot256x1(k int, a *float32, lda int, x *float32, out *[4]float32)

// archVariants lists the assembly variants this CPU can run, fastest
// first. AVX-512 needs only the F subset: the kernels use 512-bit FMA,
// broadcasts and 16-bit opmasks (KMOVW), nothing from BW/DQ/VL.
func archVariants() []*variant {
	var vs []*variant
	if cpu.X86.HasAVX512F {
		vs = append(vs, &variant{
			name: "avx512",
			mr:   mr512, nr: nr512, masked: true,
			kernels: []kernelFunc{gemm512x1, gemm512x2, gemm512x3, gemm512x4, gemm512x5, gemm512x6, gemm512x7,
				gemm512x8, gemm512x9, gemm512x10, gemm512x11, gemm512x12, gemm512x13, gemm512x14},
			gkernels: []gatherKernelFunc{gemm512gx1, gemm512gx2, gemm512gx3, gemm512gx4, gemm512gx5, gemm512gx6, gemm512gx7,
				gemm512gx8, gemm512gx9, gemm512gx10, gemm512gx11, gemm512gx12, gemm512gx13, gemm512gx14},
			gemvT: gemvT512, gemvTStep: 1,
			dot4: dot512x4, dot1: dot512x1, dotStep: 1,
			transpose: transpose512,
			blocking:  blocking512,
		})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		vs = append(vs, &variant{
			name: "avx2",
			mr:   mr256, nr: nr256,
			kernels: []kernelFunc{gemm256x1, gemm256x2, gemm256x3, gemm256x4, gemm256x5, gemm256x6},
			gemvT:   gemvT256, gemvTStep: 8,
			dot4: dot256x4, dot1: dot256x1, dotStep: 8,
			blocking: blocking256,
		})
	}
	return vs
}

//go:noescape
func transpose512(kb, rows int, src *float32, lds int, dst *float32, dstStride int, alpha float32)
