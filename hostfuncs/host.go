package hostfuncs

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// ModuleName is the import module name guests use for wasmgate host functions.
const ModuleName = abi.ImportModule

// MaxLogBytes caps one log message; longer messages are cut, so a guest
// cannot flood the server log with a single call.
const MaxLogBytes = 4 << 10

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
	f32 = api.ValueTypeF32
)

// hostFunc is one import of the wasmgate module.
type hostFunc struct {
	name            string
	fn              api.GoModuleFunc
	params, results []api.ValueType
	paramNames      []string
}

var hostFuncs = []hostFunc{
	{"log", hostLog, []api.ValueType{i32, i32, i32}, nil, []string{"level", "ptr", "len"}},
	{"config", hostConfig, []api.ValueType{i32, i32}, []api.ValueType{i32}, []string{"ptr", "cap"}},
	{"last_error", hostLastError, []api.ValueType{i32, i32}, []api.ValueType{i32}, []string{"ptr", "cap"}},
	{"tensor_put", hostTensorPut, []api.ValueType{i32, i32}, []api.ValueType{i32}, []string{"ptr", "len"}},
	{"tensor_info", hostTensorInfo, []api.ValueType{i32, i32, i32}, []api.ValueType{i32}, []string{"handle", "ptr", "cap"}},
	{"tensor_read", hostTensorRead, []api.ValueType{i32, i64, i32, i32}, []api.ValueType{i64}, []string{"handle", "offset", "ptr", "len"}},
	{"tensor_free", hostTensorFree, []api.ValueType{i32}, []api.ValueType{i32}, []string{"handle"}},
	{"op", hostOp, []api.ValueType{i32, i32, i32, i32, i32, i32, i32, i32}, []api.ValueType{i32},
		[]string{"name_ptr", "name_len", "attrs_ptr", "attrs_len", "in_ptr", "n_in", "out_ptr", "n_out"}},
	{"model_run", hostModelRun, []api.ValueType{i32, i32, i32, i32, i32, i32}, []api.ValueType{i32},
		[]string{"name_ptr", "name_len", "in_ptr", "n_in", "out_ptr", "n_out"}},
	{"image_decode", hostImageDecode, []api.ValueType{i32, i32, i32}, []api.ValueType{i32}, []string{"ptr", "len", "channels"}},
	{"image_resize", hostImageResize, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, []string{"handle", "height", "width", "filter"}},
	{"image_normalize", hostImageNormalize, []api.ValueType{i32, i32, f32, i32, i32}, []api.ValueType{i32}, []string{"handle", "layout", "scale", "mean_ptr", "std_ptr"}},
}

// Signatures gives each host function's parameter and result types, as
// docs/ABI.md §5.3 lists them.
func Signatures() map[string][2][]api.ValueType {
	out := make(map[string][2][]api.ValueType, len(hostFuncs))
	for _, f := range hostFuncs {
		out[f.name] = [2][]api.ValueType{f.params, f.results}
	}
	return out
}

// Names lists the wasmgate host functions a guest may import.
func Names() []string {
	names := make([]string, len(hostFuncs))
	for i, f := range hostFuncs {
		names[i] = f.name
	}
	return names
}

