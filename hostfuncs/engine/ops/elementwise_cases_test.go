package ops_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func ewOf[T tensor.Elem](shape tensor.Shape, v ...T) *tensor.Tensor { return tensor.MustFrom(shape, v) }

func ewStrings(shape tensor.Shape, v ...string) *tensor.Tensor {
	b := make([][]byte, len(v))
	for i, s := range v {
		b[i] = []byte(s)
	}
	return must(tensor.FromStrings(shape, b))
}

func ewOut(ts ...*tensor.Tensor) []*tensor.Tensor { return ts }

func TestElementwiseCases(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	s := func(d ...int) tensor.Shape { return d }
	ints := func(name string, v int64) *graph.Attr { return graph.IntAttr(name, v) }
	runCases(t, []opCase{
		// Legacy broadcasting (before opset 7).
		{name: "Sub-6 axis", op: "Sub", opset: 6, attrs: []*graph.Attr{ints("broadcast", 1), ints("axis", 1)},
			in:   ewOut(f32(s(2, 3, 2), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), f32(s(3), 1, 2, 3)),
			want: ewOut(f32(s(2, 3, 2), 0, 1, 1, 2, 2, 3, 6, 7, 7, 8, 8, 9))},
		{name: "Mul-1 negative axis", op: "Mul", opset: 1, attrs: []*graph.Attr{ints("broadcast", 1), ints("axis", -3), graph.IntsAttr("consumed_inputs", 0)},
			in:   ewOut(f32(s(2, 3, 2), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), f32(s(2), 10, 100)),
			want: ewOut(f32(s(2, 3, 2), 10, 20, 30, 40, 50, 60, 700, 800, 900, 1000, 1100, 1200))},
		{name: "Div-6 needs broadcast", op: "Div", opset: 6, in: ewOut(f32(s(2), 1, 2), f32(s(1), 1)), kind: fault.Invalid},
		{name: "Equal-1 suffix", op: "Equal", opset: 1, attrs: []*graph.Attr{ints("broadcast", 1)},
			in: ewOut(i64(s(2, 2), 1, 2, 3, 2), i64(s(2), 1, 2)), want: ewOut(ewOf(s(2, 2), true, true, false, true))},
		{name: "Pow-1 scalar", op: "Pow", opset: 1, attrs: []*graph.Attr{ints("broadcast", 1)},
			in: ewOut(f32(s(3), 1, 2, 3), f32(nil, 2)), want: ewOut(f32(s(3), 1, 4, 9))},
		{name: "And-1 broadcast", op: "And", opset: 1, attrs: []*graph.Attr{ints("broadcast", 1)},
			in: ewOut(ewOf(s(2, 2), true, true, false, true), ewOf(s(2), true, false)), want: ewOut(ewOf(s(2, 2), true, false, false, false))},

		// Integer division and remainders.
		{name: "Div by zero", op: "Div", opset: 14, in: ewOut(ewOf(s(3), int32(7), -7, math.MinInt32), ewOf(s(3), int32(0), 2, -1)),
			want: ewOut(ewOf(s(3), int32(0), -3, math.MinInt32))},
		{name: "Div uint8", op: "Div", opset: 14, in: ewOut(ewOf(s(2), uint8(255), 7), ewOf(s(2), uint8(2), 0)), want: ewOut(ewOf(s(2), uint8(127), 0))},
		{name: "Mod signs", op: "Mod", opset: 13, in: ewOut(ewOf(s(5), int8(-7), 7, -7, 7, 5), ewOf(s(5), int8(3), -3, -3, 3, 0)),
			want: ewOut(ewOf(s(5), int8(2), -2, -1, 1, 0))},
		{name: "Mod fmod ints", op: "Mod", opset: 13, attrs: []*graph.Attr{ints("fmod", 1)},
			in: ewOut(i64(s(4), -7, 7, -7, math.MinInt64), i64(s(4), 3, -3, 0, -1)), want: ewOut(i64(s(4), -1, 1, 0, 0))},
		{name: "Mod fmod floats", op: "Mod", opset: 13, attrs: []*graph.Attr{ints("fmod", 1)},
			in:   ewOut(ewOf(s(6), -4.5, 4.5, inf, 1, 1, nan), ewOf(s(6), 2, -2, 2, 0, inf, 1)),
			want: ewOut(ewOf(s(6), -0.5, 0.5, nan, nan, 1, nan))},
		{name: "Mod fmod float16", op: "Mod", opset: 13, attrs: []*graph.Attr{ints("fmod", 1)},
			in: ewOut(f16(s(2), -4.5, 5), f16(s(1), 2)), want: ewOut(f16(s(2), -0.5, 1))},
		{name: "Mod floats without fmod", op: "Mod", opset: 13, in: ewOut(f32(s(1), 1), f32(s(1), 2)), kind: fault.Invalid},
		{name: "BitShift past width", op: "BitShift", opset: 11, attrs: []*graph.Attr{graph.StringAttr("direction", "LEFT")},
			in: ewOut(ewOf(s(3), uint64(1), 1, 1), ewOf(s(3), uint64(63), 64, 65)), want: ewOut(ewOf(s(3), uint64(1)<<63, 0, 0))},
		{name: "BitwiseAnd on floats", op: "BitwiseAnd", opset: 18, in: ewOut(f32(s(1), 1), f32(s(1), 1)), kind: fault.Unsupported},
		{name: "Sub int8 wraps", op: "Sub", opset: 14, in: ewOut(ewOf(s(2), int8(-128), 127), ewOf(s(2), int8(1), -1)), want: ewOut(ewOf(s(2), int8(127), -128))},

		// Pow with mixed types.
		{name: "Pow float32^int64", op: "Pow", opset: 15, in: ewOut(f32(s(3), 2, -2, 0.5), i64(s(3), 3, 3, -2)), want: ewOut(f32(s(3), 8, -8, 4))},
		{name: "Pow int32^float32 truncates", op: "Pow", opset: 15, in: ewOut(ewOf(s(3), int32(2), 9, 10), f32(s(3), 0.5, 0.5, 10)),
			want: ewOut(ewOf(s(3), int32(1), 3, math.MaxInt32))},
		{name: "Pow int64^int64", op: "Pow", opset: 15, in: ewOut(i64(s(6), 3, -1, -1, 2, 0, 2), i64(s(6), 39, -3, -2, -1, 0, 64)),
			want: ewOut(i64(s(6), 4052555153018976267, -1, 1, 0, 1, 0))},
		{name: "Pow float16^uint8", op: "Pow", opset: 15, in: ewOut(f16(s(2), 1.5, -2), ewOf(s(1), uint8(2))), want: ewOut(f16(s(2), 2.25, 4))},
		{name: "Pow bfloat16^bfloat16", op: "Pow", opset: 15, in: ewOut(bf16(s(2), 4, 9), bf16(s(2), 0.5, -0.5)), want: ewOut(bf16(s(2), 2, 1.0/3))},
		{name: "Pow double^float16", op: "Pow", opset: 15, in: ewOut(ewOf(s(1), 2.0), f16(s(1), 0.5)), want: ewOut(ewOf(s(1), math.Sqrt2))},
		{name: "Pow of int8 refused", op: "Pow", opset: 15, in: ewOut(ewOf(s(1), int8(2)), ewOf(s(1), int8(2))), kind: fault.Unsupported},

		// Comparisons and logic.
		{name: "Equal strings", op: "Equal", opset: 19, in: ewOut(ewStrings(s(2, 2), "a", "b", "", "cd"), ewStrings(s(2), "a", "cd")),
			want: ewOut(ewOf(s(2, 2), true, false, false, true))},
		{name: "Less NaN", op: "Less", opset: 13, in: ewOut(f32(s(3), float32(nan), 1, -1), f32(s(3), 1, float32(nan), float32(math.Inf(1)))),
			want: ewOut(ewOf(s(3), false, false, true))},
		{name: "Equal NaN", op: "Equal", opset: 13, in: ewOut(f16(s(2), float32(nan), 1), f16(s(2), float32(nan), 1)), want: ewOut(ewOf(s(2), false, true))},
		{name: "Equal mixed dtypes", op: "Equal", opset: 13, in: ewOut(f32(s(1), 1), ewOf(s(1), 1.0)), kind: fault.Invalid},
		{name: "Greater incompatible", op: "Greater", opset: 13, in: ewOut(f32(s(2), 1, 2), f32(s(3), 1, 2, 3)), kind: fault.Invalid},
		{name: "Xor empty", op: "Xor", opset: 7, in: ewOut(ewOf[bool](s(0, 3)), ewOf(s(3), true, false, true)), want: ewOut(ewOf[bool](s(0, 3)))},

		// Variadic.
		{name: "Max NaN wins", op: "Max", opset: 13, in: ewOut(f32(s(2), float32(nan), 1), f32(s(2), 1, float32(nan)), f32(nil, 0)),
			want: ewOut(f32(s(2), float32(nan), float32(nan)))},
		{name: "Min uint64", op: "Min", opset: 13, in: ewOut(ewOf(s(2), uint64(math.MaxUint64), 3), ewOf(s(1), uint64(5))), want: ewOut(ewOf(s(2), uint64(5), 3))},
		{name: "Sum one input copies", op: "Sum", opset: 13, in: ewOut(f32(s(2, 1), 1, 2)), want: ewOut(f32(s(2, 1), 1, 2))},
		{name: "Mean float16", op: "Mean", opset: 13, in: ewOut(f16(s(2), 1, 2), f16(s(2), 2, 3), f16(nil, 0.5)), want: ewOut(f16(s(2), 3.5/3, 5.5/3))},
		{name: "Max-6 same shape", op: "Max", opset: 6, in: ewOut(f32(s(2), 1, 2), f32(s(1), 3)), kind: fault.Invalid},
		{name: "Sum-6 consumed_inputs", op: "Sum", opset: 1, attrs: []*graph.Attr{graph.IntsAttr("consumed_inputs", 0)},
			in: ewOut(f32(s(2), 1, 2), f32(s(2), 3, 4)), want: ewOut(f32(s(2), 4, 6))},
		{name: "Max mixed dtypes", op: "Max", opset: 13, in: ewOut(f32(s(1), 1), ewOf(s(1), 1.0)), kind: fault.Invalid},
		{name: "Mean of ints refused", op: "Mean", opset: 13, in: ewOut(i64(s(1), 1)), kind: fault.Unsupported},

		// Where.
		{name: "Where strings", op: "Where", opset: 16, in: ewOut(ewOf(s(2), true, false), ewStrings(s(2, 1), "x", "y"), ewStrings(nil, "z")),
			want: ewOut(ewStrings(s(2, 2), "x", "z", "y", "z"))},
		{name: "Where X and Y differ", op: "Where", opset: 16, in: ewOut(ewOf(s(1), true), f32(s(1), 1), i64(s(1), 1)), kind: fault.Invalid},
		{name: "Where incompatible", op: "Where", opset: 16, in: ewOut(ewOf(s(2), true, false), f32(s(3), 1, 2, 3), f32(s(1), 1)), kind: fault.Invalid},

		// Clip.
		{name: "Clip-6 default bounds", op: "Clip", opset: 6, in: ewOut(ewOf(s(3), 1e39, -1e39, 5.0)), want: ewOut(ewOf(s(3), float64(float32(3.402823e+38)), float64(float32(-3.402823e+38)), 5))},
		{name: "Clip-1 unbounded", op: "Clip", opset: 1, in: ewOut(ewOf(s(2), 1e39, -1e39)), want: ewOut(ewOf(s(2), 1e39, -1e39))},
		{name: "Clip-6 attributes", op: "Clip", opset: 6, attrs: []*graph.Attr{graph.FloatAttr("min", -1), graph.FloatAttr("max", 2)},
			in: ewOut(f32(s(5), -3, 0, 3, float32(nan), 2)), want: ewOut(f32(s(5), -1, 0, 2, float32(nan), 2))},
		{name: "Clip-11 max only", op: "Clip", opset: 11, in: ewOut(f32(s(3), -5, 0, 5), nil, f32(nil, 1)), want: ewOut(f32(s(3), -5, 0, 1))},
		{name: "Clip-11 min only", op: "Clip", opset: 11, in: ewOut(f32(s(3), -5, 0, 5), f32(nil, -1)), want: ewOut(f32(s(3), -1, 0, 5))},
		{name: "Clip int8 min > max", op: "Clip", opset: 13, in: ewOut(ewOf(s(3), int8(-5), 0, 5), ewOf[int8](nil, 3), ewOf[int8](nil, 1)),
			want: ewOut(ewOf(s(3), int8(1), 1, 1))},
		{name: "Clip uint64 wide", op: "Clip", opset: 13, in: ewOut(ewOf(s(2), uint64(math.MaxUint64), 1), ewOf[uint64](s(1), 2), nil),
			want: ewOut(ewOf(s(2), uint64(math.MaxUint64), 2))},
		{name: "Clip bfloat16", op: "Clip", opset: 13, in: ewOut(bf16(s(3), -2, 0.5, 2), bf16(nil, -1), bf16(nil, 1)), want: ewOut(bf16(s(3), -1, 0.5, 1))},
		{name: "Clip bound not scalar", op: "Clip", opset: 13, in: ewOut(f32(s(2), 1, 2), f32(s(2), 0, 0)), kind: fault.Invalid},
		{name: "Clip bound dtype", op: "Clip", opset: 13, in: ewOut(f32(s(2), 1, 2), i64(nil, 0)), kind: fault.Invalid},

		// PRelu.
		{name: "PRelu-7 channel slope", op: "PRelu", opset: 7, in: ewOut(f32(s(2, 2, 1), -1, -1, 1, -2), f32(s(2, 1), 0.5, 2)),
			want: ewOut(f32(s(2, 2, 1), -0.5, -2, 1, -4))},
		{name: "PRelu-6 per channel", op: "PRelu", opset: 6, in: ewOut(f32(s(1, 2, 2), -1, -2, -3, 4), f32(s(2), 0.5, 2)),
			want: ewOut(f32(s(1, 2, 2), -0.5, -1, -6, 4))},
		{name: "PRelu-1 shared slope", op: "PRelu", opset: 1, in: ewOut(f32(s(1, 2, 2), -1, -2, -3, 4), f32(s(1), 0.5)),
			want: ewOut(f32(s(1, 2, 2), -0.5, -1, -1.5, 4))},
		{name: "PRelu int64", op: "PRelu", opset: 9, in: ewOut(i64(s(3), -3, 0, 3), i64(nil, 2)), want: ewOut(i64(s(3), -6, 0, 3))},
		{name: "PRelu slope would grow X", op: "PRelu", opset: 16, in: ewOut(f32(s(2), -1, 1), f32(s(2, 2), 1, 2, 3, 4)), kind: fault.Invalid},

		// Unary edge cases.
		{name: "Abs int8 min wraps", op: "Abs", opset: 13, in: ewOut(ewOf(s(3), int8(-128), -5, 5)), want: ewOut(ewOf(s(3), int8(-128), 5, 5))},
		{name: "Neg int64 min wraps", op: "Neg", opset: 13, in: ewOut(i64(s(2), math.MinInt64, 3)), want: ewOut(i64(s(2), math.MinInt64, -3))},
		{name: "Round half to even", op: "Round", opset: 11, in: ewOut(f32(s(7), 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.3)),
			want: ewOut(f32(s(7), 0, 2, 2, 0, -2, -2, 2))},
		{name: "Sign uint8", op: "Sign", opset: 13, in: ewOut(ewOf(s(3), uint8(0), 1, 255)), want: ewOut(ewOf(s(3), uint8(0), 1, 1))},
		{name: "IsInf detects nothing", op: "IsInf", opset: 20, attrs: []*graph.Attr{ints("detect_negative", 0), ints("detect_positive", 0)},
			in: ewOut(f32(s(2), float32(math.Inf(1)), float32(math.Inf(-1)))), want: ewOut(ewOf(s(2), false, false))},
		{name: "Sigmoid extremes", op: "Sigmoid", opset: 13, in: ewOut(ewOf(s(3), -1000.0, 1000, 0)), want: ewOut(ewOf(s(3), 0, 1, 0.5))},
		{name: "Softplus extremes", op: "Softplus", opset: 1, in: ewOut(ewOf(s(2), -1000.0, 1000)), want: ewOut(ewOf(s(2), 0, 1000.0))},
		{name: "Shrink uint8 saturates", op: "Shrink", opset: 9, attrs: []*graph.Attr{graph.FloatAttr("lambd", 1), graph.FloatAttr("bias", 5)},
			in: ewOut(ewOf(s(3), uint8(0), 3, 255)), want: ewOut(ewOf(s(3), uint8(0), 0, 250))},
		{name: "Neg of uint8 wraps", op: "Neg", opset: 13, in: ewOut(ewOf(s(1), uint8(1))), want: ewOut(ewOf(s(1), uint8(255)))},
		{name: "Exp of int32 refused", op: "Exp", opset: 13, in: ewOut(ewOf(s(1), int32(1))), kind: fault.Unsupported},
		{name: "Not of float refused", op: "Not", opset: 1, in: ewOut(f32(s(1), 1)), kind: fault.Unsupported},
	})
}

