package modules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/wasinn"
)

// Config sets up a Runtime.
type Config struct {
	// CacheDir holds the native code compiled from modules, so a restart
	// skips compilation. Empty, or a directory that cannot be written, means
	// an in-memory cache only.
	CacheDir string
	// Limits are the defaults of every pool; a pool may set its own.
	Limits Limits
	// MaxModuleBytes caps the size of a module's binary.
	MaxModuleBytes int
	// MaxFunctions caps the functions a module defines, checked before it
	// is compiled, so a module cannot make compilation take forever.
	MaxFunctions int
	// CompileWorkers bounds how many modules compile at once; CompileTimeout
	// is how long a caller waits for one compilation.
	CompileWorkers int
	CompileTimeout time.Duration
	// MaxExecutions caps guest calls running at once in the process; each
	// tenant gets a fair share of them.
	MaxExecutions int
	// IsolateCompiles compiles untrusted modules in a child process that is
	// killed at CompileTimeout (see RunCompileChild). It needs a usable
	// CacheDir; without one, compiles stay in process.
	IsolateCompiles bool
	Logger          *slog.Logger
}

// Defaults of Config.
const (
	DefaultMaxModuleBytes = 32 << 20
	DefaultMaxFunctions   = 100_000
	DefaultCompileTimeout = 2 * time.Minute
)

// Runtime owns the wazero runtimes modules run in: one per distinct memory
// limit (wazero sets the limit per runtime), all sharing one compilation
// cache, so a module compiled for one limit compiles from cache for another.
type Runtime struct {
	cache    wazero.CompilationCache
	cfg      Config
	log      *slog.Logger
	cached   bool          // whether compiled code persists on disk
	compiles chan struct{} // a token per compilation allowed to run
	exec     *Limiter

	mu       sync.Mutex
	runtimes map[uint32]wazero.Runtime // by memory limit in pages
	closed   bool
}

// NewRuntime prepares the compilation cache. If cfg.CacheDir cannot be used
// it logs a warning and runs with an in-memory cache.
func NewRuntime(ctx context.Context, cfg Config) (*Runtime, error) {
	cfg.Limits = cfg.Limits.withDefaults(Limits{})
	if cfg.MaxModuleBytes <= 0 {
		cfg.MaxModuleBytes = DefaultMaxModuleBytes
	}
	if cfg.MaxFunctions <= 0 {
		cfg.MaxFunctions = DefaultMaxFunctions
	}
	if cfg.CompileWorkers <= 0 {
		cfg.CompileWorkers = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if cfg.CompileTimeout <= 0 {
		cfg.CompileTimeout = DefaultCompileTimeout
	}
	if cfg.MaxExecutions <= 0 {
		// Guest code is CPU-bound: more calls at once than cores only
		// queue on the scheduler and stretch everyone's latency.
		cfg.MaxExecutions = runtime.GOMAXPROCS(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	rt := &Runtime{
		cfg: cfg, log: cfg.Logger,
		compiles: make(chan struct{}, cfg.CompileWorkers),
		exec:     NewLimiter(cfg.MaxExecutions),
		runtimes: map[uint32]wazero.Runtime{},
	}
	if cfg.CacheDir != "" {
		if err := ensurePrivateDir(cfg.CacheDir); err != nil {
			rt.log.Warn("compile cache unusable; modules will be compiled at every start", "dir", cfg.CacheDir, "err", err)
		} else if c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir); err != nil {
			rt.log.Warn("compile cache unusable; modules will be compiled at every start", "dir", cfg.CacheDir, "err", err)
		} else {
			rt.cache, rt.cached = c, true
		}
	}
	if rt.cache == nil {
		rt.cache = wazero.NewCompilationCache()
		if cfg.IsolateCompiles {
			rt.log.Warn("without a compile cache on disk, uploaded modules compile inside the server: one built to compile slowly holds a compile worker until it finishes")
		}
	}
	// The default limit's runtime exists from the start, so a broken
	// environment fails here rather than at the first request.
	if _, err := rt.runtimeFor(ctx, cfg.Limits.MemoryPages); err != nil {
		_ = rt.cache.Close(ctx)
		return nil, err
	}
	return rt, nil
}

// runtimeFor returns the wazero runtime of a memory limit, creating it with
// WASI and the wasmgate host functions defined.
func (rt *Runtime) runtimeFor(ctx context.Context, pages uint32) (wazero.Runtime, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return nil, errors.New("the Wasm runtime is closed")
	}
	if r, ok := rt.runtimes[pages]; ok {
		return r, nil
	}
	r := wazero.NewRuntimeWithConfig(ctx, runtimeConfig(rt.cache, pages))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		_ = r.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	if err := hostfuncs.Instantiate(ctx, r); err != nil {
		_ = r.Close(ctx)
		return nil, err
	}
	if err := wasinn.Instantiate(ctx, r); err != nil {
		_ = r.Close(ctx)
		return nil, err
	}
	rt.runtimes[pages] = r
	return r, nil
}

// runtimeConfig is the one wazero configuration every runtime (and every
// compile child) uses.
func runtimeConfig(cache wazero.CompilationCache, pages uint32) wazero.RuntimeConfig {
	return wazero.NewRuntimeConfigCompiler().
		WithCompilationCache(cache).
		WithMemoryLimitPages(pages).
		// Without this a guest that never calls out can neither be timed
		// out nor let a garbage collection finish (DESIGN.md §4).
		WithCloseOnContextDone(true)
}

// PersistentCache reports whether compiled code is kept on disk.
func (rt *Runtime) PersistentCache() bool { return rt.cached }

// Limits are the runtime's default limits.
func (rt *Runtime) Limits() Limits { return rt.cfg.Limits }

// Executions is the process-wide limiter of concurrent guest calls.
func (rt *Runtime) Executions() *Limiter { return rt.exec }

// Close releases every module and instance of every runtime.
func (rt *Runtime) Close(ctx context.Context) error {
	rt.mu.Lock()
	rt.closed = true
	rs := rt.runtimes
	rt.runtimes = nil
	rt.mu.Unlock()
	var errs []error
	for _, r := range rs {
		errs = append(errs, r.Close(ctx))
	}
	return errors.Join(append(errs, rt.cache.Close(ctx))...)
}

// ensurePrivateDir creates dir with mode 0700 (tightening a directory we own)
// and proves it writable. The compile cache holds native code that the
// process will execute, so nobody else may write it.
func ensurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("directory is accessible to other users and cannot be made private: %w", err)
		}
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(filepath.Clean(name))
}
