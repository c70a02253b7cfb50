package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/matryer/is"
)

// The vector kernels are tested variant by variant (every one this machine
// runs, the portable one included) against float64 references, on lengths
// from 0 to 1000 (all the tail lengths of every vector width), at
// unaligned offsets, in place and out of place, with special values mixed
// in. Each output is checked against the ONNX test rule (|got − want| ≤
// 1e-7 + 1e-3·|want|) and against a bound in ulps that documents each
// function's accuracy; the elements just past the output must not change.

// vecLengths are the lengths every kernel is run on.
func vecLengths(r *rand.Rand) []int {
	var ns []int
	for n := 0; n <= 70; n++ {
		ns = append(ns, n)
	}
	for range 12 {
		ns = append(ns, 71+r.IntN(930))
	}
	return append(ns, 1000, 1023, 1024, 1025)
}

// specials are inputs every function must get right: zeros, infinities,
// NaN, subnormals, the largest finite values and values around the
// thresholds of the kernels' branches.
var specials = []float32{
	0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
	1e-45, -1e-45, 1e-40, -1e-40, 1.17549435e-38, -1.17549435e-38, 1e-20, -1e-20, 1e-8, -1e-8,
	math.MaxFloat32, -math.MaxFloat32, 1e30, -1e30,
	88.72, 88.7228, 88.73, 89, 90, -87.3, -88, -100, -103.9, -103.98, -104, -104.1, -150,
	0.625, -0.625, 0.6251, 0.9999, 1, -1, 1.0001, 3.9, 4, 9, 10, 12, -12, 13, 20,
	0.5, -0.5, 2, -2, 1.4142135, -1.4142135, 5.656854, -5.656854, -8, -9, -15,
}

// ulpErr is |got − want| in float32 ulps at want (subnormal spacing below
// the smallest normal); 0 when both are NaN or the same infinity, and Inf
// when one is NaN and the other not.
func ulpErr(got float32, want float64) float64 {
	g := float64(got)
	switch {
	case math.IsNaN(want) || math.IsNaN(g):
		if math.IsNaN(want) && math.IsNaN(g) {
			return 0
		}
		return math.Inf(1)
	case math.IsInf(g, 0) || math.IsInf(want, 0):
		// A finite want beyond the float32 range rounds to the infinity.
		if math.IsInf(g, 0) && (g == want || (math.Abs(want) > math.MaxFloat32 && math.Signbit(g) == math.Signbit(want))) {
			return 0
		}
		return math.Inf(1)
	}
	w := math.Abs(want)
	ulp := math.Ldexp(1, -149)
	if w >= 0x1p-126 {
		_, e := math.Frexp(w) // w = f·2^e, f in [0.5, 1)
		ulp = math.Ldexp(1, e-24)
	}
	return math.Abs(g-want) / ulp
}

// onnxClose is the ONNX backend tests' rule, with NaN matching NaN.
func onnxClose(got float32, want float64) bool {
	g := float64(got)
	if math.IsNaN(want) || math.IsNaN(g) {
		return math.IsNaN(want) && math.IsNaN(g)
	}
	if math.IsInf(want, 0) || math.IsInf(g, 0) {
		return ulpErr(got, want) == 0
	}
	return math.Abs(g-want) <= 1e-7+1e-3*math.Abs(want)
}

// unaryRef is each function in float64, the definition the kernels
// approximate.
var unaryRef = [numUnaryOps]func(float64) float64{
	Relu: func(v float64) float64 {
		if v < 0 {
			return 0
		}
		return v
	},
	Exp: math.Exp, Erf: math.Erf, Tanh: math.Tanh, Sigmoid: Sigmoid64, Gelu: Gelu64, GeluTanh: GeluTanh64,
}

// unaryRange is the interval random inputs are drawn from: wide enough to
// reach every branch, overflow and underflow.
var unaryRange = [numUnaryOps][2]float64{
	Relu: {-10, 10}, Exp: {-110, 95}, Erf: {-6, 6}, Tanh: {-12, 12}, Sigmoid: {-110, 110},
	Gelu: {-16, 12}, GeluTanh: {-16, 12},
}

// unaryULPs bounds the error of the assembly variants, in ulps (the
// portable variant rounds a float64 result once: 0.5); the maxima measured
// by TestUnaryAccuracyReport are a little lower (here: Exp 0.97, Erf
// 2.26, Tanh 1.22, Sigmoid 2.61, Gelu 6.08, GeluTanh 18.1). Gelu's comes
// from erfc for negative inputs (the Numerical Recipes formula's own
// 1.2e-7, its polynomial and the exponential). GeluTanh's is the
// largest: its argument u = √(2/π)·(x + 0.044715x³) carries a few ulps of
// float32 rounding, which the result's tail e^u (for negative x) turns
// into |u| times as many; it stays ~1e4 times inside the ONNX tolerance.
var unaryULPs = [numUnaryOps]float64{
	Relu: 0, Exp: 2, Erf: 3, Tanh: 2, Sigmoid: 3, Gelu: 8, GeluTanh: 32,
}

