package main

import "fmt"

// This file writes the AVX-512 transforms of the Winograd convolution
// F(2×2, 3×3) (kernels.WinogradInput, kernels.WinogradOutput). Both work
// on a row of tiles, 16 tiles a vector: the caller lays each input channel
// out with its even and odd padded columns apart, so that a tile's four
// columns are element tx of the even and odd rows and element tx + 1 of
// them, and every operand is a contiguous vector. There is no AVX2
// version: the convolution takes the Winograd path only where these run.

// winoIn writes
//
//	func winoIn512(n int, e, o *float32, rs int, v *float32, vs int)
//
// the input transform Bᵀ·d·B of n tiles: tile i's 4×4 window is rows
// r < 4 (rs apart) of e and o at columns i and i + 1 (even, odd, even,
// odd padded columns); element ξ = 4·row + column of its transform goes to
// v[ξ·vs + i]. The vertical pass (rows d0 - d2, d1 + d2, d2 - d1, d1 - d3)
// runs on the four column vectors, then the horizontal one on its
// results; the sums are the portable winoInGo's, in its order.
func (v *vg) winoIn() {
	g := v.g
	g.p("")
	g.p("// func winoIn512(n int, e, o *float32, rs int, v *float32, vs int)")
	g.p("TEXT ·winoIn512(SB), NOSPLIT, $0-48")
	g.p("	MOVQ n+0(FP), R14")
	g.p("	MOVQ e+8(FP), SI")
	g.p("	MOVQ o+16(FP), DI")
	g.p("	MOVQ rs+24(FP), R8")
	g.p("	SHLQ $2, R8")
	g.p("	LEAQ (R8)(R8*2), R10")
	g.p("	MOVQ v+32(FP), DX")
	g.p("	MOVQ vs+40(FP), R9")
	g.p("	SHLQ $2, R9")
	g.p("	LEAQ (R9)(R9*2), R12")
	body := func(masked bool) {
		load := func(addr string, z int) {
			if masked {
				g.p("	VMOVUPS.Z %s, K1, Z%d", addr, z)
			} else {
				g.p("	VMOVUPS %s, Z%d", addr, z)
			}
		}
		rows := []string{"(%s)", "(%s)(R8*1)", "(%s)(R8*2)", "(%s)(R10*1)"}
		// Z0-3: even rows at i, Z4-7 at i + 1, Z8-11 odd at i, Z12-15 at i + 1.
		for gi, src := range []struct {
			base string
			off  int
		}{{"SI", 0}, {"SI", 4}, {"DI", 0}, {"DI", 4}} {
			for r, f := range rows {
				addr := fmt.Sprintf(f, src.base)
				if src.off != 0 {
					addr = fmt.Sprintf("%d%s", src.off, addr)
				}
				load(addr, 4*gi+r)
			}
		}
		// Vertical: group gi's rows into Z16+4·gi+r.
		for gi := range 4 {
			r := func(i int) int { return 4*gi + i }
			d := func(i int) int { return 16 + 4*gi + i }
			g.p("	VSUBPS Z%d, Z%d, Z%d", r(2), r(0), d(0))
			g.p("	VADDPS Z%d, Z%d, Z%d", r(2), r(1), d(1))
			g.p("	VSUBPS Z%d, Z%d, Z%d", r(1), r(2), d(2))
			g.p("	VSUBPS Z%d, Z%d, Z%d", r(3), r(1), d(3))
		}
		// Horizontal: row i's columns c0..c3 are even at i, odd at i,
		// even at i + 1, odd at i + 1.
		g.p("	MOVQ DX, BX")
		stores := []string{"(BX)", "(BX)(R9*1)", "(BX)(R9*2)", "(BX)(R12*1)"}
		for i := range 4 {
			c0, c1, c2, c3 := 16+i, 24+i, 20+i, 28+i
			g.p("	VSUBPS Z%d, Z%d, Z0", c2, c0)
			g.p("	VADDPS Z%d, Z%d, Z1", c2, c1)
			g.p("	VSUBPS Z%d, Z%d, Z2", c1, c2)
			g.p("	VSUBPS Z%d, Z%d, Z3", c3, c1)
			for j, s := range stores {
				if masked {
					g.p("	VMOVUPS Z%d, K1, %s", j, s)
				} else {
					g.p("	VMOVUPS Z%d, %s", j, s)
				}
			}
			if i < 3 {
				g.p("	LEAQ (BX)(R9*4), BX")
			}
		}
	}
	g.p("inloop:")
	g.p("	CMPQ R14, $16")
	g.p("	JLT intail")
	body(false)
	g.p("	ADDQ $64, SI")
	g.p("	ADDQ $64, DI")
	g.p("	ADDQ $64, DX")
	g.p("	SUBQ $16, R14")
	g.p("	JMP inloop")
	g.p("intail:")
	g.p("	TESTQ R14, R14")
	g.p("	JEQ indone")
	v.tailMask("R14")
	body(true)
	g.p("indone:")
	g.p("	VZEROUPPER")
	g.p("	RET")
}

