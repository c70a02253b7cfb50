package modules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/wasinn"
)

// Module is a compiled module that passed the ABI checks. It is immutable and
// shared by every pool that runs it.
type Module struct {
	name     string
	digest   string // hex sha256 of the .wasm bytes
	rt       *Runtime
	r        wazero.Runtime // the runtime of its memory limit
	pages    uint32         // that memory limit
	compiled wazero.CompiledModule
	desc     abi.Description
	start    []string // start functions to run on instantiation
	counts   wasmCounts
}

// Name is the module's name in the repository.
func (m *Module) Name() string { return m.name }

// Digest is the hex sha256 of the module's bytes.
func (m *Module) Digest() string { return m.digest }

// Description is what the module said of itself through wasmgate_describe.
func (m *Module) Description() abi.Description { return m.desc }

// Close releases the compiled code. Pools of m must be closed first.
func (m *Module) Close(ctx context.Context) error { return m.compiled.Close(ctx) }

// exportSig is the signature an ABI export must have.
type exportSig struct {
	params, results []api.ValueType
}

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

var requiredExports = map[string]exportSig{
	abi.ExportABIVersion: {nil, []api.ValueType{i32}},
	abi.ExportInput:      {[]api.ValueType{i32}, []api.ValueType{i32}},
	abi.ExportDescribe:   {nil, []api.ValueType{i32}},
	abi.ExportRun:        {[]api.ValueType{i32, i32}, []api.ValueType{i32}},
	abi.ExportOutput:     {nil, []api.ValueType{i64}},
}

// allowedWASI are the WASI preview 1 functions a guest may import: what Go's
// and wasi-libc's runtimes call at start-up and for stdout/stderr
// (docs/ABI.md §8). The runtime gives them no filesystem, environment or
// network; path_open, sockets and the rest are refused at upload.
var allowedWASI = []string{
	"args_get", "args_sizes_get", "environ_get", "environ_sizes_get", "clock_res_get", "clock_time_get",
	"fd_write", "fd_close", "fd_fdstat_get", "fd_fdstat_set_flags", "fd_prestat_get", "fd_prestat_dir_name",
	"fd_seek", "fd_read", "poll_oneoff", "proc_exit", "random_get", "sched_yield",
}

// importAllowed reports whether a guest may import module.name.
func importAllowed(module, name string) bool {
	switch module {
	case wasi_snapshot_preview1.ModuleName:
		return slices.Contains(allowedWASI, name)
	case hostfuncs.ModuleName:
		return slices.Contains(hostfuncs.Names(), name)
	case wasinn.ModuleName:
		return slices.Contains(wasinn.Names(), name)
	}
	return false
}

// Compile compiles wasm for instances with the given memory limit (0: the
// default), checks it against the guest ABI, and asks a probe instance for
// its description. Errors about the module are fault.Invalid: the bytes,
// not the server, are at fault.
func (rt *Runtime) Compile(ctx context.Context, name string, wasm []byte, memoryPages uint32, opts ...CompileOption) (*Module, error) {
	var co compileOptions
	for _, o := range opts {
		o(&co)
	}
	if memoryPages == 0 {
		memoryPages = rt.cfg.Limits.MemoryPages
	}
	if len(wasm) > rt.cfg.MaxModuleBytes {
		return nil, fault.Errorf(fault.TooLarge, "module %s is %d bytes; the limit is %d", name, len(wasm), rt.cfg.MaxModuleBytes)
	}
	counts, err := readCounts(wasm)
	if err != nil {
		return nil, fault.Errorf(fault.Invalid, "module %s: not a valid WebAssembly module: %w", name, err)
	}
	if counts.functions > rt.cfg.MaxFunctions {
		return nil, fault.Errorf(fault.Invalid, "module %s defines %d functions; the limit is %d", name, counts.functions, rt.cfg.MaxFunctions)
	}
	if counts.memMin > memoryPages {
		return nil, fault.Errorf(fault.Invalid, "module %s starts with %d pages of memory (%d MiB), more than its limit of %d pages",
			name, counts.memMin, uint64(counts.memMin)*64/1024, memoryPages)
	}
	r, err := rt.runtimeFor(ctx, memoryPages)
	if err != nil {
		return nil, err
	}
	compiled, err := rt.compile(ctx, name, r, wasm, co.untrusted)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(wasm)
	m := &Module{name: name, digest: hex.EncodeToString(sum[:]), rt: rt, r: r, pages: memoryPages, compiled: compiled, counts: counts}
	if err := m.checkShape(); err != nil {
		_ = compiled.Close(ctx)
		return nil, err
	}
	if err := m.probe(ctx); err != nil {
		_ = compiled.Close(ctx)
		return nil, err
	}
	return m, nil
}

// CompileOption adjusts a compilation.
type CompileOption func(*compileOptions)

type compileOptions struct{ untrusted bool }

// Untrusted marks a module that anyone could have uploaded: it is compiled
// in a child process when the runtime isolates compiles.
func Untrusted() CompileOption { return func(o *compileOptions) { o.untrusted = true } }