func TestElementwiseBuildErrors(t *testing.T) {
	cases := []struct {
		name  string
		n     *graph.Node
		opset int64
		msg   string
	}{
		{"BitShift without direction", node("BitShift", []string{"x", "y"}, []string{"z"}), 11, "direction"},
		{"BitShift bad direction", node("BitShift", []string{"x", "y"}, []string{"z"}, graph.StringAttr("direction", "UP")), 11, "direction"},
		{"Mod fmod 2", node("Mod", []string{"a", "b"}, []string{"c"}, graph.IntAttr("fmod", 2)), 13, "fmod"},
		{"Gelu approximate", node("Gelu", []string{"x"}, []string{"y"}, graph.StringAttr("approximate", "erf")), 20, "approximate"},
		{"Celu alpha 0", node("Celu", []string{"x"}, []string{"y"}, graph.FloatAttr("alpha", 0)), 12, "alpha"},
		{"Sub broadcast before 7 only", node("Sub", []string{"a", "b"}, []string{"c"}, graph.IntAttr("broadcast", 1)), 7, "broadcast"},
		{"Sub broadcast 2", node("Sub", []string{"a", "b"}, []string{"c"}, graph.IntAttr("broadcast", 2)), 6, "broadcast"},
		{"Max with a gap", node("Max", []string{"a", "", "c"}, []string{"m"}), 13, "omitted"},
		{"Clip attributes after 11", node("Clip", []string{"x"}, []string{"y"}, graph.FloatAttr("min", 0)), 11, "min"},
		{"Clip inputs before 11", node("Clip", []string{"x", "lo"}, []string{"y"}), 6, "inputs"},
		{"LeakyRelu alpha as int", node("LeakyRelu", []string{"x"}, []string{"y"}, graph.IntAttr("alpha", 1)), 16, "FLOAT"},
		{"Swish before 24", node("Swish", []string{"x"}, []string{"y"}), 23, "opset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			_, _, err := ops.Default().Build(tc.n, map[string]int64{"": tc.opset})
			is.True(err != nil)
			is.True(strings.Contains(err.Error(), tc.msg)) // the message says what is wrong
			kind := fault.KindOf(err)
			is.True(kind == fault.Invalid || kind == fault.Unsupported)
		})
	}
}

