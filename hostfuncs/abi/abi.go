package abi

import "github.com/wasmgate/wasmgate/hostfuncs/tensor"

// Version is the ABI version this package speaks; wasmgate_abi_version must
// return it.
const Version = 1

// Names of the exports and of the host import (docs/ABI.md §1, §5).
const (
	ExportMemory     = "memory"
	ExportInitialize = "_initialize"
	ExportABIVersion = "wasmgate_abi_version"
	ExportInput      = "wasmgate_input"
	ExportDescribe   = "wasmgate_describe"
	ExportRun        = "wasmgate_run"
	ExportOutput     = "wasmgate_output"

	ImportModule = "wasmgate"
	ImportLog    = "log"
)

// Status is what wasmgate_describe and wasmgate_run return (docs/ABI.md §4).
// A value the ABI does not define counts as StatusFailed.
const (
	StatusOK      = 0 // the output is a tensor list (or the description)
	StatusInvalid = 1 // invalid input: the output is a message for the caller
	StatusFailed  = 2 // the module failed: the output is a message
)

// Log levels of the wasmgate.log import.
const (
	LogDebug = 0
	LogInfo  = 1
	LogWarn  = 2
	LogError = 3
)

// Limits of the tensor-list encoding (docs/ABI.md §2).
const (
	Magic       = "WGTL"
	MaxTensors  = 256
	MaxNameLen  = 1024
	MaxRank     = tensor.MaxRank
	MaxElements = tensor.MaxElements
)

// Align is the alignment of every data section, counted from the list start.
const Align = 8

// SplitOutput unpacks what wasmgate_output returns: ptr << 32 | len.
func SplitOutput(v uint64) (ptr, n uint32) { return uint32(v >> 32), uint32(v) }
