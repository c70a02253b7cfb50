// Package modules runs wasmgate's Wasm modules: one wazero runtime with an
// on-disk compilation cache, modules compiled once and checked against the
// guest ABI (docs/ABI.md), bounded pools of ready instances, and the pipeline
// that chains pre-processing, the native engine and post-processing stages.
//
// It knows nothing of HTTP: errors carry a fault.Kind and the gateway maps
// them to statuses.
//
// Rules it keeps (see DESIGN.md §4): every runtime has WithCloseOnContextDone,
// so a guest that loops is stopped at the request's deadline; instances are
// never created per request, they come from a pool; an instance whose call
// trapped, timed out or broke the ABI is discarded and never reused.
package modules
