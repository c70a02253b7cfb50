// Command load measures wasmgate under HTTP load: MNIST inference and the
// trivial /v2/health/live route, in the same run, at several concurrencies.
// It builds and starts the real binary on loopback, then for each
// concurrency alternates the two targets for a few rounds and prints
// requests/s, p50 and p99 latency, and the bytes the server allocated per
// request (from its /metrics).
//
//	go run ./bench/load [-duration 3s] [-rounds 3] [-concurrency 1,10,50]
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/tests/harness"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type target struct {
	name   string
	method string
	path   string
	body   []byte
}

type result struct {
	requests   int
	errors     int
	elapsed    time.Duration
	latencies  []time.Duration
	allocBytes float64
}

func run() error {
	duration := flag.Duration("duration", 3*time.Second, "length of one measurement window")
	rounds := flag.Int("rounds", 3, "windows per target and concurrency, alternating targets")
	concFlag := flag.String("concurrency", "1,10,50", "comma-separated client concurrencies")
	image := flag.String("image", "testdata/mnist/8_28x28.png", "image to classify")
	flag.Parse()
	var concs []int
	for _, f := range strings.Split(*concFlag, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			return fmt.Errorf("bad concurrency %q", f)
		}
		concs = append(concs, c)
	}
	img, err := os.ReadFile(*image)
	if err != nil {
		return fmt.Errorf("%w (run from the repository root)", err)
	}
	body := fmt.Appendf(nil, `{"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"parameters":{"content_type":"base64"},"data":["%s"]}]}`,
		base64.StdEncoding.EncodeToString(img))
	targets := []target{
		{"mnist_infer", http.MethodPost, "/v2/models/mnist/infer", body},
		{"health_live", http.MethodGet, "/v2/health/live", nil},
	}

	ctx := context.Background()
	dir, err := os.MkdirTemp("", "wasmgate-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintln(os.Stderr, "building wasmgate...")
	bin, err := harness.Build(ctx, dir)
	if err != nil {
		return err
	}
	srv, err := harness.Start(ctx, bin, []string{"WASMGATE_CACHE_DIR=" + filepath.Join(dir, "cache")}, 2*time.Minute)
	if err != nil {
		return err
	}
	defer srv.Stop()

	fmt.Printf("# wasmgate load: %s, GOMAXPROCS=%d, client and server on the same machine, %d x %v windows per cell\n",
		runtime.GOARCH, runtime.GOMAXPROCS(0), *rounds, *duration)
	fmt.Printf("%-12s %5s %10s %9s %9s %14s %7s\n", "target", "conc", "req/s", "p50_ms", "p99_ms", "alloc_B/req", "errors")
	for _, c := range concs {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c}}
		// Warm connections and pools before measuring.
		if _, err := measure(client, srv, targets[0], c, 300*time.Millisecond); err != nil {
			return err
		}
		agg := make([]result, len(targets))
		for range *rounds {
			for i, t := range targets {
				r, err := measure(client, srv, t, c, *duration)
				if err != nil {
					return err
				}
				agg[i].requests += r.requests
				agg[i].errors += r.errors
				agg[i].elapsed += r.elapsed
				agg[i].latencies = append(agg[i].latencies, r.latencies...)
				agg[i].allocBytes += r.allocBytes * float64(r.requests)
			}
		}
		for i, t := range targets {
			r := agg[i]
			slices.Sort(r.latencies)
			fmt.Printf("%-12s %5d %10.0f %9.3f %9.3f %14.0f %7d\n", t.name, c,
				float64(r.requests)/r.elapsed.Seconds(), ms(pct(r.latencies, 0.50)), ms(pct(r.latencies, 0.99)),
				r.allocBytes/float64(max(r.requests, 1)), r.errors)
		}
		client.CloseIdleConnections()
	}
	return nil
}

// measure drives one target with c workers for d and reads the server's
// allocation counter before and after.
func measure(client *http.Client, srv *harness.Server, t target, c int, d time.Duration) (result, error) {
	before, err := srv.Metric("go_gc_heap_allocs_bytes_total")
	if err != nil {
		return result{}, err
	}
	var mu sync.Mutex
	var res result
	var firstErr error
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			n, nerr := 0, 0
			for time.Now().Before(deadline) {
				t0 := time.Now()
				err := do(client, srv.URL, t)
				lat = append(lat, time.Since(t0))
				n++
				if err != nil {
					nerr++
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			res.requests += n
			res.errors += nerr
			res.latencies = append(res.latencies, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	after, err := srv.Metric("go_gc_heap_allocs_bytes_total")
	if err != nil {
		return result{}, err
	}
	if res.requests > 0 {
		res.allocBytes = (after - before) / float64(res.requests)
	}
	if res.errors > res.requests/100 {
		return res, fmt.Errorf("%s: %d of %d requests failed; first: %w", t.name, res.errors, res.requests, firstErr)
	}
	return res, nil
}

func do(client *http.Client, base string, t target) error {
	req, err := http.NewRequest(t.method, base+t.path, bytes.NewReader(t.body))
	if err != nil {
		return err
	}
	if t.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
