package device_test

import (
	"testing"
	"unsafe"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/device"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

func TestCPU(t *testing.T) {
	var d device.Device = device.CPU{}
	is := is.New(t)
	is.Equal(d.Name(), "cpu")
	is.Equal(d.Kind(), device.Host)
	for _, size := range []int{0, 1, 7, 4096, 1 << 20} {
		b, err := d.Alloc(size)
		is.NoErr(err)
		is.Equal(b.Size, size)
		is.Equal(len(b.Bytes), size)
		if size > 0 {
			is.Equal(uintptr(unsafe.Pointer(&b.Bytes[0]))%8, uintptr(0)) // aligned for any element type
		}
		d.Free(b)
	}
	_, err := d.Alloc(-1)
	is.Equal(fault.KindOf(err), fault.TooLarge)
	d.Free(device.Buffer{}) // freeing nothing is allowed
}
