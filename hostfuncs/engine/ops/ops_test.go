package ops_test

import (
	"context"
	"math"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// runOp builds a one-node kernel and runs it on inputs (nil entries are
// omitted inputs), returning nOut outputs.
func runOp(t *testing.T, op string, opset int64, nOut int, attrs []*graph.Attr, inputs ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	t.Helper()
	n := &graph.Node{Name: op, OpType: op, Attrs: graph.Attrs(attrs...)}
	for i, in := range inputs {
		name := ""
		if in != nil {
			name = string(rune('a' + i))
		}
		n.Inputs = append(n.Inputs, name)
	}
	for i := range nOut {
		n.Outputs = append(n.Outputs, string(rune('p'+i)))
	}
	k, _, err := ops.Default().Build(n, map[string]int64{"": opset})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	out := make([]*tensor.Tensor, nOut)
	err = k.Run(context.Background(), inputs, out)
	return out, err
}

type opCase struct {
	name  string
	op    string
	opset int64
	attrs []*graph.Attr
	in    []*tensor.Tensor
	want  []*tensor.Tensor
	kind  fault.Kind // when want is nil: the error kind
}

func runCases(t *testing.T, cases []opCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nOut := max(1, len(tc.want))
			got, err := runOp(t, tc.op, tc.opset, nOut, tc.attrs, tc.in...)
			if tc.want == nil {
				if err == nil || fault.KindOf(err) != tc.kind {
					t.Fatalf("got %v, want a %v error", err, tc.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tc.want {
				if err := enginetest.AllClose(got[i], w); err != nil {
					t.Errorf("output %d: %v", i, err)
				}
			}
		})
	}
}

func f32(shape tensor.Shape, v ...float32) *tensor.Tensor { return tensor.MustFrom(shape, v) }
func i64(shape tensor.Shape, v ...int64) *tensor.Tensor   { return tensor.MustFrom(shape, v) }

func f16(shape tensor.Shape, v ...float32) *tensor.Tensor {
	h := make([]tensor.F16, len(v))
	for i, x := range v {
		h[i] = tensor.F16From(x)
	}
	return tensor.MustFrom(shape, h)
}

func bf16(shape tensor.Shape, v ...float32) *tensor.Tensor {
	h := make([]tensor.BF16, len(v))
	for i, x := range v {
		h[i] = tensor.BF16From(x)
	}
	return tensor.MustFrom(shape, h)
}

func TestRelu(t *testing.T) {
	nan := float32(math.NaN())
	runCases(t, []opCase{
		{name: "float", op: "Relu", opset: 14, in: []*tensor.Tensor{f32(tensor.Shape{5}, -1, 0, 2, nan, float32(math.Inf(-1)))},
			want: []*tensor.Tensor{f32(tensor.Shape{5}, 0, 0, 2, nan, 0)}},
		{name: "double", op: "Relu", opset: 6, in: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{2}, []float64{-3, 3})},
			want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{2}, []float64{0, 3})}},
		{name: "int8", op: "Relu", opset: 14, in: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{3}, []int8{-128, 0, 127})},
			want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{3}, []int8{0, 0, 127})}},
		{name: "int16", op: "Relu", opset: 14, in: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{2}, []int16{-5, 5})},
			want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{2}, []int16{0, 5})}},
		{name: "int32", op: "Relu", opset: 14, in: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{2}, []int32{-5, 5})},
			want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{2}, []int32{0, 5})}},
		{name: "int64", op: "Relu", opset: 14, in: []*tensor.Tensor{i64(tensor.Shape{2}, math.MinInt64, 5)},
			want: []*tensor.Tensor{i64(tensor.Shape{2}, 0, 5)}},
		{name: "float16", op: "Relu", opset: 14, in: []*tensor.Tensor{f16(tensor.Shape{2, 2}, -1.5, 0.25, float32(math.Copysign(0, -1)), nan)},
			want: []*tensor.Tensor{f16(tensor.Shape{2, 2}, 0, 0.25, 0, nan)}},
		{name: "bfloat16", op: "Relu", opset: 14, in: []*tensor.Tensor{bf16(tensor.Shape{3}, -2, 3, float32(math.Inf(-1)))},
			want: []*tensor.Tensor{bf16(tensor.Shape{3}, 0, 3, 0)}},
		{name: "scalar", op: "Relu", opset: 14, in: []*tensor.Tensor{f32(nil, -1)}, want: []*tensor.Tensor{f32(nil, 0)}},
		{name: "uint8 refused", op: "Relu", opset: 14, in: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1}, []uint8{1})}, kind: fault.Unsupported},
	})
}