func TestElementwiseVersions(t *testing.T) {
	cases := []struct {
		op    string
		opset int64
		since int64
	}{
		{"Sub", 6, 6}, {"Sub", 12, 7}, {"Mul", 13, 13}, {"Div", 27, 14},
		{"Pow", 11, 7}, {"Pow", 12, 12}, {"Pow", 14, 13}, {"Pow", 15, 15},
		{"Equal", 10, 7}, {"Equal", 18, 13}, {"Equal", 19, 19}, {"Less", 9, 9}, {"GreaterOrEqual", 16, 16},
		{"Mod", 12, 10}, {"BitShift", 18, 11}, {"BitwiseNot", 18, 18}, {"Where", 15, 9},
		{"Max", 7, 6}, {"Max", 12, 12}, {"Sum", 12, 8}, {"Mean", 13, 13},
		{"Abs", 5, 1}, {"Erf", 12, 9}, {"Round", 21, 11}, {"Sin", 22, 22}, {"Acosh", 9, 9},
		{"IsNaN", 21, 20}, {"IsInf", 19, 10}, {"Clip", 11, 11}, {"Clip", 12, 12}, {"PRelu", 8, 7},
		{"Selu", 5, 1}, {"Celu", 27, 12}, {"Gelu", 20, 20}, {"Mish", 18, 18}, {"Swish", 24, 24},
		{"Erf", 8, 0}, {"Gelu", 19, 0}, {"BitwiseAnd", 17, 0},
	}
	for _, tc := range cases {
		s, err := ops.Default().Lookup("", tc.op, tc.opset)
		if tc.since == 0 {
			if fault.KindOf(err) != fault.Unsupported {
				t.Errorf("%s opset %d: got %v, want an unsupported error", tc.op, tc.opset, err)
			}
			continue
		}
		if err != nil || s.Since != tc.since {
			t.Errorf("%s opset %d: got version %v (%v), want %d", tc.op, tc.opset, s, err, tc.since)
		}
	}
}

