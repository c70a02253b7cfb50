// Package builtin holds the models embedded in the wasmgate binary, so that
// `wasmgate serve` serves a real model with no files on disk.
package builtin
