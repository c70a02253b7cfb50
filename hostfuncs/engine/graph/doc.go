// Package graph is the engine's in-memory model: a dataflow graph of named
// operator nodes over named tensor values, independent of any file format.
//
// The ONNX reader produces it, the executor compiles it, and tests and future
// graph-builder host functions construct it directly, so it carries only what
// execution needs and keeps ONNX's names and numbering where they exist.
package graph
