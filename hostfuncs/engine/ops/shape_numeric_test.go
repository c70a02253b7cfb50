package ops_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// shNumericDTypes are the dtypes Cast converts between besides STRING.
var shNumericDTypes = []tensor.DType{
	tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16, tensor.Int8, tensor.Int16,
	tensor.Int32, tensor.Int64, tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64, tensor.Bool,
}

// shRange is the range of values a dtype holds exactly (ints) or the
// range tests draw from (floats).
func shRange(dt tensor.DType) (float64, float64) {
	switch dt {
	case tensor.Int8:
		return math.MinInt8, math.MaxInt8
	case tensor.Int16:
		return math.MinInt16, math.MaxInt16
	case tensor.Int32:
		return math.MinInt32, math.MaxInt32
	case tensor.Int64:
		return -1 << 53, 1 << 53
	case tensor.Uint8:
		return 0, math.MaxUint8
	case tensor.Uint16:
		return 0, math.MaxUint16
	case tensor.Uint32:
		return 0, math.MaxUint32
	case tensor.Uint64:
		return 0, 1 << 53
	case tensor.Bool:
		return 0, 1
	case tensor.Float16:
		return -60000, 60000
	}
	return -1e6, 1e6
}

// shRandValues draws values a dtype holds exactly, with some zeros and
// fractions.
func shRandValues(r *rand.Rand, dt tensor.DType, n int) []float64 {
	lo, hi := shRange(dt)
	v := make([]float64, n)
	for i := range v {
		switch {
		case r.IntN(7) == 0:
			v[i] = 0
		case dt == tensor.Bool:
			v[i] = float64(r.IntN(2))
		case dt.IsFloat():
			v[i] = lo + r.Float64()*(hi-lo)
			if r.IntN(3) == 0 {
				v[i] = math.Round(v[i]/1000) + r.Float64() - 0.5 // near small integers
			}
		default:
			v[i] = math.Round(lo + r.Float64()*(hi-lo))
		}
	}
	// The values as the dtype holds them.
	return shValues(shMake(dt, []int{n}, v))
}

// shNearest rounds v to the nearest value of a half type, ties to even,
// by comparing the neighbours of a first guess.
func shNearestHalf(dt tensor.DType, v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	toF := func(b uint16) float64 {
		if dt == tensor.Float16 {
			return float64(tensor.F16(b).Float32())
		}
		return float64(tensor.BF16(b).Float32())
	}
	var g uint16
	if dt == tensor.Float16 {
		g = uint16(tensor.F16From(float32(v)))
	} else {
		g = uint16(tensor.BF16From(float32(v)))
	}
	best, bestD := g, math.Abs(toF(g)-v)
	// Infinity counts as the next power of two past the largest value.
	dist := func(f float64) float64 {
		if math.IsInf(f, 0) && dt == tensor.Float16 {
			f = math.Copysign(65536, f)
		}
		return math.Abs(f - v)
	}
	bestD = dist(toF(g))
	for _, c := range []uint16{g - 1, g + 1} {
		f := toF(c)
		if math.IsNaN(f) {
			continue
		}
		d := dist(f)
		if d < bestD || (d == bestD && c&1 == 0) {
			best, bestD = c, d
		}
	}
	return toF(best)
}

// shRefCast converts one value by the spec's rules, for values in range.
func shRefCast(to tensor.DType, v float64) float64 {
	switch to {
	case tensor.Float32:
		return float64(float32(v))
	case tensor.Float64:
		return v
	case tensor.Float16, tensor.BFloat16:
		return shNearestHalf(to, v)
	case tensor.Bool:
		if v != 0 {
			return 1
		}
		return 0
	}
	t := math.Trunc(v)
	lo, hi := shRange(to)
	if to == tensor.Int64 || to == tensor.Uint64 {
		return t
	}
	// Wrap into the target's range.
	span := hi - lo + 1
	t = math.Mod(t-lo, span)
	if t < 0 {
		t += span
	}
	return t + lo
}