func TestElementwiseInferTypes(t *testing.T) {
	f32t, i32t, i64t, bt := tensor.Float32, tensor.Int32, tensor.Int64, tensor.Bool
	cases := []struct {
		op    string
		opset int64
		in    []tensor.DType
		want  tensor.DType
		kind  fault.Kind
	}{
		{"Pow", 15, []tensor.DType{i32t, f32t}, i32t, 0},
		{"Pow", 7, []tensor.DType{f32t, tensor.Float64}, 0, fault.Invalid},
		{"Pow", 12, []tensor.DType{f32t, tensor.BFloat16}, 0, fault.Unsupported},
		{"Less", 13, []tensor.DType{i64t, i64t}, bt, 0},
		{"Less", 8, []tensor.DType{i64t, i64t}, 0, fault.Unsupported},
		{"Equal", 19, []tensor.DType{tensor.Bytes, tensor.Bytes}, bt, 0},
		{"Equal", 13, []tensor.DType{tensor.Bytes, tensor.Bytes}, 0, fault.Unsupported},
		{"IsNaN", 13, []tensor.DType{tensor.BFloat16}, bt, 0},
		{"Where", 16, []tensor.DType{bt, tensor.Bytes, tensor.Bytes}, tensor.Bytes, 0},
		{"Where", 9, []tensor.DType{bt, tensor.BFloat16, tensor.BFloat16}, 0, fault.Unsupported},
		{"Sum", 13, []tensor.DType{f32t, f32t, f32t}, f32t, 0},
		{"Sum", 13, []tensor.DType{f32t, f32t, tensor.Float64}, 0, fault.Invalid},
		{"Clip", 12, []tensor.DType{tensor.Int8, tensor.Invalid, tensor.Int8}, tensor.Int8, 0},
		{"Celu", 12, []tensor.DType{tensor.Float64}, 0, fault.Unsupported},
		{"Shrink", 9, []tensor.DType{tensor.Uint8}, tensor.Uint8, 0},
		{"Erf", 13, []tensor.DType{i32t}, 0, fault.Unsupported},
	}
	for _, tc := range cases {
		s, err := ops.Default().Lookup("", tc.op, tc.opset)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.InferTypes(tc.in, 1)
		if tc.kind != 0 {
			if fault.KindOf(err) != tc.kind {
				t.Errorf("%s-%d %v: got %v, want a %v error", tc.op, tc.opset, tc.in, err, tc.kind)
			}
			continue
		}
		if err != nil || got[0] != tc.want {
			t.Errorf("%s-%d %v: got %v, %v; want %v", tc.op, tc.opset, tc.in, got, err, tc.want)
		}
	}
}

