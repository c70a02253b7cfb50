//go:build !linux

package kernels

// osYield is a no-op where there is no sched_yield to call.
func osYield() {}