func TestShapeCastNumeric(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, from := range shNumericDTypes {
		for _, to := range shNumericDTypes {
			t.Run(from.String()+"->"+to.String(), func(t *testing.T) {
				v := shRandValues(r, from, 37)
				if !from.IsFloat() && to != tensor.Bool && !to.IsFloat() {
					// Integer wrapping is checked below; keep values in range.
					lo, hi := shRange(to)
					for i := range v {
						v[i] = math.Max(lo, math.Min(hi, v[i]))
					}
					v = shValues(shMake(from, []int{len(v)}, v))
				}
				if from.IsFloat() && !to.IsFloat() && to != tensor.Bool {
					lo, hi := shRange(to)
					for i := range v {
						v[i] = math.Max(lo, math.Min(hi, v[i]))
					}
					v = shValues(shMake(from, []int{len(v)}, v))
				}
				x := shMake(from, []int{len(v)}, v)
				want := make([]float64, len(v))
				for i, x := range v {
					want[i] = shRefCast(to, x)
				}
				got, err := shRun(t, "Cast", 13, []*graph.Attr{graph.IntAttr("to", int64(to))}, 1, x)
				if err != nil {
					t.Fatal(err)
				}
				if err := enginetest.AllClose(got[0], shMake(to, []int{len(v)}, want)); err != nil {
					t.Fatal(err)
				}
				// CastLike takes the type from its second input.
				got, err = shRun(t, "CastLike", 15, nil, 1, x, shMake(to, []int{1}, []float64{0}))
				if err != nil {
					t.Fatal(err)
				}
				if err := enginetest.AllClose(got[0], shMake(to, []int{len(v)}, want)); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestShapeCastSpecialValues(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	f64 := func(v ...float64) *tensor.Tensor { return tensor.MustFrom(tensor.Shape{len(v)}, v) }
	cases := []struct {
		name string
		in   *tensor.Tensor
		to   tensor.DType
		want *tensor.Tensor
	}{
		{"int16 wraps into int8", tensor.MustFrom(tensor.Shape{3}, []int16{200, -129, 384}), tensor.Int8,
			tensor.MustFrom(tensor.Shape{3}, []int8{-56, 127, -128})},
		{"int64 wraps into uint32", tensor.MustFrom(tensor.Shape{2}, []int64{-1, 1<<32 + 5}), tensor.Uint32,
			tensor.MustFrom(tensor.Shape{2}, []uint32{math.MaxUint32, 5})},
		{"uint64 top bit", tensor.MustFrom(tensor.Shape{2}, []uint64{math.MaxUint64, 1 << 63}), tensor.Float64,
			f64(18446744073709551615, 9223372036854775808)},
		{"uint64 into int64", tensor.MustFrom(tensor.Shape{1}, []uint64{math.MaxUint64}), tensor.Int64,
			tensor.MustFrom(tensor.Shape{1}, []int64{-1})},
		{"int64 into float32 rounds once", tensor.MustFrom(tensor.Shape{1}, []int64{1<<53 + 1 + 1<<29}), tensor.Float32,
			tensor.MustFrom(tensor.Shape{1}, []float32{float32(int64(1<<53 + 1 + 1<<29))})},
		{"floats truncate toward zero", f64(2.9, -2.9, -0.5, 1e300, -1e300, nan), tensor.Int64,
			tensor.MustFrom(tensor.Shape{6}, []int64{2, -2, 0, math.MaxInt64, math.MinInt64, 0})},
		{"float into uint64", f64(1.5e19, 1e30, -1), tensor.Uint64,
			tensor.MustFrom(tensor.Shape{3}, []uint64{15000000000000000000, math.MaxUint64, math.MaxUint64})},
		{"float into bool", f64(0, math.Copysign(0, -1), nan, -inf, 1e-300), tensor.Bool,
			tensor.MustFrom(tensor.Shape{5}, []bool{false, false, true, true, true})},
		{"double overflows float16", f64(65520, 65519.99, -1e10, inf, nan), tensor.Float16,
			shMake(tensor.Float16, []int{5}, []float64{inf, 65504, -inf, inf, nan})},
		// 1 + 2^-11 + 2^-40 is just above a float16 tie: rounding through
		// float32 first would land on the tie and round down to even.
		{"double into float16 rounds once", f64(1 + 1.0/2048 + 1.0/(1<<40)), tensor.Float16,
			shMake(tensor.Float16, []int{1}, []float64{1 + 1.0/1024})},
		{"double into bfloat16 rounds once", f64(1 + 1.0/256 + 1.0/(1<<40)), tensor.BFloat16,
			shMake(tensor.BFloat16, []int{1}, []float64{1 + 1.0/128})},
		{"bool into float", tensor.MustFrom(tensor.Shape{2}, []bool{true, false}), tensor.Float16,
			shMake(tensor.Float16, []int{2}, []float64{1, 0})},
		{"empty", tensor.MustFrom(tensor.Shape{0, 3}, []float32{}), tensor.Int8, tensor.MustFrom(tensor.Shape{0, 3}, []int8{})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := shRun(t, "Cast", 19, []*graph.Attr{graph.IntAttr("to", int64(c.to)), graph.IntAttr("saturate", 0)}, 1, c.in)
			if err != nil {
				t.Fatal(err)
			}
			if err := enginetest.AllClose(got[0], c.want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func shStrings(shape []int, v ...string) *tensor.Tensor {
	ss := make([][]byte, len(v))
	for i, s := range v {
		ss[i] = []byte(s)
	}
	t, err := tensor.FromStrings(tensor.Shape(shape), ss)
	if err != nil {
		panic(err)
	}
	return t
}

func TestShapeCastStrings(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	toStr := []struct {
		name string
		in   *tensor.Tensor
		want []string
	}{
		{"float", tensor.MustFrom(tensor.Shape{10}, []float32{0.1, 3, float32(math.Copysign(0, -1)), 314.15926, 1e-5, 1e16, 123456789, float32(nan), float32(inf), float32(-inf)}),
			[]string{"0.1", "3.0", "-0.0", "314.15927", "1e-05", "1e+16", "123456790.0", "NaN", "INF", "-INF"}},
		{"double", tensor.MustFrom(tensor.Shape{4}, []float64{0.1, 1.0 / 3, 1e-4, 2.5e-300}),
			[]string{"0.1", "0.3333333333333333", "0.0001", "2.5e-300"}},
		{"float16", shMake(tensor.Float16, []int{3}, []float64{0.1, 65504, 1.0 / 3}), []string{"0.1", "65500.0", "0.3333"}},
		{"bfloat16", shMake(tensor.BFloat16, []int{2}, []float64{0.1, 3}), []string{"0.1", "3.0"}},
		{"int8", tensor.MustFrom(tensor.Shape{2}, []int8{-128, 7}), []string{"-128", "7"}},
		{"uint64", tensor.MustFrom(tensor.Shape{1}, []uint64{math.MaxUint64}), []string{"18446744073709551615"}},
		{"bool", tensor.MustFrom(tensor.Shape{2}, []bool{true, false}), []string{"True", "False"}},
	}
	for _, c := range toStr {
		t.Run("to "+c.name, func(t *testing.T) {
			got, err := shRun(t, "Cast", 13, []*graph.Attr{graph.IntAttr("to", int64(tensor.Bytes))}, 1, c.in)
			if err != nil {
				t.Fatal(err)
			}
			if err := enginetest.AllClose(got[0], shStrings([]int{len(c.want)}, c.want...)); err != nil {
				t.Fatal(err)
			}
		})
	}
	fromStr := []struct {
		name string
		in   []string
		to   tensor.DType
		want *tensor.Tensor
	}{
		{"float", []string{"3.14", " 1e-5", "1E8", "+INF", "inf", "-INF", "NaN", "nan", "-nan", "1e999"}, tensor.Float32,
			tensor.MustFrom(tensor.Shape{10}, []float32{3.14, 1e-5, 1e8, float32(inf), float32(inf), float32(-inf), float32(nan), float32(nan), float32(nan), float32(inf)})},
		{"double", []string{"0.1", "-2.5e-300"}, tensor.Float64, tensor.MustFrom(tensor.Shape{2}, []float64{0.1, -2.5e-300})},
		{"float16", []string{"0.1", "70000"}, tensor.Float16, shMake(tensor.Float16, []int{2}, []float64{0.1, inf})},
		{"int", []string{"1000", "100.5", "-7.9", "1e3", "+12"}, tensor.Int32, tensor.MustFrom(tensor.Shape{5}, []int32{1000, 100, -7, 1000, 12})},
		{"int wraps", []string{"200"}, tensor.Int8, tensor.MustFrom(tensor.Shape{1}, []int8{-56})},
		{"uint64", []string{"18446744073709551615", "1e19"}, tensor.Uint64, tensor.MustFrom(tensor.Shape{2}, []uint64{math.MaxUint64, 1e19})},
		{"bool", []string{"True", "false", "0", "2.5", "0.0"}, tensor.Bool, tensor.MustFrom(tensor.Shape{5}, []bool{true, false, false, true, false})},
		{"string", []string{"a", ""}, tensor.Bytes, shStrings([]int{2}, "a", "")},
	}
	for _, c := range fromStr {
		t.Run("from "+c.name, func(t *testing.T) {
			got, err := shRun(t, "Cast", 13, []*graph.Attr{graph.IntAttr("to", int64(c.to))}, 1, shStrings([]int{len(c.in)}, c.in...))
			if err != nil {
				t.Fatal(err)
			}
			if err := enginetest.AllClose(got[0], c.want); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Every float32 prints in a form that reads back as the same value.
	r := rand.New(rand.NewPCG(23, 24))
	v := make([]float32, 301)
	for i := range v {
		v[i] = math.Float32frombits(r.Uint32())
	}
	x := tensor.MustFrom(tensor.Shape{len(v)}, v)
	s, err := shRun(t, "Cast", 13, []*graph.Attr{graph.IntAttr("to", int64(tensor.Bytes))}, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	back, err := shRun(t, "Cast", 13, []*graph.Attr{graph.IntAttr("to", int64(tensor.Float32))}, 1, s[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := enginetest.AllClose(back[0], x); err != nil {
		t.Fatal(err)
	}
	shCheckOwned(t, []*tensor.Tensor{shStrings([]int{1}, "x")}, s)
}

func TestShapeCastErrors(t *testing.T) {
	x := tensor.MustFrom(tensor.Shape{1}, []float32{1})
	to := func(code int64) []*graph.Attr { return []*graph.Attr{graph.IntAttr("to", code)} }
	shExpectErr(t, fault.Unsupported, "Cast", 25, to(17), 1, x) // FLOAT8E4M3FN
	shExpectErr(t, fault.Unsupported, "Cast", 25, to(22), 1, x) // INT4
	shExpectErr(t, fault.Unsupported, "Cast", 6, to(8), 1, x)   // STRING before opset 9
	shExpectErr(t, fault.Unsupported, "Cast", 9, to(16), 1, x)  // BFLOAT16 before opset 13
	shExpectErr(t, fault.Invalid, "Cast", 13, to(99), 1, x)
	shExpectErr(t, fault.Invalid, "Cast", 13, nil, 1, x)
	shExpectErr(t, fault.Invalid, "Cast", 19, append(to(1), graph.IntAttr("saturate", 2)), 1, x)
	shExpectErr(t, fault.Invalid, "Cast", 24, append(to(1), graph.StringAttr("round_mode", "odd")), 1, x)
	shExpectErr(t, fault.Invalid, "Cast", 13, to(1), 1, shStrings([]int{1}, "Hello World!"))
	shExpectErr(t, fault.Invalid, "Cast", 13, to(7), 1, shStrings([]int{1}, "12abc"))
	// Opset 1 names the type.
	got, err := shRun(t, "Cast", 1, []*graph.Attr{graph.StringAttr("to", "DOUBLE")}, 1, x)
	is.New(t).NoErr(err)
	is.New(t).NoErr(enginetest.AllClose(got[0], tensor.MustFrom(tensor.Shape{1}, []float64{1})))
	shExpectErr(t, fault.Unsupported, "Cast", 1, []*graph.Attr{graph.StringAttr("to", "FLOAT8E5M2")}, 1, x)
	shExpectErr(t, fault.Invalid, "Cast", 1, []*graph.Attr{graph.StringAttr("to", "QUAD")}, 1, x)
}

func TestShapeRange(t *testing.T) {
	type rc struct {
		dt                  tensor.DType
		start, limit, delta float64
		opset               int64
	}
	cases := []rc{
		{tensor.Int32, 10, 6, -3, 11}, {tensor.Int16, -5, 7, 4, 11}, {tensor.Int64, 3, 9, 3, 11},
		{tensor.Int64, 0, 0, 1, 11}, {tensor.Int32, 0, 10, -1, 11},
		{tensor.Float32, 1, 5, 2, 11}, {tensor.Float32, 0.1, 1.05, 0.137, 11}, {tensor.Float64, 10, 4, -2.5, 11},
		{tensor.Float64, -1, 1, 1.0 / 3, 11}, {tensor.Float16, 1, 5, 2, 27}, {tensor.BFloat16, -3, 4, 0.5, 27},
		{tensor.Float16, 100, -20, -7.5, 27},
	}
	for _, c := range cases {
		t.Run(c.dt.String(), func(t *testing.T) {
			in := []*tensor.Tensor{
				shMake(c.dt, nil, []float64{c.start}), shMake(c.dt, nil, []float64{c.limit}), shMake(c.dt, nil, []float64{c.delta}),
			}
			s, l, d := in[0].Float64At(0), in[1].Float64At(0), in[2].Float64At(0)
			n := int(math.Max(math.Ceil((l-s)/d), 0))
			want := make([]float64, n)
			for i := range want {
				want[i] = s + float64(i)*d
			}
			got, err := shRun(t, "Range", c.opset, nil, 1, in...)
			if err != nil {
				t.Fatal(err)
			}
			if err := enginetest.AllClose(got[0], shMake(c.dt, []int{n}, want)); err != nil {
				t.Fatal(err)
			}
		})
	}
	big := tensor.MustFrom(nil, []int64{math.MaxInt64})
	small := tensor.MustFrom(nil, []int64{math.MinInt64})
	one := tensor.MustFrom(nil, []int64{1})
	zero := tensor.MustFrom(nil, []int64{0})
	shExpectErr(t, fault.Invalid, "Range", 11, nil, 1, one, big, zero)
	shExpectErr(t, fault.TooLarge, "Range", 11, nil, 1, small, big, one)
	// The extreme span still counts exactly: one step of 2^63.
	got, err := shRun(t, "Range", 11, nil, 1, small, big, tensor.MustFrom(nil, []int64{math.MaxInt64}))
	is.New(t).NoErr(err)
	is.New(t).NoErr(enginetest.AllClose(got[0], tensor.MustFrom(tensor.Shape{3}, []int64{math.MinInt64, -1, math.MaxInt64 - 1})))
	nan := tensor.MustFrom(nil, []float32{float32(math.NaN())})
	f1 := tensor.MustFrom(nil, []float32{1})
	shExpectErr(t, fault.Invalid, "Range", 11, nil, 1, f1, nan, f1)
	shExpectErr(t, fault.TooLarge, "Range", 11, nil, 1, f1, tensor.MustFrom(nil, []float32{float32(math.Inf(1))}), f1)
	// FLOAT16 joined in opset 27.
	s11, err := ops.Default().Lookup("", "Range", 11)
	is.New(t).NoErr(err)
	_, err = s11.InferTypes([]tensor.DType{tensor.Float16, tensor.Float16, tensor.Float16}, 1)
	is.New(t).True(fault.KindOf(err) == fault.Unsupported)
	shExpectErr(t, fault.Invalid, "Range", 11, nil, 1, f1, f1, tensor.MustFrom(tensor.Shape{2}, []float32{1, 2}))
}

func TestShapeGenerators(t *testing.T) {
	i64 := func(shape []int, v ...int64) *tensor.Tensor { return tensor.MustFrom(tensor.Shape(shape), v) }
	// Shape with start and end clamped.
	x := tensor.MustFrom(tensor.Shape{2, 3, 4, 5}, make([]float32, 120))
	for _, c := range []struct {
		attrs []*graph.Attr
		want  []int64
	}{
		{nil, []int64{2, 3, 4, 5}},
		{[]*graph.Attr{graph.IntAttr("start", -1)}, []int64{5}},
		{[]*graph.Attr{graph.IntAttr("end", -1)}, []int64{2, 3, 4}},
		{[]*graph.Attr{graph.IntAttr("start", 1), graph.IntAttr("end", 3)}, []int64{3, 4}},
		{[]*graph.Attr{graph.IntAttr("start", -10), graph.IntAttr("end", 10)}, []int64{2, 3, 4, 5}},
		{[]*graph.Attr{graph.IntAttr("start", 3), graph.IntAttr("end", 1)}, []int64{}},
	} {
		got, err := shRun(t, "Shape", 15, c.attrs, 1, x)
		is.New(t).NoErr(err)
		is.New(t).NoErr(enginetest.AllClose(got[0], i64([]int{len(c.want)}, c.want...)))
	}
	got, err := shRun(t, "Size", 1, nil, 1, shStrings([]int{2, 0}))
	is.New(t).NoErr(err)
	is.New(t).NoErr(enginetest.AllClose(got[0], i64(nil, 0)))
	got, err = shRun(t, "Size", 13, nil, 1, x)
	is.New(t).NoErr(err)
	is.New(t).NoErr(enginetest.AllClose(got[0], i64(nil, 120)))

	// ConstantOfShape: default float zeros, a typed value, a scalar.
	got, err = shRun(t, "ConstantOfShape", 9, nil, 1, i64([]int{2}, 2, 3))
	is.New(t).NoErr(err)
	is.New(t).NoErr(enginetest.AllClose(got[0], tensor.MustFrom(tensor.Shape{2, 3}, make([]float32, 6))))
	val := graph.TensorAttr("value", tensor.MustFrom(tensor.Shape{1}, []int32{-7}))
	got, err = shRun(t, "ConstantOfShape", 25, []*graph.Attr{val}, 1, i64([]int{0}))
	is.New(t).NoErr(err)
	is.New(t).NoErr(enginetest.AllClose(got[0], tensor.MustFrom(nil, []int32{-7})))
	bf := graph.TensorAttr("value", shMake(tensor.BFloat16, []int{1}, []float64{2.5}))
	got, err = shRun(t, "ConstantOfShape", 20, []*graph.Attr{bf}, 1, i64([]int{3}, 1, 0, 2))
	is.New(t).NoErr(err)
	is.New(t).NoErr(enginetest.AllClose(got[0], shMake(tensor.BFloat16, []int{1, 0, 2}, nil)))
	shExpectErr(t, fault.Unsupported, "ConstantOfShape", 9, []*graph.Attr{bf}, 1, i64([]int{1}, 1))
	shExpectErr(t, fault.Invalid, "ConstantOfShape", 9, nil, 1, i64([]int{1}, -1))
	shExpectErr(t, fault.TooLarge, "ConstantOfShape", 9, nil, 1, i64([]int{2}, 1<<20, 1<<20))
	shExpectErr(t, fault.Invalid, "ConstantOfShape", 9, []*graph.Attr{graph.TensorAttr("value", tensor.MustFrom(tensor.Shape{2}, []float32{1, 2}))}, 1, i64([]int{1}, 1))

	// EyeLike with an offset diagonal and another dtype.
	for _, k := range []int64{0, 2, -1, 5} {
		want := make([]float64, 12)
		for i := range 3 {
			if j := int64(i) + k; j >= 0 && j < 4 {
				want[i*4+int(j)] = 1
			}
		}
		for _, dt := range []tensor.DType{tensor.Float64, tensor.Int8, tensor.Bool, tensor.BFloat16} {
			got, err := shRun(t, "EyeLike", 22, []*graph.Attr{graph.IntAttr("k", k), graph.IntAttr("dtype", int64(dt))}, 1,
				tensor.MustFrom(tensor.Shape{3, 4}, make([]int32, 12)))
			is.New(t).NoErr(err)
			is.New(t).NoErr(enginetest.AllClose(got[0], shMake(dt, []int{3, 4}, want)))
		}
		got, err := shRun(t, "EyeLike", 9, []*graph.Attr{graph.IntAttr("k", k)}, 1, shMake(tensor.Float16, []int{3, 4}, make([]float64, 12)))
		is.New(t).NoErr(err)
		is.New(t).NoErr(enginetest.AllClose(got[0], shMake(tensor.Float16, []int{3, 4}, want)))
	}
	shExpectErr(t, fault.Invalid, "EyeLike", 9, nil, 1, tensor.MustFrom(tensor.Shape{3}, []int32{1, 2, 3}))
	shExpectErr(t, fault.Unsupported, "EyeLike", 22, []*graph.Attr{graph.IntAttr("dtype", 8)}, 1, tensor.MustFrom(tensor.Shape{1, 1}, []int32{1}))

	// NonZero: -0 is zero, NaN is not; strings by emptiness.
	got, err = shRun(t, "NonZero", 13, nil, 1, tensor.MustFrom(tensor.Shape{2, 3}, []float32{0, float32(math.Copysign(0, -1)), 3, float32(math.NaN()), 0, -1}))
	is.New(t).NoErr(err)
	is.New(t).NoErr(enginetest.AllClose(got[0], i64([]int{2, 3}, 0, 1, 1, 2, 0, 2)))
	got, err = shRun(t, "NonZero", 9, nil, 1, shStrings([]int{3}, "", "a", ""))
	is.New(t).NoErr(err)
	is.New(t).NoErr(enginetest.AllClose(got[0], i64([]int{1, 1}, 1)))
	got, err = shRun(t, "NonZero", 13, nil, 1, tensor.MustFrom(nil, []bool{true}))
	is.New(t).NoErr(err)
	is.New(t).NoErr(enginetest.AllClose(got[0], i64([]int{0, 1})))
	got, err = shRun(t, "NonZero", 13, nil, 1, shMake(tensor.BFloat16, []int{4}, []float64{0, 1, 0, -2}))
	is.New(t).NoErr(err)
	is.New(t).NoErr(enginetest.AllClose(got[0], i64([]int{1, 2}, 1, 3)))
	r := rand.New(rand.NewPCG(25, 26))
	for _, dt := range []tensor.DType{tensor.Int8, tensor.Uint16, tensor.Int32, tensor.Float64, tensor.Uint64} {
		shape := shRandShape(r, 1+r.IntN(3), 5)
		v := make([]float64, shProd(shape))
		var want [][]int64
		for i := range v {
			if r.IntN(2) == 0 {
				v[i] = float64(1 + r.IntN(9))
			}
		}
		shEach(shape, func(c []int) {
			if v[shFlat(shape, c)] != 0 {
				row := make([]int64, len(c))
				for k, x := range c {
					row[k] = int64(x)
				}
				want = append(want, row)
			}
		})
		flat := make([]int64, len(shape)*len(want))
		for j, row := range want {
			for k, x := range row {
				flat[k*len(want)+j] = x
			}
		}
		got, err := shRun(t, "NonZero", 13, nil, 1, shMake(dt, shape, v))
		is.New(t).NoErr(err)
		is.New(t).NoErr(enginetest.AllClose(got[0], i64([]int{len(shape), len(want)}, flat...)))
	}
}

// TestShapeScatter checks ScatterElements, ScatterND and Scatter against a
// float64 reference that applies updates in order.
func TestShapeScatter(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	reduce := func(red string, a, b float64) float64 {
		switch red {
		case "add":
			return a + b
		case "mul":
			return a * b
		case "max":
			if math.IsNaN(a) || math.IsNaN(b) {
				return math.NaN()
			}
			return math.Max(a, b)
		case "min":
			if math.IsNaN(a) || math.IsNaN(b) {
				return math.NaN()
			}
			return math.Min(a, b)
		}
		return b
	}
	dts := []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16, tensor.Int8, tensor.Int32,
		tensor.Int64, tensor.Uint8, tensor.Uint32, tensor.Uint64, tensor.Int16, tensor.Uint16}
	for _, red := range []string{"none", "add", "mul", "max", "min"} {
		for _, dt := range dts {
			t.Run(red+"/"+dt.String(), func(t *testing.T) {
				// Small integers keep every reduction exact in every dtype.
				small := func(n int) []float64 {
					v := make([]float64, n)
					for i := range v {
						v[i] = float64(r.IntN(4))
					}
					return v
				}
				// ScatterElements along a random axis, with duplicates.
				shape := shRandShape(r, 1+r.IntN(3), 4)
				axis := r.IntN(len(shape))
				ishape := append([]int{}, shape...)
				for i := range ishape {
					ishape[i] = 1 + r.IntN(shape[i])
				}
				ishape[axis] = 1 + r.IntN(5)
				ind := make([]int64, shProd(ishape))
				for i := range ind {
					d := int64(shape[axis])
					ind[i] = r.Int64N(2*d) - d
				}
				data, upd := small(shProd(shape)), small(len(ind))
				want := shValues(shMake(dt, shape, data))
				for i, p := range shRefGatherElements(shape, axis, ishape, ind) {
					want[p] = shValues(shMake(dt, nil, []float64{reduce(red, want[p], upd[i])}))[0]
				}
				attrs := []*graph.Attr{graph.IntAttr("axis", int64(axis)), graph.StringAttr("reduction", red)}
				got, err := shRun(t, "ScatterElements", 18, attrs, 1, shMake(dt, shape, data), tensor.MustFrom(tensor.Shape(ishape), ind), shMake(dt, ishape, upd))
				if err != nil {
					t.Fatal(err)
				}
				if err := enginetest.AllClose(got[0], shMake(dt, shape, want)); err != nil {
					t.Fatal(err)
				}
				// ScatterND with slices.
				shape = shRandShape(r, 1+r.IntN(3), 4)
				k := 1 + r.IntN(len(shape))
				ishape = append(shRandShape(r, r.IntN(2)+1, 3), k)
				ind = make([]int64, shProd(ishape))
				for i := range ind {
					d := int64(shape[i%k])
					ind[i] = r.Int64N(2*d) - d
				}
				ushape := append(append([]int{}, ishape[:len(ishape)-1]...), shape[k:]...)
				data, upd = small(shProd(shape)), small(shProd(ushape))
				want = shValues(shMake(dt, shape, data))
				_, src := shRefGatherND(shape, ishape, ind, 0)
				for i, p := range src {
					want[p] = shValues(shMake(dt, nil, []float64{reduce(red, want[p], upd[i])}))[0]
				}
				got, err = shRun(t, "ScatterND", 18, []*graph.Attr{graph.StringAttr("reduction", red)}, 1,
					shMake(dt, shape, data), tensor.MustFrom(tensor.Shape(ishape), ind), shMake(dt, ushape, upd))
				if err != nil {
					t.Fatal(err)
				}
				if err := enginetest.AllClose(got[0], shMake(dt, shape, want)); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	// NaN wins max and min, as numpy's maximum.
	data := tensor.MustFrom(tensor.Shape{3}, []float32{1, float32(math.NaN()), 5})
	upd := tensor.MustFrom(tensor.Shape{3}, []float32{float32(math.NaN()), 2, 3})
	ind := tensor.MustFrom(tensor.Shape{3}, []int32{0, 1, 2})
	got, err := shRun(t, "ScatterElements", 18, []*graph.Attr{graph.StringAttr("reduction", "max")}, 1, data, ind, upd)
	is.New(t).NoErr(err)
	is.New(t).NoErr(enginetest.AllClose(got[0], tensor.MustFrom(tensor.Shape{3}, []float32{float32(math.NaN()), float32(math.NaN()), 5})))
	// Booleans: add is or, mul is and.
	bd := tensor.MustFrom(tensor.Shape{2}, []bool{false, true})
	bu := tensor.MustFrom(tensor.Shape{2}, []bool{true, false})
	bi := tensor.MustFrom(tensor.Shape{2}, []int64{0, 1})
	got, err = shRun(t, "ScatterElements", 16, []*graph.Attr{graph.StringAttr("reduction", "add")}, 1, bd, bi, bu)
	is.New(t).NoErr(err)
	is.New(t).NoErr(enginetest.AllClose(got[0], tensor.MustFrom(tensor.Shape{2}, []bool{true, true})))
	got, err = shRun(t, "ScatterElements", 16, []*graph.Attr{graph.StringAttr("reduction", "mul")}, 1, bd, bi, bu)
	is.New(t).NoErr(err)
	is.New(t).NoErr(enginetest.AllClose(got[0], tensor.MustFrom(tensor.Shape{2}, []bool{false, false})))
	// Strings move; the deprecated Scatter is ScatterElements in opset 10.
	sd, su := shStrings([]int{2, 2}, "a", "b", "c", "d"), shStrings([]int{1, 2}, "x", "y")
	si := tensor.MustFrom(tensor.Shape{1, 2}, []int64{1, 0})
	for _, op := range []string{"Scatter", "ScatterElements"} {
		got, err = shRun(t, op, 10+int64(len(op)-7)/8, nil, 1, sd, si, su)
		is.New(t).NoErr(err)
		is.New(t).NoErr(enginetest.AllClose(got[0], shStrings([]int{2, 2}, "a", "y", "x", "d")))
		shCheckOwned(t, []*tensor.Tensor{sd, su}, got)
	}
	shExpectErr(t, fault.Invalid, "Scatter", 11, nil, 1, sd, si, su)
	shExpectErr(t, fault.Unsupported, "ScatterElements", 16, []*graph.Attr{graph.StringAttr("reduction", "add")}, 1, sd, si, su)
	shExpectErr(t, fault.Invalid, "ScatterElements", 16, []*graph.Attr{graph.StringAttr("reduction", "max")}, 1, data, ind, upd)
	shExpectErr(t, fault.Invalid, "ScatterND", 13, []*graph.Attr{graph.StringAttr("reduction", "add")}, 1, data, bi, upd)
	shExpectErr(t, fault.Invalid, "ScatterElements", 18, nil, 1, data, tensor.MustFrom(tensor.Shape{3}, []int32{0, 3, 1}), upd)
	shExpectErr(t, fault.Invalid, "ScatterND", 18, nil, 1, data, tensor.MustFrom(tensor.Shape{1, 1}, []int64{0}), upd)
}
