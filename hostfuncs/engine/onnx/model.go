package onnx

import (
	"fmt"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// MaxGraphDepth bounds how deeply graphs may nest through graph-valued
// attributes (If, Loop, Scan bodies), so hostile input cannot exhaust the
// stack.
const MaxGraphDepth = 16

// ReadModel decodes a serialized ModelProto.
func ReadModel(b []byte) (*graph.Model, error) {
	m := &graph.Model{Opsets: map[string]int64{}}
	var graphBytes []byte
	hasGraph := false
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			var v uint64
			v, err = varint("ir_version", f)
			m.IRVersion = int64(v)
		case 2:
			m.ProducerName, err = str("producer_name", f)
		case 7:
			graphBytes, err = sub("graph", f)
			hasGraph = true
		case 8:
			var b []byte
			if b, err = sub("opset_import", f); err == nil {
				err = readOpset(b, m.Opsets)
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if !hasGraph {
		return nil, fault.Errorf(fault.Invalid, "model has no graph")
	}
	if m.Graph, err = readGraph(graphBytes, 0); err != nil {
		return nil, err
	}
	return m, nil
}

func readOpset(b []byte, opsets map[string]int64) error {
	var domain string
	var version int64
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			domain, err = str("domain", f)
		case 2:
			var v uint64
			v, err = varint("version", f)
			version = int64(v)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("opset_import: %w", err)
	}
	opsets[graph.NormalizeDomain(domain)] = version
	return nil
}

func readGraph(b []byte, depth int) (*graph.Graph, error) {
	if depth > MaxGraphDepth {
		return nil, fault.Errorf(fault.Invalid, "graphs nest deeper than %d levels", MaxGraphDepth)
	}
	g := &graph.Graph{Initializers: map[string]*tensor.Tensor{}}
	err := eachField(b, func(f field) error {
		switch f.num {
		case 2:
			name, err := str("name", f)
			g.Name = name
			return err
		case 1:
			nb, err := sub("node", f)
			if err != nil {
				return err
			}
			n, err := readNode(nb, depth)
			if err != nil {
				return fmt.Errorf("node %d: %w", len(g.Nodes), err)
			}
			g.Nodes = append(g.Nodes, n)
		case 5:
			tb, err := sub("initializer", f)
			if err != nil {
				return err
			}
			nt, err := ReadNamedTensor(tb)
			if err != nil {
				return fmt.Errorf("initializer %d: %w", len(g.Initializers), err)
			}
			if nt.Name == "" {
				return fault.Errorf(fault.Invalid, "initializer %d has no name", len(g.Initializers))
			}
			if _, dup := g.Initializers[nt.Name]; dup {
				return fault.Errorf(fault.Invalid, "initializer %q is defined twice", nt.Name)
			}
			g.Initializers[nt.Name] = nt.Tensor
		case 11, 12:
			vb, err := sub("value_info", f)
			if err != nil {
				return err
			}
			vi, err := readValueInfo(vb)
			kind := "input"
			if f.num == 12 {
				kind = "output"
			}
			if err != nil {
				return fmt.Errorf("graph %s %q: %w", kind, vi.Name, err)
			}
			if f.num == 11 {
				g.Inputs = append(g.Inputs, vi)
			} else {
				g.Outputs = append(g.Outputs, vi)
			}
		case 15:
			return fault.Errorf(fault.Unsupported, "sparse initializers are not supported")
		}
		return nil
	})
	if err != nil {
		if g.Name != "" {
			err = fmt.Errorf("graph %q: %w", g.Name, err)
		}
		return nil, err
	}
	return g, nil
}

func readNode(b []byte, depth int) (*graph.Node, error) {
	n := &graph.Node{}
	err := eachField(b, func(f field) error {
		var err error
		var s string
		switch f.num {
		case 1:
			s, err = str("input", f)
			n.Inputs = append(n.Inputs, s)
		case 2:
			s, err = str("output", f)
			n.Outputs = append(n.Outputs, s)
		case 3:
			n.Name, err = str("name", f)
		case 4:
			n.OpType, err = str("op_type", f)
		case 7:
			s, err = str("domain", f)
			n.Domain = graph.NormalizeDomain(s)
		case 5:
			var ab []byte
			if ab, err = sub("attribute", f); err != nil {
				return err
			}
			var a *graph.Attr
			if a, err = readAttr(ab, depth); err != nil {
				return fmt.Errorf("attribute %q: %w", a.Name, err)
			}
			if n.Attrs == nil {
				n.Attrs = map[string]*graph.Attr{}
			}
			if _, dup := n.Attrs[a.Name]; dup {
				return fault.Errorf(fault.Invalid, "attribute %q is set twice", a.Name)
			}
			n.Attrs[a.Name] = a
		}
		return err
	})
	if err == nil && n.OpType == "" {
		err = fault.Errorf(fault.Invalid, "node has no op_type")
	}
	if err != nil {
		if n.Name != "" || n.OpType != "" {
			err = fmt.Errorf("%v: %w", n, err)
		}
		return nil, err
	}
	return n, nil
}

func readValueInfo(b []byte) (graph.ValueInfo, error) {
	var vi graph.ValueInfo
	hasType := false
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			vi.Name, err = str("name", f)
		case 2:
			var tb []byte
			if tb, err = sub("type", f); err == nil {
				hasType = true
				err = readType(tb, &vi)
			}
		}
		return err
	})
	if err == nil && !hasType {
		err = fault.Errorf(fault.Invalid, "no type")
	}
	return vi, err
}

// readType decodes a TypeProto into vi; only tensor types are supported.
func readType(b []byte, vi *graph.ValueInfo) error {
	kind := ""
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			kind = "tensor"
			tb, err := sub("tensor_type", f)
			if err != nil {
				return err
			}
			return readTensorType(tb, vi)
		case 4:
			kind = "sequence"
		case 5:
			kind = "map"
		case 8:
			kind = "sparse tensor"
		case 9:
			kind = "optional"
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case kind == "":
		return fault.Errorf(fault.Invalid, "type has no value")
	case kind != "tensor":
		return fault.Errorf(fault.Unsupported, "%s types are not supported, only tensors", kind)
	}
	return nil
}

func readTensorType(b []byte, vi *graph.ValueInfo) error {
	var elem int32
	vi.UnknownRank = true
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			elem, err = int32Field("elem_type", f)
		case 2:
			var sb []byte
			if sb, err = sub("shape", f); err == nil {
				vi.UnknownRank = false
				vi.Dims, err = readShape(sb)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	vi.DType, err = dtypeOf(elem)
	return err
}

func readShape(b []byte) ([]graph.Dim, error) {
	dims := []graph.Dim{}
	err := eachField(b, func(f field) error {
		if f.num != 1 {
			return nil
		}
		db, err := sub("dim", f)
		if err != nil {
			return err
		}
		if len(dims) == tensor.MaxRank {
			return fault.Errorf(fault.Invalid, "rank exceeds the maximum of %d", tensor.MaxRank)
		}
		d := graph.SymbolicDim("")
		err = eachField(db, func(f field) error {
			var err error
			switch f.num {
			case 1:
				var v uint64
				v, err = varint("dim_value", f)
				if err == nil && int64(v) < 0 {
					err = fault.Errorf(fault.Invalid, "negative dimension %d", int64(v))
				}
				d = graph.FixedDim(int64(v))
			case 2:
				var s string
				s, err = str("dim_param", f)
				d = graph.SymbolicDim(s)
			}
			return err
		})
		dims = append(dims, d)
		return err
	})
	return dims, err
}
