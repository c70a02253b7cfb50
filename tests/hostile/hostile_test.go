package hostile

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/gateway"
	"github.com/wasmgate/wasmgate/modules"
)

func TestMain(m *testing.M) {
	modules.RunCompileChild() // the server compiles uploads in children of this binary
	os.Exit(m.Run())
}

const (
	keyVictim   = "victim00000000000000000000000000000000000000000000"
	keyAttacker = "attacker000000000000000000000000000000000000000000"
)

// countingWriter counts what the server logs, to hold log floods to account.
type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n.Add(int64(len(p))); return len(p), nil }

type server struct {
	url  string
	logs *countingWriter
	stop func()
}

// startServer runs a wasmgate in this process, on a loopback port, with a
// victim tenant and an attacker tenant.
func startServer(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	cfg, err := gateway.LoadConfig([]string{
		"WASMGATE_ADDR=127.0.0.1:0",
		"WASMGATE_CACHE_DIR=" + filepath.Join(dir, "cache"),
		"WASMGATE_DATA_DIR=" + filepath.Join(dir, "data"),
		"WASMGATE_API_KEYS=" + keyVictim + " victim infer;" + keyAttacker + " attacker infer,upload",
		"WASMGATE_REQUEST_TIMEOUT=2s",
		// Long enough for the Go guests (about 1 s to compile, more on a
		// busy machine), far below the 30 s of the slow-to-compile module.
		"WASMGATE_COMPILE_TIMEOUT=6s",
		"WASMGATE_INIT_TIMEOUT=1s",
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &countingWriter{}
	srv, err := gateway.New(context.Background(), cfg, "hostile-test", slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, func(a net.Addr) { addr <- a }) }() // ends when ctx is cancelled
	s := &server{url: "http://" + (<-addr).String(), logs: logs, stop: func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	}}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(s.url + "/v2/health/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("server not ready")
		}
	}
	return s
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func call(ctx context.Context, method, url, key string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func errorOf(b []byte) string {
	var e struct{ Error string }
	_ = json.Unmarshal(b, &e)
	return e.Error
}

// victimLoad is steady inference on the built-in model by the victim
// tenant, each request with a 1 s deadline.
type victimLoad struct {
	s    *server
	body []byte

	mu        sync.Mutex
	latencies []time.Duration
	failures  []string
}

func (v *victimLoad) run(ctx context.Context, workers int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				rctx, cancel := context.WithTimeout(context.Background(), time.Second)
				start := time.Now()
				status, body, err := call(rctx, "POST", v.s.url+"/v2/models/mnist/infer", keyVictim, v.body)
				took := time.Since(start)
				cancel()
				v.mu.Lock()
				v.latencies = append(v.latencies, took)
				if err != nil || status != http.StatusOK {
					v.failures = append(v.failures, fmt.Sprintf("status %d err %v %s", status, err, errorOf(body)))
				}
				v.mu.Unlock()
			}
		})
	}
	return &wg
}

// minDuring is how many victim requests an attack window should hold, and
// maxRounds how many times a short attack is repeated to get them.
const (
	minDuring = 500
	maxRounds = 10
)

// count is the number of requests recorded since the last take.
func (v *victimLoad) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.latencies)
}

// take returns and resets what was recorded since the last take.
func (v *victimLoad) take() ([]time.Duration, []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	l, f := v.latencies, v.failures
	v.latencies, v.failures = nil, nil
	slices.Sort(l)
	return l, f
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func heapInUse() (heap uint64, rss string) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmRSS:") {
				rss = strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
			}
		}
	}
	return ms.HeapInuse, rss
}

// TestHostileGuests runs every attack while the victim tenant's model serves
// steady load, then checks the victim never noticed and no memory stayed.
func TestHostileGuests(t *testing.T) {
	if testing.Short() {
		t.Skip("the hostile-guest suite takes a minute; run it without -short")
	}
	is := is.New(t)
	s := startServer(t)
	defer s.stop()
	png, err := os.ReadFile("../../testdata/mnist/8_28x28.png")
	is.NoErr(err)
	v := &victimLoad{s: s, body: fmt.Appendf(nil,
		`{"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"parameters":{"content_type":"base64"},"data":["%s"]}]}`,
		base64.StdEncoding.EncodeToString(png))}
	as := attacks(t) // builds the Go guest before the load starts

	loadCtx, stopLoad := context.WithCancel(context.Background())
	wg := v.run(loadCtx, 2)
	time.Sleep(500 * time.Millisecond) // warm up
	v.take()
	heap0, rss0 := heapInUse()
	time.Sleep(2 * time.Second)
	before, fails := v.take()
	is.Equal(fails, []string(nil))
	p99Before := pct(before, 0.99)
	t.Logf("victim before: %d requests, p50 %v, p99 %v; heap in use %d MiB, RSS %s", len(before), pct(before, 0.5), p99Before, heap0>>20, rss0)

	for i, a := range as {
		t.Run(a.name, func(t *testing.T) {
			// A victim slowed by the attack is slowed every time; one
			// slowed by the host (a shared machine stalling this one for
			// tens of milliseconds, which the 20x bound on a sub-millisecond
			// p99 does not absorb) is not: so a p99 over the bound is
			// measured once more, and the attack fails only if both are.
			for try := range 2 {
				v.take()
				// A p99 over a few dozen requests is their maximum: repeat a
				// short attack until the victim has made enough requests
				// during it for its p99 to mean what the baseline's does.
				for round := 0; round == 0 || (v.count() < minDuring && round < maxRounds && !t.Failed()); round++ {
					runAttack(t, s, (2*i+try)*maxRounds+round, a)
				}
				during, fails := v.take()
				p50, p99 := pct(during, 0.5), pct(during, 0.99)
				t.Logf("victim during: %d requests, p50 %v, p99 %v (before: p50 %v, p99 %v)", len(during), p50, p99, pct(before, 0.5), p99Before)
				if len(fails) > 0 {
					t.Errorf("%d victim requests failed during the attack; first: %s", len(fails), fails[0])
				}
				if p99 <= 20*p99Before {
					return
				}
				if try == 0 {
					t.Logf("victim p99 %v during the attack is more than 20x the %v before: measuring again", p99, p99Before)
					continue
				}
				t.Errorf("victim p99 %v during the attack is more than 20x the %v before, twice", p99, p99Before)
			}
		})
	}
	stopLoad()
	wg.Wait()
	heap1, rss1 := heapInUse()
	limit := heap0 + heap0/10 + 16<<20
	t.Logf("heap in use after the attacks: %d MiB (before %d MiB, limit %d MiB); RSS %s (before %s)", heap1>>20, heap0>>20, limit>>20, rss1, rss0)
	if heap1 > limit {
		t.Errorf("heap in use grew from %d to %d bytes, over baseline + 10%% + 16 MiB", heap0, heap1)
	}
}
