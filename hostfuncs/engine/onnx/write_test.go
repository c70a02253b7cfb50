package onnx

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// sharedCorpus is the full ONNX node-test corpus beside the checkout, when
// present.
const sharedCorpus = "../../../../shared/corpus/onnx-node"

// roundTrip writes m, reads the bytes back and checks the result equals m;
// it also checks that writing again gives the same bytes.
func roundTrip(t *testing.T, m *graph.Model) {
	t.Helper()
	b, err := WriteModel(m)
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	got, err := ReadModel(b)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if diff := diffModels(m, got); diff != "" {
		t.Fatalf("read back differs: %s", diff)
	}
	again, err := WriteModel(got)
	if err != nil {
		t.Fatalf("write again: %v", err)
	}
	if !bytes.Equal(b, again) {
		t.Fatalf("writing the model read back gives other bytes (%d vs %d)", len(again), len(b))
	}
}

func TestWriteModelRoundTripCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testdata, "onnx-node", "*", "model.onnx"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus models: %v", err)
	}
	files = append(files, filepath.Join(testdata, "mnist", "mnist-7", "model.onnx"))
	for _, file := range files {
		t.Run(filepath.Base(filepath.Dir(file)), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			m, err := ReadModel(b)
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, m)
		})
	}
}

// TestWriteModelRoundTripSharedCorpus round-trips every model of the full
// node-test corpus that the reader accepts and whose attributes the IR
// holds values for.
func TestWriteModelRoundTripSharedCorpus(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedCorpus, "node", "*", "model.onnx"))
	if len(files) == 0 {
		t.Skipf("the shared node-test corpus is not at %s", sharedCorpus)
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	written, unreadable, unwritable := 0, 0, 0
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ReadModel(b)
		if err != nil {
			unreadable++
			continue
		}
		if _, err := WriteModel(m); err != nil {
			if fault.KindOf(err) != fault.Unsupported {
				t.Errorf("%s: %v", file, err)
			}
			unwritable++
			continue
		}
		t.Run(filepath.Base(filepath.Dir(file)), func(t *testing.T) { roundTrip(t, m) })
		written++
	}
	t.Logf("%d models round-tripped; %d unreadable, %d with sparse or type-proto attributes", written, unreadable, unwritable)
	if written < len(files)/2 {
		t.Errorf("only %d of %d models round-tripped", written, len(files))
	}
}

func TestWriteModelBuiltInGo(t *testing.T) {
	body := &graph.Graph{
		Name:    "body",
		Inputs:  []graph.ValueInfo{{Name: "c", DType: tensor.Bool, Dims: []graph.Dim{}}},
		Outputs: []graph.ValueInfo{{Name: "z", DType: tensor.Float32, UnknownRank: true}},
		Nodes:   []*graph.Node{{OpType: "Identity", Inputs: []string{"w"}, Outputs: []string{"z"}}},
	}
	m := &graph.Model{
		IRVersion:    8,
		ProducerName: "wasmgate-test",
		Opsets:       map[string]int64{"": 17, "com.microsoft": 1},
		Graph: &graph.Graph{
			Name: "g",
			Inputs: []graph.ValueInfo{
				{Name: "x", DType: tensor.Float32, Dims: []graph.Dim{graph.SymbolicDim("batch"), graph.FixedDim(0), graph.SymbolicDim(""), graph.FixedDim(3)}},
			},
			Outputs: []graph.ValueInfo{{Name: "y", DType: tensor.Float32, UnknownRank: true}},
			Initializers: map[string]*tensor.Tensor{
				"w":     tensor.MustFrom(tensor.Shape{2, 2}, []float32{1, -0.5, float32(math.Inf(1)), float32(math.NaN())}),
				"shape": tensor.MustFrom(tensor.Shape{2}, []int64{-1, math.MinInt64}),
				"flag":  tensor.MustFrom(tensor.Shape{}, []bool{true}),
				"half":  tensor.MustFrom(tensor.Shape{1}, []tensor.F16{tensor.F16From(1.5)}),
				"empty": tensor.MustFrom(tensor.Shape{0, 3}, []float32{}),
				"text":  mustStrings(tensor.Shape{2}, "a", ""),
			},
			Nodes: []*graph.Node{
				{Name: "op", OpType: "Custom", Domain: "com.microsoft", Inputs: []string{"x", "", "w"}, Outputs: []string{"y", ""},
					Attrs: graph.Attrs(
						graph.IntAttr("i", -7), graph.IntsAttr("is", 0, -1, math.MaxInt64), graph.FloatAttr("f", 0),
						graph.FloatsAttr("fs", -0.0, 3.25), graph.StringAttr("s", ""), graph.StringsAttr("ss", "a", "", "c"),
						graph.TensorAttr("t", tensor.MustFrom(tensor.Shape{1}, []float64{2.5})),
						&graph.Attr{Name: "ts", Type: graph.AttrTensors, Tensors: []*tensor.Tensor{
							tensor.MustFrom(tensor.Shape{}, []int8{-3}), tensor.MustFrom(tensor.Shape{2}, []uint64{1, math.MaxUint64})}},
						&graph.Attr{Name: "g", Type: graph.AttrGraph, Graph: body},
						&graph.Attr{Name: "gs", Type: graph.AttrGraphs, Graphs: []*graph.Graph{body, {Name: "empty"}}},
						&graph.Attr{Name: "no_tensor", Type: graph.AttrTensor},
						&graph.Attr{Name: "no_ints", Type: graph.AttrInts},
					)},
			},
		},
	}
	for _, n := range body.Nodes {
		n.Attrs = nil
	}
	body.Initializers = map[string]*tensor.Tensor{}
	roundTrip(t, m)
}

