package wasinn_test

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/wasinn"
	"github.com/wasmgate/wasmgate/tests/wasmgen"
)

// witxParams is the number of i32 parameters of each function, from the
// core-module ABI of wasi-nn.witx and WasmEdge's extensions (the research
// notes, §1.2); every function returns an i32 errno.
var witxParams = map[string]int{
	"load":                     5, // builder_array_ptr, builder_array_len, encoding, target, *graph
	"load_by_name":             3, // name_ptr, name_len, *graph
	"load_by_name_with_config": 5, // name_ptr, name_len, config_ptr, config_len, *graph
	"init_execution_context":   2, // graph, *context
	"set_input":                3, // context, index, *tensor
	"compute":                  1, // context
	"get_output":               5, // context, index, out_ptr, out_max, *bytes_written
	"unload":                   1, // graph
}

// pages is the forwarding guest's memory: 16 pages.
const (
	pages   = 16
	memSize = pages * 65536
	oob     = uint32(memSize - 2) // a pointer whose 4-byte span leaves memory
)

var env struct {
	once      sync.Once
	err       error
	rt        wazero.Runtime
	forwarder wazero.CompiledModule // imports every function, memory
	noMemory  wazero.CompiledModule // imports every function, no memory
}

// forwarder builds a module that imports every wasi-nn function and exports
// a twin of each ("x_" + name) that forwards its arguments, so tests call
// the host functions across the real wazero boundary with memory they
// control.
func forwarder(withMemory bool) []byte {
	var m wasmgen.Module
	names := wasinn.Names()
	idx := map[string]uint32{}
	sig := func(n string) []wasmgen.ValType {
		p := make([]wasmgen.ValType, witxParams[n])
		for i := range p {
			p[i] = wasmgen.I32
		}
		return p
	}
	for _, n := range names {
		idx[n] = m.ImportFunc(wasinn.ModuleName, n, sig(n), []wasmgen.ValType{wasmgen.I32})
	}
	for _, n := range names {
		var body [][]byte
		for i := range witxParams[n] {
			body = append(body, wasmgen.LocalGet(uint32(i)))
		}
		body = append(body, wasmgen.Call(idx[n]))
		m.Export("x_"+n, m.Func(sig(n), []wasmgen.ValType{wasmgen.I32}, nil, body...))
	}
	if withMemory {
		m.Memory(pages, pages)
	}
	return m.Bytes()
}

func runtime(t testing.TB) {
	t.Helper()
	env.once.Do(func() {
		ctx := context.Background()
		env.rt = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
		if env.err = wasinn.Instantiate(ctx, env.rt); env.err != nil {
			return
		}
		if env.forwarder, env.err = env.rt.CompileModule(ctx, forwarder(true)); env.err != nil {
			return
		}
		env.noMemory, env.err = env.rt.CompileModule(ctx, forwarder(false))
	})
	if env.err != nil {
		t.Fatal(env.err)
	}
}

// harness is one instance of the forwarding guest, with a bump allocator
// over its memory and the host call its functions run under.
type harness struct {
	t    testing.TB
	mod  api.Module
	mem  api.Memory
	call *hostfuncs.Call
	inst *wasinn.Instance
	next uint32
}