// winoOut writes
//
//	func winoOut512(n int, m *float32, ms int, y0, y1 *float32, ow int, bias float32)
//
// the output transform Aᵀ·M·A of n tiles plus the bias: tile i's 4×4
// product is m[ξ·ms + i], ξ = 4·row + column, and its 2×2 output goes to
// columns 2i and 2i + 1 of rows y0 and y1 (y1 nil: the last row of an odd
// height), of which the first ow columns are written. The two output
// columns' vectors are interleaved by two permutes (vc_ilvlo, vc_ilvhi);
// the stores are masked to ow.
func (v *vg) winoOut() {
	g := v.g
	g.p("")
	g.p("// func winoOut512(n int, m *float32, ms int, y0, y1 *float32, ow int, bias float32)")
	g.p("TEXT ·winoOut512(SB), NOSPLIT, $0-52")
	g.p("	MOVQ n+0(FP), R14")
	g.p("	MOVQ m+8(FP), SI")
	g.p("	MOVQ ms+16(FP), R9")
	g.p("	SHLQ $2, R9")
	g.p("	LEAQ (R9)(R9*2), R12")
	g.p("	MOVQ y0+24(FP), DI")
	g.p("	MOVQ y1+32(FP), R13")
	g.p("	MOVQ ow+40(FP), R11")
	g.p("	VBROADCASTSS bias+48(FP), Z31")
	g.p("	VMOVUPS ·vc_ilvlo(SB), Z30")
	g.p("	VMOVUPS ·vc_ilvhi(SB), Z29")
	body := func(sfx string, masked bool) {
		g.p("	MOVQ SI, BX")
		loads := []string{"(BX)", "(BX)(R9*1)", "(BX)(R9*2)", "(BX)(R12*1)"}
		for i := range 4 {
			for j, l := range loads {
				if masked {
					g.p("	VMOVUPS.Z %s, K1, Z%d", l, 4*i+j)
				} else {
					g.p("	VMOVUPS %s, Z%d", l, 4*i+j)
				}
			}
			if i < 3 {
				g.p("	LEAQ (BX)(R9*4), BX")
			}
		}
		// Aᵀ·M: rows M0 + M1 + M2 (Z16-19) and M1 - M2 - M3 (Z20-23).
		for j := range 4 {
			g.p("	VADDPS Z%d, Z%d, Z%d", 4+j, j, 16+j)
			g.p("	VADDPS Z%d, Z%d, Z%d", 8+j, 16+j, 16+j)
			g.p("	VSUBPS Z%d, Z%d, Z%d", 8+j, 4+j, 20+j)
			g.p("	VSUBPS Z%d, Z%d, Z%d", 12+j, 20+j, 20+j)
		}
		// ·A, plus the bias: row r's columns into Z(2r), Z(2r+1).
		for r := range 2 {
			t := 16 + 4*r
			g.p("	VADDPS Z%d, Z%d, Z%d", t+1, t, 2*r)
			g.p("	VADDPS Z%d, Z%d, Z%d", t+2, 2*r, 2*r)
			g.p("	VADDPS Z31, Z%d, Z%d", 2*r, 2*r)
			g.p("	VSUBPS Z%d, Z%d, Z%d", t+2, t+1, 2*r+1)
			g.p("	VSUBPS Z%d, Z%d, Z%d", t+3, 2*r+1, 2*r+1)
			g.p("	VADDPS Z31, Z%d, Z%d", 2*r+1, 2*r+1)
		}
		// The store masks: min(ow, 32) output columns, the first 16 in
		// K2, the rest in K3.
		g.p("	MOVQ $32, AX")
		g.p("	CMPQ R11, AX")
		g.p("	CMOVQLT R11, AX")
		g.p("	MOVQ $16, CX")
		g.p("	CMPQ AX, CX")
		g.p("	CMOVQLT AX, CX")
		g.p("	MOVL $1, DX")
		g.p("	SHLL CX, DX")
		g.p("	DECL DX")
		g.p("	KMOVW DX, K2")
		g.p("	SUBQ $16, AX")
		g.p("	MOVQ $0, CX")
		g.p("	CMPQ AX, CX")
		g.p("	CMOVQLT CX, AX")
		g.p("	MOVQ AX, CX")
		g.p("	MOVL $1, DX")
		g.p("	SHLL CX, DX")
		g.p("	DECL DX")
		g.p("	KMOVW DX, K3")
		store := func(a, b int, base string) {
			g.p("	VMOVAPS Z%d, Z4", a)
			g.p("	VPERMT2PS Z%d, Z30, Z4", b)
			g.p("	VPERMT2PS Z%d, Z29, Z%d", b, a)
			g.p("	VMOVUPS Z4, K2, (%s)", base)
			g.p("	VMOVUPS Z%d, K3, 64(%s)", a, base)
		}
		store(0, 1, "DI")
		g.p("	TESTQ R13, R13")
		g.p("	JEQ norow1%s", sfx)
		store(2, 3, "R13")
		g.p("	ADDQ $128, R13")
		g.p("norow1%s:", sfx)
	}
	g.p("outloop:")
	g.p("	CMPQ R14, $16")
	g.p("	JLT outtail")
	body("full", false)
	g.p("	ADDQ $64, SI")
	g.p("	ADDQ $128, DI")
	g.p("	SUBQ $32, R11")
	g.p("	SUBQ $16, R14")
	g.p("	JMP outloop")
	g.p("outtail:")
	g.p("	TESTQ R14, R14")
	g.p("	JEQ outdone")
	v.tailMask("R14")
	body("tail", true)
	g.p("outdone:")
	g.p("	VZEROUPPER")
	g.p("	RET")
}

// winoConsts writes the permutes' index vectors: interleaving a and b
// (VPERMT2PS, indices 16 and up pick from b), the low and high halves.
func (g *gen) winoConsts() {
	for i := range 16 {
		g.p("DATA ·vc_ilvlo+%d(SB)/4, $%d", 4*i, i/2+16*(i%2))
	}
	g.p("GLOBL ·vc_ilvlo(SB), RODATA|NOPTR, $64")
	for i := range 16 {
		g.p("DATA ·vc_ilvhi+%d(SB)/4, $%d", 4*i, 8+i/2+16*(i%2))
	}
	g.p("GLOBL ·vc_ilvhi(SB), RODATA|NOPTR, $64")
}