func TestAdd(t *testing.T) {
	runCases(t, []opCase{
		{name: "numpy broadcast", op: "Add", opset: 14,
			in:   []*tensor.Tensor{f32(tensor.Shape{2, 1, 3}, 1, 2, 3, 4, 5, 6), f32(tensor.Shape{2, 1}, 10, 20)},
			want: []*tensor.Tensor{f32(tensor.Shape{2, 2, 3}, 11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26)}},
		{name: "scalar + tensor", op: "Add", opset: 14,
			in:   []*tensor.Tensor{f32(nil, 1), f32(tensor.Shape{2}, 1, 2)},
			want: []*tensor.Tensor{f32(tensor.Shape{2}, 2, 3)}},
		{name: "int8 wraps", op: "Add", opset: 14,
			in:   []*tensor.Tensor{tensor.MustFrom(tensor.Shape{2}, []int8{127, -128}), tensor.MustFrom(tensor.Shape{2}, []int8{1, -1})},
			want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{2}, []int8{-128, 127})}},
		{name: "uint64", op: "Add", opset: 14,
			in:   []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1}, []uint64{math.MaxUint64 - 1}), tensor.MustFrom(tensor.Shape{1}, []uint64{1})},
			want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1}, []uint64{math.MaxUint64})}},
		{name: "float16", op: "Add", opset: 14,
			in:   []*tensor.Tensor{f16(tensor.Shape{2}, 1.5, 2), f16(tensor.Shape{1}, 0.25)},
			want: []*tensor.Tensor{f16(tensor.Shape{2}, 1.75, 2.25)}},
		{name: "bfloat16", op: "Add", opset: 14,
			in:   []*tensor.Tensor{bf16(tensor.Shape{1, 2}, 1, 2), bf16(tensor.Shape{2, 1}, 10, 20)},
			want: []*tensor.Tensor{bf16(tensor.Shape{2, 2}, 11, 12, 21, 22)}},
		{name: "incompatible", op: "Add", opset: 14,
			in: []*tensor.Tensor{f32(tensor.Shape{2}, 1, 2), f32(tensor.Shape{3}, 1, 2, 3)}, kind: fault.Invalid},
		{name: "legacy same shape", op: "Add", opset: 6,
			in:   []*tensor.Tensor{f32(tensor.Shape{2}, 1, 2), f32(tensor.Shape{2}, 3, 4)},
			want: []*tensor.Tensor{f32(tensor.Shape{2}, 4, 6)}},
		{name: "legacy needs broadcast", op: "Add", opset: 6,
			in: []*tensor.Tensor{f32(tensor.Shape{2}, 1, 2), f32(nil, 3)}, kind: fault.Invalid},
		{name: "legacy suffix broadcast", op: "Add", opset: 6, attrs: []*graph.Attr{graph.IntAttr("broadcast", 1)},
			in:   []*tensor.Tensor{f32(tensor.Shape{2, 2}, 1, 2, 3, 4), f32(tensor.Shape{2}, 10, 20)},
			want: []*tensor.Tensor{f32(tensor.Shape{2, 2}, 11, 22, 13, 24)}},
		{name: "legacy axis broadcast", op: "Add", opset: 1, attrs: []*graph.Attr{graph.IntAttr("broadcast", 1), graph.IntAttr("axis", 0)},
			in:   []*tensor.Tensor{f32(tensor.Shape{2, 2}, 1, 2, 3, 4), f32(tensor.Shape{2}, 10, 20)},
			want: []*tensor.Tensor{f32(tensor.Shape{2, 2}, 11, 12, 23, 24)}},
		{name: "legacy B larger", op: "Add", opset: 6, attrs: []*graph.Attr{graph.IntAttr("broadcast", 1)},
			in: []*tensor.Tensor{f32(tensor.Shape{2}, 1, 2), f32(tensor.Shape{2, 2}, 1, 2, 3, 4)}, kind: fault.Invalid},
	})
}