func newHarness(t testing.TB, caller hostfuncs.Caller) *harness {
	t.Helper()
	runtime(t)
	mod, err := env.rt.InstantiateModule(context.Background(), env.forwarder, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	inst := wasinn.NewInstance()
	t.Cleanup(func() {
		inst.Release()
		mod.Close(context.Background())
	})
	return &harness{t: t, mod: mod, mem: mod.Memory(), call: hostfuncs.NewCall(caller), inst: inst, next: 64}
}

// nn calls wasi-nn function name through the guest.
func (h *harness) nn(name string, args ...uint32) wasinn.Errno {
	h.t.Helper()
	return h.nnCtx(wasinn.WithCall(context.Background(), h.call, h.inst), name, args...)
}

func (h *harness) nnCtx(ctx context.Context, name string, args ...uint32) wasinn.Errno {
	h.t.Helper()
	if len(args) != witxParams[name] {
		h.t.Fatalf("%s takes %d arguments, got %d", name, witxParams[name], len(args))
	}
	a := make([]uint64, len(args))
	for i, v := range args {
		a[i] = uint64(v)
	}
	res, err := h.mod.ExportedFunction("x_"+name).Call(ctx, a...)
	if err != nil {
		h.t.Fatalf("%s trapped: %v", name, err)
	}
	return wasinn.Errno(uint32(res[0]))
}

// alloc reserves n bytes, 8-aligned.
func (h *harness) alloc(n int) uint32 {
	p := h.next
	h.next = (h.next + uint32(n) + 7) &^ 7
	if h.next > memSize {
		h.t.Fatal("harness memory exhausted")
	}
	return p
}

func (h *harness) put(b []byte) uint32 {
	p := h.alloc(len(b))
	if !h.mem.Write(p, b) {
		h.t.Fatal("write outside memory")
	}
	return p
}

func (h *harness) str(s string) (ptr, n uint32) { return h.put([]byte(s)), uint32(len(s)) }

func (h *harness) u32(p uint32) uint32 {
	v, ok := h.mem.ReadUint32Le(p)
	if !ok {
		h.t.Fatal("read outside memory")
	}
	return v
}

func (h *harness) bytes(p, n uint32) []byte {
	b, ok := h.mem.Read(p, n)
	if !ok {
		h.t.Fatal("read outside memory")
	}
	return append([]byte(nil), b...)
}

// builders writes a graph_builder_array: {u32 ptr, u32 len} per builder.
func (h *harness) builders(bs ...[]byte) (ptr, n uint32) {
	arr := make([]byte, 0, 8*len(bs))
	for _, b := range bs {
		arr = binary.LittleEndian.AppendUint32(arr, h.put(b))
		arr = binary.LittleEndian.AppendUint32(arr, uint32(len(b)))
	}
	if len(arr) == 0 {
		return h.alloc(8), 0
	}
	return h.put(arr), uint32(len(bs))
}

// tensor writes a witx tensor record (20 bytes: dims ptr, dims len, type as
// a u8 tag with zero padding, data ptr, data len) and returns its address.
func (h *harness) tensor(dims []uint32, typ uint8, data []byte) uint32 {
	d := make([]byte, 0, 4*len(dims))
	for _, v := range dims {
		d = binary.LittleEndian.AppendUint32(d, v)
	}
	dp := h.alloc(len(d))
	h.mem.Write(dp, d)
	return h.record(dp, uint32(len(dims)), uint32(typ), h.put(data), uint32(len(data)))
}

func (h *harness) record(dimsPtr, rank, typ, dataPtr, dataLen uint32) uint32 {
	rec := binary.LittleEndian.AppendUint32(nil, dimsPtr)
	rec = binary.LittleEndian.AppendUint32(rec, rank)
	rec = binary.LittleEndian.AppendUint32(rec, typ)
	rec = binary.LittleEndian.AppendUint32(rec, dataPtr)
	rec = binary.LittleEndian.AppendUint32(rec, dataLen)
	return h.put(rec)
}

// load loads ONNX bytes and returns the graph handle; it fails the test
// unless load succeeds.
func (h *harness) load(model []byte) uint32 {
	h.t.Helper()
	arr, n := h.builders(model)
	out := h.alloc(4)
	if e := h.nn("load", arr, n, wasinn.EncodingONNX, wasinn.TargetCPU, out); e != wasinn.Success {
		h.t.Fatalf("load: %v", e)
	}
	return h.u32(out)
}

func (h *harness) loadByName(name string) (uint32, wasinn.Errno) {
	h.t.Helper()
	p, n := h.str(name)
	out := h.alloc(4)
	e := h.nn("load_by_name", p, n, out)
	return h.u32(out), e
}

func (h *harness) initCtx(g uint32) uint32 {
	h.t.Helper()
	out := h.alloc(4)
	if e := h.nn("init_execution_context", g, out); e != wasinn.Success {
		h.t.Fatalf("init_execution_context: %v", e)
	}
	return h.u32(out)
}

func (h *harness) must(e wasinn.Errno, what string) {
	h.t.Helper()
	if e != wasinn.Success {
		h.t.Fatalf("%s: %v", what, e)
	}
}

// getOutput reads output index into a buffer of size bytes.
func (h *harness) getOutput(c, index, size uint32) ([]byte, wasinn.Errno) {
	h.t.Helper()
	buf, written := h.alloc(int(size)), h.alloc(4)
	h.mem.WriteUint32Le(written, 0xdeadbeef)
	e := h.nn("get_output", c, index, buf, size, written)
	if e != wasinn.Success {
		if w := h.u32(written); w != 0xdeadbeef {
			h.t.Fatalf("get_output failed with %v but wrote bytes_written %d", e, w)
		}
		return nil, e
	}
	return h.bytes(buf, h.u32(written)), e
}