func mustStrings(shape tensor.Shape, v ...string) *tensor.Tensor {
	b := make([][]byte, len(v))
	for i, s := range v {
		b[i] = []byte(s)
	}
	t, err := tensor.FromStrings(shape, b)
	if err != nil {
		panic(err)
	}
	return t
}

func TestWriteTensor(t *testing.T) {
	cases := []struct {
		name string
		t    *tensor.Tensor
	}{
		{"w", tensor.MustFrom(tensor.Shape{2, 3}, []float32{1, 2, 3, 4, 5, 6})},
		{"", tensor.MustFrom(tensor.Shape{}, []int64{-5})},
		{"s", mustStrings(tensor.Shape{1, 2}, "x", "yz")},
		{"b", tensor.MustFrom(tensor.Shape{3}, []tensor.BF16{1, 2, 3})},
	}
	for _, tc := range cases {
		t.Run(tc.t.DType.String(), func(t *testing.T) {
			is := is.New(t)
			b, err := WriteTensor(tc.name, tc.t)
			is.NoErr(err)
			got, err := ReadNamedTensor(b)
			is.NoErr(err)
			is.Equal(got.Name, tc.name)
			is.Equal(diffTensors(got.Tensor, tc.t), "")
		})
	}
}

func TestWriteModelErrors(t *testing.T) {
	withAttr := func(a *graph.Attr) *graph.Model {
		return &graph.Model{IRVersion: 8, Graph: &graph.Graph{Nodes: []*graph.Node{
			{OpType: "Constant", Outputs: []string{"y"}, Attrs: map[string]*graph.Attr{a.Name: a}}}}}
	}
	deep := &graph.Graph{}
	for range MaxGraphDepth + 1 {
		deep = &graph.Graph{Nodes: []*graph.Node{{OpType: "If", Attrs: graph.Attrs(&graph.Attr{Name: "then_branch", Type: graph.AttrGraph, Graph: deep})}}}
	}
	cases := []struct {
		name string
		m    *graph.Model
		kind fault.Kind
	}{
		{"nil model", nil, fault.Invalid},
		{"no graph", &graph.Model{IRVersion: 8}, fault.Invalid},
		{"sparse tensor attribute", withAttr(&graph.Attr{Name: "sparse_value", Type: graph.AttrSparseTensor}), fault.Unsupported},
		{"type proto attribute", withAttr(&graph.Attr{Name: "tp", Type: graph.AttrTypeProtos}), fault.Unsupported},
		{"undefined attribute", withAttr(&graph.Attr{Name: "u"}), fault.Invalid},
		{"invalid tensor", withAttr(graph.TensorAttr("value", &tensor.Tensor{DType: tensor.Float32, Shape: tensor.Shape{2}, Data: make([]byte, 4)})), fault.Invalid},
		{"node without op", &graph.Model{Graph: &graph.Graph{Nodes: []*graph.Node{{Outputs: []string{"y"}}}}}, fault.Invalid},
		{"attribute named otherwise", &graph.Model{Graph: &graph.Graph{Nodes: []*graph.Node{
			{OpType: "Relu", Attrs: map[string]*graph.Attr{"a": graph.IntAttr("b", 1)}}}}}, fault.Invalid},
		{"too deep", &graph.Model{Graph: deep}, fault.Invalid},
		{"invalid initializer", &graph.Model{Graph: &graph.Graph{Initializers: map[string]*tensor.Tensor{
			"w": {DType: tensor.Invalid}}}}, fault.Invalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			_, err := WriteModel(tc.m)
			is.True(err != nil)
			is.Equal(fault.KindOf(err), tc.kind)
		})
	}
}

