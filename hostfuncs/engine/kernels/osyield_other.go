//go:build !linux

package kernels

// osYield is a no-op where there is no sched_yield to call.
func osYield() {}

// thisCPU cannot know the CPU here: -1.
func thisCPU() int32 { return -1 }
