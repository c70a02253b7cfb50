// Package abi is the host side of the wasmgate guest ABI, version 1
// (docs/ABI.md): the tensor-list codec, the module description and the
// names and status codes of the exports.
//
// Everything a guest hands back is untrusted: DecodeTensorList and
// DecodeDescription enforce every rule of the ABI, never panic, never
// allocate more than the input's own size justifies, and return values that
// do not alias the input, so a caller may decode straight from a view of
// guest memory and hand the instance back at once. Errors are plain errors;
// the caller decides whether they are the guest's fault or the request's.
package abi
