package hostfuncs

import (
	"context"
	"fmt"
	"log/slog"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/hostfuncs/abi"
)

// ModuleName is the import module name guests use for wasmgate host functions.
const ModuleName = abi.ImportModule

// MaxLogBytes caps one log message; longer messages are cut, so a guest
// cannot flood the server log with a single call.
const MaxLogBytes = 4 << 10

// Caller identifies the guest making a host call, so host functions can
// attribute what they do (log lines, later quotas) to a module and model.
type Caller struct {
	Module string // module name
	Model  string // model (and version) the call serves
	Logger *slog.Logger
}

type callerKey struct{}

// WithCaller returns a context that host functions called under it attribute
// to c. The modules layer sets it on every guest call.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Instantiate defines the "wasmgate" host module in r. It must run before any
// guest that imports it is instantiated.
func Instantiate(ctx context.Context, r wazero.Runtime) error {
	_, err := r.NewHostModuleBuilder(ModuleName).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostLog), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, nil).
		WithParameterNames("level", "ptr", "len").
		Export(abi.ImportLog).
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("instantiate host module %q: %w", ModuleName, err)
	}
	return nil
}

// OutOfBounds is the panic value of a host function given a pointer/length
// pair outside guest memory; wazero turns it into an error of the call.
type OutOfBounds struct {
	Func     string
	Ptr, Len uint32
}

func (e *OutOfBounds) Error() string {
	return fmt.Sprintf("host function %s: guest pointer %#x length %d is outside guest memory", e.Func, e.Ptr, e.Len)
}

func hostLog(ctx context.Context, m api.Module, stack []uint64) {
	level, ptr, n := int32(stack[0]), uint32(stack[1]), uint32(stack[2])
	truncated := false
	if n > MaxLogBytes {
		n, truncated = MaxLogBytes, true
	}
	view, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic(&OutOfBounds{Func: "log", Ptr: ptr, Len: uint32(stack[2])})
	}
	msg := string(view) // copy: the view dies with this call
	if !utf8.ValidString(msg) {
		msg = fmt.Sprintf("%q", msg)
	}
	if truncated {
		msg += " …(truncated)"
	}
	c := callerFrom(ctx)
	c.Logger.Log(ctx, guestLevel(level), msg, "module", c.Module, "model", c.Model, "source", "guest")
}

func guestLevel(l int32) slog.Level {
	switch {
	case l <= abi.LogDebug:
		return slog.LevelDebug
	case l == abi.LogInfo:
		return slog.LevelInfo
	case l == abi.LogWarn:
		return slog.LevelWarn
	}
	return slog.LevelError
}
