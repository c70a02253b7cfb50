//go:build wasip1

package sdk

import (
	"fmt"
	"runtime"
	"unsafe"
)

// The exports of docs/ABI.md §1. Each ends with runtime.Gosched(): the Go
// runtime only finishes a garbage collection while the guest yields, and
// between calls it never runs, so without the yield the heap grows with
// every call until the instance runs out of memory. A yield costs about
// 3.5 µs (the scheduler polls WASI); yielding in every export rather than
// once per request is the rule that keeps every export safe to call alone
// (bench/RESULTS.md has the measurement).

// Both buffers live in package variables so the GC keeps them while the
// host reads or writes them between calls.
var (
	// inWords is the input buffer. []uint64 makes it 8-aligned, which the
	// ABI promises and the in-place typed views rely on.
	inWords []uint64
	// out is the output of the last describe or run.
	out []byte
)

// Buffers larger than this are not kept for a smaller call: an instance's
// memory is small and never shrinks, so one large request must not pin its
// size for the rest of the instance's life.
const keepBytes = 1 << 20

// maxInput refuses sizes no instance could hold, before trying.
const maxInput = 1 << 30

//go:wasmexport wasmgate_abi_version
func exportABIVersion() int32 {
	runtime.Gosched()
	return Version
}

//go:wasmexport wasmgate_input
func exportInput(size uint32) uint32 {
	if size > maxInput {
		runtime.Gosched()
		return 0
	}
	words := max((int(size)+7)/8, 1)
	if c := cap(inWords); c < words || (8*c > keepBytes && 4*words < c) {
		inWords = nil
		if 8*words > keepBytes {
			// When linear memory cannot grow the Go runtime throws rather
			// than collects, and the old buffer and earlier calls' garbage
			// may still be uncollected: collect before a large allocation.
			runtime.GC()
		}
		inWords = make([]uint64, words)
	}
	inWords = inWords[:cap(inWords)]
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(inWords))))
	runtime.Gosched()
	return p
}

//go:wasmexport wasmgate_describe
func exportDescribe() int32 {
	var status int32
	status, out = Describe(outBuffer())
	runtime.Gosched()
	return status
}

//go:wasmexport wasmgate_run
func exportRun(ptr, n uint32) int32 {
	var status int32
	if in, ok := inputView(ptr, n); ok {
		status, out = Call(outBuffer(), in)
	} else {
		status = StatusFailed
		out = appendMessage(outBuffer(), fmt.Sprintf(
			"sdk: wasmgate_run(%d, %d) is not within the buffer wasmgate_input returned", ptr, n))
	}
	runtime.Gosched()
	return status
}

//go:wasmexport wasmgate_output
func exportOutput() uint64 {
	var r uint64
	if len(out) > 0 {
		r = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(out))))<<32 | uint64(len(out))
	}
	runtime.Gosched()
	return r
}

// outBuffer is the reusable output buffer, emptied; an oversized one from an
// earlier call is dropped (see keepBytes).
func outBuffer() []byte {
	if cap(out) > keepBytes {
		out = nil
	}
	return out[:0]
}

// inputView checks that (ptr, n) lies in the input buffer, so a confused
// host cannot make the guest read memory it never handed out.
func inputView(ptr, n uint32) ([]byte, bool) {
	if len(inWords) == 0 {
		return nil, false
	}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(inWords))), 8*len(inWords))
	base := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
	if uint64(ptr) < base || uint64(ptr)-base+uint64(n) > uint64(len(buf)) {
		return nil, false
	}
	off := int(uint64(ptr) - base)
	return buf[off : off+int(n) : off+int(n)], true
}
