package wasinn

import (
	"context"

	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
)

// ModelDescriber is what load_by_name uses, when the call's
// hostfuncs.ModelRunner implements it, to check a name at once and learn
// the model's inputs and outputs: it returns what the calling model may run
// under that name, or a fault.NotFound or fault.Forbidden error. The gateway's
// model runner implements it with the same rule as RunModel (the name must
// be in the calling model's "calls").
//
// Without it load_by_name accepts any name, set_input checks only the
// tensor itself, and a model that does not exist or may not be run is
// reported by compute.
type ModelDescriber interface {
	DescribeModel(ctx context.Context, name string) (inputs, outputs []abi.TensorSpec, err error)
}

// call is what the wasi-nn functions serve: the wasmgate guest call.
type call struct {
	*hostfuncs.Call
}

type callKey struct{}

type callValue struct {
	c    *hostfuncs.Call
	inst *Instance
}

// WithCall returns a context under which the wasi_ephemeral_nn functions act
// for c on inst's resources: c's runner resolves load_by_name, its
// QuotaBytes caps the host memory the instance's graphs and tensors hold,
// its Config selects the tensor_type numbering (NumberingFromConfig) and its
// Logger gets a debug line for every failed function. The modules layer
// calls it next to hostfuncs.WithCall with the same *hostfuncs.Call.
func WithCall(ctx context.Context, c *hostfuncs.Call, inst *Instance) context.Context {
	return context.WithValue(ctx, callKey{}, callValue{c, inst})
}

// callFrom returns the call a function serves and the instance's state.
// Calls made outside a guest call (a module's _initialize, the description
// probe) get a call with no rights — no runner and a quota of one byte — and
// a state of their own that holds nothing for long.
func callFrom(ctx context.Context) (call, *Instance) {
	if v, ok := ctx.Value(callKey{}).(callValue); ok && v.c != nil && v.inst != nil {
		return call{v.c}, v.inst
	}
	return call{hostfuncs.NewCall(hostfuncs.Caller{QuotaBytes: 1})}, NewInstance()
}

// numbering is the call's tensor_type numbering, from its module's config
// (a few bytes of JSON, read when a tensor crosses).
func (c call) numbering() (Numbering, error) { return NumberingFromConfig(c.Config) }
