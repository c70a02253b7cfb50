package tensor

import "fmt"

// DType identifies an element type. Its numeric values are those of ONNX's
// TensorProto.DataType, so model files, the guest ABI and the engine share one
// numbering.
type DType uint8

const (
	Invalid  DType = 0
	Float32  DType = 1
	Uint8    DType = 2
	Int8     DType = 3
	Uint16   DType = 4
	Int16    DType = 5
	Int32    DType = 6
	Int64    DType = 7
	Bytes    DType = 8 // ONNX STRING, KServe BYTES
	Bool     DType = 9
	Float16  DType = 10
	Float64  DType = 11
	Uint32   DType = 12
	Uint64   DType = 13
	BFloat16 DType = 16
)

type dtypeInfo struct {
	v2   string // KServe V2 / Triton datatype name
	onnx string // ONNX TensorProto.DataType name
	size int    // bytes per element; 0 for variable-size BYTES
}

// dtypes is the dtype table. Types ONNX defines that wasmgate does not hold yet
// (complex, float8, 4-bit) are absent, so they are rejected as unsupported.
var dtypes = [...]dtypeInfo{
	Float32:  {"FP32", "FLOAT", 4},
	Uint8:    {"UINT8", "UINT8", 1},
	Int8:     {"INT8", "INT8", 1},
	Uint16:   {"UINT16", "UINT16", 2},
	Int16:    {"INT16", "INT16", 2},
	Int32:    {"INT32", "INT32", 4},
	Int64:    {"INT64", "INT64", 8},
	Bytes:    {"BYTES", "STRING", 0},
	Bool:     {"BOOL", "BOOL", 1},
	Float16:  {"FP16", "FLOAT16", 2},
	Float64:  {"FP64", "DOUBLE", 8},
	Uint32:   {"UINT32", "UINT32", 4},
	Uint64:   {"UINT64", "UINT64", 8},
	BFloat16: {"BF16", "BFLOAT16", 2},
}

func (d DType) info() (dtypeInfo, bool) {
	if int(d) >= len(dtypes) || dtypes[d].v2 == "" {
		return dtypeInfo{}, false
	}
	return dtypes[d], true
}

// Valid reports whether d is a dtype wasmgate can hold.
func (d DType) Valid() bool { _, ok := d.info(); return ok }

// Size is the size of one element in bytes; 0 for BYTES.
func (d DType) Size() int { i, _ := d.info(); return i.size }

// String is the KServe V2 name ("FP32", "BYTES", ...).
func (d DType) String() string {
	if i, ok := d.info(); ok {
		return i.v2
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// ONNXName is the ONNX TensorProto.DataType name ("FLOAT", "STRING", ...).
func (d DType) ONNXName() string {
	if i, ok := d.info(); ok {
		return i.onnx
	}
	return fmt.Sprintf("DataType(%d)", uint8(d))
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	return d == Float32 || d == Float64 || d == Float16 || d == BFloat16
}

// ParseV2 returns the dtype named by a KServe V2 datatype string.
func ParseV2(name string) (DType, bool) {
	for d, i := range dtypes {
		if i.v2 != "" && i.v2 == name {
			return DType(d), true
		}
	}
	return Invalid, false
}

// FromONNX returns the dtype for an ONNX TensorProto.DataType value.
func FromONNX(code int32) (DType, bool) {
	if code <= 0 || code > 255 {
		return Invalid, false
	}
	d := DType(code)
	return d, d.Valid()
}
