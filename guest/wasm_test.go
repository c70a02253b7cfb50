//go:build !wasip1

package guest_test

// These tests run the built modules (Go and C) in wazero with the real host
// functions (hostfuncs.Instantiate), talking to them only through the host
// codec, as the server does.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmgate/wasmgate/guest"
	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
	"github.com/wasmgate/wasmgate/hostfuncs/wasinn"
)

// memoryLimitPages is the ABI's default memory limit (docs/ABI.md §6).
const memoryLimitPages = 1024

// inlineBytes is the server's default inline limit (docs/ABI.md §6).
const inlineBytes = 1 << 20

var env struct {
	once     sync.Once
	err      error
	rt       wazero.Runtime
	mu       sync.Mutex
	compiled map[string]wazero.CompiledModule
}

// runtime is one wazero runtime configured as the server's, with WASI, the
// wasmgate host functions and wasi-nn, shared by the tests.
func runtime(t testing.TB) wazero.Runtime {
	t.Helper()
	env.once.Do(func() {
		ctx := context.Background()
		env.rt = wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
			WithCloseOnContextDone(true).
			WithMemoryLimitPages(memoryLimitPages))
		wasi_snapshot_preview1.MustInstantiate(ctx, env.rt)
		env.err = errors.Join(hostfuncs.Instantiate(ctx, env.rt), wasinn.Instantiate(ctx, env.rt))
		env.compiled = map[string]wazero.CompiledModule{}
	})
	if env.err != nil {
		t.Fatal(env.err)
	}
	return env.rt
}

// compiled compiles a built module (as guest.Module names it) once.
func compiled(t testing.TB, name string) wazero.CompiledModule {
	t.Helper()
	rt := runtime(t)
	env.mu.Lock()
	defer env.mu.Unlock()
	if c, ok := env.compiled[name]; ok {
		return c
	}
	b, ok := guest.Module(name)
	if !ok {
		t.Fatalf("no built module %q", name)
	}
	c, err := rt.CompileModule(context.Background(), b)
	if err != nil {
		t.Fatalf("compiling %s: %v", name, err)
	}
	env.compiled[name] = c
	return c
}

type instance struct {
	name   string
	mod    api.Module
	nn     *wasinn.Instance // its wasi-nn state, as the server keeps one per instance
	stderr bytes.Buffer
}

func newInstance(t testing.TB, name string) *instance {
	t.Helper()
	g := &instance{name: name, nn: wasinn.NewInstance()}
	mod, err := runtime(t).InstantiateModule(context.Background(), compiled(t, name),
		wazero.NewModuleConfig().WithName("").WithStartFunctions(abi.ExportInitialize).
			WithStderr(&g.stderr).WithStdout(&g.stderr))
	if err != nil {
		t.Fatalf("instantiating %s: %v", name, err)
	}
	t.Cleanup(func() {
		g.nn.Release()
		mod.Close(context.Background())
	})
	g.mod = mod
	return g
}

func (g *instance) call(ctx context.Context, fn string, args ...uint64) (uint64, error) {
	f := g.mod.ExportedFunction(fn)
	if f == nil {
		return 0, fmt.Errorf("%s does not export %s", g.name, fn)
	}
	res, err := f.Call(ctx, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w (guest output: %s)", fn, err, g.stderr.String())
	}
	return res[0], nil
}

func (g *instance) output(ctx context.Context) ([]byte, error) {
	r, err := g.call(ctx, abi.ExportOutput)
	if err != nil {
		return nil, err
	}
	ptr, n := abi.SplitOutput(r)
	v, ok := g.mod.Memory().Read(ptr, n)
	if !ok {
		return nil, fmt.Errorf("output (%d, %d) is outside memory", ptr, n)
	}
	return bytes.Clone(v), nil
}

// describe returns the module's description.
func (g *instance) describe(t testing.TB) abi.Description {
	t.Helper()
	ctx := context.Background()
	v, err := g.call(ctx, abi.ExportABIVersion)
	if err != nil || v != abi.Version {
		t.Fatalf("%s: wasmgate_abi_version = %d, %v", g.name, v, err)
	}
	status, err := g.call(ctx, abi.ExportDescribe)
	if err != nil {
		t.Fatal(err)
	}
	out, err := g.output(ctx)
	if err != nil || status != abi.StatusOK {
		t.Fatalf("%s: describe: status %d, %v: %s", g.name, status, err, out)
	}
	d, err := abi.DecodeDescription(out)
	if err != nil {
		t.Fatalf("%s: description %s: %v", g.name, out, err)
	}
	return d
}

// run makes one call as the server does: a new host call, the inputs
// encoded by the host codec (data over inline bytes by handle), the output
// decoded with host-held tensors resolved.
func (g *instance) run(t testing.TB, caller hostfuncs.Caller, inline int, in ...tensor.Named) (status uint32, msg string, out []tensor.Named) {
	t.Helper()
	hc := hostfuncs.NewCall(caller)
	defer hc.Release()
	ctx, cancel := context.WithTimeout(wasinn.WithCall(hostfuncs.WithCall(context.Background(), hc), hc, g.nn), time.Minute)
	defer cancel()
	list, err := abi.AppendTensorListHeld(nil, in, inline, hc)
	if err != nil {
		t.Fatal(err)
	}
	p, err := g.call(ctx, abi.ExportInput, uint64(len(list)))
	if err != nil || p == 0 || p%abi.Align != 0 {
		t.Fatalf("%s: wasmgate_input = %d, %v", g.name, p, err)
	}
	if !g.mod.Memory().Write(uint32(p), list) {
		t.Fatalf("%s: input buffer outside memory", g.name)
	}
	s, err := g.call(ctx, abi.ExportRun, p, uint64(len(list)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := g.output(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s != abi.StatusOK {
		return uint32(s), string(b), nil
	}
	out, err = abi.DecodeTensorListHeld(b, hc)
	if err != nil {
		t.Fatalf("%s: the host rejects the output list: %v", g.name, err)
	}
	return uint32(s), "", out
}

func named(name string, t *tensor.Tensor) tensor.Named { return tensor.Named{Name: name, Tensor: t} }

// abiImports reads the imports docs/ABI.md allows: the wasmgate functions
// of the table in §5.3 and the WASI list of §8.
func abiImports(t *testing.T) (wasmgate, wasi []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "ABI.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	section := func(start, end string) string {
		i := strings.Index(doc, start)
		if i < 0 {
			t.Fatalf("docs/ABI.md has no section %q", start)
		}
		s := doc[i:]
		if j := strings.Index(s[1:], end); j >= 0 {
			s = s[:1+j]
		}
		return s
	}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| `\\(").FindAllStringSubmatch(section("### 5.3", "\n## "), -1) {
		wasmgate = append(wasmgate, m[1])
	}
	// The WASI list is the longest run of `name`, `name`, ... in §8.
	var list string
	for _, m := range regexp.MustCompile("`[a-z_0-9]+`(?:,\\s*`[a-z_0-9]+`)+").FindAllString(section("## 8.", "\n## "), -1) {
		if len(m) > len(list) {
			list = m
		}
	}
	for _, m := range regexp.MustCompile("`([a-z_0-9]+)`").FindAllStringSubmatch(list, -1) {
		wasi = append(wasi, m[1])
	}
	if len(wasmgate) == 0 || len(wasi) == 0 {
		t.Fatalf("found no imports in docs/ABI.md (wasmgate %v, wasi %v)", wasmgate, wasi)
	}
	return wasmgate, wasi
}
