package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// This file writes vec_amd64.s: the float32 vector kernels of package
// kernels (elementwise arithmetic, activations, reductions, softmax and
// normalisation steps), each in an AVX-512 and an AVX2 version from one
// description.
//
// The math is written once against virtual registers; an emitter expands
// every instruction for several independent vectors ("lanes") side by
// side, which gives the out-of-order core independent dependency chains
// to overlap (a polynomial is a chain of FMAs 4 cycles apart). Constants
// live in memory as 64-byte vectors (16 copies of the value) and are used
// as memory operands, so they take no registers and both widths share
// them. Every kernel handles any n: AVX-512 tails use an opmask (K1),
// AVX2 tails VMASKMOVPS with a mask (Y15) cut from a table; masked-off
// elements are never read or written. The reductions are the exception:
// they handle n rounded down to their step and the Go wrapper finishes.

// vg is the emitter for one instruction set.
type vg struct {
	g *gen
	z bool // AVX-512 (zmm, opmasks) rather than AVX2 (ymm)
}

func (v *vg) w() int { // float32 lanes per vector
	if v.z {
		return 16
	}
	return 8
}

func (v *vg) bytes() int { return 4 * v.w() }

func (v *vg) reg(i int) string {
	if v.z {
		return fmt.Sprintf("Z%d", i)
	}
	return fmt.Sprintf("Y%d", i)
}

// logic is the bitwise instruction for op (AND, OR, XOR) on float vectors:
// the EVEX forms of VANDPS and friends need AVX512DQ, their integer twins
// only AVX512F, which is all the AVX-512 variant asks of the CPU.
func (v *vg) logic(op string) string {
	if v.z {
		return "VP" + op + "D"
	}
	return "V" + op + "PS"
}

func (v *vg) sfx() string {
	if v.z {
		return "512"
	}
	return "256"
}

// Operands of the lane emitter.
type (
	vr  int    // a virtual vector register, one physical register per lane
	km  int    // a virtual mask: an opmask on AVX-512, a vector register (virtual km) on AVX2
	cst string // a constant vector in memory
	mem struct {
		base string
		off  int // byte offset of lane 0; lane l is l vectors further
	}
	raw string // printed as is
)

// ln expands instructions over lanes.
type ln struct {
	v     *vg
	lanes int
	nv    int // virtual vector registers per lane
	per   int // physical vector registers per lane (AVX2: nv + masks)
	masks int // opmasks per lane (AVX-512)
	tail  bool
}

func (e *ln) phys(l, i int) string { return e.v.reg(l*e.per + i) }

func (e *ln) opnd(l int, a any) string {
	switch a := a.(type) {
	case vr:
		if int(a) >= e.nv {
			panic(fmt.Sprintf("virtual register %d of %d", a, e.nv))
		}
		return e.phys(l, int(a))
	case km:
		if int(a) >= e.masks {
			panic(fmt.Sprintf("virtual mask %d of %d", a, e.masks))
		}
		if !e.v.z {
			return e.phys(l, e.nv+int(a))
		}
		k := 2 + int(a)*e.lanes + l
		if k > 7 {
			panic("out of opmasks")
		}
		return fmt.Sprintf("K%d", k)
	case cst:
		use(string(a))
		return "·vc_" + string(a) + "(SB)"
	case mem:
		return fmt.Sprintf("%d(%s)", a.off+l*e.v.bytes(), a.base)
	case raw:
		return string(a)
	case int:
		return fmt.Sprintf("$%d", a)
	}
	panic(fmt.Sprintf("operand %T", a))
}

// I emits op with args (Go operand order: sources first, destination last)
// once per lane.
func (e *ln) I(op string, args ...any) {
	for l := 0; l < e.lanes; l++ {
		parts := make([]string, len(args))
		for i, a := range args {
			parts[i] = e.opnd(l, a)
		}
		e.v.g.p("\t%s %s", op, strings.Join(parts, ", "))
	}
}

// load reads the vector of lane l at m into r (masked in the tail).
func (e *ln) load(m mem, r vr) {
	switch {
	case !e.tail:
		e.I("VMOVUPS", m, r)
	case e.v.z:
		e.I("VMOVUPS.Z", m, raw("K1"), r)
	default:
		e.I("VMASKMOVPS", m, raw("Y15"), r)
	}
}

func (e *ln) store(r vr, m mem) {
	switch {
	case !e.tail:
		e.I("VMOVUPS", r, m)
	case e.v.z:
		e.I("VMOVUPS", r, raw("K1"), m)
	default:
		e.I("VMASKMOVPS", r, raw("Y15"), m)
	}
}

// cmp sets mask k to a <pred> b (a a register, b a register or constant).
func (e *ln) cmp(pred int, a vr, b any, k km) {
	e.I("VCMPPS", pred, b, a, k)
}

// Comparison predicates.
const (
	cmpLT = 1  // LT_OS
	cmpGT = 14 // GT_OS
	cmpUN = 3  // UNORD_Q
)

// sel sets dst = k ? src : dst.
func (e *ln) sel(k km, src, dst vr) {
	if e.v.z {
		e.I("VMOVAPS", src, k, dst)
		return
	}
	e.I("VBLENDVPS", k, src, dst, dst)
}

// selSign sets dst = (sign bit of s set) ? src : dst, s's sign bit (not its
// value) deciding, so -0 and NaNs with the bit count as negative.
func (e *ln) selSign(s, src, dst vr, k km) {
	if e.v.z {
		// VPMOVD2M needs AVX512DQ; compare as integers against 0 instead.
		e.I("VPCMPD", 1, cst("zero"), s, k) // signed s < 0
		e.I("VMOVAPS", src, k, dst)
		return
	}
	e.I("VBLENDVPS", s, src, dst, dst)
}

// poly evaluates Horner's rule: p = ((c0·x + c1)·x + ...) + c_last.
func (e *ln) poly(x, p vr, coefs ...string) {
	e.I("VMOVUPS", cst(coefs[0]), p)
	for _, c := range coefs[1:] {
		e.I("VFMADD213PS", cst(c), x, p)
	}
}

// clampMin sets x = min(x, c) and clampMax x = max(x, c), keeping NaN: x is
// the instructions' second source, which they return when either is NaN.
func (e *ln) clampMin(x vr, c string, t vr) {
	e.I("VMOVUPS", cst(c), t)
	e.I("VMINPS", x, t, x)
}

func (e *ln) clampMax(x vr, c string, t vr) {
	e.I("VMOVUPS", cst(c), t)
	e.I("VMAXPS", x, t, x)
}

