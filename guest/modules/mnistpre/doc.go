// Command mnistpre is wasmgate's MNIST pre-processing module: it turns an
// uploaded image, or raw pixels, into the model's input.
//
// Inputs (exactly one must be given, else status 1):
//   - "image" (BYTES [1]): one PNG or JPEG. Images wider or taller than 4,096
//     pixels, or whose decoding would allocate more than 16 MiB (4096×4096
//     grayscale, 2048×2048 RGBA, about 2364×2364 colour JPEG), are refused
//     with status 1 before decoding. The host decodes it (image_decode) to
//     8-bit grayscale with the standard (BT.601) luma, transparent areas
//     composited onto white (a digit drawn on a transparent canvas is
//     dark-on-light), and resizes it to 28×28 with its area-average box
//     filter (image_resize) if it is another size; the module inverts it if
//     its border is light (mean of the 28×28 border > 127), because the
//     model expects a white digit on black. An image larger than the
//     server's inline limit arrives host-held and is loaded first.
//   - "pixels" (FP32 [1,1,28,28]): values must be finite and within 0..255;
//     they pass through unchanged.
//
// Output "input" (FP32 [1,1,28,28]): raw pixel values 0..255, not normalised,
// which is what the model expects. A 28×28 grayscale white-on-black image
// comes out as exactly its pixel values.
package main