func TestReshape(t *testing.T) {
	data := f32(tensor.Shape{2, 3, 4}, make([]float32, 24)...)
	empty := f32(tensor.Shape{0, 3, 4})
	shape := func(v ...int64) *tensor.Tensor { return i64(tensor.Shape{len(v)}, v...) }
	out := func(s ...int) *tensor.Tensor { return f32(s, make([]float32, tensor.Shape(s).Size())...) }
	runCases(t, []opCase{
		{name: "infer", op: "Reshape", opset: 13, in: []*tensor.Tensor{data, shape(4, -1)}, want: []*tensor.Tensor{out(4, 6)}},
		{name: "zero copies", op: "Reshape", opset: 13, in: []*tensor.Tensor{data, shape(0, 0, -1)}, want: []*tensor.Tensor{out(2, 3, 4)}},
		{name: "scalar", op: "Reshape", opset: 13, in: []*tensor.Tensor{f32(tensor.Shape{1, 1}, 7), shape()}, want: []*tensor.Tensor{f32(nil, 7)}},
		{name: "allowzero", op: "Reshape", opset: 14, attrs: []*graph.Attr{graph.IntAttr("allowzero", 1)}, in: []*tensor.Tensor{empty, shape(3, 4, 0)}, want: []*tensor.Tensor{out(3, 4, 0)}},
		{name: "zero copies empty", op: "Reshape", opset: 14, in: []*tensor.Tensor{empty, shape(0, 12)}, want: []*tensor.Tensor{out(0, 12)}},
		{name: "attribute shape", op: "Reshape", opset: 1, attrs: []*graph.Attr{graph.IntsAttr("shape", 6, -1)}, in: []*tensor.Tensor{data}, want: []*tensor.Tensor{out(6, 4)}},
		{name: "two -1", op: "Reshape", opset: 13, in: []*tensor.Tensor{data, shape(-1, -1)}, kind: fault.Invalid},
		{name: "count differs", op: "Reshape", opset: 13, in: []*tensor.Tensor{data, shape(5, 5)}, kind: fault.Invalid},
		{name: "not divisible", op: "Reshape", opset: 13, in: []*tensor.Tensor{data, shape(5, -1)}, kind: fault.Invalid},
		{name: "zero beyond rank", op: "Reshape", opset: 13, in: []*tensor.Tensor{data, shape(24, 1, 1, 0)}, kind: fault.Invalid},
		{name: "allowzero with -1", op: "Reshape", opset: 14, attrs: []*graph.Attr{graph.IntAttr("allowzero", 1)}, in: []*tensor.Tensor{empty, shape(0, -1)}, kind: fault.Invalid},
		{name: "below -1", op: "Reshape", opset: 13, in: []*tensor.Tensor{data, shape(-2, 12)}, kind: fault.Invalid},
		{name: "huge dims", op: "Reshape", opset: 13, in: []*tensor.Tensor{data, shape(1<<40, 1<<40)}, kind: fault.Invalid},
		{name: "shape not int64", op: "Reshape", opset: 13, in: []*tensor.Tensor{data, f32(tensor.Shape{1}, 24)}, kind: fault.Invalid},
	})
}

