// Package ops is the engine's operator set: a registry of ONNX operator
// schemas keyed by domain, op type and the opset version each schema starts
// at, and one kernel per operator.
//
// Loading a model resolves each node through the registry once: the schema
// chosen by the model's opset import checks the node's arity and attribute
// names, and the operator's builder decodes and validates its attributes into
// a Kernel. Running a graph then calls Kernel.Run with tensors only, so no
// attribute is parsed and no operator is looked up on the hot path.
//
// A Kernel is shared by every concurrent run of its graph and must hold no
// per-run state; scratch memory comes from the run's Scratch (see
// WithScratch) and the process's compute budget, which says how many cores
// an operator may split over, from ComputeFrom (see WithCompute). Numeric
// loops that a faster implementation may replace live in package kernels.
package ops
