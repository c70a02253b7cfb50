//go:build !wasip1

package sdk

import (
	"errors"
	"sync"
)

// Host stands in for the wasmgate import module when the SDK runs outside
// WebAssembly, so module code that calls host functions can be tested with
// go test. Each method is the import of the same name in docs/ABI.md §5.3,
// with guest memory as Go slices: a (ptr, len) or (ptr, cap) pair is a
// slice, an array of handles a []Handle, and a nil mean or std is the null
// pointer. Results are the imports' results.
//
// Package sdktest provides a Host that runs the real host functions.
type Host interface {
	Config(buf []byte) int32
	LastError(buf []byte) int32
	TensorPut(list []byte) int32
	TensorInfo(h Handle, buf []byte) int32
	TensorRead(h Handle, off int64, buf []byte) int64
	TensorFree(h Handle) int32
	Op(name string, attrs []byte, in, out []Handle) int32
	ModelRun(name string, in, out []Handle) int32
	ImageDecode(b []byte, channels int32) int32
	ImageResize(h Handle, height, width, filter int32) int32
	ImageNormalize(h Handle, layout int32, scale float32, mean, std []float32) int32
}

var (
	hostMu sync.Mutex
	host   Host = noHost{}
)

// SetHost makes h answer the SDK's host calls and returns the Host it
// replaces; nil restores the default, under which every host function fails
// with CodeUnsupported. It exists only outside WebAssembly.
func SetHost(h Host) (previous Host) {
	hostMu.Lock()
	defer hostMu.Unlock()
	previous = host
	if h == nil {
		h = noHost{}
	}
	host = h
	if _, ok := previous.(noHost); ok {
		previous = nil
	}
	return previous
}

func currentHost() Host {
	hostMu.Lock()
	defer hostMu.Unlock()
	return host
}

func rawConfig(buf []byte) int32    { return currentHost().Config(buf) }
func rawLastError(buf []byte) int32 { return currentHost().LastError(buf) }
func rawTensorPut(list []byte) int32 {
	return currentHost().TensorPut(list)
}
func rawTensorInfo(h Handle, buf []byte) int32 { return currentHost().TensorInfo(h, buf) }
func rawTensorRead(h Handle, off int64, buf []byte) int64 {
	return currentHost().TensorRead(h, off, buf)
}
func rawTensorFree(h Handle) int32 { return currentHost().TensorFree(h) }
func rawOp(name string, attrs []byte, in, out []Handle) int32 {
	return currentHost().Op(name, attrs, in, out)
}
func rawModelRun(name string, in, out []Handle) int32 {
	return currentHost().ModelRun(name, in, out)
}
func rawImageDecode(b []byte, channels int32) int32 {
	return currentHost().ImageDecode(b, channels)
}
func rawImageResize(h Handle, height, width, filter int32) int32 {
	return currentHost().ImageResize(h, height, width, filter)
}
func rawImageNormalize(h Handle, layout int32, scale float32, mean, std []float32) int32 {
	return currentHost().ImageNormalize(h, layout, scale, mean, std)
}

// noHost is the default off WebAssembly: every call fails, and last_error
// says why.
type noHost struct{}

var errNoHost = errors.New("sdk: no wasmgate host outside WebAssembly: install one with SetHost (package sdktest runs the real host functions)")

func (noHost) Config([]byte) int32 { return CodeUnsupported }
func (noHost) LastError(buf []byte) int32 {
	msg := errNoHost.Error()
	if len(msg) <= len(buf) {
		copy(buf, msg)
	}
	return int32(len(msg))
}
func (noHost) TensorPut([]byte) int32                        { return CodeUnsupported }
func (noHost) TensorInfo(Handle, []byte) int32               { return CodeUnsupported }
func (noHost) TensorRead(Handle, int64, []byte) int64        { return int64(CodeUnsupported) }
func (noHost) TensorFree(Handle) int32                       { return CodeUnsupported }
func (noHost) Op(string, []byte, []Handle, []Handle) int32   { return CodeUnsupported }
func (noHost) ModelRun(string, []Handle, []Handle) int32     { return CodeUnsupported }
func (noHost) ImageDecode([]byte, int32) int32               { return CodeUnsupported }
func (noHost) ImageResize(Handle, int32, int32, int32) int32 { return CodeUnsupported }
func (noHost) ImageNormalize(Handle, int32, float32, []float32, []float32) int32 {
	return CodeUnsupported
}
