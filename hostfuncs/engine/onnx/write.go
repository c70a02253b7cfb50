package onnx

import (
	"fmt"
	"math"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// WriteModel serialises a model as a ModelProto that ReadModel reads back
// to an equal model and that other ONNX runtimes load.
//
// It writes what the IR holds and nothing else: ir_version (omitted when
// zero, so a model built in Go must set it, and its Opsets), producer_name,
// opset_import, and the graph with its nodes, attributes of every type the
// IR holds values for, initializers as raw_data TensorProtos (string_data
// for STRING tensors) and inputs and outputs as ValueInfoProtos with their
// element type and shape (symbolic dimensions as dim_param, unknown ones as
// an empty dimension, unknown rank as no shape). Maps are written in sorted
// order, so equal models give equal bytes.
//
// Sparse-tensor and type-proto attributes cannot be written: the reader
// records their type only, not their value. Neither can tensors that fail
// Validate, nor graphs nested deeper than MaxGraphDepth.
func WriteModel(m *graph.Model) ([]byte, error) {
	if m == nil || m.Graph == nil {
		return nil, fault.Errorf(fault.Invalid, "model has no graph")
	}
	var b []byte
	if m.IRVersion != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(m.IRVersion))
	}
	if m.ProducerName != "" {
		b = appendString(b, 2, m.ProducerName)
	}
	g, err := appendGraph(nil, m.Graph, 0)
	if err != nil {
		return nil, err
	}
	b = appendMessage(b, 7, g)
	for _, domain := range sortedKeys(m.Opsets) {
		var o []byte
		if domain != graph.DefaultDomain {
			o = appendString(o, 1, domain)
		}
		o = protowire.AppendTag(o, 2, protowire.VarintType)
		o = protowire.AppendVarint(o, uint64(m.Opsets[domain]))
		b = appendMessage(b, 8, o)
	}
	return b, nil
}

// WriteTensor serialises a tensor as a TensorProto named name (no name when
// empty): raw_data for fixed-size types, string_data for STRING.
func WriteTensor(name string, t *tensor.Tensor) ([]byte, error) {
	return appendTensor(nil, name, t)
}

func appendGraph(b []byte, g *graph.Graph, depth int) ([]byte, error) {
	if depth > MaxGraphDepth {
		return nil, fault.Errorf(fault.Invalid, "graphs nest deeper than %d levels", MaxGraphDepth)
	}
	for i, n := range g.Nodes {
		nb, err := appendNode(nil, n, depth)
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		b = appendMessage(b, 1, nb)
	}
	if g.Name != "" {
		b = appendString(b, 2, g.Name)
	}
	for _, name := range sortedKeys(g.Initializers) {
		tb, err := appendTensor(nil, name, g.Initializers[name])
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", name, err)
		}
		b = appendMessage(b, 5, tb)
	}
	for _, vi := range g.Inputs {
		b = appendMessage(b, 11, appendValueInfo(nil, vi))
	}
	for _, vi := range g.Outputs {
		b = appendMessage(b, 12, appendValueInfo(nil, vi))
	}
	return b, nil
}

func appendNode(b []byte, n *graph.Node, depth int) ([]byte, error) {
	if n == nil {
		return nil, fault.Errorf(fault.Invalid, "nil node")
	}
	if n.OpType == "" {
		return nil, fault.Errorf(fault.Invalid, "node %v has no op_type", n)
	}
	for _, s := range n.Inputs {
		b = appendString(b, 1, s)
	}
	for _, s := range n.Outputs {
		b = appendString(b, 2, s)
	}
	if n.Name != "" {
		b = appendString(b, 3, n.Name)
	}
	b = appendString(b, 4, n.OpType)
	for _, key := range sortedKeys(n.Attrs) {
		a := n.Attrs[key]
		if a == nil || a.Name != key {
			return nil, fault.Errorf(fault.Invalid, "node %v: attribute %q is nil or named otherwise", n, key)
		}
		ab, err := appendAttr(nil, a, depth)
		if err != nil {
			return nil, fmt.Errorf("node %v: attribute %q: %w", n, key, err)
		}
		b = appendMessage(b, 5, ab)
	}
	if n.Domain != graph.DefaultDomain {
		b = appendString(b, 7, n.Domain)
	}
	return b, nil
}

