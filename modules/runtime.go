package modules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wasmgate/wasmgate/hostfuncs"
)

// Config sets up a Runtime.
type Config struct {
	// CacheDir holds the native code compiled from modules, so a restart
	// skips compilation. Empty, or a directory that cannot be written, means
	// an in-memory cache only.
	CacheDir string
	// MemoryLimitPages caps each instance's linear memory (64 KiB pages).
	MemoryLimitPages uint32
	// MaxOutputBytes caps what one guest call may return.
	MaxOutputBytes int
	Logger         *slog.Logger
}

// DefaultMemoryLimitPages is 64 MiB of linear memory per instance.
const DefaultMemoryLimitPages = 1024

// DefaultMaxOutputBytes caps a guest call's output.
const DefaultMaxOutputBytes = 64 << 20

// Runtime owns the wazero runtime every module runs in.
type Runtime struct {
	r      wazero.Runtime
	cache  wazero.CompilationCache
	cfg    Config
	log    *slog.Logger
	cached bool // whether compiled code persists on disk
}

// NewRuntime creates the wazero runtime with WASI and the wasmgate host
// functions defined. If cfg.CacheDir cannot be used it logs a warning and
// runs with an in-memory cache.
func NewRuntime(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.MemoryLimitPages == 0 {
		cfg.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if cfg.MaxOutputBytes <= 0 {
		cfg.MaxOutputBytes = DefaultMaxOutputBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	rt := &Runtime{cfg: cfg, log: cfg.Logger}
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
	}
	rc := wazero.NewRuntimeConfigCompiler().
		WithCompilationCache(rt.cache).
		WithMemoryLimitPages(cfg.MemoryLimitPages).
		// Without this a guest that never calls out can neither be timed
		// out nor let a garbage collection finish (DESIGN.md §4).
		WithCloseOnContextDone(true)
	rt.r = wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt.r); err != nil {
		_ = rt.r.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	if err := hostfuncs.Instantiate(ctx, rt.r); err != nil {
		_ = rt.r.Close(ctx)
		return nil, err
	}
	return rt, nil
}

// maxInputBytes caps one call's encoded inputs. A guest's linear memory only
// grows and its heap cannot move objects, so an input near the memory limit
// kills the instance; a quarter of the limit leaves room to decode it.
func (rt *Runtime) maxInputBytes() int {
	return int(min(int64(rt.cfg.MemoryLimitPages)*65536/4, 1<<30))
}

// PersistentCache reports whether compiled code is kept on disk.
func (rt *Runtime) PersistentCache() bool { return rt.cached }

// Close releases every module and instance of the runtime.
func (rt *Runtime) Close(ctx context.Context) error {
	return errors.Join(rt.r.Close(ctx), rt.cache.Close(ctx))
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
