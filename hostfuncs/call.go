package hostfuncs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// ModelRunner runs a whole model (its pipeline) on behalf of a guest. The
// gateway implements it: it knows which models exist, which ones the calling
// model may use, and how deep calls nest. Inputs bind by position; a nil
// input is an optional one left out.
type ModelRunner interface {
	RunModel(ctx context.Context, name string, in []*tensor.Tensor) ([]*tensor.Tensor, error)
}

// DefaultQuotaBytes is the host memory one guest call may create through
// host functions unless its model says otherwise.
const DefaultQuotaBytes = 256 << 20

// Caller identifies who a guest call works for and what it may use. A pool
// holds one for all calls of its instances.
type Caller struct {
	Module string // module name
	Model  string // model (and version) the call serves
	Tenant string
	Logger *slog.Logger
	// Config is the module's configuration JSON, returned by the config
	// host function ("{}" when empty).
	Config []byte
	// Runner runs other models for model_run; nil refuses every call.
	Runner ModelRunner
	// QuotaBytes caps the host memory the call creates; 0 means
	// DefaultQuotaBytes.
	QuotaBytes int64
}

// Call is the host side of one guest call: the tensors it holds by handle,
// the memory they use, and the last error a host function reported. Its
// handles end with Release.
type Call struct {
	Caller
	mu      sync.Mutex // a guest calls one host function at a time, but a model it runs may finish late
	handles []*tensor.Tensor
	sizes   []int64
	used    int64
	lastErr string
	logged  int // bytes logged by this call
	muted   bool
	moved   Transfers
}

// MaxLogBytesPerCall caps what one guest call may write to the server log
// in all; past it, one line says so and the rest is dropped, so a guest
// cannot flood the log however often it calls log.
const MaxLogBytesPerCall = 64 << 10

// NewCall starts the host side of a guest call for c.
func NewCall(c Caller) *Call {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.QuotaBytes <= 0 {
		c.QuotaBytes = DefaultQuotaBytes
	}
	return &Call{Caller: c}
}

type callKey struct{}

// WithCall returns a context under which host functions act for c.
func WithCall(ctx context.Context, c *Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

// callFrom returns the call a host function serves. Calls made outside a
// guest call (the description probe) get an empty one with no rights.
func callFrom(ctx context.Context) *Call {
	if c, ok := ctx.Value(callKey{}).(*Call); ok {
		return c
	}
	return NewCall(Caller{QuotaBytes: 1})
}

// Hold takes t into the handle table without charging the quota: the host
// uses it for tensors it hands the guest (large inputs).
func (c *Call) Hold(t *tensor.Tensor) (uint32, error) { return c.add(t, 0) }

// hold takes a tensor a host function made for the guest, charging its
// bytes to the call's quota.
func (c *Call) hold(t *tensor.Tensor) (uint32, error) { return c.add(t, int64(t.ByteSize())) }

func (c *Call) add(t *tensor.Tensor, charge int64) (uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used+charge > c.QuotaBytes {
		return 0, fault.Errorf(fault.TooLarge, "host memory quota of %d bytes for this call exceeded (%d in use, %d more asked)", c.QuotaBytes, c.used, charge)
	}
	if len(c.handles) >= maxHandles {
		return 0, fault.Errorf(fault.TooLarge, "more than %d live handles in one call", maxHandles)
	}
	c.used += charge
	c.handles = append(c.handles, t)
	c.sizes = append(c.sizes, charge)
	return uint32(len(c.handles)), nil
}

// maxHandles bounds the handle table, so a guest looping over tensor_put
// with tiny tensors cannot grow it without limit.
const maxHandles = 1 << 16

// Resolve returns the tensor behind handle h.
func (c *Call) Resolve(h uint32) (*tensor.Tensor, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h == 0 || int(h) > len(c.handles) || c.handles[h-1] == nil {
		return nil, fault.Errorf(fault.NotFound, "no tensor with handle %d", h)
	}
	return c.handles[h-1], nil
}

// free ends handle h, returning its bytes to the quota.
func (c *Call) free(h uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h == 0 || int(h) > len(c.handles) || c.handles[h-1] == nil {
		return fault.Errorf(fault.NotFound, "no tensor with handle %d", h)
	}
	c.handles[h-1] = nil
	c.used -= c.sizes[h-1]
	return nil
}

// Release ends every handle of the call. Tensors the guest returned by
// handle stay valid: the caller already took them.
func (c *Call) Release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handles, c.sizes, c.used, c.lastErr = nil, nil, 0, ""
	c.moved = Transfers{}
}

// UsedBytes is the host memory the call's guest holds through handles.
func (c *Call) UsedBytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// fail records err as the last error and returns its ABI error code.
func (c *Call) fail(fn string, err error) int32 {
	code := errorCode(err)
	c.mu.Lock()
	c.lastErr = fmt.Sprintf("%s: %v", fn, err)
	c.mu.Unlock()
	return code
}

// Error codes of docs/ABI.md §5.1.
const (
	EINVAL       int32 = -1
	ENOTFOUND    int32 = -2
	EQUOTA       int32 = -3
	EUNSUPPORTED int32 = -4
	EFAILED      int32 = -5
	EDENIED      int32 = -6
	ETIMEOUT     int32 = -7
)

func errorCode(err error) int32 {
	if isOpFailed(err) {
		return EFAILED
	}
	switch fault.KindOf(err) {
	case fault.NotFound:
		return ENOTFOUND
	case fault.TooLarge:
		return EQUOTA
	case fault.Unsupported:
		return EUNSUPPORTED
	case fault.Forbidden, fault.Unauthenticated:
		return EDENIED
	case fault.Timeout, fault.Canceled:
		return ETIMEOUT
	case fault.Invalid:
		return EINVAL
	}
	return EFAILED
}
