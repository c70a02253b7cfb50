package tensor

import "unsafe"

// AlignedBytes allocates n zeroed bytes aligned to 8, so a typed view of the
// buffer is valid for every fixed-size dtype, including when a buffer is
// reused for another dtype than the one it was first allocated for.
func AlignedBytes(n int) []byte {
	if n <= 0 {
		return []byte{}
	}
	w := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(w))), n)
}

// Aligned reports whether b's start is suitably aligned for elements of dt,
// which typed views (Values) rely on.
func Aligned(b []byte, dt DType) bool {
	s := dt.Size()
	if s <= 1 || len(b) == 0 {
		return true
	}
	return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%uintptr(s) == 0
}
