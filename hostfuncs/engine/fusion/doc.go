// Package fusion rewrites a model's graph so that operator chains the engine
// has one kernel for run as that kernel, saving the intermediate tensors,
// the passes over memory that write and read them, and the per-node cost of
// running each. exec.Compile runs it on every model (exec.WithoutFusion
// turns it off); Fuse returns a rewritten copy and how many of each fusion
// it applied.
//
// The patterns, in the order the passes run (docs/ENGINE.md has the
// details):
//
//   - LayerNorm: ReduceMean, Sub, Pow (or Mul of the deviation by
//     itself), ReduceMean, Add ε, Sqrt, Div, Mul γ, Add β over the last
//     axis, as exporters write it below opset 17, becomes
//     LayerNormalization.
//   - Gelu: Div by √2 (or Mul by 1/√2), Erf, Add 1, Mul by x, Mul by ½ (in
//     either order) becomes Gelu (exact, erf-based).
//   - Attention: MatMul(Q, Kᵀ), Div or Mul by a scalar, Add of a mask,
//     Softmax over the last axis, MatMul by V becomes FusedAttention, with
//     the scaling and the mask optional.
//   - MatMul+Bias: MatMul then Add of a constant row (a Linear layer),
//     with a following Relu or Gelu taken as its activation, becomes
//     FusedMatMul.
//   - Gemm+Relu becomes FusedGemm.
//   - Conv: Conv, then Add of a per-channel constant (folded into the
//     Conv's bias), Add of another tensor (a residual), Relu, any of them
//     in this order, becomes FusedConv.
//
// The fused operators are registered in ops.FusedDomain ("wasmgate"),
// which the rewritten model imports at version 1; LayerNormalization and
// Gelu there are the ONNX operators, available whatever opset the model
// imports. A pattern fires only where the rewrite is exact up to float32
// rounding: each value it removes has no other use, is not a graph output
// and is not named in a subgraph, the operands are float32, and the constants it depends on have
// the right values and shapes (checked on initializers and Constant nodes).
// Shapes that are not known before running, such as a residual that
// broadcasts, are checked by the fused kernels, which fall back to the
// unfused arithmetic for shapes their fast paths do not take.
package fusion