// unaryTol is the ulp bound for variant v, or for op near where the
// result is tiny compared to its inputs (see below).
func unaryTol(v *vecVariant, op UnaryOp) float64 {
	if v == vecPortable {
		return 0.5 + 1e-9
	}
	return unaryULPs[op]
}

// relTolExempt reports whether want is so small against x that a bound in
// ulps of want is not meaningful and only the ONNX rule applies: the
// Gelu variants for large negative x, whose result is x times a
// probability far below float32's epsilon (their absolute error is then
// ≪ 1e-7).
func relTolExempt(op UnaryOp, x float32, want float64) bool {
	return (op == Gelu || op == GeluTanh) && x < -3 && math.Abs(want) < 1e-6
}

func vecInputs(r *rand.Rand, n int, lo, hi float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		if r.IntN(8) == 0 {
			x[i] = specials[r.IntN(len(specials))]
			continue
		}
		x[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return x
}

// window returns a buffer holding n values at a random offset, with
// sentinel values around them, and the slice of the n values.
func window(r *rand.Rand, n int) (buf, s []float32) {
	off := r.IntN(17)
	buf = make([]float32, off+n+17)
	for i := range buf {
		buf[i] = sentinel
	}
	return buf, buf[off : off+n]
}

func checkSentinels(t *testing.T, name string, buf, s []float32) {
	t.Helper()
	if len(s) == 0 {
		return
	}
	start := int(uintptr(unsafePtr(s))-uintptr(unsafePtr(buf))) / 4
	for i, v := range buf {
		if (i < start || i >= start+len(s)) && v != sentinel {
			t.Fatalf("%s: element %d outside the output changed to %v", name, i-start, v)
		}
	}
}

func TestUnary(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	lengths := vecLengths(r)
	for _, v := range vecVariants {
		for op := range numUnaryOps {
			t.Run(fmt.Sprintf("%s/%v", v.name, op), func(t *testing.T) {
				lo, hi := unaryRange[op][0], unaryRange[op][1]
				for _, n := range lengths {
					x := vecInputs(r, n, lo, hi)
					if n == len(specials) {
						copy(x, specials)
					}
					buf, dst := window(r, n)
					v.unaryOf(op, dst, x)
					checkSentinels(t, "out of place", buf, dst)
					in := slices.Clone(x)
					v.unaryOf(op, in, in) // in place
					for i, xv := range x {
						want := unaryRef[op](float64(xv))
						got := dst[i]
						if math.Float32bits(in[i]) != math.Float32bits(got) && !(got != got && in[i] != in[i]) {
							t.Fatalf("n=%d: %v(%v) in place = %v, out of place %v", n, op, xv, in[i], got)
						}
						if !onnxClose(got, want) {
							t.Fatalf("n=%d: %v(%v) = %v, want %v (outside the ONNX tolerance)", n, op, xv, got, want)
						}
						if e := ulpErr(got, want); e > unaryTol(v, op) && !relTolExempt(op, xv, want) {
							t.Fatalf("n=%d: %v(%v) = %v, want %v: %.2f ulp > %v", n, op, xv, got, want, e, unaryTol(v, op))
						}
					}
				}
			})
		}
	}
}

// TestUnaryAccuracyReport logs each function's largest error in ulps
// over a dense sweep of its range, for the record (go test -v -run
// AccuracyReport).
func TestUnaryAccuracyReport(t *testing.T) {
	if testing.Short() {
		t.Skip("long sweep")
	}
	for _, v := range vecVariants {
		for op := range numUnaryOps {
			lo, hi := unaryRange[op][0], unaryRange[op][1]
			const n = 1 << 18
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(lo + (hi-lo)*float64(i)/n)
			}
			y := make([]float32, n)
			v.unaryOf(op, y, x)
			worst, at := 0.0, float32(0)
			for i, xv := range x {
				want := unaryRef[op](float64(xv))
				if relTolExempt(op, xv, want) {
					continue
				}
				if e := ulpErr(y[i], want); e > worst {
					worst, at = e, xv
				}
			}
			t.Logf("%-8s %-8v max %.2f ulp at x=%v", v.name, op, worst, at)
			if worst > unaryTol(v, op) {
				t.Errorf("%s %v: %.2f ulp at %v exceeds %v", v.name, op, worst, at, unaryTol(v, op))
			}
		}
	}
}

