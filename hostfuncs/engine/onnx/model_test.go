package onnx

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

const testdata = "../../../testdata"

func TestReadMNIST(t *testing.T) {
	is := is.New(t)
	b, err := os.ReadFile(filepath.Join(testdata, "mnist", "mnist-7", "model.onnx"))
	is.NoErr(err)
	m, err := ReadModel(b)
	is.NoErr(err)
	is.Equal(m.IRVersion, int64(3))
	is.Equal(m.Opsets, map[string]int64{"": 7})
	is.Equal(m.ProducerName, "CNTK")
	g := m.Graph
	is.Equal(len(g.Nodes), 12)
	is.Equal(len(g.Initializers), 8)
	is.Equal(g.Inputs[0].Name, "Input3")
	is.Equal(g.Inputs[0].String(), "FP32[1,1,28,28]")
	is.Equal(g.Outputs[0].String(), "FP32[1,10]")
	w := g.Initializers["Parameter87"]
	is.Equal([]int(w.Shape), []int{16, 8, 5, 5})
	is.Equal(w.DType, tensor.Float32)

	var conv *graph.Node
	for _, n := range g.Nodes {
		if n.Name == "Convolution28" {
			conv = n
		}
	}
	is.True(conv != nil)
	is.Equal(conv.OpType, "Conv")
	is.Equal(conv.Inputs, []string{"Input3", "Parameter5"})
	pad, err := conv.AttrString("auto_pad", "NOTSET")
	is.NoErr(err)
	is.Equal(pad, "SAME_UPPER")
	ks, err := conv.AttrInts("kernel_shape", nil)
	is.NoErr(err)
	is.Equal(ks, []int64{5, 5})
}

// Message builders for models, on top of the tensor test's enc.

func valueInfo(name string, dt tensor.DType, dims ...any) []byte {
	var shape enc
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			shape = shape.bytes(1, enc(nil).varint(1, uint64(d)))
		case string:
			shape = shape.bytes(1, enc(nil).str(2, d))
		}
	}
	tt := enc(nil).varint(1, uint64(dt)).bytes(2, shape)
	return enc(nil).str(1, name).bytes(2, enc(nil).bytes(1, tt))
}

func nodeProto(op string, in, out []string, attrs ...[]byte) enc {
	n := enc(nil).str(4, op)
	for _, s := range in {
		n = n.str(1, s)
	}
	for _, s := range out {
		n = n.str(2, s)
	}
	for _, a := range attrs {
		n = n.bytes(5, a)
	}
	return n
}

func model(graphFields enc) []byte {
	return enc(nil).varint(1, 8).bytes(8, enc(nil).varint(2, 13)).bytes(7, graphFields)
}

func nest(depth int) []byte {
	g := enc(nil).str(2, "leaf")
	for range depth {
		attr := enc(nil).str(apName, "body").varint(apType, uint64(graph.AttrGraph)).bytes(apG, g)
		g = enc(nil).bytes(1, nodeProto("If", []string{"c"}, []string{"y"}, attr))
	}
	return g
}

func TestReadModelStructure(t *testing.T) {
	is := is.New(t)
	attrs := [][]byte{
		enc(nil).str(apName, "i").varint(apType, uint64(graph.AttrInt)).varint(apI, neg(-2)),
		enc(nil).str(apName, "f").fixed32(apF, 0x3fc00000), // no type: inferred, 1.5
		enc(nil).str(apName, "ints").varint(apType, uint64(graph.AttrInts)).bytes(apInts, packedVarints(1, neg(-1))).varint(apInts, 3),
		enc(nil).str(apName, "floats").varint(apType, uint64(graph.AttrFloats)).bytes(apFloats, packedFloats(0.5)).fixed32(apFloats, 0x40000000),
		enc(nil).str(apName, "s").varint(apType, uint64(graph.AttrString)).str(apS, "SAME_UPPER"),
		enc(nil).str(apName, "ss").varint(apType, uint64(graph.AttrStrings)).str(apStrings, "a").str(apStrings, "b"),
		enc(nil).str(apName, "t").varint(apType, uint64(graph.AttrTensor)).bytes(apT, header(tensor.Int64, 1).bytes(tpInt64Data, packedVarints(5))),
	}
	g := enc(nil).str(2, "g").
		bytes(1, nodeProto("Foo", []string{"x", ""}, []string{"y"}, attrs...).str(3, "foo").str(7, "ai.onnx")).
		bytes(11, valueInfo("x", tensor.Float32, "N", 3)).
		bytes(12, valueInfo("y", tensor.Float32)).
		bytes(5, header(tensor.Float32, 1).str(tpName, "w").bytes(tpRawData, packedFloats(2))).
		bytes(13, valueInfo("ignored", tensor.Float32))
	m, err := ReadModel(model(g))
	is.NoErr(err)
	is.Equal(m.Opsets[""], int64(13))
	n := m.Graph.Nodes[0]
	is.Equal(n.Name, "foo")
	is.Equal(n.Domain, "") // "ai.onnx" normalised
	is.Equal(n.Inputs, []string{"x", ""})
	i, err := n.AttrInt("i", 0)
	is.NoErr(err)
	is.Equal(i, int64(-2))
	f, err := n.AttrFloat("f", 0)
	is.NoErr(err)
	is.Equal(f, float32(1.5))
	ints, err := n.AttrInts("ints", nil)
	is.NoErr(err)
	is.Equal(ints, []int64{1, -1, 3})
	fs, err := n.AttrFloats("floats", nil)
	is.NoErr(err)
	is.Equal(fs, []float32{0.5, 2})
	ss, err := n.AttrStrings("ss", nil)
	is.NoErr(err)
	is.Equal(ss, []string{"a", "b"})
	tt, err := n.AttrTensor("t")
	is.NoErr(err)
	is.Equal(tensor.Values[int64](tt), []int64{5})
	in := m.Graph.Inputs[0]
	is.Equal(in.String(), "FP32[N,3]")
	is.True(!in.Dims[0].Fixed())
	is.Equal(m.Graph.Outputs[0].UnknownRank, false) // a shape with no dims: a scalar
	is.Equal(len(m.Graph.Initializers), 1)
	_, err = n.AttrInts("i", nil) // type mismatch
	is.Equal(fault.KindOf(err), fault.Invalid)

	_, err = ReadModel(model(nest(MaxGraphDepth)))
	is.NoErr(err) // nesting up to the limit is fine
}

