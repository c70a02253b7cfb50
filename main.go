// Command wasmgate is an inference gateway: it serves ML models over the
// KServe V2 / Open Inference Protocol, runs user pre- and post-processing as
// sandboxed WebAssembly, and runs the numeric work natively.
//
// Usage:
//
//	wasmgate serve [--addr HOST:PORT] [--cache-dir DIR]
//	wasmgate version
//
// Configuration comes from WASMGATE_* environment variables (docs/CONFIG.md);
// flags override them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/wasmgate/wasmgate/gateway"
	"github.com/wasmgate/wasmgate/modules"
)

func main() {
	// A process this one started to compile an uploaded module in
	// isolation does that and exits here.
	modules.RunCompileChild()
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

const usage = `wasmgate: an inference gateway with sandboxed WebAssembly pre- and post-processing

Usage:
  wasmgate serve [--addr HOST:PORT] [--cache-dir DIR]   serve the built-in models over HTTP
  wasmgate version                                      print the version

Configuration is read from WASMGATE_* environment variables; see docs/CONFIG.md.
`

func run(args, environ []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], environ, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "wasmgate", version())
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "wasmgate: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func serve(args, environ []string, stderr io.Writer) int {
	cfg, err := gateway.LoadConfig(environ)
	if err != nil {
		fmt.Fprintln(stderr, "wasmgate:", err)
		return 2
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "address to listen on, host:port (overrides WASMGATE_ADDR)")
	fs.StringVar(&cfg.CacheDir, "cache-dir", cfg.CacheDir, "directory for compiled modules (overrides WASMGATE_CACHE_DIR)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wasmgate serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "wasmgate:", err)
		return 2
	}
	log := newLogger(cfg, stderr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := gateway.New(ctx, cfg, version(), log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if err := srv.Run(ctx, nil); err != nil {
		log.Error("server failed", "err", err)
		return 1
	}
	return 0
}

func newLogger(cfg gateway.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated already
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// version is the module version the binary was built from ("(devel)" for a
// build from a checkout), plus the VCS revision when the build recorded one.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}
