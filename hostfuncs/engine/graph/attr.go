package graph

import (
	"fmt"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// AttrType is an attribute's kind. Values are ONNX's AttributeProto
// AttributeType codes so the reader can store them unchanged.
type AttrType int32

const (
	AttrUndefined     AttrType = 0
	AttrFloat         AttrType = 1
	AttrInt           AttrType = 2
	AttrString        AttrType = 3
	AttrTensor        AttrType = 4
	AttrGraph         AttrType = 5
	AttrFloats        AttrType = 6
	AttrInts          AttrType = 7
	AttrStrings       AttrType = 8
	AttrTensors       AttrType = 9
	AttrGraphs        AttrType = 10
	AttrSparseTensor  AttrType = 11
	AttrSparseTensors AttrType = 12
	AttrTypeProto     AttrType = 13
	AttrTypeProtos    AttrType = 14
)

var attrTypeNames = map[AttrType]string{
	AttrUndefined: "UNDEFINED", AttrFloat: "FLOAT", AttrInt: "INT", AttrString: "STRING",
	AttrTensor: "TENSOR", AttrGraph: "GRAPH", AttrFloats: "FLOATS", AttrInts: "INTS",
	AttrStrings: "STRINGS", AttrTensors: "TENSORS", AttrGraphs: "GRAPHS",
	AttrSparseTensor: "SPARSE_TENSOR", AttrSparseTensors: "SPARSE_TENSORS",
	AttrTypeProto: "TYPE_PROTO", AttrTypeProtos: "TYPE_PROTOS",
}

// Known reports whether t is an attribute type ONNX defines.
func (t AttrType) Known() bool { _, ok := attrTypeNames[t]; return ok }

func (t AttrType) String() string {
	if s, ok := attrTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("AttrType(%d)", int32(t))
}

// Attr is one node attribute. Type says which value field is meaningful.
// Sparse tensors and type protos are recorded by type only: no operator the
// engine implements takes them, and their builders reject them.
type Attr struct {
	Name    string
	Type    AttrType
	Int     int64
	Float   float32
	String  string
	Ints    []int64
	Floats  []float32
	Strings []string
	Tensor  *tensor.Tensor
	Tensors []*tensor.Tensor
	Graph   *Graph
	Graphs  []*Graph
}

// IntAttr and the constructors below build attributes for graphs made in Go.
func IntAttr(name string, v int64) *Attr { return &Attr{Name: name, Type: AttrInt, Int: v} }

// IntsAttr builds an INTS attribute.
func IntsAttr(name string, v ...int64) *Attr {
	return &Attr{Name: name, Type: AttrInts, Ints: v}
}

// FloatAttr builds a FLOAT attribute.
func FloatAttr(name string, v float32) *Attr {
	return &Attr{Name: name, Type: AttrFloat, Float: v}
}

// FloatsAttr builds a FLOATS attribute.
func FloatsAttr(name string, v ...float32) *Attr {
	return &Attr{Name: name, Type: AttrFloats, Floats: v}
}

// StringAttr builds a STRING attribute.
func StringAttr(name, v string) *Attr {
	return &Attr{Name: name, Type: AttrString, String: v}
}

// StringsAttr builds a STRINGS attribute.
func StringsAttr(name string, v ...string) *Attr {
	return &Attr{Name: name, Type: AttrStrings, Strings: v}
}

// TensorAttr builds a TENSOR attribute.
func TensorAttr(name string, t *tensor.Tensor) *Attr {
	return &Attr{Name: name, Type: AttrTensor, Tensor: t}
}

// Attrs collects attributes into the map a Node holds.
func Attrs(as ...*Attr) map[string]*Attr {
	m := make(map[string]*Attr, len(as))
	for _, a := range as {
		m[a.Name] = a
	}
	return m
}

// attr returns the named attribute if present, or an error if it has another
// type than want.
func (n *Node) attr(name string, want AttrType) (*Attr, error) {
	a, ok := n.Attrs[name]
	if !ok {
		return nil, nil
	}
	if a.Type != want {
		return nil, fault.Errorf(fault.Invalid, "node %v: attribute %q must be %v, got %v", n, name, want, a.Type)
	}
	return a, nil
}

// HasAttr reports whether the node sets the attribute.
func (n *Node) HasAttr(name string) bool { _, ok := n.Attrs[name]; return ok }

// AttrInt returns an INT attribute, or def when the node does not set it.
func (n *Node) AttrInt(name string, def int64) (int64, error) {
	a, err := n.attr(name, AttrInt)
	if a == nil {
		return def, err
	}
	return a.Int, nil
}

// AttrInts returns an INTS attribute, or def when the node does not set it.
// The result aliases the node; callers must not modify it.
func (n *Node) AttrInts(name string, def []int64) ([]int64, error) {
	a, err := n.attr(name, AttrInts)
	if a == nil {
		return def, err
	}
	return a.Ints, nil
}

// AttrFloat returns a FLOAT attribute, or def when the node does not set it.
func (n *Node) AttrFloat(name string, def float32) (float32, error) {
	a, err := n.attr(name, AttrFloat)
	if a == nil {
		return def, err
	}
	return a.Float, nil
}

// AttrFloats returns a FLOATS attribute, or def when the node does not set it.
func (n *Node) AttrFloats(name string, def []float32) ([]float32, error) {
	a, err := n.attr(name, AttrFloats)
	if a == nil {
		return def, err
	}
	return a.Floats, nil
}

// AttrString returns a STRING attribute, or def when the node does not set it.
func (n *Node) AttrString(name, def string) (string, error) {
	a, err := n.attr(name, AttrString)
	if a == nil {
		return def, err
	}
	return a.String, nil
}

// AttrStrings returns a STRINGS attribute, or def when the node does not set it.
func (n *Node) AttrStrings(name string, def []string) ([]string, error) {
	a, err := n.attr(name, AttrStrings)
	if a == nil {
		return def, err
	}
	return a.Strings, nil
}

// AttrTensor returns a TENSOR attribute, or nil when the node does not set it.
func (n *Node) AttrTensor(name string) (*tensor.Tensor, error) {
	a, err := n.attr(name, AttrTensor)
	if a == nil {
		return nil, err
	}
	if a.Tensor == nil {
		return nil, fault.Errorf(fault.Invalid, "node %v: attribute %q holds no tensor", n, name)
	}
	return a.Tensor, nil
}
