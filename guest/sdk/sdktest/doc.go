// Package sdktest runs module code that calls the SDK's host functions
// (sdk.DecodeImage, sdk.Op, sdk.RunModel, ...) in ordinary go test on the
// host, against the real host functions of package hostfuncs: a Host is an
// sdk.Host that forwards every call through wazero to them, with a
// hostfuncs.Call behind it just as the server has for each wasmgate_run.
//
//	func TestModule(t *testing.T) {
//		h := sdktest.New(t, hostfuncs.Caller{Runner: myRunner})
//		status, msg, out, err := h.Run(tensor.Named{Name: "image", Tensor: img})
//		...
//	}
//
// It builds only outside WebAssembly (the host functions do not compile for
// wasip1), so a module's tests that use it carry //go:build !wasip1.
package sdktest
