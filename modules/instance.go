package modules

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
	"github.com/wasmgate/wasmgate/hostfuncs/wasinn"
)

// guestOutputTail is how much of a guest's stdout/stderr an instance keeps
// for error messages.
const guestOutputTail = 2 << 10

// instance is one instantiated module. It serves one call at a time.
type instance struct {
	m      *Module
	mod    api.Module
	nn     *wasinn.Instance // its wasi-nn graphs and contexts, which outlive a call
	caller hostfuncs.Caller
	limits Limits
	stdio  *tailWriter

	abiVersion, input, describeFn, run, output api.Function
	stack                                      [2]uint64
	enc                                        []byte // reused input encoding buffer
	accounted                                  int64  // memory counted for it by its pool
}

// instantiate creates an instance, running its start functions within the
// limits' InitTimeout, so a module whose _initialize never returns fails to
// load instead of hanging it.
func (m *Module) instantiate(ctx context.Context, caller hostfuncs.Caller, limits Limits) (*instance, error) {
	stdio := newTailWriter(guestOutputTail)
	cfg := wazero.NewModuleConfig().
		WithName(""). // anonymous: one compiled module, many instances
		WithStartFunctions(m.start...).
		WithStdout(stdio).
		WithStderr(stdio)
	ictx, cancel := context.WithTimeout(experimental.WithMemoryAllocator(ctx, preemptibleMemory{}), limits.InitTimeout)
	defer cancel()
	mod, err := m.r.InstantiateModule(ictx, m.compiled, cfg)
	if err != nil {
		if ctx.Err() == nil && ictx.Err() != nil {
			return nil, fault.Errorf(fault.ModuleFault, "module %s: instantiation did not finish within %v", m.name, limits.InitTimeout)
		}
		return nil, m.callError(ctx, "instantiate", err, stdio)
	}
	inst := &instance{
		m: m, mod: mod, caller: caller, limits: limits, stdio: stdio, nn: wasinn.NewInstance(),
		abiVersion: mod.ExportedFunction(abi.ExportABIVersion),
		input:      mod.ExportedFunction(abi.ExportInput),
		describeFn: mod.ExportedFunction(abi.ExportDescribe),
		run:        mod.ExportedFunction(abi.ExportRun),
		output:     mod.ExportedFunction(abi.ExportOutput),
	}
	return inst, nil
}

func (in *instance) close(ctx context.Context) {
	in.nn.Release()
	_ = in.mod.Close(ctx)
}

// memoryBytes estimates the host memory this instance holds: its linear
// memory plus wazero's per-instance bookkeeping.
func (in *instance) memoryBytes() int64 {
	return int64(in.mod.Memory().Size()) + in.m.overheadBytes() + in.nn.HeldBytes()
}

// callI32 calls an export with an i32 result. ctx carries the host side of
// the guest call (hostfuncs.WithCall) when there is one.
func (in *instance) callI32(ctx context.Context, fn api.Function, args ...uint64) (uint32, error) {
	copy(in.stack[:], args)
	if err := fn.CallWithStack(ctx, in.stack[:]); err != nil {
		return 0, in.m.callError(ctx, fn.Definition().Name(), err, in.stdio)
	}
	return uint32(in.stack[0]), nil
}

// readOutput copies the output of the last describe/run out of guest memory.
func (in *instance) readOutput(ctx context.Context, copyOut func([]byte) error) error {
	if err := in.output.CallWithStack(ctx, in.stack[:]); err != nil {
		return in.m.callError(ctx, abi.ExportOutput, err, in.stdio)
	}
	ptr, n := uint32(in.stack[0]>>32), uint32(in.stack[0])
	if int64(n) > int64(in.limits.MaxOutputBytes) {
		return fault.Errorf(fault.ModuleFault, "module %s: output of %d bytes exceeds the limit of %d", in.m.name, n, in.limits.MaxOutputBytes)
	}
	view, ok := in.mod.Memory().Read(ptr, n)
	if !ok {
		return fault.Errorf(fault.ModuleFault, "module %s: output at %#x length %d is outside its memory", in.m.name, ptr, n)
	}
	return copyOut(view)
}

// describe returns a copy of the module's description JSON.
func (in *instance) describe(ctx context.Context) ([]byte, error) {
	in.stdio.reset()
	status, err := in.callI32(ctx, in.describeFn)
	if err != nil {
		return nil, err
	}
	var out []byte
	if err := in.readOutput(ctx, func(b []byte) error { out = append([]byte(nil), b...); return nil }); err != nil {
		return nil, err
	}
	if status != abi.StatusOK {
		return nil, fault.Errorf(fault.ModuleFault, "module %s: %s failed: %s", in.m.name, abi.ExportDescribe, clip(string(out)))
	}
	return out, nil
}

