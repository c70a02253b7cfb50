package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wasmgate/wasmgate/gateway/auth"
	"github.com/wasmgate/wasmgate/gateway/registry"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/modules"
	"github.com/wasmgate/wasmgate/modules/store"
)

// Server is a running wasmgate: the HTTP front, the model registry and the
// Wasm runtime behind it.
type Server struct {
	cfg     Config
	version string
	log     *slog.Logger
	echo    *echo.Echo
	rt      *modules.Runtime
	loader  *loader
	reg     *registry.Registry[*model]
	keys    *auth.Keys
	store   *store.Store // nil when uploads are disabled (no API keys)
	stats   *stats
	// compute shares the cores between the models' engine runs: a lone
	// request spreads its operators over all of them, concurrent ones
	// split them.
	compute *kernels.Compute

	started  atomic.Bool // the startup loads have finished
	draining atomic.Bool // shutdown has begun

	// bodies and responses recycle request and response buffers, so a
	// steady stream of requests allocates none.
	bodies    sync.Pool // *bytes.Buffer
	responses sync.Pool // *[]byte

	// bulky holds one token per request with a large body (over
	// bulkyBodyBytes) while it is decoded, run and encoded: such requests
	// take turns on half the cores, so a burst of them leaves the other
	// half to everyone else's small requests.
	bulky chan struct{}

	// uploads serialises saving manifests, so version numbers and the
	// cycle check see one consistent repository.
	uploads sync.Mutex
}

// New builds a server from a validated configuration. It creates the Wasm
// runtime, reads the API keys, opens the upload store when keys exist, and
// registers the models it knows, but loads nothing yet: Run does.
func New(ctx context.Context, cfg Config, version string, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	keys, err := cfg.Keys()
	if err != nil {
		return nil, err
	}
	rt, err := modules.NewRuntime(ctx, modules.Config{
		CacheDir:       cfg.CacheDir,
		Limits:         modules.Limits{MemoryPages: cfg.GuestMemoryPages(), InitTimeout: cfg.InitTimeout},
		MaxModuleBytes: int(cfg.MaxModuleBytes),
		CompileTimeout: cfg.CompileTimeout,
		MaxExecutions:  cfg.MaxExecutions,
		// Needs modules.RunCompileChild at the start of main (or TestMain).
		IsolateCompiles: true,
		Logger:          log,
	})
	if err != nil {
		return nil, fmt.Errorf("start the Wasm runtime: %w", err)
	}
	poolSize := cfg.PoolSize
	if poolSize == 0 {
		poolSize = runtime.GOMAXPROCS(0)
	}
	s := &Server{cfg: cfg, version: version, log: log, rt: rt, keys: keys, stats: newStats(), compute: kernels.NewCompute(runtime.GOMAXPROCS(0))}
	s.bulky = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))
	s.bodies.New = func() any { return new(bytes.Buffer) }
	s.responses.New = func() any { b := make([]byte, 0, 4<<10); return &b }
	fail := func(err error) (*Server, error) {
		_ = rt.Close(ctx)
		s.compute.Close()
		return nil, err
	}
	if keys.Enabled() {
		if s.store, err = store.Open(cfg.DataDir); err != nil {
			return fail(fmt.Errorf("%sDATA_DIR: %w", EnvPrefix, err))
		}
	}
	if s.loader, err = newLoader(s, rt, poolSize, log); err != nil {
		return fail(err)
	}
	s.reg, err = registry.New(registry.Config[*model]{
		Budget: int64(cfg.MemoryBudget),
		Load:   s.loader.load,
		Logger: log,
	})
	if err != nil {
		return fail(err)
	}
	for name, def := range s.loader.builtins {
		s.reg.Add(name, strconv.Itoa(def.saved.Version))
	}
	if err := s.registerStored(); err != nil {
		s.reg.Close(ctx)
		return fail(err)
	}
	s.echo = s.routes()
	return s, nil
}

// Handler is the server's HTTP handler (for tests that bring their own
// listener).
func (s *Server) Handler() http.Handler { return s.echo }

// Run listens on the configured address, loads the models it knows, and
// serves until ctx is done; then it drains in-flight requests, unloads every
// model and closes the runtime. ready, if not nil, receives the address the
// server listens on.
func (s *Server) Run(ctx context.Context, ready func(addr net.Addr)) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.log.Info("wasmgate listening", "addr", ln.Addr().String(), "version", s.version,
		"compile_cache", s.cfg.CacheDir, "compile_cache_persistent", s.rt.PersistentCache(),
		"api_keys", s.keys.Enabled(), "uploads", s.store != nil)
	if ready != nil {
		ready(ln.Addr())
	}

	var wg sync.WaitGroup
	serveErr := make(chan error, 1)
	wg.Add(2)
	go func() { // owned by Run; ends when srv shuts down
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr <- err
		}
	}()
	loadCtx, stopLoading := context.WithCancel(ctx)
	go func() { // owned by Run; ends when the startup loads do
		defer wg.Done()
		s.loadAll(loadCtx)
	}()

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	stopLoading()
	s.draining.Store(true)
	s.log.Info("shutting down: draining requests", "timeout", s.cfg.ShutdownTimeout)
	shCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if e := srv.Shutdown(shCtx); e != nil {
		s.log.Warn("shutdown: requests still running at the deadline", "err", e)
	}
	wg.Wait()
	s.reg.Close(shCtx)
	if e := s.rt.Close(shCtx); e != nil {
		s.log.Warn("shutdown: closing the Wasm runtime", "err", e)
	}
	s.compute.Close()
	s.log.Info("wasmgate stopped")
	return err
}

// loadAll loads every known model at start, built-in and saved alike,
// logging progress: the first start compiles the modules, which takes a
// while on a small machine.
func (s *Server) loadAll(ctx context.Context) {
	entries := s.reg.Index()
	for i, e := range entries {
		if ctx.Err() != nil {
			return
		}
		s.log.Info("loading model", "model", e.Name, "version", e.Version, "n", i+1, "of", len(entries))
		if err := s.reg.Load(ctx, e.Name); err != nil {
			s.log.Error("model failed to load; it stays unavailable", "model", e.Name, "err", err)
		}
	}
	s.started.Store(true)
	s.log.Info("ready", "models", len(entries))
}

// Close releases what New created, for a server whose Run was never called.
func (s *Server) Close(ctx context.Context) {
	s.reg.Close(ctx)
	_ = s.rt.Close(ctx)
	s.compute.Close()
}
