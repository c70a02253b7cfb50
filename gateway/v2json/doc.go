// Package v2json is the JSON codec for KServe V2 / Open Inference Protocol
// inference requests and responses.
//
// Requests are decoded by a small hand-written scanner rather than
// encoding/json: tensor data is parsed straight from the body into each
// tensor's little-endian buffer, allocated once at its final size, so a
// request costs a handful of allocations however many elements it carries
// (encoding/json would box every element or need a second pass). The body is
// untrusted, so the decoder never panics, bounds nesting at 64 levels, and
// refuses element counts the body is too short to hold before allocating.
//
// Decoding rules, where the spec leaves a choice:
//
//   - "data" may be flat, nested as the shape, or nested any other way:
//     elements are taken in document order (row-major for every form the
//     spec allows) and only their count must equal the shape's product.
//   - Integer datatypes take JSON numbers whose value is an integer within
//     the datatype's range; 3.0 and 1e2 are integers, 1.5 is not.
//     Floating-point datatypes take any JSON number, rounded to nearest even
//     once (FP16 and BF16 too, though the spec calls them problematic in
//     JSON), plus the strings "NaN", "Infinity" and "-Infinity"; a finite
//     number too large for the datatype is an error, not an infinity.
//     BOOL takes true and false only. BYTES takes strings: their UTF-8 bytes,
//     or, when the input's parameters have "content_type": "base64" (the
//     MLServer convention), their base64 decoding (standard alphabet,
//     padded or not).
//   - A known key appearing twice in one object is an error, not last-wins,
//     so nothing in front of the gateway can read a different request than
//     it does. Unknown keys are skipped (after checking their syntax).
//   - null counts as absent for the optional id, parameters and outputs,
//     and a parameter whose value is null is dropped.
//   - Parameter values decode to string, bool, int64 (an integer literal
//     that fits) or float64 (any other number): the gRPC API's parameter
//     types plus the float the JSON API also allows. Objects and arrays are
//     refused.
//   - The body must be valid UTF-8; \u escapes of lone surrogates decode to
//     U+FFFD, as encoding/json does.
//
// Every decoding error is a fault.Invalid, or a fault.TooLarge for a tensor
// over the limits, with a message that names the input and the JSON path
// (`input "pixels": inputs[0].data: shape [1,1,28,28] needs 784 elements,
// data has 783`), fit to return to the client.
//
// Encoding writes data flat. Floats use the shortest form that parses back to
// the same value (FP16 and BF16 through float32), so decode(encode(t)) is
// bit-exact except for NaN payloads. NaN and ±Inf, which JSON numbers cannot
// express, are written as the strings "NaN", "Infinity" and "-Infinity". A
// BYTES output whose elements are all valid UTF-8 is written as strings;
// otherwise every element is base64 and the output carries
// "parameters": {"content_type": "base64"}.
package v2json
