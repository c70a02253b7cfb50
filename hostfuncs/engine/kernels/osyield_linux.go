//go:build linux

package kernels

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// osYield gives the processor to another runnable thread of this CPU, if
// there is one (sched_yield). It returns at once otherwise.
func osYield() { syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }

// thisCPU is the CPU the calling thread runs on (getcpu), or -1 if it
// cannot be known. The thread may move at any time after: it is a hint.
func thisCPU() int32 {
	var cpu uint32
	if _, _, errno := unix.Syscall(unix.SYS_GETCPU, uintptr(unsafe.Pointer(&cpu)), 0, 0); errno != 0 {
		return -1
	}
	return int32(cpu)
}
