// Package hostfuncs holds the host functions that wasmgate guests import (the
// "wasmgate" import module of docs/ABI.md). Every pointer and length a guest
// passes is bounds-checked here; a bad pair traps the call, and the caller
// discards the instance.
//
// The engine (ONNX reader, graph IR, kernels, executor), the tensor type and
// the error vocabulary live in subpackages, because they sit below the host
// functions in the dependency order: gateway → modules → hostfuncs → engine.
package hostfuncs
