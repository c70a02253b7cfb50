// Package modelgen builds benchmark models in Go, with random weights that
// are the same for the same seed, laid out node for node as PyTorch's
// torch.onnx.export (TorchScript exporter, opset 17, eval mode, constant
// folding on) writes them:
//
//   - ResNet18: torchvision's ResNet-18 at 224×224. Eval-mode export folds
//     every BatchNormalization into the Conv before it, so each Conv has a
//     bias; then Relu, MaxPool 3×3/2, four stages of two BasicBlocks (3×3
//     convs, a 1×1 stride-2 downsample Conv on the residual of the first
//     block of stages 2-4, Add, Relu), GlobalAveragePool, Flatten and Gemm
//     512→1000. Input "input" FP32[N,3,224,224], output "output" FP32[N,1000].
//   - BERTEncoder: a Hugging Face BertModel-style encoder (embeddings and
//     encoder layers, no pooler) with the exporter's patterns: Gather
//     embeddings, LayerNormalization (or, with DecomposedLayerNorm, the
//     ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add form older opsets
//     get), MatMul+Add linears, Reshape+Transpose into heads, MatMul QKᵀ,
//     Div by √head_size, the additive mask from attention_mask, Softmax,
//     Erf-based GELU as Div/Erf/Add/Mul/Mul. Inputs "input_ids" (and
//     "attention_mask") INT64[N,seq], output "last_hidden_state"
//     FP32[N,seq,hidden].
//   - MNIST: the graph of the ONNX model zoo's mnist-7 (Conv, Add, Relu,
//     MaxPool, Reshape, MatMul, Add, with its names), with random weights,
//     opset 17, and a batch dimension that can be fixed or symbolic (the
//     original fixes it at 1).
//
// A batch argument > 0 fixes the batch dimension, and the model is what an
// export without dynamic axes gives (reshape targets folded into constant
// initializers). A batch of 0 (Dynamic) makes it the symbolic dimension
// "batch_size", and the model is what an export with that dynamic axis
// gives: reshape targets computed at run time by Shape, Gather, Unsqueeze
// and Concat.
//
// Scalars the exporter writes as Constant nodes (the attention scale, the
// GELU constants, LayerNorm's epsilon in the decomposed form, Unsqueeze
// axes) are Constant nodes here too; weights are initializers named after
// the PyTorch parameters.
package modelgen
