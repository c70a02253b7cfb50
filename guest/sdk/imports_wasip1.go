//go:build wasip1

package sdk

import "unsafe"

// The wasmgate imports of docs/ABI.md §5.3. Pointers go to the host as
// unsafe.Pointer, which keeps what they point at alive for the call; the Go
// garbage collector does not move objects, and the host copies what it
// keeps before it returns. The linker keeps only the imports a module uses,
// so a module that calls none imports only log.

//go:wasmimport wasmgate config
func wgConfig(ptr unsafe.Pointer, capacity int32) int32

//go:wasmimport wasmgate last_error
func wgLastError(ptr unsafe.Pointer, capacity int32) int32

//go:wasmimport wasmgate tensor_put
func wgTensorPut(ptr unsafe.Pointer, n int32) int32

//go:wasmimport wasmgate tensor_info
func wgTensorInfo(h uint32, ptr unsafe.Pointer, capacity int32) int32

//go:wasmimport wasmgate tensor_read
func wgTensorRead(h uint32, off int64, ptr unsafe.Pointer, n int32) int64

//go:wasmimport wasmgate tensor_free
func wgTensorFree(h uint32) int32

//go:wasmimport wasmgate op
func wgOp(name unsafe.Pointer, nameLen int32, attrs unsafe.Pointer, attrsLen int32, in unsafe.Pointer, nIn int32, out unsafe.Pointer, nOut int32) int32

//go:wasmimport wasmgate model_run
func wgModelRun(name unsafe.Pointer, nameLen int32, in unsafe.Pointer, nIn int32, out unsafe.Pointer, nOut int32) int32

//go:wasmimport wasmgate image_decode
func wgImageDecode(ptr unsafe.Pointer, n int32, channels int32) int32

//go:wasmimport wasmgate image_resize
func wgImageResize(h uint32, height, width, filter int32) int32

//go:wasmimport wasmgate image_normalize
func wgImageNormalize(h uint32, layout int32, scale float32, mean, std unsafe.Pointer) int32

func sliceAddr[T any](s []T) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(s)) }

func rawConfig(buf []byte) int32    { return wgConfig(sliceAddr(buf), int32(len(buf))) }
func rawLastError(buf []byte) int32 { return wgLastError(sliceAddr(buf), int32(len(buf))) }
func rawTensorPut(list []byte) int32 {
	return wgTensorPut(sliceAddr(list), int32(len(list)))
}
func rawTensorInfo(h Handle, buf []byte) int32 {
	return wgTensorInfo(uint32(h), sliceAddr(buf), int32(len(buf)))
}
func rawTensorRead(h Handle, off int64, buf []byte) int64 {
	return wgTensorRead(uint32(h), off, sliceAddr(buf), int32(len(buf)))
}
func rawTensorFree(h Handle) int32 { return wgTensorFree(uint32(h)) }

func rawOp(name string, attrs []byte, in, out []Handle) int32 {
	return wgOp(unsafe.Pointer(unsafe.StringData(name)), int32(len(name)), sliceAddr(attrs), int32(len(attrs)),
		sliceAddr(in), int32(len(in)), sliceAddr(out), int32(len(out)))
}

func rawModelRun(name string, in, out []Handle) int32 {
	return wgModelRun(unsafe.Pointer(unsafe.StringData(name)), int32(len(name)), sliceAddr(in), int32(len(in)), sliceAddr(out), int32(len(out)))
}

func rawImageDecode(b []byte, channels int32) int32 {
	return wgImageDecode(sliceAddr(b), int32(len(b)), channels)
}

func rawImageResize(h Handle, height, width, filter int32) int32 {
	return wgImageResize(uint32(h), height, width, filter)
}

func rawImageNormalize(h Handle, layout int32, scale float32, mean, std []float32) int32 {
	return wgImageNormalize(uint32(h), layout, scale, sliceAddr(mean), sliceAddr(std))
}
