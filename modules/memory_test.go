package modules

import (
	"testing"

	"github.com/matryer/is"
)

// growableMemory must behave as wazero's own growth: contents kept, new
// bytes zero, never past the maximum, and room kept for growth so that a
// memory grown page by page is copied only a few times.
func TestGrowableMemory(t *testing.T) {
	const page = 64 << 10
	cases := []struct {
		name      string
		cap, max  uint64
		sizes     []uint64 // successive Reallocate sizes
		wantNil   bool     // the last one is refused
		maxCopies int
	}{
		{"page by page to 40 MiB", 0, 64 << 20, pages(page, 1, 640), false, 30},
		{"within the initial capacity", 4 * page, 4 * page, []uint64{page, 2 * page, 4 * page}, false, 0},
		{"past the maximum", page, 2 * page, []uint64{page, 3 * page}, true, 0},
		{"a large step over several chunks", page, 64 << 20, []uint64{page, 5*copyChunk + 123*page}, false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			lm := preemptibleMemory{}.Allocate(c.cap, c.max)
			var buf []byte
			copies := 0
			for i, size := range c.sizes {
				grown := lm.Reallocate(size)
				if i == len(c.sizes)-1 && c.wantNil {
					is.True(grown == nil)
					return
				}
				is.Equal(uint64(len(grown)), size)
				is.True(uint64(cap(grown)) <= c.max)
				if len(buf) > 0 && &grown[0] != &buf[0] {
					copies++
					for j := range buf { // contents kept
						if grown[j] != byte(j*7) {
							t.Fatalf("size %d: byte %d is %d, want %d", size, j, grown[j], byte(j*7))
						}
					}
				}
				for j := len(buf); j < len(grown); j++ {
					if grown[j] != 0 {
						t.Fatalf("size %d: new byte %d is %d, want 0", size, j, grown[j])
					}
					grown[j] = byte(j * 7)
				}
				buf = grown
			}
			is.True(copies <= c.maxCopies)
			lm.Free()
		})
	}
}

func pages(page uint64, from, to int) []uint64 {
	var s []uint64
	for n := from; n <= to; n++ {
		s = append(s, uint64(n)*page)
	}
	return s
}