// Instantiate defines the "wasmgate" host module in r. It must run before any
// guest that imports it is instantiated.
func Instantiate(ctx context.Context, r wazero.Runtime) error {
	b := r.NewHostModuleBuilder(ModuleName)
	for _, f := range hostFuncs {
		b.NewFunctionBuilder().
			WithGoModuleFunction(f.fn, f.params, f.results).
			WithParameterNames(f.paramNames...).
			Export(f.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
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

// view returns guest memory [ptr, ptr+n) or traps the call. The view is
// valid only until the host function returns.
func view(m api.Module, fn string, ptr, n uint32) []byte {
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic(&OutOfBounds{Func: fn, Ptr: ptr, Len: n})
	}
	return b
}

// fill implements the (ptr, cap) -> needed convention: it writes b only if
// it fits.
func fill(m api.Module, fn string, ptr, capacity uint32, b []byte) int32 {
	if len(b) > math.MaxInt32 {
		return EQUOTA
	}
	if uint32(len(b)) <= capacity {
		copy(view(m, fn, ptr, uint32(len(b))), b)
	}
	return int32(len(b))
}

func hostLog(ctx context.Context, m api.Module, stack []uint64) {
	level, ptr, n := int32(stack[0]), uint32(stack[1]), uint32(stack[2])
	truncated := false
	if n > MaxLogBytes {
		n, truncated = MaxLogBytes, true
	}
	msg := string(view(m, "log", ptr, n)) // copy: the view dies with this call
	if !utf8.ValidString(msg) {
		msg = fmt.Sprintf("%q", msg)
	}
	if truncated {
		msg += " …(truncated)"
	}
	c := callFrom(ctx)
	c.mu.Lock()
	over := c.logged+len(msg) > MaxLogBytesPerCall
	first := over && !c.muted
	c.muted = c.muted || over
	if !over {
		c.logged += len(msg)
	}
	c.mu.Unlock()
	switch {
	case first:
		c.Logger.Warn("guest log limit reached; dropping its further messages in this call", "limit_bytes", MaxLogBytesPerCall,
			"module", c.Module, "model", c.Model, "tenant", c.Tenant, "source", "guest")
	case !over:
		c.Logger.Log(ctx, guestLevel(level), msg, "module", c.Module, "model", c.Model, "tenant", c.Tenant, "source", "guest")
	}
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

func hostConfig(ctx context.Context, m api.Module, stack []uint64) {
	cfg := callFrom(ctx).Config
	if len(cfg) == 0 {
		cfg = []byte("{}")
	}
	stack[0] = uint64(uint32(fill(m, "config", uint32(stack[0]), uint32(stack[1]), cfg)))
}

func hostLastError(ctx context.Context, m api.Module, stack []uint64) {
	c := callFrom(ctx)
	c.mu.Lock()
	msg := c.lastErr
	c.mu.Unlock()
	stack[0] = uint64(uint32(fill(m, "last_error", uint32(stack[0]), uint32(stack[1]), []byte(msg))))
}

// ret stores an i32 result (a handle, count or error code).
func ret(stack []uint64, v int32) { stack[0] = uint64(uint32(v)) }

// handleOrFail holds t for the guest, or reports why not.
func (c *Call) handleOrFail(fn string, t *tensor.Tensor) int32 {
	h, err := c.hold(t)
	if err != nil {
		return c.fail(fn, err)
	}
	return int32(h)
}

func hostTensorPut(ctx context.Context, m api.Module, stack []uint64) {
	c := callFrom(ctx)
	raw := view(m, "tensor_put", uint32(stack[0]), uint32(stack[1]))
	// The list is at least as large as its tensor: refuse what cannot fit
	// before copying it, so a guest hammering a full quota costs no memory.
	if left := c.QuotaBytes - c.UsedBytes(); int64(len(raw)) > left+4096 {
		ret(stack, c.fail("tensor_put", fault.Errorf(fault.TooLarge, "a %d-byte tensor list exceeds the %d bytes left of the call's quota", len(raw), left)))
		return
	}
	list, err := abi.DecodeTensorList(raw)
	if err == nil && len(list) != 1 {
		err = fmt.Errorf("the list holds %d tensors, tensor_put takes exactly 1", len(list))
	}
	if err != nil {
		ret(stack, c.fail("tensor_put", invalid(err)))
		return
	}
	c.countPut(len(raw))
	ret(stack, c.handleOrFail("tensor_put", list[0].Tensor))
}

func hostTensorInfo(ctx context.Context, m api.Module, stack []uint64) {
	c := callFrom(ctx)
	t, err := c.Resolve(uint32(stack[0]))
	if err != nil {
		ret(stack, c.fail("tensor_info", err))
		return
	}
	b := make([]byte, 0, 8+8*len(t.Shape))
	b = binary.LittleEndian.AppendUint32(b, uint32(t.DType))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(t.Shape)))
	for _, d := range t.Shape {
		b = binary.LittleEndian.AppendUint64(b, uint64(d))
	}
	ret(stack, fill(m, "tensor_info", uint32(stack[1]), uint32(stack[2]), b))
}

func hostTensorRead(ctx context.Context, m api.Module, stack []uint64) {
	c := callFrom(ctx)
	h, off, ptr, n := uint32(stack[0]), int64(stack[1]), uint32(stack[2]), uint32(stack[3])
	t, err := c.Resolve(h)
	if err != nil {
		stack[0] = uint64(int64(c.fail("tensor_read", err)))
		return
	}
	data := t.Data
	if t.DType == tensor.Bytes {
		data = appendStrings(nil, t.Strings)
	}
	if off < 0 || off > int64(len(data)) {
		stack[0] = uint64(int64(c.fail("tensor_read", invalid(fmt.Errorf("offset %d is outside the tensor's %d bytes", off, len(data))))))
		return
	}
	k := copy(view(m, "tensor_read", ptr, n), data[off:])
	c.countRead(k)
	stack[0] = uint64(int64(k))
}

// appendStrings encodes BYTES elements as docs/ABI.md §2 does.
func appendStrings(dst []byte, strs [][]byte) []byte {
	for _, s := range strs {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

func hostTensorFree(ctx context.Context, m api.Module, stack []uint64) {
	c := callFrom(ctx)
	if err := c.free(uint32(stack[0])); err != nil {
		ret(stack, c.fail("tensor_free", err))
		return
	}
	ret(stack, 0)
}

// handlesIn reads n u32 handles at ptr and resolves them; handle 0 is an
// omitted input (nil).
func (c *Call) handlesIn(m api.Module, fn string, ptr, n uint32) ([]*tensor.Tensor, error) {
	if n > maxOpArgs {
		return nil, invalid(fmt.Errorf("%d inputs exceed the maximum of %d", n, maxOpArgs))
	}
	raw := view(m, fn, ptr, 4*n)
	in := make([]*tensor.Tensor, n)
	for i := range in {
		h := binary.LittleEndian.Uint32(raw[4*i:])
		if h == 0 {
			continue
		}
		t, err := c.Resolve(h)
		if err != nil {
			return nil, err
		}
		in[i] = t
	}
	return in, nil
}

// handlesOut holds outs for the guest and writes up to n handles at ptr.
// It returns the number of outputs, or an error code.
func (c *Call) handlesOut(m api.Module, fn string, ptr, n uint32, outs []*tensor.Tensor) int32 {
	if n > maxOpArgs {
		return c.fail(fn, invalid(fmt.Errorf("%d outputs exceed the maximum of %d", n, maxOpArgs)))
	}
	dst := view(m, fn, ptr, 4*n)
	for i, t := range outs {
		if i >= int(n) {
			break
		}
		h, err := c.hold(t)
		if err != nil {
			return c.fail(fn, err)
		}
		binary.LittleEndian.PutUint32(dst[4*i:], h)
	}
	return int32(len(outs))
}

// maxOpArgs bounds the input and output lists of op and model_run.
const maxOpArgs = 1024

func hostModelRun(ctx context.Context, m api.Module, stack []uint64) {
	c := callFrom(ctx)
	const fn = "model_run"
	namePtr, nameLen, inPtr, nIn, outPtr, nOut := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3]), uint32(stack[4]), uint32(stack[5])
	if nameLen > 256 {
		ret(stack, c.fail(fn, invalid(fmt.Errorf("model name of %d bytes is too long", nameLen))))
		return
	}
	name := string(view(m, fn, namePtr, nameLen))
	in, err := c.handlesIn(m, fn, inPtr, nIn)
	if err != nil {
		ret(stack, c.fail(fn, err))
		return
	}
	if c.Runner == nil {
		ret(stack, c.fail(fn, deniedf("this module may not run other models")))
		return
	}
	outs, err := c.Runner.RunModel(ctx, name, in)
	if err != nil {
		ret(stack, c.fail(fn, ranFailed(err)))
		return
	}
	ret(stack, c.handlesOut(m, fn, outPtr, nOut, outs))
}