func TestBinaryExact(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	lengths := vecLengths(r)
	ref := [numBinOps]func(x, y float32) float32{
		func(x, y float32) float32 { return x + y },
		func(x, y float32) float32 { return x - y },
		func(x, y float32) float32 { return x * y },
		func(x, y float32) float32 { return x / y },
	}
	same := func(a, b float32) bool {
		return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
	}
	for _, v := range vecVariants {
		for op := range numBinOps {
			t.Run(fmt.Sprintf("%s/%v", v.name, op), func(t *testing.T) {
				for _, n := range lengths {
					a, b := vecInputs(r, n, -100, 100), vecInputs(r, n, -100, 100)
					s := vecInputs(r, 1, -100, 100)[0]
					buf, dst := window(r, n)
					v.binary(op, dst, a, b)
					checkSentinels(t, "vv", buf, dst)
					for i := range dst {
						if !same(dst[i], ref[op](a[i], b[i])) {
							t.Fatalf("n=%d: %v %v %v = %v, want %v", n, a[i], op, b[i], dst[i], ref[op](a[i], b[i]))
						}
					}
					buf, dst = window(r, n)
					v.binaryScalar(op, dst, a, s)
					checkSentinels(t, "vs", buf, dst)
					for i := range dst {
						if !same(dst[i], ref[op](a[i], s)) {
							t.Fatalf("n=%d: %v %v %v = %v, want %v", n, a[i], op, s, dst[i], ref[op](a[i], s))
						}
					}
					buf, dst = window(r, n)
					v.scalarBinary(op, dst, s, b)
					checkSentinels(t, "sv", buf, dst)
					for i := range dst {
						if !same(dst[i], ref[op](s, b[i])) {
							t.Fatalf("n=%d: %v %v %v = %v, want %v", n, s, op, b[i], dst[i], ref[op](s, b[i]))
						}
					}
					// In place, dst aliasing the first operand.
					c := slices.Clone(a)
					v.binary(op, c, c, b)
					for i := range c {
						if !same(c[i], ref[op](a[i], b[i])) {
							t.Fatalf("in place: got %v, want %v", c[i], ref[op](a[i], b[i]))
						}
					}
				}
			})
		}
	}
}

func TestReductions(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	lengths := vecLengths(r)
	for _, v := range vecVariants {
		t.Run(v.name, func(t *testing.T) {
			is := is.New(t)
			for _, n := range lengths {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(r.NormFloat64()*3 + 50)
				}
				var s, sq, mag float64
				for _, e := range x {
					s += float64(e)
					sq += float64(e) * float64(e)
					mag += math.Abs(float64(e))
				}
				mean := s / float64(max(n, 1))
				var dev float64
				for _, e := range x {
					d := float64(e) - mean
					dev += d * d
				}
				is.True(math.Abs(v.sumOf(v.sum, x, goSum)-s) <= 1e-13*mag)
				is.True(math.Abs(v.sumOf(v.sumSq, x, goSumSq)-sq) <= 1e-13*sq)
				is.True(math.Abs(v.sumSqDevOf(x, mean)-dev) <= 1e-12*sq)

				m := float32(math.Inf(-1))
				for _, e := range x {
					m = max(m, e)
				}
				is.Equal(v.maxOf(x), m)
				if n > 0 {
					// A NaN anywhere, the tail included, wins; so does
					// -Inf lose to everything.
					y := slices.Clone(x)
					y[r.IntN(n)] = float32(math.NaN())
					got := v.maxOf(y)
					is.True(got != got)
					for i := range y {
						y[i] = float32(math.Inf(-1))
					}
					is.Equal(v.maxOf(y), float32(math.Inf(-1)))
					y[n-1] = -3
					is.Equal(v.maxOf(y), float32(-3))
				}
			}
		})
	}
}

