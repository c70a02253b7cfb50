// Package enginetest holds what the engine's tests share: the one rule for
// comparing computed tensors with reference tensors, and the loader for
// ONNX backend node tests. It is an ordinary package so tests in any
// package can import it; production code must not.
package enginetest