// diffModels describes the first difference between two models, or
// returns "" when they are equal: opsets, then the graph node by node,
// attribute by attribute, and initializers bit for bit.
func diffModels(a, b *graph.Model) string {
	switch {
	case a.IRVersion != b.IRVersion:
		return fmt.Sprintf("ir_version %d vs %d", a.IRVersion, b.IRVersion)
	case a.ProducerName != b.ProducerName:
		return fmt.Sprintf("producer %q vs %q", a.ProducerName, b.ProducerName)
	case !mapsEqual(a.Opsets, b.Opsets):
		return fmt.Sprintf("opsets %v vs %v", a.Opsets, b.Opsets)
	}
	return diffGraphs(a.Graph, b.Graph)
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func diffGraphs(a, b *graph.Graph) string {
	if (a == nil) != (b == nil) {
		return fmt.Sprintf("graph %v vs %v", a, b)
	}
	if a == nil {
		return ""
	}
	if a.Name != b.Name {
		return fmt.Sprintf("graph name %q vs %q", a.Name, b.Name)
	}
	if d := diffValueInfos("input", a.Inputs, b.Inputs); d != "" {
		return d
	}
	if d := diffValueInfos("output", a.Outputs, b.Outputs); d != "" {
		return d
	}
	if len(a.Initializers) != len(b.Initializers) {
		return fmt.Sprintf("%d vs %d initializers", len(a.Initializers), len(b.Initializers))
	}
	for name, t := range a.Initializers {
		if d := diffTensors(t, b.Initializers[name]); d != "" {
			return fmt.Sprintf("initializer %q: %s", name, d)
		}
	}
	if len(a.Nodes) != len(b.Nodes) {
		return fmt.Sprintf("%d vs %d nodes", len(a.Nodes), len(b.Nodes))
	}
	for i, n := range a.Nodes {
		if d := diffNodes(n, b.Nodes[i]); d != "" {
			return fmt.Sprintf("node %d %v: %s", i, n, d)
		}
	}
	return ""
}

func diffValueInfos(kind string, a, b []graph.ValueInfo) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d vs %d %ss", len(a), len(b), kind)
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Name != y.Name || x.DType != y.DType || x.UnknownRank != y.UnknownRank ||
			(!x.UnknownRank && !slices.Equal(x.Dims, y.Dims)) {
			return fmt.Sprintf("%s %d: %q %v vs %q %v", kind, i, x.Name, x, y.Name, y)
		}
	}
	return ""
}

