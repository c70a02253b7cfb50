//go:build !wasip1

package sdktest

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/guest/sdk"
	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
	"github.com/wasmgate/wasmgate/tests/wasmgen"
)

// DefaultInlineBytes is the server's default inline limit (docs/ABI.md §6):
// Run sends tensors with more data than this by handle.
const DefaultInlineBytes = 1 << 20

// Host is an sdk.Host backed by the real host functions. Calls are
// serialised, as a guest makes them one at a time.
type Host struct {
	// InlineBytes is Run's inline limit; New sets DefaultInlineBytes.
	InlineBytes int

	caller hostfuncs.Caller
	mu     sync.Mutex
	mod    api.Module
	fns    map[string]api.Function
	call   *hostfuncs.Call
	top    uint32 // bump allocator in the bridge's memory, reset per host call
}

var i32, i64, f32 = wasmgen.I32, wasmgen.I64, wasmgen.F32

// sigs are the signatures of docs/ABI.md §5.3.
var sigs = map[string][2][]wasmgen.ValType{
	"log":             {{i32, i32, i32}, nil},
	"config":          {{i32, i32}, {i32}},
	"last_error":      {{i32, i32}, {i32}},
	"tensor_put":      {{i32, i32}, {i32}},
	"tensor_info":     {{i32, i32, i32}, {i32}},
	"tensor_read":     {{i32, i64, i32, i32}, {i64}},
	"tensor_free":     {{i32}, {i32}},
	"op":              {{i32, i32, i32, i32, i32, i32, i32, i32}, {i32}},
	"model_run":       {{i32, i32, i32, i32, i32, i32}, {i32}},
	"image_decode":    {{i32, i32, i32}, {i32}},
	"image_resize":    {{i32, i32, i32, i32}, {i32}},
	"image_normalize": {{i32, i32, f32, i32, i32}, {i32}},
}

// New starts a Host for caller and installs it with sdk.SetHost until tb
// ends. Its first call is already started.
func New(tb testing.TB, caller hostfuncs.Caller) *Host {
	tb.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	tb.Cleanup(func() { rt.Close(ctx) })
	if err := hostfuncs.Instantiate(ctx, rt); err != nil {
		tb.Fatal(err)
	}
	// The bridge imports every host function and exports a forwarder of
	// each, so the host functions see a real guest memory: this one.
	var m wasmgen.Module
	names := hostfuncs.Names()
	idx := map[string]uint32{}
	for _, n := range names {
		s, ok := sigs[n]
		if !ok {
			tb.Fatalf("sdktest: no signature for host function %s", n)
		}
		idx[n] = m.ImportFunc(hostfuncs.ModuleName, n, s[0], s[1])
	}
	for _, n := range names {
		s := sigs[n]
		var body [][]byte
		for i := range s[0] {
			body = append(body, wasmgen.LocalGet(uint32(i)))
		}
		body = append(body, wasmgen.Call(idx[n]))
		m.Export("x_"+n, m.Func(s[0], s[1], nil, body...))
	}
	m.Memory(1, 0)
	mod, err := rt.Instantiate(ctx, m.Bytes())
	if err != nil {
		tb.Fatal(err)
	}
	h := &Host{InlineBytes: DefaultInlineBytes, caller: caller, mod: mod, fns: map[string]api.Function{}}
	for _, n := range names {
		h.fns[n] = mod.ExportedFunction("x_" + n)
	}
	h.call = hostfuncs.NewCall(caller)
	prev := sdk.SetHost(h)
	tb.Cleanup(func() { sdk.SetHost(prev) })
	return h
}

// Call is the host side of the current call: its handle table and quota.
func (h *Host) Call() *hostfuncs.Call {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.call
}

// Reset ends every handle of the current call and starts a new one, as
// the server does for each wasmgate_run.
func (h *Host) Reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.call.Release()
	h.call = hostfuncs.NewCall(h.caller)
}

// Run runs the registered stage on in as the server runs a call: in a new
// call, with in encoded by the host codec (data larger than InlineBytes by
// handle), through sdk.Call, and the output decoded by the host codec,
// host-held tensors resolved. msg is the message of a status other than 0;
// err a failure of the host side (an output list the host rejects).
func (h *Host) Run(in ...tensor.Named) (status int32, msg string, out []tensor.Named, err error) {
	h.Reset()
	c := h.Call()
	defer h.Reset()
	list, err := abi.AppendTensorListHeld(nil, in, h.InlineBytes, c)
	if err != nil {
		return 0, "", nil, err
	}
	status, b := sdk.Call(nil, list)
	if status != sdk.StatusOK {
		return status, string(b), nil, nil
	}
	out, err = abi.DecodeTensorListHeld(b, c)
	if err != nil {
		return status, "", nil, fmt.Errorf("the host rejects the output list: %w", err)
	}
	return status, "", out, nil
}

// begin locks the bridge for one host call and resets its allocator.
func (h *Host) begin() {
	h.mu.Lock()
	h.top = 8 // never 0: a null pointer means "none"
}

func (h *Host) end() { h.mu.Unlock() }

