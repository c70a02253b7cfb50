package sdk

import "fmt"

// DType identifies an element type. The codes are those of the ABI, which
// are ONNX's TensorProto.DataType.
type DType uint8

const (
	Undefined DType = 0 // ONNX UNDEFINED; no tensor has it
	Float32   DType = 1
	Uint8     DType = 2
	Int8      DType = 3
	Uint16    DType = 4
	Int16     DType = 5
	Int32     DType = 6
	Int64     DType = 7
	Bytes     DType = 8 // variable-size elements, in Tensor.Strings
	Bool      DType = 9
	Float16   DType = 10
	Float64   DType = 11
	Uint32    DType = 12
	Uint64    DType = 13
	BFloat16  DType = 16
)

type dtypeInfo struct {
	name string // KServe V2 datatype name, as the description spells it
	size int    // bytes per element; 0 for BYTES
}

// dtypes must agree with the host's table; a host-side test compares them.
var dtypes = [...]dtypeInfo{
	Float32:  {"FP32", 4},
	Uint8:    {"UINT8", 1},
	Int8:     {"INT8", 1},
	Uint16:   {"UINT16", 2},
	Int16:    {"INT16", 2},
	Int32:    {"INT32", 4},
	Int64:    {"INT64", 8},
	Bytes:    {"BYTES", 0},
	Bool:     {"BOOL", 1},
	Float16:  {"FP16", 2},
	Float64:  {"FP64", 8},
	Uint32:   {"UINT32", 4},
	Uint64:   {"UINT64", 8},
	BFloat16: {"BF16", 2},
}

func (d DType) info() (dtypeInfo, bool) {
	if int(d) >= len(dtypes) || dtypes[d].name == "" {
		return dtypeInfo{}, false
	}
	return dtypes[d], true
}

// Valid reports whether the ABI defines d.
func (d DType) Valid() bool { _, ok := d.info(); return ok }

// Size is the size of one element in bytes; 0 for BYTES.
func (d DType) Size() int { i, _ := d.info(); return i.size }

// String is the KServe V2 name ("FP32", "BYTES", ...).
func (d DType) String() string {
	if i, ok := d.info(); ok {
		return i.name
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}
