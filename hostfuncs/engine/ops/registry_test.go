package ops_test

import (
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func TestLookupPicksVersionByOpset(t *testing.T) {
	cases := []struct {
		op    string
		opset int64
		since int64 // 0: not supported
	}{
		{"Relu", 1, 1}, {"Relu", 5, 1}, {"Relu", 6, 6}, {"Relu", 12, 6}, {"Relu", 13, 13}, {"Relu", 14, 14}, {"Relu", 27, 14},
		{"Add", 6, 6}, {"Add", 7, 7}, {"Add", 12, 7}, {"Add", 13, 13}, {"Add", 20, 14},
		{"Conv", 1, 1}, {"Conv", 10, 1}, {"Conv", 11, 11}, {"Conv", 21, 11}, {"Conv", 22, 22},
		{"MaxPool", 7, 1}, {"MaxPool", 8, 8}, {"MaxPool", 9, 8}, {"MaxPool", 10, 10}, {"MaxPool", 11, 11}, {"MaxPool", 12, 12}, {"MaxPool", 22, 22},
		{"Reshape", 4, 1}, {"Reshape", 5, 5}, {"Reshape", 13, 13}, {"Reshape", 14, 14}, {"Reshape", 25, 25},
		{"MatMul", 8, 1}, {"MatMul", 9, 9}, {"MatMul", 13, 13},
		{"Identity", 1, 1}, {"Identity", 16, 16}, {"Constant", 12, 12}, {"Constant", 25, 25},
		{"Relu", 0, 0}, {"Relu", ops.MaxOpset + 1, 0}, {"NoSuchOp", 13, 0},
	}
	for _, tc := range cases {
		s, err := ops.Default().Lookup("", tc.op, tc.opset)
		if tc.since == 0 {
			if err == nil || fault.KindOf(err) != fault.Unsupported {
				t.Errorf("%s opset %d: got %v, want an unsupported error", tc.op, tc.opset, err)
			}
			continue
		}
		if err != nil || s.Since != tc.since {
			t.Errorf("%s opset %d: got version %v (%v), want %d", tc.op, tc.opset, s, err, tc.since)
		}
	}
}

func TestUnsupportedOperatorMessage(t *testing.T) {
	is := is.New(t)
	_, err := ops.Default().Lookup("ai.onnx", "NoSuchOp", 13)
	is.Equal(err.Error(), `unsupported operator "NoSuchOp" (domain ai.onnx, opset 13)`)
	_, err = ops.Default().Lookup("com.microsoft", "FusedConv", 1)
	is.Equal(err.Error(), `unsupported operator "FusedConv" (domain com.microsoft, opset 1)`)
	is.Equal(fault.KindOf(err), fault.Unsupported)
}

func node(op string, in, out []string, attrs ...*graph.Attr) *graph.Node {
	return &graph.Node{Name: "n", OpType: op, Inputs: in, Outputs: out, Attrs: graph.Attrs(attrs...)}
}

func TestBuildValidatesNodes(t *testing.T) {
	cases := []struct {
		name  string
		n     *graph.Node
		opset int64
		kind  fault.Kind // 0 (Internal) means no error expected
		msg   string
	}{
		{"MaxPool dilations before opset 10", node("MaxPool", []string{"x"}, []string{"y"}, graph.IntsAttr("kernel_shape", 2), graph.IntsAttr("dilations", 2)), 8, fault.Invalid, `has no attribute "dilations"`},
		{"MaxPool dilations at 10", node("MaxPool", []string{"x"}, []string{"y"}, graph.IntsAttr("kernel_shape", 2), graph.IntsAttr("dilations", 2)), 10, 0, ""},
		{"MaxPool Indices before 8", node("MaxPool", []string{"x"}, []string{"y", "i"}, graph.IntsAttr("kernel_shape", 2)), 7, fault.Invalid, "outputs"},
		{"MaxPool storage_order at 8", node("MaxPool", []string{"x"}, []string{"y", "i"}, graph.IntsAttr("kernel_shape", 2), graph.IntAttr("storage_order", 1)), 8, 0, ""},
		{"MaxPool without kernel_shape", node("MaxPool", []string{"x"}, []string{"y"}), 12, fault.Invalid, "kernel_shape"},
		{"MaxPool ceil_mode 2", node("MaxPool", []string{"x"}, []string{"y"}, graph.IntsAttr("kernel_shape", 2), graph.IntAttr("ceil_mode", 2)), 12, fault.Invalid, "ceil_mode"},
		{"Reshape allowzero before 14", node("Reshape", []string{"x", "s"}, []string{"y"}, graph.IntAttr("allowzero", 1)), 13, fault.Invalid, `"allowzero"`},
		{"Reshape allowzero at 14", node("Reshape", []string{"x", "s"}, []string{"y"}, graph.IntAttr("allowzero", 1)), 14, 0, ""},
		{"Reshape-1 needs shape attribute", node("Reshape", []string{"x"}, []string{"y"}), 1, fault.Invalid, "shape"},
		{"Reshape-5 needs shape input", node("Reshape", []string{"x"}, []string{"y"}), 5, fault.Invalid, "inputs"},
		{"Relu consumed_inputs at 1", node("Relu", []string{"x"}, []string{"y"}, graph.IntsAttr("consumed_inputs", 0)), 1, 0, ""},
		{"Relu consumed_inputs at 6", node("Relu", []string{"x"}, []string{"y"}, graph.IntsAttr("consumed_inputs", 0)), 6, fault.Invalid, "consumed_inputs"},
		{"Add broadcast at 6", node("Add", []string{"a", "b"}, []string{"c"}, graph.IntAttr("broadcast", 1)), 6, 0, ""},
		{"Add broadcast at 7", node("Add", []string{"a", "b"}, []string{"c"}, graph.IntAttr("broadcast", 1)), 7, fault.Invalid, "broadcast"},
		{"Conv with one input", node("Conv", []string{"x"}, []string{"y"}), 11, fault.Invalid, "inputs"},
		{"Conv required input omitted", node("Conv", []string{"x", ""}, []string{"y"}), 11, fault.Invalid, "required"},
		{"Conv bad auto_pad", node("Conv", []string{"x", "w"}, []string{"y"}, graph.StringAttr("auto_pad", "SAME")), 11, fault.Invalid, "auto_pad"},
		{"Conv negative stride", node("Conv", []string{"x", "w"}, []string{"y"}, graph.IntsAttr("strides", 1, -1)), 11, fault.Invalid, "strides"},
		{"Conv group 0", node("Conv", []string{"x", "w"}, []string{"y"}, graph.IntAttr("group", 0)), 11, fault.Invalid, "group"},
		{"Conv pads with auto_pad", node("Conv", []string{"x", "w"}, []string{"y"}, graph.StringAttr("auto_pad", "VALID"), graph.IntsAttr("pads", 1, 1)), 11, fault.Invalid, "pads"},
		{"Conv inconsistent ranks", node("Conv", []string{"x", "w"}, []string{"y"}, graph.IntsAttr("strides", 1, 1), graph.IntsAttr("dilations", 1)), 11, fault.Invalid, "spatial axes"},
		{"Conv odd pads", node("Conv", []string{"x", "w"}, []string{"y"}, graph.IntsAttr("pads", 1, 1, 1)), 11, fault.Invalid, "pads"},
		{"Conv group as float", node("Conv", []string{"x", "w"}, []string{"y"}, graph.FloatAttr("group", 1)), 11, fault.Invalid, "must be INT"},
		{"Constant two values", node("Constant", nil, []string{"y"}, graph.IntAttr("value_int", 1), graph.FloatAttr("value_float", 1)), 13, fault.Invalid, "exactly one"},
		{"Constant value_int before 12", node("Constant", nil, []string{"y"}, graph.IntAttr("value_int", 1)), 11, fault.Invalid, "value_int"},
		{"Constant int64 at opset 1", node("Constant", nil, []string{"y"}, graph.TensorAttr("value", tensor.MustFrom(nil, []int64{1}))), 1, fault.Unsupported, "INT64"},
		{"Constant sparse", node("Constant", nil, []string{"y"}, &graph.Attr{Name: "sparse_value", Type: graph.AttrSparseTensor}), 13, fault.Unsupported, "sparse"},
		{"no opset import", &graph.Node{Name: "n", OpType: "Relu", Domain: "x.y", Inputs: []string{"x"}, Outputs: []string{"y"}}, 13, fault.Invalid, "imports no opset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			_, _, err := ops.Default().Build(tc.n, map[string]int64{"": tc.opset})
			if tc.kind == 0 {
				is.NoErr(err)
				return
			}
			is.True(err != nil)
			is.Equal(fault.KindOf(err), tc.kind)
			is.True(strings.Contains(err.Error(), tc.msg)) // the message says what is wrong
			is.True(strings.Contains(err.Error(), `"n"`))  // and names the node
		})
	}
}

