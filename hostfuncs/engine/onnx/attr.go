package onnx

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// AttributeProto field numbers.
const (
	apName          = 1
	apF             = 2
	apI             = 3
	apS             = 4
	apT             = 5
	apG             = 6
	apFloats        = 7
	apInts          = 8
	apStrings       = 9
	apTensors       = 10
	apGraphs        = 11
	apTP            = 14
	apTypeProtos    = 15
	apType          = 20
	apRefAttrName   = 21
	apSparseTensor  = 22
	apSparseTensors = 23
)

// typeByField infers an attribute's type from the value field it sets, for
// old files that leave the type field unset.
var typeByField = map[protowire.Number]graph.AttrType{
	apF: graph.AttrFloat, apI: graph.AttrInt, apS: graph.AttrString, apT: graph.AttrTensor,
	apG: graph.AttrGraph, apFloats: graph.AttrFloats, apInts: graph.AttrInts,
	apStrings: graph.AttrStrings, apTensors: graph.AttrTensors, apGraphs: graph.AttrGraphs,
	apTP: graph.AttrTypeProto, apTypeProtos: graph.AttrTypeProtos,
	apSparseTensor: graph.AttrSparseTensor, apSparseTensors: graph.AttrSparseTensors,
}

// readAttr decodes an AttributeProto. The returned Attr is non-nil even on
// error so the caller can name it.
func readAttr(b []byte, depth int) (*graph.Attr, error) {
	a := &graph.Attr{}
	var inferred graph.AttrType
	err := eachField(b, func(f field) error {
		var err error
		if t, ok := typeByField[f.num]; ok {
			inferred = t
		}
		switch f.num {
		case apName:
			a.Name, err = str("name", f)
		case apType:
			var t int32
			t, err = int32Field("type", f)
			a.Type = graph.AttrType(t)
		case apRefAttrName:
			err = fault.Errorf(fault.Invalid, "ref_attr_name is only valid inside a function")
		case apF:
			if f.typ != protowire.Fixed32Type {
				return wrongWire("f", f)
			}
			a.Float = math.Float32frombits(uint32(f.v))
		case apI:
			var v uint64
			v, err = varint("i", f)
			a.Int = int64(v)
		case apS:
			a.String, err = str("s", f)
		case apFloats:
			if _, err = countFixed("floats", f, 4); err == nil {
				eachFixed(f, 4, func(v uint64) { a.Floats = append(a.Floats, math.Float32frombits(uint32(v))) })
			}
		case apInts:
			err = eachVarint("ints", f, func(v uint64) { a.Ints = append(a.Ints, int64(v)) })
		case apStrings:
			var s string
			s, err = str("strings", f)
			a.Strings = append(a.Strings, s)
		case apT, apTensors:
			var t *tensor.Tensor
			if t, err = attrTensor(f); err == nil {
				if f.num == apT {
					a.Tensor = t
				} else {
					a.Tensors = append(a.Tensors, t)
				}
			}
		case apG, apGraphs:
			var gb []byte
			if gb, err = sub("graph", f); err != nil {
				return err
			}
			var g *graph.Graph
			if g, err = readGraph(gb, depth+1); err == nil {
				if f.num == apG {
					a.Graph = g
				} else {
					a.Graphs = append(a.Graphs, g)
				}
			}
		}
		return err
	})
	if err != nil {
		return a, err
	}
	if a.Name == "" {
		return a, fault.Errorf(fault.Invalid, "attribute has no name")
	}
	if a.Type == graph.AttrUndefined {
		if inferred == graph.AttrUndefined {
			return a, fault.Errorf(fault.Invalid, "attribute has neither a type nor a value")
		}
		a.Type = inferred
	}
	if !a.Type.Known() {
		return a, fault.Errorf(fault.Invalid, "unknown attribute type %d", int32(a.Type))
	}
	return a, nil
}

func attrTensor(f field) (*tensor.Tensor, error) {
	tb, err := sub("t", f)
	if err != nil {
		return nil, err
	}
	return ReadTensor(tb)
}
