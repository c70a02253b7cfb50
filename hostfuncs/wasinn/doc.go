// Package wasinn is the wasi-nn host module of wasmgate: the
// "wasi_ephemeral_nn" import module of the witx ABI (load, load_by_name,
// init_execution_context, set_input, compute, get_output) and WasmEdge's
// load_by_name_with_config and unload, run on wasmgate's own engine.
// docs/WASI-NN.md is the guest's view of it.
//
// Graphs come from two places:
//   - load with encoding onnx (or autodetect) and target cpu: the single
//     builder is an ONNX model, read and compiled by the engine
//     (onnx.ReadModel, exec.Compile);
//   - load_by_name: a repository model, run whole (its pipeline) through the
//     call's hostfuncs.ModelRunner, its inputs and outputs bound by position.
//     When the runner also implements ModelDescriber, load_by_name checks the
//     name at once and set_input checks each tensor against the model's
//     declared inputs.
//
// Graphs and execution contexts are per-instance resources: their handles
// index tables held for the calling module instance (api.Module) until
// Release is called for it, or until the next instance state is created
// after it closed. The host memory they hold (compiled graphs, input and
// output tensors) is capped by the quota of the current call
// (hostfuncs.Caller.QuotaBytes). Every function returns a wasi-nn errno;
// a pointer or length outside guest memory is InvalidArgument, never a trap.
//
// The wiring a host needs: Instantiate in each wazero runtime, WithCall on
// the context of each guest call, Release when an instance closes, and
// Names in the import allow-list.
package wasinn