func TestInferTypes(t *testing.T) {
	f32, i32, i64 := tensor.Float32, tensor.Int32, tensor.Int64
	cases := []struct {
		op    string
		opset int64
		in    []tensor.DType
		nOut  int
		want  []tensor.DType
		kind  fault.Kind
	}{
		{"Relu", 13, []tensor.DType{i32}, 1, nil, fault.Unsupported},
		{"Relu", 14, []tensor.DType{i32}, 1, []tensor.DType{i32}, 0},
		{"Add", 14, []tensor.DType{f32, i32}, 1, nil, fault.Invalid},
		{"Add", 14, []tensor.DType{tensor.Bool, tensor.Bool}, 1, nil, fault.Unsupported},
		{"Add", 13, []tensor.DType{tensor.Int8, tensor.Int8}, 1, nil, fault.Unsupported},
		{"Add", 14, []tensor.DType{tensor.Int8, tensor.Int8}, 1, []tensor.DType{tensor.Int8}, 0},
		{"MaxPool", 12, []tensor.DType{tensor.Uint8}, 2, []tensor.DType{tensor.Uint8, i64}, 0},
		{"MaxPool", 11, []tensor.DType{tensor.Uint8}, 1, nil, fault.Unsupported},
		{"Reshape", 13, []tensor.DType{f32, i32}, 1, nil, fault.Unsupported},
		{"Reshape", 13, []tensor.DType{tensor.Bytes, i64}, 1, []tensor.DType{tensor.Bytes}, 0},
		{"Conv", 11, []tensor.DType{f32, f32, tensor.Invalid}, 1, []tensor.DType{f32}, 0},
		{"Conv", 11, []tensor.DType{tensor.BFloat16, tensor.BFloat16}, 1, nil, fault.Unsupported},
		{"MatMul", 9, []tensor.DType{tensor.Uint64, tensor.Uint64}, 1, []tensor.DType{tensor.Uint64}, 0},
	}
	for _, tc := range cases {
		s, err := ops.Default().Lookup("", tc.op, tc.opset)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.InferTypes(tc.in, tc.nOut)
		if tc.kind != 0 {
			if fault.KindOf(err) != tc.kind {
				t.Errorf("%s-%d %v: got %v, want a %v error", tc.op, tc.opset, tc.in, err, tc.kind)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Fatalf("%s-%d %v: got %v, %v", tc.op, tc.opset, tc.in, got, err)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s-%d %v: output %d is %v, want %v", tc.op, tc.opset, tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

func TestRegistryWith(t *testing.T) {
	is := is.New(t)
	base := ops.Default()
	r := base.With("com.example", "Foo", ops.Schema{Since: 1, Build: func(*graph.Node, int64) (ops.Kernel, error) { return nil, nil }})
	_, err := r.Lookup("com.example", "Foo", 3)
	is.NoErr(err)
	_, err = base.Lookup("com.example", "Foo", 3)
	is.True(err != nil) // the base registry is unchanged
	is.True(len(r.Ops()) == len(base.Ops())+1)
}