func TestMatMulTypes(t *testing.T) {
	runCases(t, []opCase{
		{name: "int32", op: "MatMul", opset: 13,
			in:   []*tensor.Tensor{tensor.MustFrom(tensor.Shape{2, 2}, []int32{1, 2, 3, 4}), tensor.MustFrom(tensor.Shape{2}, []int32{5, 6})},
			want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{2}, []int32{17, 39})}},
		{name: "uint64", op: "MatMul", opset: 13,
			in:   []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1, 2}, []uint64{1 << 40, 2}), tensor.MustFrom(tensor.Shape{2, 1}, []uint64{3, 4})},
			want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1, 1}, []uint64{3<<40 + 8})}},
		{name: "int64 1-D dot", op: "MatMul", opset: 13,
			in:   []*tensor.Tensor{i64(tensor.Shape{3}, 1, 2, 3), i64(tensor.Shape{3}, -1, 0, 1)},
			want: []*tensor.Tensor{i64(nil, 2)}},
		{name: "float16", op: "MatMul", opset: 13,
			in:   []*tensor.Tensor{f16(tensor.Shape{1, 2}, 0.5, 2), f16(tensor.Shape{2, 2}, 1, 2, 3, 4)},
			want: []*tensor.Tensor{f16(tensor.Shape{1, 2}, 6.5, 9)}},
		{name: "bfloat16", op: "MatMul", opset: 13,
			in:   []*tensor.Tensor{bf16(tensor.Shape{2}, 1, 2), bf16(tensor.Shape{2}, 3, 4)},
			want: []*tensor.Tensor{bf16(nil, 11)}},
		{name: "float64", op: "MatMul", opset: 13,
			in:   []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1, 2}, []float64{1, 2}), tensor.MustFrom(tensor.Shape{2, 1}, []float64{3, 4})},
			want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1, 1}, []float64{11})}},
		{name: "inner mismatch", op: "MatMul", opset: 13,
			in: []*tensor.Tensor{f32(tensor.Shape{2, 3}, make([]float32, 6)...), f32(tensor.Shape{2, 3}, make([]float32, 6)...)}, kind: fault.Invalid},
		{name: "batch mismatch", op: "MatMul", opset: 13,
			in: []*tensor.Tensor{f32(tensor.Shape{2, 1, 1}, 1, 2), f32(tensor.Shape{3, 1, 1}, 1, 2, 3)}, kind: fault.Invalid},
		{name: "scalar operand", op: "MatMul", opset: 13,
			in: []*tensor.Tensor{f32(nil, 1), f32(tensor.Shape{1}, 1)}, kind: fault.Invalid},
		{name: "empty inner", op: "MatMul", opset: 13,
			in:   []*tensor.Tensor{f32(tensor.Shape{2, 0}), f32(tensor.Shape{0, 2})},
			want: []*tensor.Tensor{f32(tensor.Shape{2, 2}, 0, 0, 0, 0)}},
	})
}

func TestMaxPoolTypes(t *testing.T) {
	k := []*graph.Attr{graph.IntsAttr("kernel_shape", 2)}
	runCases(t, []opCase{
		{name: "int8", op: "MaxPool", opset: 12, attrs: k,
			in:   []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1, 1, 4}, []int8{-128, -100, 5, -3})},
			want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1, 1, 3}, []int8{-100, 5, 5})}},
		{name: "uint8 indices", op: "MaxPool", opset: 12, attrs: k,
			in:   []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1, 1, 3}, []uint8{0, 0, 0})},
			want: []*tensor.Tensor{tensor.MustFrom(tensor.Shape{1, 1, 2}, []uint8{0, 0}), i64(tensor.Shape{1, 1, 2}, 0, 1)}},
		{name: "float16", op: "MaxPool", opset: 12, attrs: k,
			in:   []*tensor.Tensor{f16(tensor.Shape{1, 1, 3}, 1, -2, 3)},
			want: []*tensor.Tensor{f16(tensor.Shape{1, 1, 2}, 1, 3)}},
		{name: "bfloat16", op: "MaxPool", opset: 22, attrs: k,
			in:   []*tensor.Tensor{bf16(tensor.Shape{1, 1, 3}, 1, -2, 3)},
			want: []*tensor.Tensor{bf16(tensor.Shape{1, 1, 2}, 1, 3)}},
		{name: "NaN wins", op: "MaxPool", opset: 12, attrs: k,
			in:   []*tensor.Tensor{f32(tensor.Shape{1, 1, 3}, 1, float32(math.NaN()), 0)},
			want: []*tensor.Tensor{f32(tensor.Shape{1, 1, 2}, float32(math.NaN()), float32(math.NaN()))}},
		{name: "column-major indices", op: "MaxPool", opset: 12,
			attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 2, 2), graph.IntAttr("storage_order", 1)},
			in:    []*tensor.Tensor{f32(tensor.Shape{2, 1, 2, 3}, 1, 2, 9, 4, 5, 6, 1, 1, 1, 1, 1, 8)},
			want: []*tensor.Tensor{f32(tensor.Shape{2, 1, 1, 2}, 5, 9, 1, 8),
				i64(tensor.Shape{2, 1, 1, 2}, 3, 4, 6, 6+5)}},
		{name: "window in padding", op: "MaxPool", opset: 12,
			attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 1), graph.IntsAttr("pads", 1, 0)},
			in:    []*tensor.Tensor{f32(tensor.Shape{1, 1, 1}, 5)},
			want:  []*tensor.Tensor{f32(tensor.Shape{1, 1, 2}, float32(math.Inf(-1)), 5), i64(tensor.Shape{1, 1, 2}, -1, 0)}},
		{name: "kernel larger than input", op: "MaxPool", opset: 12, attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 5)},
			in: []*tensor.Tensor{f32(tensor.Shape{1, 1, 3}, 1, 2, 3)}, kind: fault.Invalid},
		{name: "rank too small", op: "MaxPool", opset: 12, attrs: k,
			in: []*tensor.Tensor{f32(tensor.Shape{1, 3}, 1, 2, 3)}, kind: fault.Invalid},
		{name: "kernel rank mismatch", op: "MaxPool", opset: 12, attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 2, 2)},
			in: []*tensor.Tensor{f32(tensor.Shape{1, 1, 3}, 1, 2, 3)}, kind: fault.Invalid},
	})
}

