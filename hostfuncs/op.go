package hostfuncs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/exec"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// maxAttrsBytes bounds the attribute JSON of one op call.
const maxAttrsBytes = 64 << 10

func hostOp(ctx context.Context, m api.Module, stack []uint64) {
	c := callFrom(ctx)
	const fn = "op"
	namePtr, nameLen, attrsPtr, attrsLen := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	inPtr, nIn, outPtr, nOut := uint32(stack[4]), uint32(stack[5]), uint32(stack[6]), uint32(stack[7])
	if nameLen > 128 || attrsLen > maxAttrsBytes {
		ret(stack, c.fail(fn, invalid(fmt.Errorf("operator name of %d bytes or attributes of %d bytes are too long", nameLen, attrsLen))))
		return
	}
	name := string(view(m, fn, namePtr, nameLen))
	attrs, err := parseAttrs(view(m, fn, attrsPtr, attrsLen))
	if err != nil {
		ret(stack, c.fail(fn, invalid(fmt.Errorf("%s attributes: %w", name, err))))
		return
	}
	in, err := c.handlesIn(m, fn, inPtr, nIn)
	if err != nil {
		ret(stack, c.fail(fn, err))
		return
	}
	// The operator's outputs and temporaries must fit what is left of the
	// quota before they are allocated, not just when they are handed back.
	ctx = ops.WithAllocBudget(ctx, ops.NewAllocBudget(c.QuotaBytes-c.UsedBytes()))
	outs, err := RunOp(ctx, name, attrs, in, int(nOut))
	if err != nil {
		ret(stack, c.fail(fn, ranFailed(err)))
		return
	}
	ret(stack, c.handlesOut(m, fn, outPtr, nOut, outs))
}

// RunOp applies one ONNX operator (domain ai.onnx, the newest opset the
// engine implements) to host tensors, as a one-node graph through the same
// registry and kernels models use. nil inputs are omitted optional ones.
// It asks for nOut outputs, or for as many as the operator requires if that
// is more. An ops.AllocBudget in ctx bounds what it allocates.
func RunOp(ctx context.Context, opType string, attrs map[string]*graph.Attr, in []*tensor.Tensor, nOut int) ([]*tensor.Tensor, error) {
	schema, err := ops.Default().Lookup(graph.DefaultDomain, opType, ops.MaxOpset)
	if err != nil {
		return nil, err
	}
	required := 0
	for _, p := range schema.Outputs {
		if !p.Optional {
			required++
		}
	}
	most := len(schema.Outputs)
	if most > 0 && schema.Outputs[most-1].Variadic {
		most += ops.MaxVariadic - 1
	}
	nOut = min(max(nOut, required, 1), most)
	for len(in) > 0 && in[len(in)-1] == nil {
		in = in[:len(in)-1] // trailing omitted inputs may simply be left out
	}
	g := &graph.Graph{Name: opType}
	node := &graph.Node{OpType: opType, Attrs: attrs}
	feeds := make([]tensor.Named, 0, len(in))
	for i, t := range in {
		if t == nil {
			node.Inputs = append(node.Inputs, "")
			continue
		}
		name := "in" + strconv.Itoa(i)
		node.Inputs = append(node.Inputs, name)
		g.Inputs = append(g.Inputs, graph.ValueInfo{Name: name, DType: t.DType, UnknownRank: true})
		feeds = append(feeds, tensor.Named{Name: name, Tensor: t})
	}
	for i := range nOut {
		name := "out" + strconv.Itoa(i)
		node.Outputs = append(node.Outputs, name)
		g.Outputs = append(g.Outputs, graph.ValueInfo{Name: name, UnknownRank: true})
	}
	g.Nodes = []*graph.Node{node}
	opts := []exec.Option{exec.WithMaxIdleStates(0)}
	if b := ops.AllocBudgetFrom(ctx); b != nil {
		opts = append(opts, exec.WithFoldBudget(max(b.Left(), 1))) // an operator without inputs folds at compile
	}
	plan, err := exec.Compile(&graph.Model{Opsets: map[string]int64{graph.DefaultDomain: ops.MaxOpset}, Graph: g}, opts...)
	if err != nil {
		return nil, err
	}
	res, err := plan.Run(ctx, feeds)
	if err != nil {
		return nil, err
	}
	outs := make([]*tensor.Tensor, len(res))
	for i, r := range res {
		outs[i] = r.Tensor
	}
	return outs, nil
}

// parseAttrs reads a node's attributes from a JSON object (docs/ABI.md
// §5.3). Numbers written with a fraction or exponent are floats, others
// ints; an object is a tensor {"datatype", "shape", "data"}.
func parseAttrs(b []byte) (map[string]*graph.Attr, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	attrs := make(map[string]*graph.Attr, len(raw))
	for name, v := range raw {
		a, err := attrOf(name, v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", name, err)
		}
		attrs[name] = a
	}
	return attrs, nil
}

func isFloatLiteral(n json.Number) bool { return strings.ContainsAny(string(n), ".eE") }

