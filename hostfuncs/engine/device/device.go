package device

import (
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Kind is where a device's memory lives, which decides what code may touch
// its buffers.
type Kind uint8

const (
	// Host memory is process memory that Go code and the CPU kernels read
	// and write in place (Buffer.Bytes).
	Host Kind = iota
	// Accelerator memory is only reachable through the device's own
	// kernels and copies (Buffer.Ptr); the host cannot address it.
	Accelerator
)

func (k Kind) String() string {
	switch k {
	case Host:
		return "host"
	case Accelerator:
		return "accelerator"
	}
	return "unknown"
}

// Buffer is a block of a device's memory, handed out by Alloc and given back
// through Free. It is a small value, so handing one around allocates
// nothing.
type Buffer struct {
	// Bytes is the memory, for a Host device: its length is Size.
	Bytes []byte
	// Ptr is the device address, for an Accelerator device.
	Ptr uintptr
	// Size is the buffer's length in bytes.
	Size int
}

// Device allocates the memory a plan's intermediate values live in. An
// implementation must be safe for concurrent use: every run of a plan
// allocates through the plan's one Device.
type Device interface {
	// Name identifies the device in reports and errors ("cpu", "cuda:0").
	Name() string
	// Kind says where its buffers live.
	Kind() Kind
	// Alloc returns a buffer of size bytes whose contents are garbage. It
	// fails with fault.TooLarge when the device cannot hold it.
	Alloc(size int) (Buffer, error)
	// Free gives b back. b must not be used afterwards; freeing the zero
	// Buffer does nothing.
	Free(b Buffer)
}

// CPU is host memory from the Go heap, the device of the CPU kernels. Its
// zero value is ready to use.
type CPU struct{}

// Name is "cpu".
func (CPU) Name() string { return "cpu" }

// Kind is Host.
func (CPU) Kind() Kind { return Host }

// Alloc returns size bytes aligned for any element type (tensor.AlignedBytes),
// as the kernels' typed views of tensor data require.
func (CPU) Alloc(size int) (Buffer, error) {
	if size < 0 || size > tensor.MaxElements*16 {
		return Buffer{}, fault.Errorf(fault.TooLarge, "a buffer of %d bytes", size)
	}
	return Buffer{Bytes: tensor.AlignedBytes(size), Size: size}, nil
}

// Free does nothing: the garbage collector reclaims host buffers once no
// tensor refers to them, which a plan cannot rule out while a caller holds
// a tensor that shares one (it never does for outputs, but may for a
// kernel's scratch views).
func (CPU) Free(Buffer) {}
