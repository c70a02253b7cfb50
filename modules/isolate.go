package modules

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/tetratelabs/wazero"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

// compileChildEnv starts a process as a compile child; its value is the
// compile cache directory to fill.
const compileChildEnv = "WASMGATE_COMPILE_CHILD"

// RunCompileChild makes this process a compile child and exits, if it was
// started as one; otherwise it returns at once. Programs that start a
// Runtime with isolated compiles (main, and TestMain of packages that start
// servers) call it first.
//
// Compiling an untrusted module can take unbounded time and memory: a 52 KB
// module of branches over many live locals took 5 s here, four times the
// size 26 s. wazero cannot stop a compilation, but a process can be killed.
// So an untrusted module is compiled in a child process that writes the
// compile cache and is killed at the compile timeout; the server then loads
// the result from the cache.
func RunCompileChild() {
	dir := os.Getenv(compileChildEnv)
	if dir == "" {
		return
	}
	if err := compileChild(dir, os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func compileChild(dir string, in io.Reader) error {
	ctx := context.Background()
	wasm, err := io.ReadAll(io.LimitReader(in, 1<<30))
	if err != nil {
		return err
	}
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return fmt.Errorf("compile cache: %w", err)
	}
	defer cache.Close(ctx)
	// The runtime configuration must match the server's: the compiled code
	// depends on it (the deadline checks of WithCloseOnContextDone).
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig(cache, DefaultMemoryPages))
	defer r.Close(ctx)
	_, err = r.CompileModule(ctx, wasm)
	return err
}

// compileIsolated compiles wasm in a child process into the disk cache,
// within ctx's deadline. After it succeeds, compiling in this process is a
// cache hit.
func (rt *Runtime) compileIsolated(ctx context.Context, name string, wasm []byte) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("module %s: cannot start a compile process: %w", name, err)
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), compileChildEnv+"="+rt.cfg.CacheDir)
	cmd.Stdin = bytes.NewReader(wasm)
	var stderr tailWriter
	stderr.max = 4 << 10
	cmd.Stderr = &stderr
	err = cmd.Run()
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fault.Errorf(fault.Invalid, "module %s did not compile within %v", name, rt.cfg.CompileTimeout)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return fault.Errorf(fault.Invalid, "module %s: not a valid WebAssembly module: %s", name, strings.TrimSpace(stderr.String()))
	}
	return fmt.Errorf("module %s: compile process failed: %w: %s", name, err, strings.TrimSpace(stderr.String()))
}