// call runs the module on in. healthy reports whether the instance may be
// reused: false after any trap, timeout, ABI breach or failure status.
func (in *instance) call(ctx context.Context, inputs []tensor.Named, ct *callTrace) (out []tensor.Named, healthy bool, err error) {
	in.stdio.reset()
	caller := in.caller
	caller.QuotaBytes = in.limits.QuotaBytes
	hc := hostfuncs.NewCall(caller)
	defer hc.Release()
	if ct != nil {
		defer func() { ct.finish(hc, inputs, out, len(in.enc), in.limits.InlineBytes) }()
	}
	ctx = wasinn.WithCall(hostfuncs.WithCall(ctx, hc), hc, in.nn)
	enc, err := abi.AppendTensorListHeld(in.enc[:0], inputs, in.limits.InlineBytes, hc)
	if err != nil {
		return nil, true, fault.Errorf(fault.Invalid, "module %s: cannot encode inputs: %w", in.m.name, err)
	}
	in.enc = enc
	ct.lap(phaseEncode)
	if limit := in.limits.maxInputBytes(); len(enc) > limit {
		return nil, true, fault.Errorf(fault.TooLarge, "module %s: inputs of %d bytes exceed its limit of %d bytes (a quarter of its memory limit, WASMGATE_GUEST_MEMORY_LIMIT)", in.m.name, len(enc), limit)
	}
	ptr, err := in.callI32(ctx, in.input, uint64(len(enc)))
	if err != nil {
		return nil, false, err
	}
	if ptr == 0 {
		return nil, false, fault.Errorf(fault.ModuleFault, "module %s could not provide an input buffer of %d bytes", in.m.name, len(enc))
	}
	if ptr%abi.Align != 0 {
		return nil, false, fault.Errorf(fault.ModuleFault, "module %s returned an input buffer at %#x, which is not %d-byte aligned", in.m.name, ptr, abi.Align)
	}
	if !in.mod.Memory().Write(ptr, enc) {
		return nil, false, fault.Errorf(fault.ModuleFault, "module %s: input buffer at %#x length %d is outside its memory", in.m.name, ptr, len(enc))
	}
	ct.lap(phaseCopyIn)
	status, err := in.callI32(ctx, in.run, uint64(ptr), uint64(len(enc)))
	if err != nil {
		return nil, false, err
	}
	ct.lap(phaseGuest)
	var msg string
	err = in.readOutput(ctx, func(b []byte) error {
		if status != abi.StatusOK {
			msg = clip(string(b))
			return nil
		}
		if ct != nil {
			ct.OutBytes += int64(len(b))
		}
		var derr error
		out, derr = abi.DecodeTensorListHeld(b, hc)
		if derr != nil {
			return fault.Errorf(fault.ModuleFault, "module %s returned a malformed tensor list: %w", in.m.name, derr)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	ct.lap(phaseCopyOut)
	switch status {
	case abi.StatusOK:
		return out, true, nil
	case abi.StatusInvalid:
		return nil, true, fault.Errorf(fault.Invalid, "%s", msg)
	default:
		// A module that says it failed may have left its state broken.
		return nil, false, fault.Errorf(fault.ModuleFault, "module %s failed: %s", in.m.name, msg)
	}
}

// callError turns an error from a guest call into a fault: the request's own
// deadline or cancellation, or else the module's fault.
func (m *Module) callError(ctx context.Context, fn string, err error, stdio *tailWriter) error {
	module := m.name
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fault.Errorf(fault.Timeout, "module %s: %s stopped at the request deadline", module, fn)
	case errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled):
		return fault.Errorf(fault.Canceled, "module %s: %s canceled", module, fn)
	}
	var oob *hostfuncs.OutOfBounds
	if errors.As(err, &oob) {
		return fault.Errorf(fault.ModuleFault, "module %s: %w", module, oob)
	}
	m.rt.log.Warn("guest call trapped", "module", m.name, "func", fn, "err", err, "guest_output", clip(stdio.String()))
	detail := ""
	if s := stdio.String(); s != "" {
		detail = "; guest output: " + clip(s)
	}
	return fault.Errorf(fault.ModuleFault, "module %s: %s trapped: %w%s", module, fn, firstLine(err), detail)
}

// firstLine drops wazero's wasm stack trace from an error message; the trace
// names guest internals a client cannot act on. The server log keeps it.
func firstLine(err error) error {
	s := err.Error()
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return fmt.Errorf("%s", s[:i])
		}
	}
	return err
}

// clip bounds a guest-supplied message before it reaches a client or a log.
func clip(s string) string {
	const max = 1024
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