// exp sets x = e^x with n, p, t as scratch. It is Cephes' expf: x clamped
// to [-104, 89] (beyond, the result is 0 or +Inf either way; NaN passes),
// n = round(x·log2 e), r = x - n·ln 2 in two steps (ln 2 split in a short
// head, so n·head is exact, and a tail), e^r by a degree-7 polynomial on
// |r| ≤ ln2/2, then scaled by 2^n: VSCALEFPS on AVX-512, which rounds
// subnormal results correctly; on AVX2 two multiplies by 2^(n/2) built in
// the exponent field, so no intermediate overflows or flushes. xl, when
// not negative, is a low part of the argument (x + xl is the argument to
// more than float32 precision), added to the reduced argument.
func (e *ln) exp(x, n, p, t vr) { e.expLo(x, n, p, t, -1) }

func (e *ln) expLo(x, n, p, t, xl vr) {
	e.clampMin(x, "exp_hi", t)
	e.clampMax(x, "exp_lo", t)
	e.I("VMULPS", cst("log2e"), x, n)
	if e.v.z {
		e.I("VRNDSCALEPS", 0, n, n)
	} else {
		e.I("VROUNDPS", 0, n, n)
	}
	e.I("VFNMADD231PS", cst("ln2hi"), n, x)
	e.I("VFNMADD231PS", cst("ln2lo"), n, x)
	if xl >= 0 {
		e.I("VADDPS", xl, x, x)
	}
	e.poly(x, p, "exp_p0", "exp_p1", "exp_p2", "exp_p3", "exp_p4", "exp_p5")
	e.I("VMULPS", x, x, t)
	e.I("VFMADD213PS", x, t, p) // p·r² + r
	e.I("VADDPS", cst("one"), p, p)
	if e.v.z {
		e.I("VSCALEFPS", n, p, x)
		return
	}
	e.I("VCVTPS2DQ", n, n)
	e.I("VPSRAD", 1, n, t)
	e.I("VPSUBD", t, n, n)
	e.I("VPADDD", cst("i127"), t, t)
	e.I("VPSLLD", 23, t, t)
	e.I("VPADDD", cst("i127"), n, n)
	e.I("VPSLLD", 23, n, n)
	e.I("VMULPS", t, p, p)
	e.I("VMULPS", n, p, x)
}

// sigmoid sets x = 1/(1+e^-x), computed as r = 1/(1+e) with e = e^-|x|
// (never overflows) and e·r for negative x, so tiny results keep their
// precision.
func (e *ln) sigmoid(x, a, n, p, t vr, k km) {
	e.I(e.v.logic("OR"), cst("sign"), x, a) // -|x|
	e.exp(a, n, p, t)
	e.I("VADDPS", cst("one"), a, t)
	e.I("VMOVUPS", cst("one"), p)
	e.I("VDIVPS", t, p, p) // r
	e.I("VMULPS", p, a, a) // e·r
	e.selSign(x, a, p, k)
	e.I("VMOVAPS", p, x)
}

// tanh sets x = tanh x (Cephes' tanhf) from a = |x|: a + a³·P(a²) for
// a ≤ 0.625, else 1 - 2/(e^2a + 1); x's sign is put back last, so that
// -0 stays -0.
func (e *ln) tanh(x, a, s, n, p, t vr, k km) {
	e.I(e.v.logic("AND"), cst("abs"), x, a)
	e.I("VADDPS", a, a, s)
	e.exp(s, n, p, t)
	e.I("VADDPS", cst("one"), s, s)
	e.I("VMOVUPS", cst("two"), p)
	e.I("VDIVPS", s, p, p)
	e.I("VMOVUPS", cst("one"), t)
	e.I("VSUBPS", p, t, t) // 1 - 2/(e+1), ≥ 0
	e.I("VMULPS", a, a, s)
	e.poly(s, p, "tanh_p0", "tanh_p1", "tanh_p2", "tanh_p3", "tanh_p4")
	e.I("VMULPS", s, p, p)
	e.I("VFMADD213PS", a, a, p) // a·s·P + a
	e.cmp(cmpGT, a, cst("tanh_small"), k)
	e.sel(k, t, p)
	e.I(e.v.logic("AND"), cst("sign"), x, t)
	e.I(e.v.logic("OR"), t, p, x)
}

// erfc1 sets c = erfc(a) for a = |z| ≥ 0, accurate from a ≥ 1 on (erf
// takes the polynomial below 1), as Numerical Recipes' erfcc:
// t·exp(-a² - 1.26551223 + t·P(t)) with t = 1/(1 + a/2), whose fractional
// error is below 1.2e-7. a is clamped to 12 first (beyond, erfc is 0 in
// float32 anyway, and infinities would make NaN), and a² is split into
// its rounded value and the exact rounding error (by FMA), so that the
// exponent of large arguments loses nothing. al, when not negative, is
// the low part of a (a + al is the argument to more than float32
// precision), which corrects the exponent by -2·a·al. Scratch: t, y, n,
// p, u.
func (e *ln) erfc1(a, c, t, y, n, p, u, al vr) {
	e.I("VMOVAPS", a, c)
	e.clampMin(c, "erfc_amax", u)
	e.I("VMOVUPS", cst("one"), t)
	e.I("VFMADD231PS", cst("half"), c, t) // 1 + a/2
	e.I("VMOVUPS", cst("one"), u)
	e.I("VDIVPS", t, u, t)
	e.poly(t, y, "erfc_p9", "erfc_p8", "erfc_p7", "erfc_p6", "erfc_p5", "erfc_p4", "erfc_p3", "erfc_p2", "erfc_p1", "erfc_p0")
	e.I("VMULPS", c, c, u) // h = a² rounded
	e.I("VMOVAPS", u, p)
	e.I("VFMSUB231PS", c, c, p) // l = a² - h, exactly
	e.I("VSUBPS", p, y, y)      // q = Q - l
	// The exponent -h + q is large (up to -144) and its rounding would
	// cost |exponent| ulps: keep the rounding error (Fast2Sum, |h| ≥ |q|
	// for a ≥ 1) and hand it to exp as a low part.
	e.I("VSUBPS", u, y, p) // s = q - h
	e.I("VADDPS", p, u, u) // s + h
	e.I("VSUBPS", u, y, y) // q - (s + h): the error of s
	if al >= 0 {
		e.I("VADDPS", al, al, al)
		e.I("VFNMADD231PS", al, c, y)
	}
	e.expLo(p, n, c, u, y)
	e.I("VMULPS", t, p, c)
}

// erf sets x = erf x: x·P(x²) for |x| < 1, sign(x)·(1 - erfc|x|) above.
func (e *ln) erf(x, a, c, t, y, n, p, u vr, k km) {
	e.I(e.v.logic("AND"), cst("abs"), x, a)
	e.erfc1(a, c, t, y, n, p, u, -1)
	e.I("VMOVUPS", cst("one"), t)
	e.I("VSUBPS", c, t, t)
	e.I(e.v.logic("AND"), cst("sign"), x, p)
	e.I(e.v.logic("OR"), p, t, t)
	e.I("VMULPS", x, x, y)
	e.poly(y, p, "erf_p0", "erf_p1", "erf_p2", "erf_p3", "erf_p4", "erf_p5", "erf_p6")
	e.I("VMULPS", x, p, p)
	e.cmp(cmpLT, a, cst("one"), k)
	e.sel(k, p, t)
	e.I("VMOVAPS", t, x)
}

