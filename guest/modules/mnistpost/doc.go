// Command mnistpost is wasmgate's MNIST post-processing module: it turns the
// model's 10 logits into the predicted digit and its probabilities.
//
// Input "logits" (FP32 [1,10]); outputs "label" (INT64 [1], the index of the
// largest logit, the first on ties) and "probabilities" (FP32 [1,10], the
// softmax of the logits). Non-finite logits mean the model misbehaved, so
// they are status 2, not the caller's fault.
//
// Build it as a reactor with the command in package guest; main is empty
// because the SDK's exports do the work.
package main
