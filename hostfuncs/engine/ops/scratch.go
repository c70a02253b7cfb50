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

// partGap is the unused memory PartScratch leaves after each part when
// there are several: a kernel that reads its part down rows a few KB apart
// leads the hardware prefetchers hundreds of KB past its end, into the
// next part, which another thread is writing, and the lines then travel
// between the threads' cores. On a host that put the two vCPUs on
// different core complexes (see bench/RESULTS.md), MNIST batch 64 at two
// threads took 0.83-0.99 ms with the parts back to back and 0.62-0.72 ms
// with 512 KiB after each (means of three paired runs, 12-23 samples each;
// on one complex 0.55-0.58 and 0.53-0.55); ResNet-18's stem,
// whose two lowered matrices are 0.94 MB each, ran at 714 µs against 571,
// and at 677-689 µs with 60-64 KB between them. Only kernels split over
// threads pay it, in address space more than in memory touched.
const partGap = 512 << 10

// PartScratch returns scratch for parts parts of n elements each, and the
// stride between the parts' starts: n rounded up to whole 128-byte line
// pairs, plus partGap where parts > 1. Threads that each write their own
// part's scratch then never write to one cache line (false sharing, which
// cost MNIST's MaxPool at two threads as much as the second thread saved),
// nor read ahead into another's. A part is the first n elements at its
// start: callers slice buf[i*stride:][:n], not up to the next part, which
// would take in the gap.
func PartScratch[T tensor.Elem](s *Scratch, parts, n int) (buf []T, stride int) {
	var z T
	size := int(unsafe.Sizeof(z))
	bytes := (n*size + partAlign - 1) &^ (partAlign - 1)
	if parts > 1 {
		bytes += partGap
	}
	stride = bytes / size
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