func TestConvErrors(t *testing.T) {
	x := f32(tensor.Shape{1, 2, 3, 3}, make([]float32, 18)...)
	runCases(t, []opCase{
		{name: "channels vs group", op: "Conv", opset: 11, attrs: []*graph.Attr{graph.IntAttr("group", 2)},
			in: []*tensor.Tensor{x, f32(tensor.Shape{2, 2, 1, 1}, 1, 1, 1, 1)}, kind: fault.Invalid},
		{name: "maps vs group", op: "Conv", opset: 11, attrs: []*graph.Attr{graph.IntAttr("group", 2)},
			in: []*tensor.Tensor{x, f32(tensor.Shape{3, 1, 1, 1}, 1, 1, 1)}, kind: fault.Invalid},
		{name: "rank", op: "Conv", opset: 11,
			in: []*tensor.Tensor{x, f32(tensor.Shape{1, 2, 1}, 1, 1)}, kind: fault.Invalid},
		{name: "bias size", op: "Conv", opset: 11,
			in: []*tensor.Tensor{x, f32(tensor.Shape{1, 2, 1, 1}, 1, 1), f32(tensor.Shape{2}, 1, 1)}, kind: fault.Invalid},
		{name: "kernel_shape vs W", op: "Conv", opset: 11, attrs: []*graph.Attr{graph.IntsAttr("kernel_shape", 2, 2)},
			in: []*tensor.Tensor{x, f32(tensor.Shape{1, 2, 1, 1}, 1, 1)}, kind: fault.Invalid},
		{name: "dtype mix", op: "Conv", opset: 11,
			in: []*tensor.Tensor{x, tensor.MustFrom(tensor.Shape{1, 2, 1, 1}, []float64{1, 1})}, kind: fault.Invalid},
		{name: "float16", op: "Conv", opset: 11,
			in:   []*tensor.Tensor{f16(tensor.Shape{1, 1, 3}, 1, 2, 3), f16(tensor.Shape{1, 1, 2}, 1, -1), f16(tensor.Shape{1}, 0.5)},
			want: []*tensor.Tensor{f16(tensor.Shape{1, 1, 2}, -0.5, -0.5)}},
		{name: "bfloat16", op: "Conv", opset: 22,
			in:   []*tensor.Tensor{bf16(tensor.Shape{1, 1, 3}, 1, 2, 3), bf16(tensor.Shape{1, 1, 1}, 2)},
			want: []*tensor.Tensor{bf16(tensor.Shape{1, 1, 3}, 2, 4, 6)}},
	})
}

func TestConstant(t *testing.T) {
	val := f32(tensor.Shape{2}, 1, 2)
	runCases(t, []opCase{
		{name: "value", op: "Constant", opset: 1, attrs: []*graph.Attr{graph.TensorAttr("value", val)}, want: []*tensor.Tensor{val}},
		{name: "value_float", op: "Constant", opset: 12, attrs: []*graph.Attr{graph.FloatAttr("value_float", 1.5)}, want: []*tensor.Tensor{f32(nil, 1.5)}},
		{name: "value_floats", op: "Constant", opset: 12, attrs: []*graph.Attr{graph.FloatsAttr("value_floats", 1, 2)}, want: []*tensor.Tensor{val}},
		{name: "value_int", op: "Constant", opset: 13, attrs: []*graph.Attr{graph.IntAttr("value_int", -4)}, want: []*tensor.Tensor{i64(nil, -4)}},
		{name: "value_ints", op: "Constant", opset: 13, attrs: []*graph.Attr{graph.IntsAttr("value_ints", 3, 4)}, want: []*tensor.Tensor{i64(tensor.Shape{2}, 3, 4)}},
		{name: "value_string", op: "Constant", opset: 13, attrs: []*graph.Attr{graph.StringAttr("value_string", "hi")},
			want: []*tensor.Tensor{must(tensor.FromStrings(nil, [][]byte{[]byte("hi")}))}},
		{name: "value_strings", op: "Constant", opset: 13, attrs: []*graph.Attr{graph.StringsAttr("value_strings", "a", "b")},
			want: []*tensor.Tensor{must(tensor.FromStrings(tensor.Shape{2}, [][]byte{[]byte("a"), []byte("b")}))}},
	})
}

