// Command mnistadapter is an example adapter module (docs/ABI.md §1): it
// takes the place of a whole model and drives the engine through host
// functions. It declares the inputs and outputs of the built-in mnist model
// and implements them by running that model with model_run:
//
//   - inputs "image" (BYTES [1]) and "pixels" (FP32 [1,1,28,28]), both
//     optional, exactly as mnist takes them. Inline inputs are copied to the
//     host with tensor_put; host-held ones pass on by handle. They bind to
//     mnist's inputs by position, an absent one as handle 0.
//   - outputs "label" (INT64 [1]) and "probabilities" (FP32 [1,10]): mnist's
//     outputs, returned host-held, so they never pass through guest memory.
//
// A model that uses it must list mnist under calls in its manifest. When
// mnist refuses the inputs (EFAILED) the adapter answers status 1 with
// mnist's message; any other failure is status 2.
package main
