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
)

// Module is a compiled module that passed the ABI checks. It is immutable and
// shared by every pool that runs it.
type Module struct {
	name     string
	digest   string // hex sha256 of the .wasm bytes
	rt       *Runtime
	compiled wazero.CompiledModule
	desc     abi.Description
	start    []string // start functions to run on instantiation
	counts   wasmCounts
	// instanceBytes estimates the host memory one idle instance holds.
	instanceBytes int64
}

// Name is the module's name in the repository.
func (m *Module) Name() string { return m.name }

// Digest is the hex sha256 of the module's bytes.
func (m *Module) Digest() string { return m.digest }

// Description is what the module said of itself through wasmgate_describe.
func (m *Module) Description() abi.Description { return m.desc }

// InstanceBytes estimates the memory one instance of m holds.
func (m *Module) InstanceBytes() int64 { return m.instanceBytes }

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

// allowedImportModules are the import modules a guest may use. WASI is
// instantiated with no filesystem, environment or network behind it.
var allowedImportModules = []string{wasi_snapshot_preview1.ModuleName, hostfuncs.ModuleName}

// Compile compiles wasm, checks it against the guest ABI, and asks a probe
// instance for its description. Errors are fault.Invalid: the bytes, not the
// server, are at fault.
func (rt *Runtime) Compile(ctx context.Context, name string, wasm []byte) (*Module, error) {
	sum := sha256.Sum256(wasm)
	compiled, err := rt.r.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fault.Errorf(fault.Invalid, "module %s: not a valid WebAssembly module: %w", name, err)
	}
	m := &Module{name: name, digest: hex.EncodeToString(sum[:]), rt: rt, compiled: compiled}
	m.counts, _ = countSections(wasm)
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

// checkShape verifies imports and exports before any guest code runs.
func (m *Module) checkShape() error {
	for _, imp := range m.compiled.ImportedFunctions() {
		mod, fn, _ := imp.Import()
		if !slices.Contains(allowedImportModules, mod) {
			return fault.Errorf(fault.Invalid, "module %s imports %s.%s: only %s imports are allowed",
				m.name, mod, fn, strings.Join(allowedImportModules, " and "))
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
	inst, err := m.instantiate(ctx, hostfuncs.Caller{Module: m.name, Logger: m.rt.log})
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
	m.instanceBytes = inst.memoryBytes()
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
