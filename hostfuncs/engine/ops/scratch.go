package ops

import (
	"context"
	"unsafe"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Scratch is a run's temporary memory for kernels (im2col buffers, widened
// copies of half-precision data). Kernels share one Kernel value across
// concurrent runs, so they cannot own scratch; each run state owns a Scratch
// and hands it to kernels through the context.
//
// It is a bump allocator reset before every kernel: allocations are valid
// until the kernel returns. It remembers the largest total a kernel asked
// for and grows to it at the next reset, so after a warm-up run every
// request is served without allocating.
type Scratch struct {
	buf  []uint64
	used int // bytes handed out since the last reset
	peak int // most bytes asked for between two resets
}

// Reset makes the whole buffer available again, growing it to the peak
// demand seen so far.
func (s *Scratch) Reset() {
	if s.peak > len(s.buf)*8 {
		// One line pair more than asked for, so the buffer can start on a
		// line pair: PartScratch's parts then never share one.
		words := (s.peak + 7) / 8
		buf := make([]uint64, words+partAlign/8)
		skip := int(-uintptr(unsafe.Pointer(unsafe.SliceData(buf)))&(partAlign-1)) / 8
		s.buf = buf[skip : skip+words]
	}
	s.used = 0
}

// Bytes is the memory the scratch buffer holds.
func (s *Scratch) Bytes() int { return len(s.buf) * 8 }

// ScratchSlice returns n elements of garbage-filled memory from s, or from
// the heap when s is nil or exhausted.
func ScratchSlice[T tensor.Elem](s *Scratch, n int) []T {
	var z T
	size := (n*int(unsafe.Sizeof(z)) + 63) &^ 63 // keep every slice aligned for any element type
	if s == nil {
		return make([]T, n)
	}
	start := s.used
	s.used += size
	s.peak = max(s.peak, s.used)
	if s.used > len(s.buf)*8 {
		return make([]T, n)
	}
	if n == 0 {
		return []T{}
	}
	p := unsafe.Add(unsafe.Pointer(unsafe.SliceData(s.buf)), start)
	return unsafe.Slice((*T)(p), n)
}

// partAlign is the granule of PartScratch: a pair of 64-byte cache lines,
// which the adjacent-line prefetcher fetches together.
const partAlign = 128

// PartScratch returns scratch for parts parts of n elements each, and the
// stride between the parts' starts: n rounded up to whole 128-byte line
// pairs. Threads that each write their own part's scratch then never write
// to one cache line (false sharing, which cost MNIST's MaxPool at two
// threads as much as the second thread saved).
func PartScratch[T tensor.Elem](s *Scratch, parts, n int) (buf []T, stride int) {
	var z T
	size := int(unsafe.Sizeof(z))
	stride = (n*size + partAlign - 1) &^ (partAlign - 1) / size
	if s != nil && s.used%partAlign != 0 {
		ScratchSlice[uint8](s, partAlign-s.used%partAlign) // start on a line pair
	}
	return ScratchSlice[T](s, parts*stride), stride
}

type scratchKey struct{}

// WithScratch returns a context that carries s to the kernels run under it.
func WithScratch(ctx context.Context, s *Scratch) context.Context {
	return context.WithValue(ctx, scratchKey{}, s)
}

// ScratchFrom returns the Scratch ctx carries, or nil (ScratchSlice then
// allocates).
func ScratchFrom(ctx context.Context) *Scratch {
	s, _ := ctx.Value(scratchKey{}).(*Scratch)
	return s
}