// gelu sets x = x·Φ(x) = x/2·(1 + erf(x/√2)). With z = x/√2, 1 + erf(z)
// is 1 + z·P(z²) for |z| < 1/2, erfc|z| for z ≤ -1/2 (so neither the tail
// of large negative inputs nor the values near -1 are lost to
// cancellation), 1 + z·P(z²) again for z in [1/2, 1) and 2 - erfc z
// above. erfc's relative error grows with z² times
// that of z, so z is carried with its rounding error (zl, by FMA, plus the
// error of 1/√2 in float32).
func (e *ln) gelu(x, z, a, c, t, y, n, p, u, zl vr, k1, k2 km) {
	e.I("VMULPS", cst("rsqrt2"), x, z)
	e.I("VMOVAPS", z, zl)
	e.I("VFMSUB231PS", cst("rsqrt2"), x, zl) // x·r - z, exactly
	e.I("VFMADD231PS", cst("rsqrt2lo"), x, zl)
	// An infinite x makes zl NaN; the clamps (the constant wins a NaN)
	// make it harmless, erfc being 0 there anyway.
	e.I("VMINPS", cst("zl_max"), zl, zl)
	e.I("VMAXPS", cst("zl_min"), zl, zl)
	e.I(e.v.logic("AND"), cst("abs"), z, a)
	e.I(e.v.logic("AND"), cst("sign"), z, t)
	e.I(e.v.logic("XOR"), t, zl, zl) // the low part of |z|
	e.erfc1(a, c, t, y, n, p, u, zl)
	e.I("VMOVUPS", cst("two"), t)
	e.I("VSUBPS", c, t, t)
	e.I("VMULPS", z, z, y)
	e.poly(y, p, "erf_p0", "erf_p1", "erf_p2", "erf_p3", "erf_p4", "erf_p5", "erf_p6")
	e.I("VMULPS", z, p, p)
	e.I("VADDPS", cst("one"), p, p)
	e.cmp(cmpLT, a, cst("one"), k1)
	e.sel(k1, p, t)
	e.selSign(z, c, t, k2)
	e.cmp(cmpLT, a, cst("half"), k1)
	e.sel(k1, p, t)
	e.I("VMULPS", cst("half"), x, x)
	e.I("VMULPS", t, x, x)
}

// geluTanh sets x = x/2·(1 + tanh(√(2/π)·(x + 0.044715x³))), computed as
// x·sigmoid(2√(2/π)·(x + 0.044715x³)), the same value without the
// cancellation of 1 + tanh for negative x.
func (e *ln) geluTanh(x, s, a, n, p, t vr, k km) {
	e.I("VMULPS", x, x, s)
	e.I("VMOVUPS", cst("gelut_c3"), a)
	e.I("VFMADD213PS", cst("gelut_c1"), s, a)
	e.I("VMULPS", x, a, s)
	e.sigmoid(s, a, n, p, t, k)
	e.I("VMULPS", s, x, x)
}

// Register budgets: AVX-512 kernels use Z0-Z27 for lanes (Z28-Z30 for
// accumulators, Z31 for a broadcast scalar) and K2-K7 for lane masks;
// AVX2 kernels Y0-Y13 for lanes (masks included), Y14 for a scalar, Y15
// for the tail mask.
func (v *vg) lanesFor(per, masks, want int) (lanes, perRegs int) {
	if v.z {
		lanes = min(want, 28/per)
		if masks > 0 {
			lanes = min(lanes, 6/masks)
		}
		return lanes, per
	}
	per += masks
	return min(want, 14/per), per
}

// streamKernel writes a kernel that walks n elements in vectors: ptrs are
// the pointer arguments (name, register, advancing); body computes one
// step for the lanes of e. Lanes of several vectors first, then one
// vector, then a masked tail.
func (v *vg) streamKernel(name, sig, frame string, args []string, adv []string, per, masks int, prologue func(), body func(e *ln), epilogue func(e *ln)) {
	g := v.g
	fn := name + v.sfx()
	g.p("")
	g.p("// func %s%s", fn, sig)
	g.p("TEXT ·%s(SB), NOSPLIT, %s", fn, frame)
	for _, a := range args {
		g.p("	%s", a)
	}
	if prologue != nil {
		prologue()
	}
	lanes, phys := v.lanesFor(per, masks, 4)
	step := func(e *ln, lbl, next string) {
		g.p("%s:", lbl)
		g.p("	CMPQ CX, $%d", v.w()*e.lanes)
		g.p("	JLT %s", next)
		body(e)
		for _, r := range adv {
			g.p("	ADDQ $%d, %s", v.bytes()*e.lanes, r)
		}
		g.p("	SUBQ $%d, CX", v.w()*e.lanes)
		g.p("	JMP %s", lbl)
	}
	if lanes > 1 {
		step(&ln{v: v, lanes: lanes, nv: per, per: phys, masks: masks}, "loopn", "loop1")
	}
	step(&ln{v: v, lanes: 1, nv: per, per: phys, masks: masks}, "loop1", "tail")
	g.p("tail:")
	g.p("	TESTQ CX, CX")
	g.p("	JEQ done")
	v.tailMask("CX")
	body(&ln{v: v, lanes: 1, nv: per, per: phys, masks: masks, tail: true})
	g.p("done:")
	if epilogue != nil {
		epilogue(&ln{v: v, lanes: lanes, nv: per, per: phys, masks: masks})
	}
	g.p("	VZEROUPPER")
	g.p("	RET")
}

// tailMask sets the mask of a last, partial vector of the count in reg
// (0 < count < lanes): K1 with count low bits on AVX-512 (AX keeps them),
// Y15 cut from vc_tailmask on AVX2. It uses AX and CX.
func (v *vg) tailMask(reg string) {
	g := v.g
	if v.z {
		if reg != "CX" {
			g.p("	MOVQ %s, CX", reg)
		}
		g.p("	MOVL $1, AX")
		g.p("	SHLL CX, AX")
		g.p("	DECL AX")
		g.p("	KMOVW AX, K1")
		return
	}
	g.p("	LEAQ ·vc_tailmask+32(SB), AX")
	if reg != "CX" {
		g.p("	MOVQ %s, CX", reg)
	}
	g.p("	SHLQ $2, CX")
	g.p("	SUBQ CX, AX")
	g.p("	VMOVUPS (AX), Y15")
}

func (v *vg) scalarReg() string {
	if v.z {
		return "Z31"
	}
	return "Y14"
}

