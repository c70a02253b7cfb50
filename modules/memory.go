package modules

import "github.com/tetratelabs/wazero/experimental"

// preemptibleMemory backs guests' linear memories (wazero's
// experimental.MemoryAllocator). wazero's own growth appends to the
// memory's slice, and the append copies the old contents in one memmove
// that the Go scheduler cannot interrupt: growing a memory of tens of MiB
// held off every garbage collection's stop-the-world phase, and so every
// other request of the process, for 10-30 ms. Here growth copies in 1 MiB
// pieces with preemption points between them, and the memory stays an
// ordinary Go slice: freed by the collector, counted in the heap like
// before, safe to drop while another goroutine still holds a view.
type preemptibleMemory struct{}

func (preemptibleMemory) Allocate(capBytes, maxBytes uint64) experimental.LinearMemory {
	return &growableMemory{buf: make([]byte, 0, min(capBytes, maxBytes)), max: maxBytes}
}

// growableMemory is one linear memory.
type growableMemory struct {
	buf []byte
	max uint64
}

// copyChunk bounds one uninterruptible copy: about 0.1-0.3 ms of memmove.
const copyChunk = 1 << 20

// Reallocate grows the memory to size bytes, in place while the slice has
// room and otherwise into a new slice with a quarter more room than asked
// (as append grows large slices), so a guest growing page by page copies
// its memory a bounded number of times. Bytes past the old length are zero:
// they were never part of the memory, and make zeroes a new slice.
func (m *growableMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	grown := make([]byte, size, min(max(size, uint64(cap(m.buf))+uint64(cap(m.buf))/4), m.max))
	for off := 0; off < len(m.buf); off += copyChunk {
		copy(grown[off:], m.buf[off:min(off+copyChunk, len(m.buf))])
	}
	m.buf = grown
	return grown
}

// Free drops the memory for the collector.
func (m *growableMemory) Free() { m.buf = nil }
