// Package exec compiles a graph into a Plan and runs it.
//
// Compile does all the work that does not depend on input values, once:
// it resolves every node's kernel through the operator registry, orders the
// nodes, checks that every value is defined and every dtype admitted,
// evaluates nodes whose inputs are all constant, and drops nodes no output
// needs. Run then only validates the caller's inputs and calls kernels.
//
// A Plan is safe for concurrent use. Each run borrows a run state (one slot
// per intermediate value plus scratch memory) from a bounded idle list, so
// repeated runs reuse the previous run's buffers instead of allocating;
// outputs are handed to the caller and never reused.
//
// A plan compiled WithCompute counts each Run in the process's compute
// budget (kernels.Compute) while it runs and hands the budget to its
// kernels through the context (ops.ComputeFrom), so operators split over
// the shared worker pool only while cores are free.
package exec
