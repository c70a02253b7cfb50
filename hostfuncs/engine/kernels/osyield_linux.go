//go:build linux

package kernels

import "syscall"

// osYield gives the processor to another runnable thread of this CPU, if
// there is one (sched_yield). It returns at once otherwise.
func osYield() { syscall.Syscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }
