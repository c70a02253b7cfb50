// Package onnx reads ONNX model files (ModelProto) and serialized tensors
// (TensorProto) into the engine's graph IR and tensor type.
//
// It decodes the protobuf wire format by hand with protowire rather than
// through generated code: the engine needs a small, known subset of the
// schema, and hand decoding lets every length and count be checked against
// the bytes actually present before anything is allocated. Model files come
// from users, so the reader treats them as hostile: it never panics, bounds
// its recursion, and allocates only in proportion to the input. Fields it
// does not know are skipped, as protobuf requires.
package onnx
