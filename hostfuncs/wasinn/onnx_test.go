package wasinn_test

import (
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// vi declares a graph input or output for onnxModel.
type vi struct {
	name string
	dt   tensor.DType
	dims []int64
}

// onnxModel encodes a one-node ONNX model (opset 17): op applied to the
// inputs gives the outputs.
func onnxModel(op string, ins, outs []vi) []byte {
	var node []byte
	for _, in := range ins {
		node = protowire.AppendTag(node, 1, protowire.BytesType)
		node = protowire.AppendString(node, in.name)
	}
	for _, out := range outs {
		node = protowire.AppendTag(node, 2, protowire.BytesType)
		node = protowire.AppendString(node, out.name)
	}
	node = protowire.AppendTag(node, 4, protowire.BytesType)
	node = protowire.AppendString(node, op)

	valueInfo := func(v vi) []byte {
		var shape []byte
		for _, d := range v.dims {
			var dim []byte
			dim = protowire.AppendTag(dim, 1, protowire.VarintType)
			dim = protowire.AppendVarint(dim, uint64(d))
			shape = protowire.AppendTag(shape, 1, protowire.BytesType)
			shape = protowire.AppendBytes(shape, dim)
		}
		var tt []byte
		tt = protowire.AppendTag(tt, 1, protowire.VarintType)
		tt = protowire.AppendVarint(tt, uint64(v.dt))
		tt = protowire.AppendTag(tt, 2, protowire.BytesType)
		tt = protowire.AppendBytes(tt, shape)
		var typ []byte
		typ = protowire.AppendTag(typ, 1, protowire.BytesType)
		typ = protowire.AppendBytes(typ, tt)
		var b []byte
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, v.name)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		return protowire.AppendBytes(b, typ)
	}

	var g []byte
	g = protowire.AppendTag(g, 1, protowire.BytesType)
	g = protowire.AppendBytes(g, node)
	g = protowire.AppendTag(g, 2, protowire.BytesType)
	g = protowire.AppendString(g, "test")
	for _, in := range ins {
		g = protowire.AppendTag(g, 11, protowire.BytesType)
		g = protowire.AppendBytes(g, valueInfo(in))
	}
	for _, out := range outs {
		g = protowire.AppendTag(g, 12, protowire.BytesType)
		g = protowire.AppendBytes(g, valueInfo(out))
	}

	var opset []byte
	opset = protowire.AppendTag(opset, 2, protowire.VarintType)
	opset = protowire.AppendVarint(opset, 17)

	var m []byte
	m = protowire.AppendTag(m, 1, protowire.VarintType)
	m = protowire.AppendVarint(m, 8) // ir_version
	m = protowire.AppendTag(m, 8, protowire.BytesType)
	m = protowire.AppendBytes(m, opset)
	m = protowire.AppendTag(m, 7, protowire.BytesType)
	return protowire.AppendBytes(m, g)
}

// identity is an Identity model of one dtype and shape: input "x", output "y".
func identity(dt tensor.DType, dims ...int64) []byte {
	return onnxModel("Identity", []vi{{"x", dt, dims}}, []vi{{"y", dt, dims}})
}

// add is an Add model of two FP32 inputs "a" and "b" of shape dims.
func add(dims ...int64) []byte {
	return onnxModel("Add", []vi{{"a", tensor.Float32, dims}, {"b", tensor.Float32, dims}}, []vi{{"c", tensor.Float32, dims}})
}