func attrOf(name string, v any) (*graph.Attr, error) {
	switch v := v.(type) {
	case json.Number:
		if isFloatLiteral(v) {
			f, err := v.Float64()
			return graph.FloatAttr(name, float32(f)), err
		}
		i, err := v.Int64()
		return graph.IntAttr(name, i), err
	case bool:
		if v {
			return graph.IntAttr(name, 1), nil
		}
		return graph.IntAttr(name, 0), nil
	case string:
		return graph.StringAttr(name, v), nil
	case []any:
		return listAttr(name, v)
	case map[string]any:
		t, err := tensorAttr(v)
		if err != nil {
			return nil, err
		}
		return graph.TensorAttr(name, t), nil
	}
	return nil, fmt.Errorf("unsupported value %v", v)
}

func listAttr(name string, vs []any) (*graph.Attr, error) {
	floats, strs := false, false
	for _, v := range vs {
		switch v := v.(type) {
		case json.Number:
			floats = floats || isFloatLiteral(v)
		case string:
			strs = true
		default:
			return nil, fmt.Errorf("list element %v is neither a number nor a string", v)
		}
	}
	if strs {
		out := make([]string, len(vs))
		for i, v := range vs {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("list mixes strings and numbers")
			}
			out[i] = s
		}
		return graph.StringsAttr(name, out...), nil
	}
	if floats {
		out := make([]float32, len(vs))
		for i, v := range vs {
			f, err := v.(json.Number).Float64()
			if err != nil {
				return nil, err
			}
			out[i] = float32(f)
		}
		return graph.FloatsAttr(name, out...), nil
	}
	out := make([]int64, len(vs))
	for i, v := range vs {
		n, err := v.(json.Number).Int64()
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return graph.IntsAttr(name, out...), nil
}

// tensorAttr builds a small numeric tensor attribute such as
// ConstantOfShape's value.
func tensorAttr(v map[string]any) (*tensor.Tensor, error) {
	dtName, _ := v["datatype"].(string)
	dt, ok := tensor.ParseV2(dtName)
	if !ok || dt == tensor.Bytes {
		return nil, fmt.Errorf("tensor datatype %q is not a numeric KServe V2 datatype", dtName)
	}
	rawShape, _ := v["shape"].([]any)
	shape := make(tensor.Shape, len(rawShape))
	for i, d := range rawShape {
		n, ok := d.(json.Number)
		k, err := n.Int64()
		if !ok || err != nil || k < 0 || k > math.MaxInt32 {
			return nil, fmt.Errorf("tensor shape element %v is not a size", d)
		}
		shape[i] = int(k)
	}
	data, _ := v["data"].([]any)
	t, err := tensor.New(dt, shape)
	if err != nil {
		return nil, err
	}
	if len(data) != t.Len() {
		return nil, fmt.Errorf("tensor of shape %v needs %d values, got %d", []int(shape), t.Len(), len(data))
	}
	f64 := make([]float64, len(data))
	for i, d := range data {
		n, ok := d.(json.Number)
		if !ok {
			return nil, fmt.Errorf("tensor value %v is not a number", d)
		}
		if f64[i], err = n.Float64(); err != nil {
			return nil, err
		}
	}
	if err := setFromFloat64(t, f64); err != nil {
		return nil, err
	}
	return t, nil
}

// setFromFloat64 stores values into a numeric tensor, converting each.
func setFromFloat64(t *tensor.Tensor, v []float64) error {
	switch t.DType {
	case tensor.Float32:
		conv(tensor.Values[float32](t), v, func(f float64) float32 { return float32(f) })
	case tensor.Float64:
		copy(tensor.Values[float64](t), v)
	case tensor.Float16:
		conv(tensor.Values[tensor.F16](t), v, func(f float64) tensor.F16 { return tensor.F16From(float32(f)) })
	case tensor.BFloat16:
		conv(tensor.Values[tensor.BF16](t), v, func(f float64) tensor.BF16 { return tensor.BF16From(float32(f)) })
	case tensor.Int8:
		conv(tensor.Values[int8](t), v, func(f float64) int8 { return int8(f) })
	case tensor.Uint8:
		conv(tensor.Values[uint8](t), v, func(f float64) uint8 { return uint8(f) })
	case tensor.Int16:
		conv(tensor.Values[int16](t), v, func(f float64) int16 { return int16(f) })
	case tensor.Uint16:
		conv(tensor.Values[uint16](t), v, func(f float64) uint16 { return uint16(f) })
	case tensor.Int32:
		conv(tensor.Values[int32](t), v, func(f float64) int32 { return int32(f) })
	case tensor.Uint32:
		conv(tensor.Values[uint32](t), v, func(f float64) uint32 { return uint32(f) })
	case tensor.Int64:
		conv(tensor.Values[int64](t), v, func(f float64) int64 { return int64(f) })
	case tensor.Uint64:
		conv(tensor.Values[uint64](t), v, func(f float64) uint64 { return uint64(f) })
	case tensor.Bool:
		conv(tensor.Values[bool](t), v, func(f float64) bool { return f != 0 })
	default:
		return fault.Errorf(fault.Unsupported, "tensor attribute of %v", t.DType)
	}
	return nil
}

func conv[T any](dst []T, src []float64, f func(float64) T) {
	for i, v := range src {
		dst[i] = f(v)
	}
}