// compile runs one compilation on a bounded set of workers, within
// CompileTimeout. An untrusted module compiles in a child process that is
// killed at the timeout (RunCompileChild); otherwise a compilation that
// outlasts the timeout still holds its worker until it ends, since wazero
// cannot stop it.
func (rt *Runtime) compile(ctx context.Context, name string, r wazero.Runtime, wasm []byte, untrusted bool) (wazero.CompiledModule, error) {
	ctx, cancel := context.WithTimeout(ctx, rt.cfg.CompileTimeout)
	defer cancel()
	select {
	case rt.compiles <- struct{}{}:
	case <-ctx.Done():
		return nil, fault.Errorf(fault.Overloaded, "module %s: no compile worker free within %v", name, rt.cfg.CompileTimeout)
	}
	if untrusted && rt.cfg.IsolateCompiles && rt.cached {
		err := rt.compileIsolated(ctx, name, wasm)
		<-rt.compiles
		if err != nil {
			return nil, err
		}
		// Now a cache hit: loading what the child compiled.
		c, err := r.CompileModule(ctx, wasm)
		if err != nil {
			return nil, fault.Errorf(fault.Invalid, "module %s: not a valid WebAssembly module: %w", name, err)
		}
		return c, nil
	}
	type result struct {
		c   wazero.CompiledModule
		err error
	}
	done := make(chan result, 1)
	go func() { // holds a compile token; ends when the compilation does
		defer func() { <-rt.compiles }()
		c, err := r.CompileModule(context.WithoutCancel(ctx), wasm)
		done <- result{c, err}
	}()
	select {
	case res := <-done:
		if res.err != nil {
			return nil, fault.Errorf(fault.Invalid, "module %s: not a valid WebAssembly module: %w", name, res.err)
		}
		return res.c, nil
	case <-ctx.Done():
		go func() { // releases what the abandoned compilation makes; ends with it
			if res := <-done; res.c != nil {
				_ = res.c.Close(context.Background())
			}
		}()
		return nil, fault.Errorf(fault.Invalid, "module %s did not compile within %v", name, rt.cfg.CompileTimeout)
	}
}

// checkShape verifies imports and exports before any guest code runs.
func (m *Module) checkShape() error {
	for _, imp := range m.compiled.ImportedFunctions() {
		mod, fn, _ := imp.Import()
		if !importAllowed(mod, fn) {
			return fault.Errorf(fault.Invalid, "module %s imports %s.%s, which wasmgate does not provide to guests (docs/ABI.md §8 lists what it does)",
				m.name, mod, fn)
		}
	}
	if len(m.compiled.ImportedMemories()) > 0 {
		return fault.Errorf(fault.Invalid, "module %s imports a memory; it must define and export its own", m.name)
	}
	if _, ok := m.compiled.ExportedMemories()["memory"]; !ok {
		return fault.Errorf(fault.Invalid, "module %s does not export its memory as \"memory\"", m.name)
	}
	exports := m.compiled.ExportedFunctions()
	names := make([]string, 0, len(requiredExports))
	for n := range requiredExports {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		want := requiredExports[n]
		def, ok := exports[n]
		if !ok {
			return fault.Errorf(fault.Invalid, "module %s does not export %s (wasmgate ABI v%d, see docs/ABI.md)", m.name, n, abi.Version)
		}
		if !slices.Equal(def.ParamTypes(), want.params) || !slices.Equal(def.ResultTypes(), want.results) {
			return fault.Errorf(fault.Invalid, "module %s exports %s with signature %s, want %s",
				m.name, n, sigString(def.ParamTypes(), def.ResultTypes()), sigString(want.params, want.results))
		}
	}
	if def, ok := exports["_initialize"]; ok {
		if len(def.ParamTypes()) != 0 || len(def.ResultTypes()) != 0 {
			return fault.Errorf(fault.Invalid, "module %s exports _initialize with a signature other than () -> ()", m.name)
		}
		m.start = []string{"_initialize"}
	}
	return nil
}

func sigString(params, results []api.ValueType) string {
	name := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(s, ", ") + ")"
	}
	return name(params) + " -> " + name(results)
}

// probe instantiates m once to check its ABI version, read its description
// and measure what an instance costs.
func (m *Module) probe(ctx context.Context) error {
	inst, err := m.instantiate(ctx, hostfuncs.Caller{Module: m.name, Logger: m.rt.log}, m.rt.cfg.Limits)
	if err != nil {
		return fault.Wrap(fault.Invalid, err)
	}
	defer inst.close(ctx)
	v, err := inst.callI32(ctx, inst.abiVersion)
	if err != nil {
		return fault.Errorf(fault.Invalid, "module %s: %s failed: %w", m.name, abi.ExportABIVersion, err)
	}
	if v != abi.Version {
		return fault.Errorf(fault.Invalid, "module %s speaks wasmgate ABI v%d; this server speaks v%d", m.name, v, abi.Version)
	}
	raw, err := inst.describe(ctx)
	if err != nil {
		return fault.Wrap(fault.Invalid, err)
	}
	desc, err := abi.DecodeDescription(raw)
	if err != nil {
		return fault.Errorf(fault.Invalid, "module %s: bad description: %w", m.name, err)
	}
	m.desc = desc
	return nil
}

// overheadBytes estimates wazero's per-instance bookkeeping beside linear
// memory: a slice header per data segment (a Go module has 20k to 40k of
// them) and a fixed part. TestInstanceMemoryEstimate holds it to the heap
// growth of real instances.
func (m *Module) overheadBytes() int64 {
	return int64(m.counts.dataSegments)*dataSegmentBytes + instanceFixedBytes
}

const (
	dataSegmentBytes   = 24
	instanceFixedBytes = 236 << 10
)

func (m *Module) String() string { return fmt.Sprintf("%s@sha256:%.12s", m.name, m.digest) }
