package v2json

import "github.com/wasmgate/wasmgate/hostfuncs/tensor"

// Limits bounds what one request may make the decoder allocate.
type Limits struct {
	// MaxElements bounds the element count of each input tensor; 0 means
	// tensor.MaxElements, and larger values are clamped to it.
	MaxElements int
}

func (l Limits) maxElements() int {
	if l.MaxElements <= 0 || l.MaxElements > tensor.MaxElements {
		return tensor.MaxElements
	}
	return l.MaxElements
}

// Parameters are the "parameters" of a request, an input, a requested output
// or a response.
//
// Decoded values are string, bool, int64 (a JSON number written as an integer
// that fits in int64) or float64 (any other JSON number); a null value drops
// the key. The encoder accepts those types and also the other Go integer and
// float types and json.Number.
type Parameters map[string]any

// InferRequest is a decoded $inference_request.
type InferRequest struct {
	ID         string
	Parameters Parameters // request-level; nil when absent
	Inputs     []Input    // never empty
	Outputs    []RequestedOutput
	// Outputs is nil when the request names no outputs ("outputs" absent,
	// null or []), which means all of the model's outputs.
}

// Input is one $request_input; its tensor is complete and valid.
type Input struct {
	tensor.Named
	Parameters Parameters // nil when absent
}

// RequestedOutput is one $request_output.
type RequestedOutput struct {
	Name       string
	Parameters Parameters // nil when absent
}

// InferResponse is an $inference_response to encode. Empty ModelVersion and
// ID are omitted (the spec says a server without versioning must not send a
// version, and an id only echoes one the request gave); model_name and
// outputs are always written.
type InferResponse struct {
	ModelName    string
	ModelVersion string
	ID           string
	Parameters   Parameters
	Outputs      []tensor.Named
}