// A kernel's output owns its memory, and a second run reuses the first
// run's output buffers.
func TestElementwiseOutputs(t *testing.T) {
	is := is.New(t)
	x := ewStrings(tensor.Shape{1}, "abc")
	out, err := runOp(t, "Where", 16, 1, nil, ewOf(tensor.Shape{1}, true), x, x)
	is.NoErr(err)
	out[0].Strings[0][0] = 'x'
	is.Equal(string(x.Strings[0]), "abc")

	n := node("Mul", []string{"a", "b"}, []string{"c"})
	k, _, err := ops.Default().Build(n, map[string]int64{"": 14})
	is.NoErr(err)
	res := make([]*tensor.Tensor, 1)
	is.NoErr(k.Run(context.Background(), ewOut(f32(tensor.Shape{4}, 1, 2, 3, 4), f32(nil, 2)), res))
	first := res[0]
	is.NoErr(k.Run(context.Background(), ewOut(f32(tensor.Shape{2}, 5, 6), f32(tensor.Shape{2}, 2, 3)), res))
	is.True(res[0] == first)
	is.NoErr(enginetest.AllClose(res[0], f32(tensor.Shape{2}, 10, 18)))
}

// Steady-state runs allocate nothing, 16-bit floats (computed in scratch)
// included.
func TestElementwiseNoAllocs(t *testing.T) {
	var s ops.Scratch
	ctx := ops.WithScratch(context.Background(), &s)
	x := f16(tensor.Shape{3, 5}, make([]float32, 15)...)
	y := f16(tensor.Shape{5}, 1, 2, 3, 4, 5)
	c := ewOf(tensor.Shape{3, 1}, true, false, true)
	cases := []struct {
		op    string
		opset int64
		in    []*tensor.Tensor
	}{
		{"Div", 14, ewOut(x, y)},
		{"Less", 13, ewOut(x, y)},
		{"Pow", 15, ewOut(x, y)},
		{"Max", 13, ewOut(x, y, y)},
		{"Where", 16, ewOut(c, x, y)},
		{"Exp", 13, ewOut(x)},
		{"Clip", 13, ewOut(x)},
		{"PRelu", 16, ewOut(x, y)},
	}
	for _, tc := range cases {
		t.Run(tc.op, func(t *testing.T) {
			names := make([]string, len(tc.in))
			for i := range names {
				names[i] = string(rune('a' + i))
			}
			k, _, err := ops.Default().Build(node(tc.op, names, []string{"o"}), map[string]int64{"": tc.opset})
			if err != nil {
				t.Fatal(err)
			}
			out := make([]*tensor.Tensor, 1)
			run := func() {
				s.Reset()
				if err := k.Run(ctx, tc.in, out); err != nil {
					t.Fatal(err)
				}
			}
			run()
			if n := testing.AllocsPerRun(10, run); n != 0 {
				t.Errorf("%v allocations per run", n)
			}
		})
	}
}