func appendAttr(b []byte, a *graph.Attr, depth int) ([]byte, error) {
	b = appendString(b, apName, a.Name)
	switch a.Type {
	case graph.AttrFloat:
		b = protowire.AppendTag(b, apF, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.Float))
	case graph.AttrInt:
		b = protowire.AppendTag(b, apI, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.Int))
	case graph.AttrString:
		b = appendString(b, apS, a.String)
	case graph.AttrTensor:
		if a.Tensor != nil {
			tb, err := appendTensor(nil, "", a.Tensor)
			if err != nil {
				return nil, err
			}
			b = appendMessage(b, apT, tb)
		}
	case graph.AttrGraph:
		if a.Graph != nil {
			gb, err := appendGraph(nil, a.Graph, depth+1)
			if err != nil {
				return nil, err
			}
			b = appendMessage(b, apG, gb)
		}
	case graph.AttrFloats:
		if len(a.Floats) > 0 {
			p := make([]byte, 0, 4*len(a.Floats))
			for _, f := range a.Floats {
				p = protowire.AppendFixed32(p, math.Float32bits(f))
			}
			b = appendMessage(b, apFloats, p)
		}
	case graph.AttrInts:
		if len(a.Ints) > 0 {
			b = appendMessage(b, apInts, packInts(a.Ints))
		}
	case graph.AttrStrings:
		for _, s := range a.Strings {
			b = appendString(b, apStrings, s)
		}
	case graph.AttrTensors:
		for i, t := range a.Tensors {
			tb, err := appendTensor(nil, "", t)
			if err != nil {
				return nil, fmt.Errorf("tensor %d: %w", i, err)
			}
			b = appendMessage(b, apTensors, tb)
		}
	case graph.AttrGraphs:
		for i, g := range a.Graphs {
			if g == nil {
				return nil, fault.Errorf(fault.Invalid, "graph %d is nil", i)
			}
			gb, err := appendGraph(nil, g, depth+1)
			if err != nil {
				return nil, fmt.Errorf("graph %d: %w", i, err)
			}
			b = appendMessage(b, apGraphs, gb)
		}
	case graph.AttrSparseTensor, graph.AttrSparseTensors, graph.AttrTypeProto, graph.AttrTypeProtos:
		return nil, fault.Errorf(fault.Unsupported, "%v attributes cannot be written: the IR does not hold their values", a.Type)
	default:
		return nil, fault.Errorf(fault.Invalid, "attribute type %v cannot be written", a.Type)
	}
	b = protowire.AppendTag(b, apType, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(a.Type)), nil
}

func appendTensor(b []byte, name string, t *tensor.Tensor) ([]byte, error) {
	if err := t.Validate(); err != nil {
		return nil, fault.Errorf(fault.Invalid, "cannot write tensor: %w", err)
	}
	if len(t.Shape) > 0 {
		dims := make([]int64, len(t.Shape))
		for i, d := range t.Shape {
			dims[i] = int64(d)
		}
		b = appendMessage(b, tpDims, packInts(dims))
	}
	b = protowire.AppendTag(b, tpDataType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(t.DType))
	if t.DType == tensor.Bytes {
		for _, s := range t.Strings {
			b = protowire.AppendTag(b, tpStringData, protowire.BytesType)
			b = protowire.AppendBytes(b, s)
		}
	}
	if name != "" {
		b = appendString(b, tpName, name)
	}
	if t.DType != tensor.Bytes {
		b = protowire.AppendTag(b, tpRawData, protowire.BytesType)
		b = protowire.AppendBytes(b, t.Data) // the tensor type holds little-endian bytes already
	}
	return b, nil
}

// appendValueInfo writes a ValueInfoProto with a tensor TypeProto.
func appendValueInfo(b []byte, vi graph.ValueInfo) []byte {
	var tt []byte
	tt = protowire.AppendTag(tt, 1, protowire.VarintType)
	tt = protowire.AppendVarint(tt, uint64(vi.DType))
	if !vi.UnknownRank {
		var shape []byte
		for _, d := range vi.Dims {
			var db []byte
			switch {
			case d.Fixed():
				db = protowire.AppendTag(db, 1, protowire.VarintType)
				db = protowire.AppendVarint(db, uint64(d.Size))
			case d.Param != "":
				db = appendString(db, 2, d.Param)
			}
			shape = appendMessage(shape, 1, db)
		}
		tt = appendMessage(tt, 2, shape)
	}
	if vi.Name != "" {
		b = appendString(b, 1, vi.Name)
	}
	return appendMessage(b, 2, appendMessage(nil, 1, tt))
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

func packInts(v []int64) []byte {
	p := make([]byte, 0, len(v))
	for _, x := range v {
		p = protowire.AppendVarint(p, uint64(x))
	}
	return p
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