func diffNodes(a, b *graph.Node) string {
	switch {
	case a.Name != b.Name || a.OpType != b.OpType || a.Domain != b.Domain:
		return fmt.Sprintf("%q %s/%s vs %q %s/%s", a.Name, a.Domain, a.OpType, b.Name, b.Domain, b.OpType)
	case !slices.Equal(a.Inputs, b.Inputs):
		return fmt.Sprintf("inputs %q vs %q", a.Inputs, b.Inputs)
	case !slices.Equal(a.Outputs, b.Outputs):
		return fmt.Sprintf("outputs %q vs %q", a.Outputs, b.Outputs)
	case len(a.Attrs) != len(b.Attrs):
		return fmt.Sprintf("%d vs %d attributes", len(a.Attrs), len(b.Attrs))
	}
	for name, x := range a.Attrs {
		y, ok := b.Attrs[name]
		if !ok {
			return fmt.Sprintf("attribute %q missing", name)
		}
		if d := diffAttrs(x, y); d != "" {
			return fmt.Sprintf("attribute %q: %s", name, d)
		}
	}
	return ""
}

// diffAttrs compares the value field the attribute's type makes meaningful.
func diffAttrs(a, b *graph.Attr) string {
	if a.Name != b.Name || a.Type != b.Type {
		return fmt.Sprintf("%q %v vs %q %v", a.Name, a.Type, b.Name, b.Type)
	}
	same := true
	switch a.Type {
	case graph.AttrFloat:
		same = math.Float32bits(a.Float) == math.Float32bits(b.Float)
	case graph.AttrInt:
		same = a.Int == b.Int
	case graph.AttrString:
		same = a.String == b.String
	case graph.AttrFloats:
		same = slices.EqualFunc(a.Floats, b.Floats, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
	case graph.AttrInts:
		same = slices.Equal(a.Ints, b.Ints)
	case graph.AttrStrings:
		same = slices.Equal(a.Strings, b.Strings)
	case graph.AttrTensor:
		if (a.Tensor == nil) != (b.Tensor == nil) {
			return fmt.Sprintf("tensor %v vs %v", a.Tensor, b.Tensor)
		}
		if a.Tensor != nil {
			return diffTensors(a.Tensor, b.Tensor)
		}
	case graph.AttrTensors:
		if len(a.Tensors) != len(b.Tensors) {
			return fmt.Sprintf("%d vs %d tensors", len(a.Tensors), len(b.Tensors))
		}
		for i := range a.Tensors {
			if d := diffTensors(a.Tensors[i], b.Tensors[i]); d != "" {
				return fmt.Sprintf("tensor %d: %s", i, d)
			}
		}
	case graph.AttrGraph:
		return diffGraphs(a.Graph, b.Graph)
	case graph.AttrGraphs:
		if len(a.Graphs) != len(b.Graphs) {
			return fmt.Sprintf("%d vs %d graphs", len(a.Graphs), len(b.Graphs))
		}
		for i := range a.Graphs {
			if d := diffGraphs(a.Graphs[i], b.Graphs[i]); d != "" {
				return fmt.Sprintf("graph %d: %s", i, d)
			}
		}
	}
	if !same {
		return "values differ"
	}
	return ""
}

// diffTensors compares dtype, shape and the bytes (or strings) exactly.
func diffTensors(a, b *tensor.Tensor) string {
	if a == nil || b == nil {
		return fmt.Sprintf("tensor %v vs %v", a, b)
	}
	if a.DType != b.DType || !a.Shape.Equal(b.Shape) {
		return fmt.Sprintf("%v%v vs %v%v", a.DType, []int(a.Shape), b.DType, []int(b.Shape))
	}
	if !bytes.Equal(a.Data, b.Data) {
		return "data differs"
	}
	if !slices.EqualFunc(a.Strings, b.Strings, bytes.Equal) {
		return "strings differ"
	}
	return ""
}

// FuzzWriteModel checks that every model the reader accepts either writes
// and reads back equal, or is refused as unsupported (sparse-tensor and
// type-proto attributes, whose values the IR does not hold).
func FuzzWriteModel(f *testing.F) {
	seeds(f, "mnist/mnist-7/model.onnx", "onnx-node/*/model.onnx")
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadModel(b)
		if err != nil {
			return
		}
		if _, err := WriteModel(m); err != nil {
			if fault.KindOf(err) != fault.Unsupported {
				t.Fatalf("read but not written: %v", err)
			}
			return
		}
		roundTrip(t, m)
	})
}