// binaries writes dst[i] = a[i] op b[i] (vv), a[i] op s (vs) and s op a[i]
// (sv) for op in add, sub, mul, div.
func (v *vg) binaries() {
	ptrs := []string{"MOVQ n+0(FP), CX", "MOVQ dst+8(FP), DI", "MOVQ a+16(FP), SI"}
	for _, op := range []string{"ADD", "SUB", "MUL", "DIV"} {
		ins := "V" + op + "PS"
		lower := strings.ToLower(op)
		v.streamKernel(lower+"VV", "(n int, dst, a, b *float32)", "$0-32",
			append(ptrs, "MOVQ b+24(FP), BX"), []string{"SI", "BX", "DI"}, 2, 0, nil,
			func(e *ln) {
				e.load(mem{"SI", 0}, 0)
				e.load(mem{"BX", 0}, 1)
				e.I(ins, vr(1), vr(0), vr(0))
				e.store(0, mem{"DI", 0})
			}, nil)
		sreg := raw(v.scalarReg())
		bcast := func() { v.g.p("	VBROADCASTSS s+24(FP), %s", sreg) }
		v.streamKernel(lower+"VS", "(n int, dst, a *float32, s float32)", "$0-28",
			ptrs, []string{"SI", "DI"}, 1, 0, bcast,
			func(e *ln) {
				e.load(mem{"SI", 0}, 0)
				e.I(ins, sreg, vr(0), vr(0))
				e.store(0, mem{"DI", 0})
			}, nil)
		if op == "SUB" || op == "DIV" {
			v.streamKernel(lower+"SV", "(n int, dst, a *float32, s float32)", "$0-28",
				ptrs, []string{"SI", "DI"}, 1, 0, bcast,
				func(e *ln) {
					e.load(mem{"SI", 0}, 0)
					e.I(ins, vr(0), sreg, vr(0))
					e.store(0, mem{"DI", 0})
				}, nil)
		}
	}
}

// maximum writes dst[i] = max(a[i], b[i]) with a NaN in either operand
// giving NaN. VMAXPS alone returns its second source when either is NaN,
// so b's NaNs are put back with a select.
func (v *vg) maximum() {
	args := []string{"MOVQ n+0(FP), CX", "MOVQ dst+8(FP), DI", "MOVQ a+16(FP), SI", "MOVQ b+24(FP), BX"}
	v.streamKernel("maxVV", "(n int, dst, a, b *float32)", "$0-32", args, []string{"SI", "BX", "DI"}, 3, 1, nil,
		func(e *ln) {
			e.load(mem{"SI", 0}, 0)
			e.load(mem{"BX", 0}, 1)
			e.I("VMAXPS", vr(0), vr(1), vr(2)) // max(b, a), a when either is NaN
			e.cmp(cmpUN, 1, vr(1), 0)          // b is NaN
			e.sel(0, vr(1), vr(2))
			e.store(2, mem{"DI", 0})
		}, nil)
}

// unaries writes the activations: func(n int, dst, x *float32).
func (v *vg) unaries() {
	args := []string{"MOVQ n+0(FP), CX", "MOVQ dst+8(FP), DI", "MOVQ x+16(FP), SI"}
	adv := []string{"SI", "DI"}
	kern := func(name string, per, masks int, f func(e *ln)) {
		v.streamKernel(name, "(n int, dst, x *float32)", "$0-24", args, adv, per, masks, nil, func(e *ln) {
			e.load(mem{"SI", 0}, 0)
			f(e)
			e.store(0, mem{"DI", 0})
		}, nil)
	}
	kern("relu", 2, 0, func(e *ln) {
		// max(0, x) with x second: NaN and -0 pass through, as x < 0 ? 0 : x.
		e.I(e.v.logic("XOR"), vr(1), vr(1), vr(1))
		e.I("VMAXPS", vr(0), vr(1), vr(0))
	})
	kern("exp", 4, 0, func(e *ln) { e.exp(0, 1, 2, 3) })
	kern("sigmoid", 5, 1, func(e *ln) { e.sigmoid(0, 1, 2, 3, 4, 0) })
	kern("tanh", 6, 1, func(e *ln) { e.tanh(0, 1, 2, 3, 4, 5, 0) })
	kern("erf", 8, 1, func(e *ln) { e.erf(0, 1, 2, 3, 4, 5, 6, 7, 0) })
	kern("gelu", 10, 2, func(e *ln) { e.gelu(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1) })
	kern("geluTanh", 6, 1, func(e *ln) { e.geluTanh(0, 1, 2, 3, 4, 5, 0) })
}

// expShiftSum writes
//
//	func expShiftSum(n int, dst, x *float32, shift float32) float32
//
// dst[i] = exp(x[i] - shift), returning the sum of dst (the middle step of
// a softmax, shift being the row's maximum). Each lane keeps its own
// float32 accumulator; the terms are positive, so the sum is as accurate
// as its final rounding to a few ulp.
func (v *vg) expShiftSum() {
	sreg := raw(v.scalarReg())
	args := []string{"MOVQ n+0(FP), CX", "MOVQ dst+8(FP), DI", "MOVQ x+16(FP), SI"}
	lanes, phys := v.lanesFor(5, 0, 4)
	v.streamKernel("expShiftSum", "(n int, dst, x *float32, shift float32) float32", "$0-36", args, []string{"SI", "DI"}, 5, 0,
		func() {
			v.g.p("	VBROADCASTSS shift+24(FP), %s", sreg)
			for l := 0; l < lanes; l++ {
				r := v.reg(l*phys + 4)
				v.g.p("	VXORPS %s, %s, %s", r, r, r)
			}
		},
		func(e *ln) {
			e.load(mem{"SI", 0}, 0)
			e.I("VSUBPS", sreg, vr(0), vr(0))
			e.exp(0, 1, 2, 3)
			e.store(0, mem{"DI", 0})
			switch {
			case !e.tail:
				e.I("VADDPS", vr(0), vr(4), vr(4))
			case v.z:
				e.I("VADDPS", vr(0), vr(4), raw("K1"), vr(4))
			default:
				e.I(e.v.logic("AND"), raw("Y15"), vr(0), vr(0))
				e.I("VADDPS", vr(0), vr(4), vr(4))
			}
		},
		func(e *ln) {
			acc := v.reg(4)
			for l := 1; l < lanes; l++ {
				v.g.p("	VADDPS %s, %s, %s", v.reg(l*phys+4), acc, acc)
			}
			v.hsum32(4, 0)
			v.g.p("	VMOVSS X0, ret+32(FP)")
		})
}

// hsum32 adds the float32 lanes of register r into the low lane of X<t>,
// using X<t+1> as scratch (and destroying r).
func (v *vg) hsum32(r, t int) {
	g := v.g
	if v.z {
		g.p("	VEXTRACTF64X4 $1, Z%d, Y%d", r, t+1)
		g.p("	VADDPS Y%d, Y%d, Y%d", t+1, r, r)
	}
	g.p("	VEXTRACTF128 $1, Y%d, X%d", r, t+1)
	g.p("	VADDPS X%d, X%d, X%d", t+1, r, t)
	g.p("	VMOVHLPS X%d, X%d, X%d", t, t, t+1)
	g.p("	VADDPS X%d, X%d, X%d", t+1, t, t)
	g.p("	VMOVSHDUP X%d, X%d", t, t+1)
	g.p("	VADDSS X%d, X%d, X%d", t+1, t, t)
}

