// Package exec compiles a graph into a Plan and runs it.
//
// Compile does all the work that does not depend on input values, once per
// loaded model: it rewrites operator chains into fused kernels (package
// fusion; WithoutFusion turns it off), resolves every node's kernel
// through the operator registry, orders the nodes, checks that every value
// is defined and every dtype admitted, evaluates nodes whose inputs are
// all constant, drops nodes no output needs, infers the shape of every
// value (package shapes) and lays out the memory plan. Run then only
// validates the caller's inputs and calls kernels.
//
// # Memory plan
//
// Intermediate values share buffers: two values whose lifetimes (from the
// step that produces one to the last step that reads it) do not overlap
// may live in the same buffer. The planner assigns them greedily, largest
// first, each to the smallest buffer free for its whole lifetime, using
// sizes from the inferred shapes, in which a dynamic batch or sequence
// length is a symbol. A step's output never shares a buffer with its own
// inputs, since kernels assume no aliasing. Graph inputs, constants and
// graph outputs (handed to the caller) are not in the arena; a value whose
// size inference cannot tell gets a buffer of its own. The assignment does
// not depend on the sizes of a run: at the start of each run the symbols
// are bound from the inputs' dimensions and each buffer is sized to the
// largest value placed in it, so one plan serves every batch size without
// planning again. Report states the planned and the naive (one buffer per
// value) bytes at the reference dimensions (WithReferenceDims), MemoryAt
// at any others.
//
// # Device
//
// The executor allocates the buffers through a device.Device (WithDevice;
// device.CPU by default) and charges what it allocates to the run's
// allocation budget (ops.WithAllocBudget), as an operator's own output
// would be. A kernel that needs more than was planned allocates for
// itself, and its memory takes the buffer's place.
//
// # Runs
//
// A Plan is safe for concurrent use. Each run borrows a run state (the
// buffers of the memory plan plus scratch memory) from a bounded idle
// list, so repeated runs reuse the previous run's buffers instead of
// allocating; outputs are handed to the caller and never reused.
// WorkingBytes measures what a warm state holds.
//
// A plan compiled WithCompute counts each Run in the process's compute
// budget (kernels.Compute) while it runs and hands the budget to its
// kernels through the context (ops.ComputeFrom), so operators split over
// the shared worker pool only while cores are free.
//
// # Cancellation
//
// Run checks its context before every node, and the long kernels (the
// GEMM behind MatMul, Gemm and Conv, and the convolution's lowering) poll
// it between blocks of at most a few milliseconds of work, so a cancelled
// run returns the context's error promptly, leaves the compute budget and
// gives its state back for the next run.
package exec
