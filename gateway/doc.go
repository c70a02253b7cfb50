// Package gateway is wasmgate's HTTP front: the Echo server and its routes
// (KServe V2 / Open Inference Protocol plus Triton's repository extension),
// configuration, the one mapping of errors to HTTP statuses, and the wiring
// of the model registry to the Wasm pipeline that serves each model.
//
// It does no maths and does not know wazero: models are run through
// modules.Pipeline, and their lifecycle is kept by gateway/registry.
package gateway