// hsum64 adds the float64 lanes of register r into the low lane of X<t>.
func (v *vg) hsum64(r, t int) {
	g := v.g
	if v.z {
		g.p("	VEXTRACTF64X4 $1, Z%d, Y%d", r, t+1)
		g.p("	VADDPD Y%d, Y%d, Y%d", t+1, r, r)
	}
	g.p("	VEXTRACTF128 $1, Y%d, X%d", r, t+1)
	g.p("	VADDPD X%d, X%d, X%d", t+1, r, t)
	g.p("	VUNPCKHPD X%d, X%d, X%d", t, t, t+1)
	g.p("	VADDSD X%d, X%d, X%d", t+1, t, t)
}

// sums writes the float64-accumulating reductions, over n rounded down to
// their step (8 on AVX-512, 4 on AVX2; the caller adds the rest):
//
//	func sum(n int, x *float32) float64          // Σ x
//	func sumSq(n int, x *float32) float64        // Σ x²
//	func sumSqDev(n int, x *float32, mean float64) float64 // Σ (x - mean)²
//
// Each step widens a half vector of x to float64 (VCVTPS2PD) and adds it
// to one of four accumulators, so the sums are as exact as the operators'
// float64 reference and still run at the speed of memory.
func (v *vg) sums() {
	g := v.g
	half := v.w() / 2 // floats widened per conversion
	for _, kind := range []string{"sum", "sumSq", "sumSqDev"} {
		fn := kind + v.sfx()
		sig, frame, ret := "(n int, x *float32) float64", "$0-24", 16
		if kind == "sumSqDev" {
			sig, frame, ret = "(n int, x *float32, mean float64) float64", "$0-32", 24
		}
		g.p("")
		g.p("// func %s%s", fn, sig)
		g.p("TEXT ·%s(SB), NOSPLIT, %s", fn, frame)
		g.p("	MOVQ n+0(FP), CX")
		g.p("	MOVQ x+8(FP), SI")
		for i := 0; i < 4; i++ {
			g.p("	VXORPD %s, %s, %s", v.reg(i), v.reg(i), v.reg(i))
		}
		if kind == "sumSqDev" {
			g.p("	VBROADCASTSD mean+16(FP), %s", v.reg(8))
		}
		acc := func(l int, off int) {
			t := v.reg(4 + l)
			g.p("	VCVTPS2PD %d(SI), %s", off, t)
			switch kind {
			case "sum":
				g.p("	VADDPD %s, %s, %s", t, v.reg(l), v.reg(l))
			case "sumSq":
				g.p("	VFMADD231PD %s, %s, %s", t, t, v.reg(l))
			default:
				g.p("	VSUBPD %s, %s, %s", v.reg(8), t, t)
				g.p("	VFMADD231PD %s, %s, %s", t, t, v.reg(l))
			}
		}
		g.p("loop4:")
		g.p("	CMPQ CX, $%d", 4*half)
		g.p("	JLT loop1")
		for l := 0; l < 4; l++ {
			acc(l, 4*half*l)
		}
		g.p("	ADDQ $%d, SI", 16*half)
		g.p("	SUBQ $%d, CX", 4*half)
		g.p("	JMP loop4")
		g.p("loop1:")
		g.p("	CMPQ CX, $%d", half)
		g.p("	JLT done")
		acc(0, 0)
		g.p("	ADDQ $%d, SI", 4*half)
		g.p("	SUBQ $%d, CX", half)
		g.p("	JMP loop1")
		g.p("done:")
		g.p("	VADDPD %s, %s, %s", v.reg(1), v.reg(0), v.reg(0))
		g.p("	VADDPD %s, %s, %s", v.reg(3), v.reg(2), v.reg(2))
		g.p("	VADDPD %s, %s, %s", v.reg(2), v.reg(0), v.reg(0))
		v.hsum64(0, 0)
		g.p("	VMOVSD X0, ret+%d(FP)", ret)
		g.p("	VZEROUPPER")
		g.p("	RET")
	}
}

// max writes
//
//	func max(n int, x *float32) float32
//
// the largest element of x[0:n rounded down to a vector], NaN if any is
// NaN (so that the result is a NaN whatever the order), -Inf for none. The
// NaN test is a separate unordered compare per vector, since VMAXPS
// returns a fixed operand when one is NaN.
func (v *vg) max() {
	g := v.g
	fn := "max" + v.sfx()
	g.p("")
	g.p("// func %s(n int, x *float32) float32", fn)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-20", fn)
	g.p("	MOVQ n+0(FP), CX")
	g.p("	MOVQ x+8(FP), SI")
	for i := 0; i < 4; i++ {
		g.p("	VMOVUPS ·vc_neginf(SB), %s", v.reg(i))
	}
	use("neginf")
	if v.z {
		g.p("	KXORW K7, K7, K7")
	} else {
		g.p("	VXORPS Y12, Y12, Y12")
	}
	step := func(l, off int) {
		x := v.reg(4 + l)
		g.p("	VMOVUPS %d(SI), %s", off, x)
		g.p("	VMAXPS %s, %s, %s", x, v.reg(l), v.reg(l))
		if v.z {
			g.p("	VCMPPS $3, %s, %s, K%d", x, x, 2+l)
			g.p("	KORW K%d, K7, K7", 2+l)
		} else {
			g.p("	VCMPPS $3, %s, %s, %s", x, x, x)
			g.p("	VORPS %s, Y12, Y12", x)
		}
	}
	g.p("loop4:")
	g.p("	CMPQ CX, $%d", 4*v.w())
	g.p("	JLT loop1")
	for l := 0; l < 4; l++ {
		step(l, l*v.bytes())
	}
	g.p("	ADDQ $%d, SI", 4*v.bytes())
	g.p("	SUBQ $%d, CX", 4*v.w())
	g.p("	JMP loop4")
	g.p("loop1:")
	g.p("	CMPQ CX, $%d", v.w())
	g.p("	JLT done")
	step(0, 0)
	g.p("	ADDQ $%d, SI", v.bytes())
	g.p("	SUBQ $%d, CX", v.w())
	g.p("	JMP loop1")
	g.p("done:")
	if v.z {
		g.p("	KORTESTW K7, K7")
	} else {
		g.p("	VMOVMSKPS Y12, AX")
		g.p("	TESTL AX, AX")
	}
	g.p("	JNE isnan")
	g.p("	VMAXPS %s, %s, %s", v.reg(1), v.reg(0), v.reg(0))
	g.p("	VMAXPS %s, %s, %s", v.reg(3), v.reg(2), v.reg(2))
	g.p("	VMAXPS %s, %s, %s", v.reg(2), v.reg(0), v.reg(0))
	if v.z {
		g.p("	VEXTRACTF64X4 $1, Z0, Y1")
		g.p("	VMAXPS Y1, Y0, Y0")
	}
	g.p("	VEXTRACTF128 $1, Y0, X1")
	g.p("	VMAXPS X1, X0, X0")
	g.p("	VMOVHLPS X0, X0, X1")
	g.p("	VMAXPS X1, X0, X0")
	g.p("	VMOVSHDUP X0, X1")
	g.p("	VMAXSS X1, X0, X0")
	g.p("	VMOVSS X0, ret+16(FP)")
	g.p("	VZEROUPPER")
	g.p("	RET")
	g.p("isnan:")
	g.p("	MOVL $0x7fc00000, AX")
	g.p("	MOVL AX, ret+16(FP)")
	g.p("	VZEROUPPER")
	g.p("	RET")
}

