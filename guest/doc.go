// Package guest holds wasmgate's built-in guest modules, compiled to
// WebAssembly and embedded so the binary serves the default model with no
// files beside it.
//
// The Go sources are under modules/ (one main package each, built with the
// SDK in sdk/); the built modules are committed under wasm/ together with
// the Go version that built them. After changing a module or the SDK,
// regenerate them with
//
//	go run ./guest/internal/buildguests
//
// (or go generate ./guest). A test rebuilds every module and fails if a
// committed .wasm is stale.
//
// The C modules are under c/ (c/wasmgate.h is the ABI for C), built into
// c/wasm/ with the clang version recorded beside them; Module names them
// "c/<name>" and CNames lists them. Regenerate them with
//
//	go tool task guests:c
//
// which needs clang for wasm32-wasi; a test rebuilds them when it is there.
//
// This package imports nothing but embed and strings, so importing it pulls
// no guest code into the host.
package guest
