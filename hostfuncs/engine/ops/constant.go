package ops

import (
	"context"
	"slices"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func constantSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": ts}, Attrs: attrs,
			Build: func(n *graph.Node, _ int64) (Kernel, error) { return buildConstant(n, ts) },
		}
	}
	all := allTypes()
	withoutBF16 := slices.DeleteFunc(allTypes(), func(d tensor.DType) bool { return d == tensor.BFloat16 })
	full := []string{"value", "sparse_value", "value_float", "value_floats", "value_int", "value_ints", "value_string", "value_strings"}
	return []Schema{
		v(1, floats(), "value"),
		v(9, withoutBF16, "value"),
		v(11, withoutBF16, "value", "sparse_value"),
		v(12, withoutBF16, full...),
		v(13, all, full...),
		v(19, all, full...),
		v(21, all, full...),
		v(23, all, full...),
		v(24, all, full...),
		v(25, all, full...),
	}
}

type constant struct{ value *tensor.Tensor }

// buildConstant decodes the value; allowed are the dtypes the opset's
// version admits.
func buildConstant(n *graph.Node, allowed []tensor.DType) (Kernel, error) {
	if len(n.Attrs) != 1 {
		return nil, fault.Errorf(fault.Invalid, "Constant needs exactly one value attribute, node has %d", len(n.Attrs))
	}
	var a *graph.Attr
	for _, a = range n.Attrs { // take the only one
	}
	t, err := constantValue(n, a)
	if err != nil {
		return nil, err
	}
	if err := t.Validate(); err != nil {
		return nil, fault.Errorf(fault.Invalid, "attribute %q: %w", a.Name, err)
	}
	if !slices.Contains(allowed, t.DType) {
		return nil, fault.Errorf(fault.Unsupported, "a Constant of %s is not supported in this opset", t.DType.ONNXName())
	}
	return constant{t}, nil
}

// constantValue turns the one value attribute into a tensor.
func constantValue(n *graph.Node, a *graph.Attr) (*tensor.Tensor, error) {
	wantType := map[string]graph.AttrType{
		"value": graph.AttrTensor, "sparse_value": graph.AttrSparseTensor,
		"value_float": graph.AttrFloat, "value_floats": graph.AttrFloats,
		"value_int": graph.AttrInt, "value_ints": graph.AttrInts,
		"value_string": graph.AttrString, "value_strings": graph.AttrStrings,
	}[a.Name]
	if a.Type != wantType {
		return nil, fault.Errorf(fault.Invalid, "attribute %q must be %v, got %v", a.Name, wantType, a.Type)
	}
	switch a.Name {
	case "value":
		return n.AttrTensor("value")
	case "sparse_value":
		return nil, fault.Errorf(fault.Unsupported, "sparse constants are not supported")
	case "value_float":
		return tensor.From(nil, []float32{a.Float})
	case "value_floats":
		return tensor.From(tensor.Shape{len(a.Floats)}, slices.Clone(a.Floats))
	case "value_int":
		return tensor.From(nil, []int64{a.Int})
	case "value_ints":
		return tensor.From(tensor.Shape{len(a.Ints)}, slices.Clone(a.Ints))
	case "value_string":
		return tensor.FromStrings(nil, [][]byte{[]byte(a.String)})
	}
	ss := make([][]byte, len(a.Strings)) // value_strings
	for i, s := range a.Strings {
		ss[i] = []byte(s)
	}
	return tensor.FromStrings(tensor.Shape{len(ss)}, ss)
}

func (c constant) Run(ctx context.Context, _, out []*tensor.Tensor) error {
	var err error
	out[0], err = copyInto(ctx, out[0], c.value, c.value.Shape)
	return err
}
