package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

func TestConfigDefaults(t *testing.T) {
	is := is.New(t)
	cfg, err := LoadConfig(nil)
	is.NoErr(err)
	is.NoErr(cfg.Validate())
	is.Equal(cfg.Addr, ":8000")
	is.Equal(cfg.MemoryBudget, ByteSize(2<<30))
	is.Equal(cfg.RequestTimeout, 30*time.Second)
	is.True(strings.HasSuffix(cfg.CacheDir, "wasmgate/compile"))
	is.Equal(cfg.GuestMemoryPages(), uint32(1024))
}

func TestConfigFromEnvironment(t *testing.T) {
	is := is.New(t)
	cfg, err := LoadConfig([]string{
		"WASMGATE_ADDR=127.0.0.1:9000", "WASMGATE_CACHE_DIR=/var/cache/wg", "WASMGATE_MEMORY_BUDGET=512MiB",
		"WASMGATE_REQUEST_TIMEOUT=1500ms", "WASMGATE_POOL_SIZE=3", "WASMGATE_GUEST_MEMORY_LIMIT=100000KB",
		"UNRELATED=1",
	})
	is.NoErr(err)
	is.NoErr(cfg.Validate())
	is.Equal(cfg.Addr, "127.0.0.1:9000")
	is.Equal(cfg.CacheDir, "/var/cache/wg")
	is.Equal(cfg.MemoryBudget, ByteSize(512<<20))
	is.Equal(cfg.RequestTimeout, 1500*time.Millisecond)
	is.Equal(cfg.PoolSize, 3)
	is.Equal(cfg.GuestMemoryPages(), uint32(1526)) // 100 MB rounded up to whole pages
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	cases := []struct{ env, want string }{
		{"WASMGATE_MEMORY_BUDGET=lots", "WASMGATE_MEMORY_BUDGET"},
		{"WASMGATE_REQUEST_TIMEOUT=soon", "WASMGATE_REQUEST_TIMEOUT"},
		{"WASMGATE_POOL_SIZE=many", "WASMGATE_POOL_SIZE"},
		{"WASMGATE_ADDR=8000", "WASMGATE_ADDR"},
		{"WASMGATE_ADDR=:70000", "WASMGATE_ADDR"},
		{"WASMGATE_ADDR=bad host!:80", "WASMGATE_ADDR"},
		{"WASMGATE_MEMORY_BUDGET=1MiB", "WASMGATE_MEMORY_BUDGET"},
		{"WASMGATE_MAX_BODY_BYTES=10", "WASMGATE_MAX_BODY_BYTES"},
		{"WASMGATE_REQUEST_TIMEOUT=0s", "WASMGATE_REQUEST_TIMEOUT"},
		{"WASMGATE_POOL_SIZE=-1", "WASMGATE_POOL_SIZE"},
		{"WASMGATE_GUEST_MEMORY_LIMIT=8GiB", "WASMGATE_GUEST_MEMORY_LIMIT"},
		{"WASMGATE_SHUTDOWN_TIMEOUT=-5s", "WASMGATE_SHUTDOWN_TIMEOUT"},
		{"WASMGATE_LOG_LEVEL=trace", "WASMGATE_LOG_LEVEL"},
		{"WASMGATE_LOG_FORMAT=xml", "WASMGATE_LOG_FORMAT"},
		{"WASMGATE_CACHE_DIR=rel/path", "WASMGATE_CACHE_DIR"},
	}
	for _, c := range cases {
		t.Run(c.env, func(t *testing.T) {
			cfg, err := LoadConfig([]string{c.env})
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v does not name %s", err, c.want)
			}
		})
	}
}

func TestByteSize(t *testing.T) {
	cases := []struct {
		in   string
		want ByteSize
		err  bool
	}{
		{"4096", 4096, false},
		{"64MiB", 64 << 20, false},
		{"2 GiB", 2 << 30, false},
		{"500MB", 500e6, false},
		{"1KB", 1000, false},
		{"12B", 12, false},
		{"-1", 0, true},
		{"1.5GiB", 0, true},
		{"lots", 0, true},
		{"99999999999TiB", 0, true},
	}
	for _, c := range cases {
		is := is.New(t)
		var b ByteSize
		err := b.UnmarshalText([]byte(c.in))
		is.Equal(err != nil, c.err)
		if !c.err {
			is.Equal(b, c.want)
		}
	}
	is := is.New(t)
	is.Equal(ByteSize(64<<20).String(), "64MiB")
	is.Equal(ByteSize(1000).String(), "1000B")
}

func TestStatusOf(t *testing.T) {
	cases := map[fault.Kind]int{
		fault.Invalid: 400, fault.NotFound: 404, fault.TooLarge: 413, fault.Unavailable: 503,
		fault.Overloaded: 503, fault.Timeout: 504, fault.Unsupported: 501, fault.ModuleFault: 500,
		fault.Internal: 500, fault.Conflict: http.StatusConflict,
	}
	for k, want := range cases {
		is.New(t).Equal(statusOf(k), want)
	}
}