// normalize writes
//
//	func normalize(n int, dst, x, scale, bias *float32, mean, inv float64)
//	func normalizeScale(n int, dst, x, scale, bias *float32, mean, inv float64)
//
// dst[i] = float32((x[i] - mean)·inv)·scale[i] + bias[i] (normalizeScale:
// without the bias, which it does not read), for n rounded down to a
// vector; the caller does the rest. The standardisation is computed in
// float64, as the operators' reference does, so that rows far from zero
// with a small spread keep their digits; scale and bias are applied in
// float32.
func (v *vg) normalize() {
	g := v.g
	half := v.w() / 2
	for _, withBias := range []bool{true, false} {
		fn := "normalize" + v.sfx()
		if !withBias {
			fn = "normalizeScale" + v.sfx()
		}
		g.p("")
		g.p("// func %s(n int, dst, x, scale, bias *float32, mean, inv float64)", fn)
		g.p("TEXT ·%s(SB), NOSPLIT, $0-56", fn)
		g.p("	MOVQ n+0(FP), CX")
		g.p("	MOVQ dst+8(FP), DI")
		g.p("	MOVQ x+16(FP), SI")
		g.p("	MOVQ scale+24(FP), R8")
		g.p("	MOVQ bias+32(FP), R9")
		mean, inv := v.reg(14), v.reg(13)
		g.p("	VBROADCASTSD mean+40(FP), %s", mean)
		g.p("	VBROADCASTSD inv+48(FP), %s", inv)
		one := func(l int) {
			a, b := 2*l, 2*l+1 // the two float64 halves of lane l's vector
			off := l * v.bytes()
			g.p("	VCVTPS2PD %d(SI), %s", off, v.reg(a))
			g.p("	VCVTPS2PD %d(SI), %s", off+4*half, v.reg(b))
			for _, r := range []int{a, b} {
				g.p("	VSUBPD %s, %s, %s", mean, v.reg(r), v.reg(r))
				g.p("	VMULPD %s, %s, %s", inv, v.reg(r), v.reg(r))
			}
			if v.z {
				g.p("	VCVTPD2PS Z%d, Y%d", a, a)
				g.p("	VCVTPD2PS Z%d, Y%d", b, b)
				g.p("	VINSERTF64X4 $1, Y%d, Z%d, Z%d", b, a, a)
			} else {
				g.p("	VCVTPD2PSY Y%d, X%d", a, a)
				g.p("	VCVTPD2PSY Y%d, X%d", b, b)
				g.p("	VINSERTF128 $1, X%d, Y%d, Y%d", b, a, a)
			}
			if withBias {
				g.p("	VMOVUPS %d(R8), %s", off, v.reg(b))
				g.p("	VFMADD213PS %d(R9), %s, %s", off, v.reg(b), v.reg(a))
			} else {
				g.p("	VMULPS %d(R8), %s, %s", off, v.reg(a), v.reg(a))
			}
			g.p("	VMOVUPS %s, %d(DI)", v.reg(a), off)
		}
		adv := func(k int) {
			for _, r := range []string{"SI", "DI", "R8", "R9"} {
				g.p("	ADDQ $%d, %s", k*v.bytes(), r)
			}
			g.p("	SUBQ $%d, CX", k*v.w())
		}
		g.p("loop2:")
		g.p("	CMPQ CX, $%d", 2*v.w())
		g.p("	JLT loop1")
		one(0)
		one(1)
		adv(2)
		g.p("	JMP loop2")
		g.p("loop1:")
		g.p("	CMPQ CX, $%d", v.w())
		g.p("	JLT done")
		one(0)
		adv(1)
		g.p("	JMP loop1")
		g.p("done:")
		g.p("	VZEROUPPER")
		g.p("	RET")
	}
}

// vec writes every vector kernel in both widths, then the constants.
func (g *gen) vec() {
	for _, z := range []bool{true, false} {
		v := &vg{g: g, z: z}
		v.binaries()
		v.maximum()
		v.unaries()
		v.expShiftSum()
		v.sums()
		v.max()
		v.normalize()
		v.stridedRows()
		for _, t := range tapsTiles {
			v.taps(t[0], t[1])
		}
		if z {
			v.winoIn()
			v.winoOut()
		}
	}
	g.vecConsts()
	g.winoConsts()
}

// constants used by the kernels, by name.
var vecConstVals = map[string]uint32{}

func init() {
	f := func(name string, x float64) { vecConstVals[name] = math.Float32bits(float32(x)) }
	i := func(name string, x uint32) { vecConstVals[name] = x }
	f("zero", 0)
	f("one", 1)
	f("two", 2)
	f("half", 0.5)
	i("sign", 0x80000000)
	i("abs", 0x7fffffff)
	i("i127", 127)
	i("nan", 0x7fc00000)
	f("neginf", math.Inf(-1))
	f("exp_hi", 89)
	f("exp_lo", -104)
	f("log2e", math.Log2E)
	f("ln2hi", 0.693359375)
	f("ln2lo", -2.12194440e-4)
	for k, c := range []float64{1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1} {
		f(fmt.Sprintf("exp_p%d", k), c)
	}
	f("tanh_small", 0.625)
	for k, c := range []float64{-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1} {
		f(fmt.Sprintf("tanh_p%d", k), c)
	}
	// erf(x)/x = P(x²) on [0, 1], relative error 1.2e-9 (a least-squares
	// fit on Chebyshev nodes refined to minimax by Lawson's algorithm).
	for k, c := range []float64{7.8540263426405986e-5, -0.0008010247664544976, 0.0051883345029278488, -0.02685381607072479, 0.11283585270833705, -0.37612625839752695, 1.1283791657323471} {
		f(fmt.Sprintf("erf_p%d", k), c)
	}
	// Numerical Recipes' erfcc, coefficients of t^0..t^9 (plus the
	// constant -1.26551223 in the exponent).
	for k, c := range []float64{-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277} {
		f(fmt.Sprintf("erfc_p%d", k), c)
	}
	f("erfc_amax", 12)
	f("zl_max", 1e-3)
	f("zl_min", -1e-3)
	f("rsqrt2", 1/math.Sqrt2)
	f("rsqrt2lo", 1/math.Sqrt2-float64(float32(1/math.Sqrt2)))
	f("gelut_c1", 2*math.Sqrt(2/math.Pi))
	f("gelut_c3", 2*math.Sqrt(2/math.Pi)*0.044715)
}

