// Package device is the boundary between the engine's planner and the
// memory its kernels compute in.
//
// The executor (package exec) allocates the buffers of a plan's
// intermediate values through a Device rather than from the Go heap
// directly, so that a backend whose memory the host cannot address (a
// GPU) can take the planner's memory plan as it is: the plan decides which
// values share a buffer and how large each buffer must be for a run, the
// Device decides where the bytes live. CPU is the device of the CPU
// kernels: its buffers are ordinary, 8-byte-aligned host memory that the
// garbage collector reclaims.
package device