func must(t *tensor.Tensor, err error) *tensor.Tensor {
	if err != nil {
		panic(err)
	}
	return t
}

func TestIdentityCopiesStrings(t *testing.T) {
	is := is.New(t)
	in := must(tensor.FromStrings(tensor.Shape{1}, [][]byte{[]byte("abc")}))
	out, err := runOp(t, "Identity", 13, 1, nil, in)
	is.NoErr(err)
	is.NoErr(enginetest.AllClose(out[0], in))
	out[0].Strings[0][0] = 'x'
	is.Equal(string(in.Strings[0]), "abc") // the output owns its bytes
}

func TestOutputReusesBuffers(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	first, err := ops.Output(ctx, nil, tensor.Float32, []int{4, 4})
	is.NoErr(err)
	is.Equal(len(first.Data), 64)
	second, err := ops.Output(ctx, first, tensor.Int8, []int{2, 3})
	is.NoErr(err)
	is.True(second == first)                   // same tensor
	is.True(&second.Data[0] == &first.Data[0]) // same buffer
	is.Equal([]int(second.Shape), []int{2, 3}) // re-shaped
	is.Equal(second.DType, tensor.Int8)
	is.Equal(len(second.Data), 6)
	bigger, err := ops.Output(ctx, second, tensor.Float64, []int{100})
	is.NoErr(err)
	is.Equal(len(bigger.Data), 800)
	is.True(tensor.Aligned(bigger.Data, tensor.Float64))
	_, err = ops.Output(ctx, nil, tensor.Float32, []int{1 << 20, 1 << 20})
	is.Equal(fault.KindOf(err), fault.TooLarge)
	strs, err := ops.Output(ctx, bigger, tensor.Bytes, []int{3})
	is.NoErr(err)
	is.Equal(len(strs.Strings), 3)
	is.True(strs.Data == nil)
}

func TestScratch(t *testing.T) {
	is := is.New(t)
	var s ops.Scratch
	a := ops.ScratchSlice[float32](&s, 100) // more than the empty buffer: from the heap
	is.Equal(len(a), 100)
	is.Equal(s.Bytes(), 0)
	s.Reset() // grows to the peak demand
	is.True(s.Bytes() >= 400)
	b := ops.ScratchSlice[float32](&s, 50)
	c := ops.ScratchSlice[float64](&s, 10)
	is.True(tensor.Aligned(tensor.MustFrom(tensor.Shape{10}, c).Data, tensor.Float64))
	b[49], c[0] = 1, 2 // disjoint
	is.Equal(b[49], float32(1))
	var none *ops.Scratch
	is.Equal(len(ops.ScratchSlice[int8](none, 3)), 3)
}

func TestOutputChargesTheAllocationBudget(t *testing.T) {
	is := is.New(t)
	b := ops.NewAllocBudget(1000)
	ctx := ops.WithAllocBudget(context.Background(), b)
	first, err := ops.Output(ctx, nil, tensor.Float32, []int{100}) // 400 bytes
	is.NoErr(err)
	is.Equal(b.Left(), int64(600))
	_, err = ops.Output(ctx, first, tensor.Float32, []int{50}) // reuses the buffer: free
	is.NoErr(err)
	is.Equal(b.Left(), int64(600))
	_, err = ops.Output(ctx, nil, tensor.Float32, []int{1 << 28}) // 1 GiB: refused before allocating
	is.Equal(fault.KindOf(err), fault.TooLarge)
	is.Equal(b.Left(), int64(600))
	_, err = ops.Output(ctx, nil, tensor.Bytes, []int{100}) // string headers count too
	is.Equal(fault.KindOf(err), fault.TooLarge)
}
