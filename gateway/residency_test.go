package gateway

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"testing"

	"github.com/matryer/is"
)

func testConfig(t *testing.T, environ ...string) Config {
	t.Helper()
	cfg, err := LoadConfig(append([]string{"WASMGATE_CACHE_DIR=" + t.TempDir()}, environ...))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func heapAfterGC() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC() // a second cycle frees what the first one's finalizers released
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// The cost a loaded model is charged in the memory budget is the memory
// its load really holds: its weights, its warm run states and its Wasm
// instances. The modules' compiled code is shared between models (and lives
// outside the Go heap), so the first load, which compiles them, is not
// measured.
func TestResidencyCostMatchesHeapGrowth(t *testing.T) {
	for _, pool := range []string{"1", "2", "4"} {
		t.Run("pool="+pool, func(t *testing.T) {
			is := is.New(t)
			ctx := context.Background()
			s, err := New(ctx, testConfig(t, "WASMGATE_POOL_SIZE="+pool), "test", slog.New(slog.NewTextHandler(io.Discard, nil)))
			is.NoErr(err)
			defer s.Close(ctx)
			is.NoErr(s.reg.Load(ctx, "mnist"))
			is.NoErr(s.reg.Unload(ctx, "mnist"))
			s.reg.WaitReleased()

			before := heapAfterGC()
			is.NoErr(s.reg.Load(ctx, "mnist"))
			after := heapAfterGC()
			cost := s.reg.ResidentBytes()
			growth := after - before
			ratio := float64(growth) / float64(cost)
			t.Logf("pool %s: cost %d bytes, heap growth %d bytes, growth/cost %.3f", pool, cost, growth, ratio)
			if ratio < 0.75 || ratio > 1.25 {
				t.Errorf("heap growth %d is not within ±25%% of the cost %d", growth, cost)
			}
		})
	}
}
