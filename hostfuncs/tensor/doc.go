// Package tensor is wasmgate's one tensor type and its one dtype table.
//
// Every layer (the HTTP codecs, the Wasm ABI codec, the ONNX engine) speaks in
// *Tensor. Element data of fixed-size dtypes is held as little-endian raw bytes
// so it can move between JSON, guest memory and kernels without conversion;
// typed views (Values) reinterpret those bytes in place. BYTES (ONNX STRING)
// tensors hold one []byte per element instead.
package tensor
