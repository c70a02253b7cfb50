// Package kernels holds the engine's numeric primitives: dense matrix
// multiplication and the index arithmetic of broadcasting.
//
// They work on plain slices with explicit sizes and leading dimensions, know
// nothing of tensors or graphs, and check nothing an operator has already
// checked: a wrong length is a programming error and panics like a slice
// index would. Operators in package ops validate shapes and call these, so a
// faster implementation (assembly, SIMD, GPU) can replace one primitive
// without touching the operators.
package kernels