func TestExpShiftSum(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	for _, v := range vecVariants {
		t.Run(v.name, func(t *testing.T) {
			for _, n := range vecLengths(r) {
				x := vecInputs(r, n, -30, 10)
				for i := range x {
					if x[i] != x[i] || math.IsInf(float64(x[i]), 1) || x[i] > 20 {
						x[i] = 1 // a NaN or +Inf would make the sum NaN or Inf
					}
				}
				shift := float32(3.5)
				buf, dst := window(r, n)
				got := v.expShiftSumOf(dst, x, shift)
				checkSentinels(t, "expShiftSum", buf, dst)
				var want float64
				for i, xv := range x {
					e := math.Exp(float64(xv - shift))
					want += float64(float32(e))
					if ulpErr(dst[i], e) > unaryTol(v, Exp) {
						t.Fatalf("n=%d: exp(%v-%v) = %v, want %v", n, xv, shift, dst[i], e)
					}
				}
				if !(math.Abs(float64(got)-want) <= 1e-6*want+1e-30) { // NaN fails too
					t.Fatalf("n=%d: sum %v, want %v", n, got, want)
				}
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	for _, v := range vecVariants {
		t.Run(v.name, func(t *testing.T) {
			for _, n := range vecLengths(r) {
				// Rows far from zero with a small spread: the
				// standardisation must not lose them to cancellation.
				x, scale, bias := make([]float32, n), make([]float32, n), make([]float32, n)
				for i := range x {
					x[i] = float32(1000 + r.NormFloat64()*0.01)
					scale[i] = float32(r.Float64()*2 - 1)
					bias[i] = float32(r.Float64()*2 - 1)
				}
				mean := goSum(x) / float64(max(n, 1))
				inv := 1 / math.Sqrt(goSumSqDev(x, mean)/float64(max(n, 1))+1e-5)
				for _, b := range [][]float32{bias, nil} {
					buf, dst := window(r, n)
					v.normalize(dst, x, scale, b, mean, inv)
					checkSentinels(t, "normalize", buf, dst)
					for i := range dst {
						y := float32((float64(x[i])-mean)*inv) * scale[i]
						want, mag := float64(y), math.Abs(float64(y))
						if b != nil {
							want += float64(b[i])
							mag += math.Abs(float64(b[i]))
						}
						if !(math.Abs(float64(dst[i])-want) <= 2*mag*0x1p-24) { // NaN fails too
							t.Fatalf("n=%d bias=%v: element %d = %v, want %v", n, b != nil, i, dst[i], want)
						}
					}
				}
			}
		})
	}
}

// TestVecSpecialValues pins the IEEE cases of each function, in every
// variant and at every position of a vector (the value is placed at each
// index of a 33-element input, so it is met in full vectors and tails).
func TestVecSpecialValues(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	cases := []struct {
		op   UnaryOp
		x    float32
		want float64
	}{
		{Exp, float32(inf), inf}, {Exp, float32(-inf), 0}, {Exp, float32(nan), nan}, {Exp, 0, 1},
		{Exp, 89, inf}, {Exp, -110, 0}, {Exp, 1e-45, 1},
		{Exp, -100, math.Exp(-100)}, // subnormal
		{Erf, float32(inf), 1}, {Erf, float32(-inf), -1}, {Erf, float32(nan), nan}, {Erf, float32(math.Copysign(0, -1)), math.Copysign(0, -1)},
		{Tanh, float32(inf), 1}, {Tanh, float32(-inf), -1}, {Tanh, float32(nan), nan}, {Tanh, float32(math.Copysign(0, -1)), math.Copysign(0, -1)},
		{Sigmoid, float32(inf), 1}, {Sigmoid, float32(-inf), 0}, {Sigmoid, float32(nan), nan}, {Sigmoid, -100, Sigmoid64(-100)},
		{Gelu, float32(inf), inf}, {Gelu, float32(-inf), nan}, {Gelu, float32(nan), nan}, {Gelu, -20, math.Copysign(0, -1)},
		{GeluTanh, float32(inf), inf}, {GeluTanh, float32(-inf), nan}, {GeluTanh, float32(nan), nan},
		{Relu, float32(nan), nan}, {Relu, float32(math.Copysign(0, -1)), math.Copysign(0, -1)}, {Relu, float32(-inf), 0},
	}
	for _, v := range vecVariants {
		for _, c := range cases {
			for pos := 0; pos < 33; pos++ {
				x := make([]float32, 33)
				for i := range x {
					x[i] = 0.25
				}
				x[pos] = c.x
				y := make([]float32, 33)
				v.unaryOf(c.op, y, x)
				got := y[pos]
				ok := ulpErr(got, c.want) == 0
				if c.want == 0 || math.IsNaN(c.want) || math.IsInf(c.want, 0) {
					ok = (got != got && c.want != c.want) || (float64(got) == c.want && math.Signbit(float64(got)) == math.Signbit(c.want))
				} else if !ok {
					ok = ulpErr(got, c.want) <= unaryTol(v, c.op)
				}
				if !ok {
					t.Fatalf("%s: %v(%v) at index %d = %v, want %v", v.name, c.op, c.x, pos, got, c.want)
				}
			}
		}
	}
}

func TestVecPanicsOnShortSlices(t *testing.T) {
	for _, f := range []func(){
		func() { Binary(Add, make([]float32, 4), make([]float32, 3), make([]float32, 4)) },
		func() { BinaryScalar(Mul, make([]float32, 4), make([]float32, 3), 1) },
		func() { Unary(Exp, make([]float32, 4), make([]float32, 3)) },
		func() { Normalize(make([]float32, 4), make([]float32, 4), make([]float32, 3), nil, 0, 1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic for a too-short operand")
				}
			}()
			f()
		}()
	}
}

func TestVecDoesNotAllocate(t *testing.T) {
	is := is.New(t)
	x, y, s := make([]float32, 1001), make([]float32, 1001), make([]float32, 1001)
	allocs := testing.AllocsPerRun(20, func() {
		Binary(Add, y, x, x)
		BinaryScalar(Div, y, x, 3)
		ScalarBinary(Sub, y, 3, x)
		for op := range numUnaryOps {
			Unary(op, y, x)
		}
		_ = Sum(x) + SumSquares(x) + SumSquaredDeviations(x, 1)
		_ = Max(x)
		_ = ExpShiftSum(y, x, 0)
		Normalize(y, x, s, s, 0, 1)
	})
	is.Equal(allocs, 0.0)
}

func TestVecVariants(t *testing.T) {
	is := is.New(t)
	var names []string
	for _, v := range vecVariants {
		names = append(names, v.name)
	}
	t.Logf("vector variants on this machine: %v; the kernels use %s", names, VecVariant())
	is.Equal(vecVariants[len(vecVariants)-1], vecPortable)
	is.Equal(vecBest, vecVariants[0])
	for _, v := range vecVariants {
		for op := range numBinOps {
			is.True(v.vv[op] != nil && v.vs[op] != nil)
		}
		for op := range numUnaryOps {
			is.True(v.unary[op] != nil)
		}
	}
}

func unsafePtr(s []float32) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(s)) }

// TestMaximum checks every variant's Maximum against the rule at every
// length: NaN where either operand is NaN, else the larger (either zero
// for +0 against -0), infinities included, in place too.
func TestMaximum(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1))}
	for _, v := range vecVariants {
		t.Run(v.name, func(t *testing.T) {
			for _, n := range vecLengths(r) {
				a, b := vecInputs(r, n, -100, 100), vecInputs(r, n, -100, 100)
				for i := range n {
					if r.IntN(8) == 0 {
						a[i] = special[r.IntN(len(special))]
					}
					if r.IntN(8) == 0 {
						b[i] = special[r.IntN(len(special))]
					}
				}
				if n == 0 {
					continue
				}
				buf, dst := window(r, n)
				v.maxVV(n, &dst[0], &a[0], &b[0])
				checkSentinels(t, "max", buf, dst)
				for i := range dst {
					x, y, got := a[i], b[i], dst[i]
					switch {
					case x != x || y != y:
						if got == got {
							t.Fatalf("n=%d: max(%v, %v) = %v, want NaN", n, x, y, got)
						}
					case got != max(x, y):
						t.Fatalf("n=%d: max(%v, %v) = %v", n, x, y, got)
					}
				}
				c := slices.Clone(a)
				v.maxVV(n, &c[0], &c[0], &b[0])
				for i := range c {
					if w := maxNaN(a[i], b[i]); c[i] != w && (c[i] == c[i] || w == w) {
						t.Fatalf("in place: max(%v, %v) = %v", a[i], b[i], c[i])
					}
				}
			}
		})
	}
}

// TestStridedRows checks every variant's StridedRows against the loop it
// replaces, for row lengths around the vector widths, strides 1 to 3 and
// gaps between the destination rows, which must keep their contents.
func TestStridedRows(t *testing.T) {
	const sentinel = float32(-12345)
	for _, v := range vecVariants {
		t.Run(v.name, func(t *testing.T) {
			is := is.New(t)
			for _, n := range []int{1, 7, 8, 9, 14, 15, 16, 17, 31, 33, 56} {
				for _, stride := range []int{1, 2, 3} {
					rows, dstStride := 3, n+5
					srcStride := n*stride + 7
					src := make([]float32, (rows-1)*srcStride+(n-1)*stride+1)
					for i := range src {
						src[i] = float32(i)
					}
					dst := make([]float32, rows*dstStride)
					for i := range dst {
						dst[i] = sentinel
					}
					v.stridedRows(dst, dstStride, src, srcStride, stride, rows, n)
					for r := range rows {
						for i := range dstStride {
							want := sentinel
							if i < n {
								want = src[r*srcStride+i*stride]
							}
							is.Equal(dst[r*dstStride+i], want) // n, stride, row, column
						}
					}
				}
			}
		})
	}
}
