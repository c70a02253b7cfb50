package graph

import (
	"fmt"
	"strings"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// DefaultDomain is the domain of the standard ONNX operators. Files spell it
// either "" or "ai.onnx"; the IR always uses "".
const DefaultDomain = ""

// Model is a graph together with the operator-set versions it was written for.
type Model struct {
	IRVersion int64
	// Opsets maps an operator domain ("" for ai.onnx) to the version the
	// model imports; it decides which version of each operator applies.
	Opsets       map[string]int64
	Graph        *Graph
	ProducerName string
}

// Graph is a list of nodes over named values. Nodes need not be in
// topological order here; the executor orders them.
type Graph struct {
	Name    string
	Inputs  []ValueInfo
	Outputs []ValueInfo
	// Initializers are constant values (weights). A graph input with the
	// same name as an initializer is a constant, not a caller-supplied value.
	Initializers map[string]*tensor.Tensor
	Nodes        []*Node
}

// Node is one operator application. An empty name in Inputs or Outputs marks
// an omitted optional argument, so positions keep their meaning.
type Node struct {
	Name    string
	OpType  string
	Domain  string
	Inputs  []string
	Outputs []string
	Attrs   map[string]*Attr
}

// String names the node for error messages: its name if it has one, else
// its op type and first output, which are always present in valid graphs.
func (n *Node) String() string {
	if n.Name != "" {
		return fmt.Sprintf("%q (%s)", n.Name, n.OpType)
	}
	out := ""
	if len(n.Outputs) > 0 {
		out = n.Outputs[0]
	}
	return fmt.Sprintf("%s -> %q", n.OpType, out)
}

// DomainName is the domain as ONNX documentation spells it ("ai.onnx" for
// the default domain), for messages.
func DomainName(domain string) string {
	if domain == DefaultDomain {
		return "ai.onnx"
	}
	return domain
}

// NormalizeDomain maps the two spellings of the default domain to "".
func NormalizeDomain(domain string) string {
	if domain == "ai.onnx" {
		return DefaultDomain
	}
	return domain
}

// Dim is one dimension of a declared shape: a fixed size, or a symbolic or
// unknown size that any actual size satisfies.
type Dim struct {
	// Size is the fixed size, or -1 when the dimension is not fixed.
	Size int64
	// Param is the symbolic name ("batch", "N"); empty when fixed or unknown.
	Param string
}

// FixedDim is a dimension of exactly n.
func FixedDim(n int64) Dim { return Dim{Size: n} }

// SymbolicDim is a dimension named but not fixed; "" makes it unknown.
func SymbolicDim(name string) Dim { return Dim{Size: -1, Param: name} }

// Fixed reports whether the dimension has one permitted size.
func (d Dim) Fixed() bool { return d.Size >= 0 }

func (d Dim) String() string {
	switch {
	case d.Fixed():
		return fmt.Sprint(d.Size)
	case d.Param != "":
		return d.Param
	}
	return "?"
}

// ValueInfo declares a graph input or output: its element type and shape.
type ValueInfo struct {
	Name  string
	DType tensor.DType
	Dims  []Dim
	// UnknownRank marks a declaration without a shape; Dims is then unused.
	UnknownRank bool
}

// Fixed reports whether every dimension is fixed, so a tensor of this
// declaration can be made without further information.
func (v ValueInfo) Fixed() bool {
	if v.UnknownRank {
		return false
	}
	for _, d := range v.Dims {
		if !d.Fixed() {
			return false
		}
	}
	return true
}

// ShapeString spells the declared shape as "[N,3,224,224]" or "[?...]" for
// an unknown rank.
func (v ValueInfo) ShapeString() string {
	if v.UnknownRank {
		return "[?...]"
	}
	parts := make([]string, len(v.Dims))
	for i, d := range v.Dims {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// String spells the declaration as "FP32[N,3,224,224]".
func (v ValueInfo) String() string { return v.DType.String() + v.ShapeString() }
