// Package guest holds wasmgate's built-in guest modules, compiled to
// WebAssembly and embedded so the binary serves the default model with no
// files beside it.
//
// The sources are under modules/ (one main package each, built with the
// SDK in sdk/); the built modules are committed under wasm/ together with
// the Go version that built them. After changing a module or the SDK,
// regenerate them with
//
//	go run ./guest/internal/buildguests
//
// (or go generate ./guest). A test rebuilds every module and fails if a
// committed .wasm is stale. This package imports nothing but embed, so
// importing it pulls no guest code into the host.
package guest
