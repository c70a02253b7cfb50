package gateway

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/wasmgate/wasmgate/gateway/auth"
)

// EnvPrefix starts the name of every environment variable wasmgate reads.
const EnvPrefix = "WASMGATE_"

// Config is everything `wasmgate serve` can be told. Each field comes from
// the environment variable EnvPrefix+its env tag; command-line flags override
// some of them. docs/CONFIG.md lists them for users.
type Config struct {
	Addr             string        `env:"ADDR" envDefault:":8000"`
	CacheDir         string        `env:"CACHE_DIR"`
	MemoryBudget     ByteSize      `env:"MEMORY_BUDGET" envDefault:"2GiB"`
	MaxBodyBytes     ByteSize      `env:"MAX_BODY_BYTES" envDefault:"64MiB"`
	RequestTimeout   time.Duration `env:"REQUEST_TIMEOUT" envDefault:"30s"`
	PoolSize         int           `env:"POOL_SIZE"`
	GuestMemoryLimit ByteSize      `env:"GUEST_MEMORY_LIMIT" envDefault:"64MiB"`
	ShutdownTimeout  time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"30s"`
	LogLevel         string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat        string        `env:"LOG_FORMAT" envDefault:"text"`
	// API keys, inline (entries separated by ';') or in a file; see
	// docs/AUTH.md. Without any, upload and admin routes are disabled.
	APIKeys     string `env:"API_KEYS"`
	APIKeysFile string `env:"API_KEYS_FILE"`
	// DataDir keeps uploaded modules and models; it is only created when
	// API keys are configured (uploads need them).
	DataDir        string        `env:"DATA_DIR"`
	MaxModuleBytes ByteSize      `env:"MAX_MODULE_BYTES" envDefault:"32MiB"`
	CompileTimeout time.Duration `env:"COMPILE_TIMEOUT" envDefault:"2m"`
	InitTimeout    time.Duration `env:"INIT_TIMEOUT" envDefault:"10s"`
	MaxExecutions  int           `env:"MAX_EXECUTIONS"`
}

// LoadConfig reads the configuration from environ (KEY=VALUE pairs, as
// os.Environ returns them) and fills defaults. It does not validate.
func LoadConfig(environ []string) (Config, error) {
	envs := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			envs[k] = v
		}
	}
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Prefix: EnvPrefix, Environment: envs})
	if err != nil {
		return Config{}, explainEnvError(err)
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = DefaultCacheDir()
	}
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir()
	}
	return cfg, nil
}

// DefaultDataDir is where uploads are kept when WASMGATE_DATA_DIR is not
// set: $XDG_DATA_HOME/wasmgate, else ~/.local/share/wasmgate.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "wasmgate")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "wasmgate")
	}
	return filepath.Join(os.TempDir(), "wasmgate-data-"+strconv.Itoa(os.Getuid()))
}

// explainEnvError names the environment variable behind each value that
// failed to parse; the library names the Go field instead.
func explainEnvError(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	var errs []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := reflect.TypeFor[Config]().FieldByName(pe.Name); ok {
				errs = append(errs, fmt.Errorf("%s%s: %w", EnvPrefix, f.Tag.Get("env"), pe.Err))
				continue
			}
		}
		errs = append(errs, e)
	}
	return fmt.Errorf("invalid configuration:\n  %w", joinIndented(errs))
}

// joinIndented joins errors one per line, indented under a heading.
func joinIndented(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "\n  "))
}

// DefaultCacheDir is where compiled modules are cached when
// WASMGATE_CACHE_DIR is not set: under the user's cache directory, or the
// system temp directory if the user has none.
func DefaultCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = filepath.Join(os.TempDir(), "wasmgate-"+strconv.Itoa(os.Getuid()))
	}
	return filepath.Join(base, "wasmgate", "compile")
}

// Validate reports every invalid setting at once, each named by its
// environment variable.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", EnvPrefix, name, fmt.Sprintf(format, a...)))
	}
	if host, port, err := net.SplitHostPort(c.Addr); err != nil {
		bad("ADDR", "%q is not host:port (e.g. :8000 or 127.0.0.1:8000): %v", c.Addr, err)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("ADDR", "port %q is not a number from 0 to 65535", port)
	} else if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		bad("ADDR", "host %q is neither an IP address nor a host name", host)
	}
	if c.CacheDir != "" && !filepath.IsAbs(c.CacheDir) {
		bad("CACHE_DIR", "%q must be an absolute path", c.CacheDir)
	}
	if c.MemoryBudget < 16<<20 {
		bad("MEMORY_BUDGET", "%v is too small to hold a model (at least 16MiB)", c.MemoryBudget)
	}
	if c.MaxBodyBytes < 1<<10 {
		bad("MAX_BODY_BYTES", "%v is too small (at least 1KiB)", c.MaxBodyBytes)
	}
	if c.RequestTimeout <= 0 {
		bad("REQUEST_TIMEOUT", "must be positive, got %v", c.RequestTimeout)
	}
	if c.PoolSize < 0 || c.PoolSize > 1024 {
		bad("POOL_SIZE", "must be 0 (one per CPU) to 1024, got %d", c.PoolSize)
	}
	if c.GuestMemoryLimit < 4<<20 || c.GuestMemoryLimit > 4<<30 {
		bad("GUEST_MEMORY_LIMIT", "must be from 4MiB to 4GiB, got %v", c.GuestMemoryLimit)
	}
	if c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT", "must be positive, got %v", c.ShutdownTimeout)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("LOG_FORMAT", "%q is not one of text, json", c.LogFormat)
	}
	if c.APIKeys != "" && c.APIKeysFile != "" {
		bad("API_KEYS", "give keys inline or in WASMGATE_API_KEYS_FILE, not both")
	}
	if c.DataDir != "" && !filepath.IsAbs(c.DataDir) {
		bad("DATA_DIR", "%q must be an absolute path", c.DataDir)
	}
	if c.MaxModuleBytes < 1<<10 || c.MaxModuleBytes > 1<<30 {
		bad("MAX_MODULE_BYTES", "must be from 1KiB to 1GiB, got %v", c.MaxModuleBytes)
	}
	if c.CompileTimeout <= 0 {
		bad("COMPILE_TIMEOUT", "must be positive, got %v", c.CompileTimeout)
	}
	if c.MaxExecutions < 0 {
		bad("MAX_EXECUTIONS", "must be 0 (one per CPU) or more, got %d", c.MaxExecutions)
	}
	if c.InitTimeout <= 0 || c.InitTimeout > time.Minute {
		bad("INIT_TIMEOUT", "must be positive and at most 1m, got %v", c.InitTimeout)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration:\n  %w", joinIndented(errs))
	}
	return nil
}

func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
	}
	return true
}

// Keys reads the configured API keys; none configured is an empty set.
func (c Config) Keys() (*auth.Keys, error) {
	text := c.APIKeys
	if c.APIKeysFile != "" {
		fi, err := os.Stat(c.APIKeysFile)
		if err != nil {
			return nil, fmt.Errorf("%sAPI_KEYS_FILE: %w", EnvPrefix, err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("%sAPI_KEYS_FILE: %s is readable by other users (mode %v); make it private: chmod 600", EnvPrefix, c.APIKeysFile, fi.Mode().Perm())
		}
		b, err := os.ReadFile(c.APIKeysFile)
		if err != nil {
			return nil, fmt.Errorf("%sAPI_KEYS_FILE: %w", EnvPrefix, err)
		}
		text = string(b)
	}
	ks, err := auth.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("API keys: %w", err)
	}
	return ks, nil
}

// GuestMemoryPages is GuestMemoryLimit in 64 KiB Wasm pages, rounded up.
func (c Config) GuestMemoryPages() uint32 {
	return uint32((int64(c.GuestMemoryLimit) + 65535) / 65536)
}
