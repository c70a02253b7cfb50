// Package sdk is the Go guest SDK for wasmgate modules: it implements the
// guest side of the ABI (docs/ABI.md) so a module is a Stage and nothing
// else.
//
// A module is a main package built as a WASI reactor. It registers one
// stage from an init function (a reactor's main is never called, but Go
// requires one):
//
//	package main
//
//	import "github.com/wasmgate/wasmgate/guest/sdk"
//
//	func main() {}
//
//	func init() {
//		sdk.Register(sdk.Stage{
//			Name:    "double",
//			Inputs:  []sdk.Spec{{Name: "x", DType: sdk.Float32, Shape: []int64{-1}}},
//			Outputs: []sdk.Spec{{Name: "y", DType: sdk.Float32, Shape: []int64{-1}}},
//			Run: func(in []sdk.Tensor) ([]sdk.Tensor, error) {
//				x := in[0].Float32s()
//				y := make([]float32, len(x))
//				for i, v := range x {
//					y[i] = 2 * v
//				}
//				return []sdk.Tensor{sdk.NewFloat32("y", in[0].Shape, y)}, nil
//			},
//		})
//	}
//
// and is built with
//
//	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -o double.wasm .
//
// The SDK decodes the input list, checks every tensor against the declared
// inputs (unknown, missing, wrong dtype or shape: status 1, message to the
// caller) and passes Run one tensor per declared input, in declared order;
// an absent optional input is the zero Tensor. Input tensors point into the
// SDK's input buffer and are valid only until Run returns: Clone what a
// module caches. Run's outputs are checked against the declared outputs and
// encoded. Return Invalid(...) for a problem with the caller's input
// (status 1); any other error, and any panic, is status 2.
//
// Host-held tensors (docs/ABI.md §2): an input larger than the server's
// inline limit (1 MiB by default) arrives with its Handle set and no data;
// t.Load() reads it into guest memory, and Put, Op and RunModel take it by
// handle without copying. Run may return host-held tensors too (for
// example RunModel's outputs, described with Handle.Tensor): the host takes
// them back by handle, and the data never passes through guest memory.
//
// Host functions (docs/ABI.md §5): Config, LastError, Put, Handle (Info,
// Read, ReadAt, Tensor, Free), Op and OpN with Attrs, RunModel, DecodeImage,
// ResizeImage and NormalizeImage. They run natively on the host, where a
// loop does not pay the guest's deadline check at every iteration: decode,
// resize and normalise images there rather than in Go. A failure is a
// *HostError carrying the ABI error code and the host's message; test it
// with errors.Is(err, sdk.ErrNotFound) and the like. Handles end when Run
// returns.
//
// Everything except the exports and the imports is plain Go, so a module's
// logic can be tested on the host with Call and Describe, without a Wasm
// runtime. Off WebAssembly the host functions go to a Host installed with
// SetHost; package sdktest installs one that runs the real host functions.
//
// Memory: an instance's linear memory is small (64 MiB by default) and
// never shrinks. The SDK reuses its input and output buffers across calls
// and yields at the end of every export so the garbage collector runs;
// modules should avoid keeping large data alive between calls.
package sdk
