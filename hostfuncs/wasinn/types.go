package wasinn

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Errno is a wasi-nn error code: the nn_errno enum of wasi-nn.witx (a u16,
// returned as the i32 result of every function).
type Errno uint16

// The nn_errno values, in the order wasi-nn.witx declares them.
const (
	Success              Errno = 0
	InvalidArgument      Errno = 1
	InvalidEncoding      Errno = 2
	MissingMemory        Errno = 3
	Busy                 Errno = 4
	RuntimeError         Errno = 5
	UnsupportedOperation Errno = 6
	TooLarge             Errno = 7
	NotFound             Errno = 8
)

var errnoNames = [...]string{"success", "invalid_argument", "invalid_encoding", "missing_memory", "busy",
	"runtime_error", "unsupported_operation", "too_large", "not_found"}

func (e Errno) String() string {
	if int(e) < len(errnoNames) {
		return errnoNames[e]
	}
	return fmt.Sprintf("errno(%d)", uint16(e))
}

// Graph encodings (graph_encoding of wasi-nn.witx; 6 and up are WasmEdge's).
const (
	EncodingOpenVINO       = 0
	EncodingONNX           = 1
	EncodingTensorflow     = 2
	EncodingPyTorch        = 3
	EncodingTensorflowLite = 4
	EncodingAutodetect     = 5
)

// Execution targets (execution_target of wasi-nn.witx; 3 is WasmEdge's AUTO).
const (
	TargetCPU  = 0
	TargetGPU  = 1
	TargetTPU  = 2
	TargetAuto = 3
)

// Numbering is one of the two tensor_type numberings in use (the research
// notes, §1.4): guests built against different wasi-nn bindings send
// different codes for the same type.
type Numbering uint8

const (
	// Witx is the numbering of the current wasi-nn.witx, wasmtime, the
	// wasi-nn crate from 0.6 and wasmedge-wasi-nn 0.7/0.8:
	// f16=0, f32=1, f64=2, u8=3, i32=4, i64=5. It is the default.
	Witx Numbering = iota
	// WasmEdge is the numbering of the witx before 64-bit types were added,
	// the wasi-nn crate 0.3–0.5 and WasmEdge's host:
	// f16=0, f32=1, u8=2, i32=3.
	WasmEdge
)

var (
	witxTypes     = []tensor.DType{tensor.Float16, tensor.Float32, tensor.Float64, tensor.Uint8, tensor.Int32, tensor.Int64}
	wasmEdgeTypes = []tensor.DType{tensor.Float16, tensor.Float32, tensor.Uint8, tensor.Int32}
)

func (n Numbering) String() string {
	if n == WasmEdge {
		return "wasmedge"
	}
	return "witx"
}

// DType is the engine dtype of a tensor_type code, or false if the code
// means nothing in this numbering.
func (n Numbering) DType(code uint8) (tensor.DType, bool) {
	table := witxTypes
	if n == WasmEdge {
		table = wasmEdgeTypes
	}
	if int(code) >= len(table) {
		return tensor.Invalid, false
	}
	return table[code], true
}

// Code is the tensor_type code of dt in this numbering, or false if it has
// none.
func (n Numbering) Code(dt tensor.DType) (uint8, bool) {
	table := witxTypes
	if n == WasmEdge {
		table = wasmEdgeTypes
	}
	for i, d := range table {
		if d == dt {
			return uint8(i), true
		}
	}
	return 0, false
}

// ParseNumbering reads a numbering's name: "witx" or "wasmedge".
func ParseNumbering(s string) (Numbering, error) {
	switch s {
	case "witx":
		return Witx, nil
	case "wasmedge":
		return WasmEdge, nil
	}
	return Witx, fmt.Errorf("wasi_nn.tensor_types %q: want \"witx\" (f16=0 f32=1 f64=2 u8=3 i32=4 i64=5) or \"wasmedge\" (f16=0 f32=1 u8=2 i32=3)", s)
}

// ConfigKey is the member of a stage's config (docs/MANIFEST.md) that holds
// the host's wasi-nn settings: {"wasi_nn": {"tensor_types": "wasmedge"}}.
const ConfigKey = "wasi_nn"

// NumberingFromConfig reads the tensor_type numbering a module's stage
// config selects: config.wasi_nn.tensor_types, Witx when absent. It fails
// on a config that is not a JSON object or names an unknown numbering, so a
// manifest can be refused when it is saved.
func NumberingFromConfig(config []byte) (Numbering, error) {
	if len(config) == 0 {
		return Witx, nil
	}
	var c struct {
		NN *struct {
			TensorTypes *string `json:"tensor_types"`
		} `json:"wasi_nn"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return Witx, fmt.Errorf("config: %w", err)
	}
	if c.NN == nil || c.NN.TensorTypes == nil {
		return Witx, nil
	}
	return ParseNumbering(*c.NN.TensorTypes)
}

var errNoMemory = errors.New("the calling module has no memory")