func TestReadModelErrors(t *testing.T) {
	sequenceInput := enc(nil).str(1, "s").bytes(2, enc(nil).bytes(4, enc(nil).bytes(1, enc(nil).bytes(1, enc(nil).varint(1, 1)))))
	cases := []struct {
		name string
		b    []byte
		kind fault.Kind
	}{
		{"empty", nil, fault.Invalid},
		{"garbage", []byte{0xff, 0xff, 0xff}, fault.Invalid},
		{"no graph", enc(nil).varint(1, 7), fault.Invalid},
		{"too deep", model(nest(MaxGraphDepth + 1)), fault.Invalid},
		{"sparse initializer", model(enc(nil).bytes(15, nil)), fault.Unsupported},
		{"sequence input", model(enc(nil).bytes(11, sequenceInput)), fault.Unsupported},
		{"input without type", model(enc(nil).bytes(11, enc(nil).str(1, "x"))), fault.Invalid},
		{"complex input", model(enc(nil).bytes(11, valueInfo("x", 14, 1))), fault.Unsupported},
		{"negative dim", model(enc(nil).bytes(11, valueInfo("x", 1, -1))), fault.Invalid},
		{"duplicate initializer", model(enc(nil).
			bytes(5, header(tensor.Float32, 1).str(tpName, "w").bytes(tpRawData, packedFloats(2))).
			bytes(5, header(tensor.Float32, 1).str(tpName, "w").bytes(tpRawData, packedFloats(2)))), fault.Invalid},
		{"unnamed initializer", model(enc(nil).bytes(5, header(tensor.Float32, 1).bytes(tpRawData, packedFloats(2)))), fault.Invalid},
		{"bad initializer", model(enc(nil).bytes(5, header(tensor.Float32, 9).str(tpName, "w").bytes(tpRawData, packedFloats(2)))), fault.Invalid},
		{"node without op", model(enc(nil).bytes(1, enc(nil).str(1, "x"))), fault.Invalid},
		{"duplicate attribute", model(enc(nil).bytes(1, nodeProto("Relu", nil, nil,
			enc(nil).str(apName, "a").varint(apI, 1), enc(nil).str(apName, "a").varint(apI, 2)))), fault.Invalid},
		{"attribute without name", model(enc(nil).bytes(1, nodeProto("Relu", nil, nil, enc(nil).varint(apI, 1)))), fault.Invalid},
		{"attribute without value", model(enc(nil).bytes(1, nodeProto("Relu", nil, nil, enc(nil).str(apName, "a")))), fault.Invalid},
		{"unknown attribute type", model(enc(nil).bytes(1, nodeProto("Relu", nil, nil, enc(nil).str(apName, "a").varint(apType, 99)))), fault.Invalid},
		{"ref_attr_name", model(enc(nil).bytes(1, nodeProto("Relu", nil, nil, enc(nil).str(apName, "a").str(apRefAttrName, "b")))), fault.Invalid},
		{"float attribute as varint", model(enc(nil).bytes(1, nodeProto("Relu", nil, nil, enc(nil).str(apName, "a").varint(apF, 1)))), fault.Invalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			_, err := ReadModel(tc.b)
			is.True(err != nil)
			is.Equal(fault.KindOf(err), tc.kind)
		})
	}
}