var usedConsts = map[string]bool{}

func use(name string) {
	if _, ok := vecConstVals[name]; !ok {
		panic("unknown constant " + name)
	}
	usedConsts[name] = true
}

func (g *gen) vecConsts() {
	g.p("")
	g.p("// Constant vectors: 16 copies of each value, read as memory operands.")
	names := make([]string, 0, len(usedConsts))
	for n, used := range usedConsts {
		if used {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		for i := 0; i < 16; i++ {
			g.p("DATA ·vc_%s+%d(SB)/4, $0x%08x", n, 4*i, vecConstVals[n])
		}
		g.p("GLOBL ·vc_%s(SB), RODATA|NOPTR, $64", n)
	}
	// The AVX2 tail masks: 8 all-ones words then 8 zero words; the mask
	// for r < 8 remaining elements starts r words before the zeros.
	for i := 0; i < 16; i++ {
		val := uint32(0)
		if i < 8 {
			val = 0xffffffff
		}
		g.p("DATA ·vc_tailmask+%d(SB)/4, $0x%08x", 4*i, val)
	}
	g.p("GLOBL ·vc_tailmask(SB), RODATA|NOPTR, $64")
	// The lane numbers, as int32.
	for i := 0; i < 16; i++ {
		g.p("DATA ·vc_iota+%d(SB)/4, $%d", 4*i, i)
	}
	g.p("GLOBL ·vc_iota(SB), RODATA|NOPTR, $64")
}

// stridedRows writes
//
//	func stridedRows(rows, n int, dst *float32, dstStride int, src *float32, srcStride int, s int)
//
// dst[r·dstStride + i] = src[r·srcStride + i·s] for r < rows and i < n,
// every s-th element of each source row (a pooling's window starts): one
// gather per vector of outputs, lane l reading l·s elements past the
// vector's start (vc_iota·s, computed once); at s = 1, plain vector loads,
// which are faster than a gather, and on AVX-512 at s = 2 a permute of two
// loaded vectors (evenRows). The strides are in elements. Masked-off lanes
// of the last vector of a row are neither read nor written.
func (v *vg) stridedRows() {
	g := v.g
	fn := "stridedRows" + v.sfx()
	g.p("")
	g.p("// func %s(rows, n int, dst *float32, dstStride int, src *float32, srcStride int, s int)", fn)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-56", fn)
	g.p("	MOVQ rows+0(FP), R8")
	g.p("	MOVQ n+8(FP), R9")
	g.p("	MOVQ dst+16(FP), DI")
	g.p("	MOVQ dstStride+24(FP), R10")
	g.p("	SHLQ $2, R10")
	g.p("	MOVQ src+32(FP), SI")
	g.p("	MOVQ srcStride+40(FP), R11")
	g.p("	SHLQ $2, R11")
	g.p("	MOVQ s+48(FP), DX")
	idx, out := v.reg(1), v.reg(0)
	if v.z {
		g.p("	VPBROADCASTD DX, Z3")
	} else {
		g.p("	MOVQ DX, X3")
		g.p("	VPBROADCASTD X3, Y3")
	}
	g.p("	VPMULLD ·vc_iota(SB), %s, %s", v.reg(3), idx)
	if v.z {
		g.p("	CMPQ DX, $2")
		g.p("	JEQ evenrows")
	}
	g.p("	SHLQ $%d, DX // bytes per vector of outputs", 2+map[bool]int{true: 4, false: 3}[v.z])
	g.p("	CMPQ DX, $%d", v.bytes())
	g.p("	JEQ copyrow")
	gather := func() {
		if v.z {
			g.p("	VGATHERDPS (R13)(%s*4), K2, %s", idx, out)
		} else {
			g.p("	VGATHERDPS Y2, (R13)(%s*4), %s", idx, out)
		}
	}
	g.p("row:")
	g.p("	TESTQ R8, R8")
	g.p("	JEQ done")
	g.p("	MOVQ R9, BX")
	g.p("	MOVQ DI, R12")
	g.p("	MOVQ SI, R13")
	g.p("vec:")
	g.p("	CMPQ BX, $%d", v.w())
	g.p("	JLT tail")
	if v.z { // the gather clears its mask as it goes
		g.p("	KXNORW K2, K2, K2")
	} else {
		g.p("	VPCMPEQD Y2, Y2, Y2")
	}
	gather()
	g.p("	VMOVUPS %s, (R12)", out)
	g.p("	ADDQ $%d, R12", v.bytes())
	g.p("	ADDQ DX, R13")
	g.p("	SUBQ $%d, BX", v.w())
	g.p("	JMP vec")
	g.p("tail:")
	g.p("	TESTQ BX, BX")
	g.p("	JEQ next")
	v.tailMask("BX")
	if v.z {
		g.p("	KMOVW AX, K2")
		gather()
		g.p("	VMOVUPS %s, K1, (R12)", out)
	} else {
		g.p("	VMOVAPS Y15, Y2")
		gather()
		g.p("	VMASKMOVPS %s, Y15, (R12)", out)
	}
	g.p("next:")
	g.p("	ADDQ R10, DI")
	g.p("	ADDQ R11, SI")
	g.p("	DECQ R8")
	g.p("	JMP row")
	// s = 1: rows copied with plain loads, which a gather is slower than.
	g.p("copyrow:")
	g.p("	TESTQ R8, R8")
	g.p("	JEQ done")
	g.p("	MOVQ R9, BX")
	g.p("	MOVQ DI, R12")
	g.p("	MOVQ SI, R13")
	g.p("cvec:")
	g.p("	CMPQ BX, $%d", v.w())
	g.p("	JLT ctail")
	g.p("	VMOVUPS (R13), %s", out)
	g.p("	VMOVUPS %s, (R12)", out)
	g.p("	ADDQ $%d, R12", v.bytes())
	g.p("	ADDQ $%d, R13", v.bytes())
	g.p("	SUBQ $%d, BX", v.w())
	g.p("	JMP cvec")
	g.p("ctail:")
	g.p("	TESTQ BX, BX")
	g.p("	JEQ cnext")
	v.tailMask("BX")
	if v.z {
		g.p("	VMOVUPS.Z (R13), K1, %s", out)
		g.p("	VMOVUPS %s, K1, (R12)", out)
	} else {
		g.p("	VMASKMOVPS (R13), Y15, %s", out)
		g.p("	VMASKMOVPS %s, Y15, (R12)", out)
	}
	g.p("cnext:")
	g.p("	ADDQ R10, DI")
	g.p("	ADDQ R11, SI")
	g.p("	DECQ R8")
	g.p("	JMP copyrow")
	if v.z {
		v.evenRows(idx, out)
	}
	g.p("done:")
	g.p("	VZEROUPPER")
	g.p("	RET")
}

// evenRows writes stridedRows' AVX-512 path for s = 2 (a stride-2
// convolution's padding phases, a stride-2 pooling's window starts): a
// vector of outputs is the even elements of two loaded vectors, picked by
// a permute with idx (vc_iota·2, the gather's offsets), which costs a
// fraction of a gather. The loads are masked (K4, K5) to the elements
// used, the second to 15 of a full vector's, so nothing past the row's
// last output is read.
func (v *vg) evenRows(idx, out string) {
	g := v.g
	// pick loads the vectors under K4 and K5, keeps the even elements and
	// stores them under store's mask.
	pick := func(store string) {
		g.p("	VMOVUPS.Z (R13), K4, %s", out)
		g.p("	VMOVUPS.Z 64(R13), K5, Z4")
		g.p("	VPERMT2PS Z4, %s, %s", idx, out)
		g.p("	VMOVUPS %s, %s(R12)", out, store)
	}
	g.p("evenrows:")
	g.p("	TESTQ R8, R8")
	g.p("	JEQ done")
	g.p("	MOVQ R9, BX")
	g.p("	MOVQ DI, R12")
	g.p("	MOVQ SI, R13")
	g.p("	MOVL $0xffff, AX")
	g.p("	KMOVW AX, K4")
	g.p("	MOVL $0x7fff, AX")
	g.p("	KMOVW AX, K5")
	g.p("evec:")
	g.p("	CMPQ BX, $16")
	g.p("	JLT etail")
	pick("")
	g.p("	ADDQ $64, R12")
	g.p("	ADDQ $128, R13")
	g.p("	SUBQ $16, BX")
	g.p("	JMP evec")
	g.p("etail:")
	g.p("	TESTQ BX, BX")
	g.p("	JEQ enext")
	// c < 16 outputs read 2c - 1 elements: the loads' masks are that
	// many low bits, split over the two vectors.
	g.p("	LEAQ -1(BX)(BX*1), CX")
	g.p("	MOVL $1, AX")
	g.p("	SHLL CX, AX")
	g.p("	DECL AX")
	g.p("	KMOVW AX, K4")
	g.p("	SHRL $16, AX")
	g.p("	KMOVW AX, K5")
	v.tailMask("BX")
	pick("K1, ")
	g.p("enext:")
	g.p("	ADDQ R10, DI")
	g.p("	ADDQ R11, SI")
	g.p("	DECQ R8")
	g.p("	JMP evenrows")
}

// Direct convolution tiles for depthwise Conv: taps(R, V) writes
//
//	func taps<W>r<R>v<V>(dst *float32, dstStride int, src *float32, srcStride int, offs *int32, w *float32, taps int, bias float32, last int)
//
// an R-row × V-vector tile of one output channel:
// dst[r·dstStride + i] = bias + Σt w[t]·src[r·srcStride + offs[t] + i] for
// r < R and i < (V-1)·lanes + last. Each tap is one broadcast weight and
// R·V FMAs with memory operands, into R·V accumulators that stay in
// registers for all the taps, so the output is written once. Loads are
// whole vectors (up to a vector past the tile: the caller's source has
// slack), stores of the last vector are masked. taps must be at least 1.
func (v *vg) taps(rows, vecs int) {
	g := v.g
	fn := fmt.Sprintf("taps%sr%dv%d", v.sfx(), rows, vecs)
	g.p("")
	g.p("// func %s(dst *float32, dstStride int, src *float32, srcStride int, offs *int32, w *float32, taps int, bias float32, last int)", fn)
	g.p("TEXT ·%s(SB), NOSPLIT, $0-72", fn)
	g.p("\tMOVQ dst+0(FP), DI")
	g.p("\tMOVQ dstStride+8(FP), R13")
	g.p("\tSHLQ $2, R13")
	g.p("\tMOVQ src+16(FP), SI")
	g.p("\tMOVQ srcStride+24(FP), R14")
	g.p("\tSHLQ $2, R14")
	g.p("\tMOVQ offs+32(FP), R10")
	g.p("\tMOVQ w+40(FP), R11")
	g.p("\tMOVQ taps+48(FP), R12")
	g.p("\tMOVQ last+64(FP), CX")
	bias, wt := v.reg(15), v.reg(14)
	if v.z {
		bias, wt = "Z31", "Z30"
		g.p("\tMOVL $1, AX")
		g.p("\tSHLL CX, AX")
		g.p("\tDECL AX")
		g.p("\tKMOVW AX, K1")
	}
	g.p("\tVBROADCASTSS bias+56(FP), %s", bias)
	acc := func(r, j int) string { return v.reg(r*vecs + j) }
	for r := 0; r < rows; r++ {
		for j := 0; j < vecs; j++ {
			g.p("\tVMOVAPS %s, %s", bias, acc(r, j))
		}
	}
	g.p("tap:")
	g.p("\tMOVLQSX (R10), BX")
	g.p("\tLEAQ (SI)(BX*4), BX")
	g.p("\tVBROADCASTSS (R11), %s", wt)
	for r := 0; r < rows; r++ {
		for j := 0; j < vecs; j++ {
			addr := fmt.Sprintf("%d(BX)", j*v.bytes())
			if r == 1 {
				addr = fmt.Sprintf("%d(BX)(R14*1)", j*v.bytes())
			}
			g.p("\tVFMADD231PS %s, %s, %s", addr, wt, acc(r, j))
		}
	}
	g.p("\tADDQ $4, R10")
	g.p("\tADDQ $4, R11")
	g.p("\tDECQ R12")
	g.p("\tJNE tap")
	if !v.z {
		// The mask for the last vector: last all-ones words.
		g.p("\tLEAQ ·vc_tailmask+32(SB), AX")
		g.p("\tSHLQ $2, CX")
		g.p("\tSUBQ CX, AX")
		g.p("\tVMOVUPS (AX), %s", wt)
	}
	for r := 0; r < rows; r++ {
		for j := 0; j < vecs; j++ {
			addr := fmt.Sprintf("%d(DI)", j*v.bytes())
			if r == 1 {
				addr = fmt.Sprintf("%d(DI)(R13*1)", j*v.bytes())
			}
			switch {
			case j < vecs-1:
				g.p("\tVMOVUPS %s, %s", acc(r, j), addr)
			case v.z:
				g.p("\tVMOVUPS %s, K1, %s", acc(r, j), addr)
			default:
				g.p("\tVMASKMOVPS %s, %s, %s", acc(r, j), wt, addr)
			}
		}
	}
	g.p("\tVZEROUPPER")
	g.p("\tRET")
}

// tapsTiles are the (rows, vectors) tiles the direct convolution uses: one
// or two rows, up to 8 accumulators (the AVX2 file has 16 registers, and 8
// independent FMA chains cover the FMA latency on both).
var tapsTiles = func() [][2]int {
	var ts [][2]int
	for r := 1; r <= 2; r++ {
		for j := 1; r*j <= 8; j++ {
			ts = append(ts, [2]int{r, j})
		}
	}
	return ts
}()
