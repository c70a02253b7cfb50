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
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wasmgate/wasmgate/gateway/builtin"
	"github.com/wasmgate/wasmgate/gateway/registry"
	"github.com/wasmgate/wasmgate/modules"
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
	stats   *stats

	started  atomic.Bool // the startup loads have finished
	draining atomic.Bool // shutdown has begun

	// bodies and responses recycle request and response buffers, so a
	// steady stream of requests allocates none.
	bodies    sync.Pool // *bytes.Buffer
	responses sync.Pool // *[]byte
}

// New builds a server from a validated configuration. It creates the Wasm
// runtime and registers the built-in models but loads nothing yet: Run does.
func New(ctx context.Context, cfg Config, version string, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rt, err := modules.NewRuntime(ctx, modules.Config{
		CacheDir:         cfg.CacheDir,
		MemoryLimitPages: cfg.GuestMemoryPages(),
		Logger:           log,
	})
	if err != nil {
		return nil, fmt.Errorf("start the Wasm runtime: %w", err)
	}
	poolSize := cfg.PoolSize
	if poolSize == 0 {
		poolSize = runtime.GOMAXPROCS(0)
	}
	s := &Server{cfg: cfg, version: version, log: log, rt: rt, stats: newStats()}
	s.bodies.New = func() any { return new(bytes.Buffer) }
	s.responses.New = func() any { b := make([]byte, 0, 4<<10); return &b }
	s.loader = newLoader(rt, builtin.Models(), poolSize, log)
	s.reg, err = registry.New(registry.Config[*model]{
		Budget: int64(cfg.MemoryBudget),
		Load:   s.loader.load,
		Logger: log,
	})
	if err != nil {
		_ = rt.Close(ctx)
		return nil, err
	}
	for _, m := range builtin.Models() {
		s.reg.Add(m.Name, m.Version)
	}
	s.echo = s.routes()
	return s, nil
}

// Handler is the server's HTTP handler (for tests that bring their own
// listener).
func (s *Server) Handler() http.Handler { return s.echo }

// Run listens on the configured address, loads the built-in models, and
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
		"compile_cache", s.cfg.CacheDir, "compile_cache_persistent", s.rt.PersistentCache())
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
	s.log.Info("wasmgate stopped")
	return err
}

// loadAll loads every built-in model at start, logging progress: the first
// start compiles the modules, which takes a while on a small machine.
func (s *Server) loadAll(ctx context.Context) {
	models := builtin.Models()
	for i, m := range models {
		if ctx.Err() != nil {
			return
		}
		s.log.Info("loading model", "model", m.Name, "version", m.Version, "n", i+1, "of", len(models))
		if err := s.reg.Load(ctx, m.Name); err != nil {
			s.log.Error("model failed to load; it stays unavailable", "model", m.Name, "err", err)
		}
	}
	s.started.Store(true)
	s.log.Info("ready", "models", len(models))
}

// Close releases what New created, for a server whose Run was never called.
func (s *Server) Close(ctx context.Context) {
	s.reg.Close(ctx)
	_ = s.rt.Close(ctx)
}
