package ops

import (
	"testing"
	"unsafe"

	"github.com/matryer/is"
)

// TestPartScratchLinePairs checks that every part of a PartScratch starts
// on its own 128-byte line pair, whatever was allocated before it and
// whatever the element size, so threads writing their own parts never
// share a cache line, and that several parts lie partGap apart, so none
// reads ahead into another's.
func TestPartScratchLinePairs(t *testing.T) {
	var sc Scratch
	for round := range 2 { // the first round sizes the buffer, the second uses it
		sc.Reset()
		for _, c := range []struct{ before, parts, n int }{
			{0, 2, 56}, {3, 2, 56}, {17, 4, 1}, {1, 3, 33}, {0, 1, 32},
		} {
			is := is.New(t)
			ScratchSlice[float32](&sc, c.before)
			f, stride := PartScratch[float32](&sc, c.parts, c.n)
			is.True(stride >= c.n)
			if c.parts > 1 {
				is.True((stride-c.n)*4 >= partGap) // the gap after each part
			} else {
				is.True((stride-c.n)*4 < partAlign) // one part: no gap
			}
			is.Equal(stride*4%partAlign, 0)
			is.Equal(len(f), c.parts*stride)
			i, istride := PartScratch[int32](&sc, c.parts, c.n)
			is.Equal(istride*4%partAlign, 0)
			if round == 1 { // served from the buffer, which starts on a line pair
				is.Equal(uintptr(unsafe.Pointer(&f[0]))%partAlign, uintptr(0))
				is.Equal(uintptr(unsafe.Pointer(&i[0]))%partAlign, uintptr(0))
			}
		}
	}
	is := is.New(t)
	f, stride := PartScratch[float32](nil, 3, 10) // no scratch: from the heap, same strides
	is.Equal(stride, 32+partGap/4)
	is.Equal(len(f), 3*stride)
}