// alloc reserves n bytes of bridge memory, 8-aligned, growing it as needed.
func (h *Host) alloc(n int) uint32 {
	p := (h.top + 7) &^ 7
	end := uint64(p) + uint64(n)
	if end > math.MaxUint32 {
		panic("sdktest: bridge memory exhausted")
	}
	mem := h.mod.Memory()
	if size := uint64(mem.Size()); end > size {
		if _, ok := mem.Grow(uint32((end - size + 65535) / 65536)); !ok {
			panic("sdktest: cannot grow bridge memory")
		}
	}
	h.top = uint32(end)
	return p
}

// put copies b into bridge memory.
func (h *Host) put(b []byte) (ptr, n uint64) {
	p := h.alloc(len(b))
	h.mod.Memory().Write(p, b)
	return uint64(p), uint64(len(b))
}

func (h *Host) handles(hs []sdk.Handle) uint64 {
	b := make([]byte, 4*len(hs))
	for i, x := range hs {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	p, _ := h.put(b)
	return p
}

func (h *Host) read(p uint32, dst []byte) {
	b, ok := h.mod.Memory().Read(p, uint32(len(dst)))
	if !ok {
		panic("sdktest: bridge read out of bounds")
	}
	copy(dst, b)
}

// invoke calls host function fn with args under the current call. A trap
// is a bug in the SDK or the bridge: it panics, which sdk.Call turns into
// status 2.
func (h *Host) invoke(fn string, args ...uint64) uint64 {
	res, err := h.fns[fn].Call(hostfuncs.WithCall(context.Background(), h.call), args...)
	if err != nil {
		panic(fmt.Sprintf("sdktest: host function %s trapped: %v", fn, err))
	}
	return res[0]
}

func i32res(v uint64) int32 { return int32(uint32(v)) }

// fill runs a (ptr, cap) function and copies its result into buf when it fit.
func (h *Host) fill(fn string, buf []byte, pre ...uint64) int32 {
	h.begin()
	defer h.end()
	p := h.alloc(len(buf))
	n := i32res(h.invoke(fn, append(pre, uint64(p), uint64(len(buf)))...))
	if n >= 0 && int(n) <= len(buf) {
		h.read(p, buf[:n])
	}
	return n
}

func (h *Host) Config(buf []byte) int32    { return h.fill("config", buf) }
func (h *Host) LastError(buf []byte) int32 { return h.fill("last_error", buf) }

func (h *Host) TensorInfo(x sdk.Handle, buf []byte) int32 {
	return h.fill("tensor_info", buf, uint64(x))
}

func (h *Host) TensorPut(list []byte) int32 {
	h.begin()
	defer h.end()
	p, n := h.put(list)
	return i32res(h.invoke("tensor_put", p, n))
}

func (h *Host) TensorRead(x sdk.Handle, off int64, buf []byte) int64 {
	h.begin()
	defer h.end()
	p := h.alloc(len(buf))
	k := int64(h.invoke("tensor_read", uint64(x), uint64(off), uint64(p), uint64(len(buf))))
	if k > 0 && k <= int64(len(buf)) {
		h.read(p, buf[:k])
	}
	return k
}

func (h *Host) TensorFree(x sdk.Handle) int32 {
	h.begin()
	defer h.end()
	return i32res(h.invoke("tensor_free", uint64(x)))
}

func (h *Host) Op(name string, attrs []byte, in, out []sdk.Handle) int32 {
	h.begin()
	defer h.end()
	np, nn := h.put([]byte(name))
	ap, an := h.put(attrs)
	ip := h.handles(in)
	op := h.alloc(4 * len(out))
	k := i32res(h.invoke("op", np, nn, ap, an, ip, uint64(len(in)), uint64(op), uint64(len(out))))
	h.readHandles(op, out, k)
	return k
}

func (h *Host) ModelRun(name string, in, out []sdk.Handle) int32 {
	h.begin()
	defer h.end()
	np, nn := h.put([]byte(name))
	ip := h.handles(in)
	op := h.alloc(4 * len(out))
	k := i32res(h.invoke("model_run", np, nn, ip, uint64(len(in)), uint64(op), uint64(len(out))))
	h.readHandles(op, out, k)
	return k
}

func (h *Host) readHandles(p uint32, out []sdk.Handle, k int32) {
	if k <= 0 {
		return
	}
	b := make([]byte, 4*min(int(k), len(out)))
	h.read(p, b)
	for i := range len(b) / 4 {
		out[i] = sdk.Handle(binary.LittleEndian.Uint32(b[4*i:]))
	}
}

func (h *Host) ImageDecode(b []byte, channels int32) int32 {
	h.begin()
	defer h.end()
	p, n := h.put(b)
	return i32res(h.invoke("image_decode", p, n, uint64(uint32(channels))))
}

func (h *Host) ImageResize(x sdk.Handle, height, width, filter int32) int32 {
	h.begin()
	defer h.end()
	return i32res(h.invoke("image_resize", uint64(x), uint64(uint32(height)), uint64(uint32(width)), uint64(uint32(filter))))
}

func (h *Host) ImageNormalize(x sdk.Handle, layout int32, scale float32, mean, std []float32) int32 {
	h.begin()
	defer h.end()
	floats := func(v []float32) uint64 {
		if v == nil {
			return 0
		}
		b := make([]byte, 4*len(v))
		for i, f := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
		}
		p, _ := h.put(b)
		return p
	}
	mp, sp := floats(mean), floats(std)
	return i32res(h.invoke("image_normalize", uint64(x), uint64(uint32(layout)), uint64(math.Float32bits(scale)), mp, sp))
}

var _ sdk.Host = (*Host)(nil)
