package graph_test

import (
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func TestAttrGetters(t *testing.T) {
	tt := tensor.MustFrom(tensor.Shape{1}, []float32{1})
	n := &graph.Node{Name: "n", OpType: "Op", Attrs: graph.Attrs(
		graph.IntAttr("i", 3), graph.IntsAttr("is", 1, 2), graph.FloatAttr("f", 0.5),
		graph.FloatsAttr("fs", 1.5), graph.StringAttr("s", "x"), graph.StringsAttr("ss", "a", "b"),
		graph.TensorAttr("t", tt), &graph.Attr{Name: "empty", Type: graph.AttrTensor},
	)}
	is := is.New(t)

	i, err := n.AttrInt("i", 9)
	is.NoErr(err)
	is.Equal(i, int64(3))
	i, err = n.AttrInt("absent", 9)
	is.NoErr(err)
	is.Equal(i, int64(9))
	ints, err := n.AttrInts("is", nil)
	is.NoErr(err)
	is.Equal(ints, []int64{1, 2})
	f, err := n.AttrFloat("f", 0)
	is.NoErr(err)
	is.Equal(f, float32(0.5))
	fs, err := n.AttrFloats("fs", nil)
	is.NoErr(err)
	is.Equal(fs, []float32{1.5})
	s, err := n.AttrString("s", "")
	is.NoErr(err)
	is.Equal(s, "x")
	ss, err := n.AttrStrings("absent", []string{"d"})
	is.NoErr(err)
	is.Equal(ss, []string{"d"})
	got, err := n.AttrTensor("t")
	is.NoErr(err)
	is.True(got == tt)
	got, err = n.AttrTensor("absent")
	is.NoErr(err)
	is.True(got == nil)
	is.True(n.HasAttr("i") && !n.HasAttr("absent"))

	mismatches := []func() error{
		func() error { _, err := n.AttrInt("is", 0); return err },
		func() error { _, err := n.AttrInts("i", nil); return err },
		func() error { _, err := n.AttrFloat("i", 0); return err },
		func() error { _, err := n.AttrFloats("f", nil); return err },
		func() error { _, err := n.AttrString("ss", ""); return err },
		func() error { _, err := n.AttrStrings("s", nil); return err },
		func() error { _, err := n.AttrTensor("s"); return err },
		func() error { _, err := n.AttrTensor("empty"); return err },
	}
	for _, get := range mismatches {
		err := get()
		is.True(err != nil)
		is.Equal(fault.KindOf(err), fault.Invalid)
	}
	_, err = n.AttrInt("is", 0)
	is.Equal(err.Error(), `node "n" (Op): attribute "is" must be INT, got INTS`)
}

func TestValueInfo(t *testing.T) {
	is := is.New(t)
	v := graph.ValueInfo{Name: "x", DType: tensor.Float32, Dims: []graph.Dim{graph.SymbolicDim("N"), graph.FixedDim(3), graph.SymbolicDim("")}}
	is.Equal(v.String(), "FP32[N,3,?]")
	is.True(!v.Fixed())
	v.Dims = v.Dims[1:2]
	is.True(v.Fixed())
	is.Equal(graph.ValueInfo{DType: tensor.Int64, UnknownRank: true}.String(), "INT64[?...]")
	is.True(!graph.ValueInfo{UnknownRank: true}.Fixed())
	is.Equal(graph.ValueInfo{DType: tensor.Float32}.String(), "FP32[]")
}

func TestNames(t *testing.T) {
	is := is.New(t)
	is.Equal((&graph.Node{Name: "a", OpType: "Relu"}).String(), `"a" (Relu)`)
	is.Equal((&graph.Node{OpType: "Relu", Outputs: []string{"y"}}).String(), `Relu -> "y"`)
	is.Equal(graph.DomainName(""), "ai.onnx")
	is.Equal(graph.NormalizeDomain("ai.onnx"), "")
	is.Equal(graph.NormalizeDomain("com.microsoft"), "com.microsoft")
	is.Equal(graph.AttrInts.String(), "INTS")
	is.True(graph.AttrType(99).String() == "AttrType(99)" && !graph.AttrType(99).Known())
}
