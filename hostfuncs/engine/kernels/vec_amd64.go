//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// The vector kernels are in vec_amd64.s, declared in vec_decl_amd64.go;
// internal/asmgen writes both (see its vec.go).

// archVecVariants lists the assembly variants of the vector kernels this
// CPU runs, fastest first. The AVX-512 kernels use only AVX512F (opmasks,
// VSCALEFPS, VRNDSCALEPS, the integer forms of the bitwise operations).
func archVecVariants() []*vecVariant {
	var vs []*vecVariant
	if cpu.X86.HasAVX512F {
		vs = append(vs, &vecVariant{
			name:  "avx512",
			vv:    [numBinOps]vvFunc{addVV512, subVV512, mulVV512, divVV512},
			vs:    [numBinOps]vsFunc{addVS512, subVS512, mulVS512, divVS512},
			sv:    [numBinOps]vsFunc{Sub: subSV512, Div: divSV512},
			maxVV: maxVV512,
			unary: [numUnaryOps]mapFunc{relu512, exp512, erf512, tanh512, sigmoid512, gelu512, geluTanh512},

			expShiftSum: expShiftSum512,
			sum:         sum512, sumSq: sumSq512, sumSqDev: sumSqDev512, redStep: 8,
			max: max512, maxStep: 16,
			norm: normalize512, normNoB: normalizeScale512, normStep: 16,
			strided: stridedRows512,
			winoIn:  winoIn512, winoOut: winoOut512,
			taps: [2][9]tapsFunc{{1: taps512r1v1, 2: taps512r1v2, 3: taps512r1v3, 4: taps512r1v4, 5: taps512r1v5, 6: taps512r1v6, 7: taps512r1v7, 8: taps512r1v8}, {1: taps512r2v1, 2: taps512r2v2, 3: taps512r2v3, 4: taps512r2v4}}, tapsLanes: 16,
		})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		vs = append(vs, &vecVariant{
			name:  "avx2",
			vv:    [numBinOps]vvFunc{addVV256, subVV256, mulVV256, divVV256},
			vs:    [numBinOps]vsFunc{addVS256, subVS256, mulVS256, divVS256},
			sv:    [numBinOps]vsFunc{Sub: subSV256, Div: divSV256},
			maxVV: maxVV256,
			unary: [numUnaryOps]mapFunc{relu256, exp256, erf256, tanh256, sigmoid256, gelu256, geluTanh256},

			expShiftSum: expShiftSum256,
			sum:         sum256, sumSq: sumSq256, sumSqDev: sumSqDev256, redStep: 4,
			max: max256, maxStep: 8,
			norm: normalize256, normNoB: normalizeScale256, normStep: 8,
			strided: stridedRows256,
			taps:    [2][9]tapsFunc{{1: taps256r1v1, 2: taps256r1v2, 3: taps256r1v3, 4: taps256r1v4, 5: taps256r1v5, 6: taps256r1v6, 7: taps256r1v7, 8: taps256r1v8}, {1: taps256r2v1, 2: taps256r2v2, 3: taps256r2v3, 4: taps256r2v4}}, tapsLanes: 8,
		})
	}
	return vs
}
