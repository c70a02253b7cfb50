package gateway

import (
	"fmt"
	"io"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// modelStats are per-model counters, kept with atomics so recording one
// request costs no lock.
type modelStats struct {
	success, failure atomic.Int64
	durationNs       atomic.Int64 // of successful requests, queue and compute
	lastInference    atomic.Int64 // unix milliseconds
}

// stats holds the counters the /metrics endpoint exposes.
type stats struct {
	mu     sync.RWMutex
	models map[string]*modelStats // key: name + "\x00" + version
}

func newStats() *stats { return &stats{models: map[string]*modelStats{}} }

func (s *stats) model(name, version string) *modelStats {
	key := name + "\x00" + version
	s.mu.RLock()
	m := s.models[key]
	s.mu.RUnlock()
	if m != nil {
		return m
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m = s.models[key]; m == nil {
		m = &modelStats{}
		s.models[key] = m
	}
	return m
}

func (s *stats) record(name, version string, d time.Duration, ok bool) {
	m := s.model(name, version)
	if ok {
		m.success.Add(1)
		m.durationNs.Add(int64(d))
		m.lastInference.Store(time.Now().UnixMilli())
	} else {
		m.failure.Add(1)
	}
}

// runtimeMetrics are the Go runtime figures worth watching on an inference
// server: allocation rate (bytes per request falls out of it) and heap size.
var runtimeMetrics = []struct{ name, prom, help, typ string }{
	{"/gc/heap/allocs:bytes", "go_gc_heap_allocs_bytes_total", "Cumulative bytes allocated on the heap.", "counter"},
	{"/gc/heap/allocs:objects", "go_gc_heap_allocs_objects_total", "Cumulative heap allocations.", "counter"},
	{"/memory/classes/heap/objects:bytes", "go_memory_heap_objects_bytes", "Bytes of live and not yet swept heap objects.", "gauge"},
	{"/memory/classes/total:bytes", "go_memory_total_bytes", "All memory mapped by the Go runtime.", "gauge"},
	{"/sched/goroutines:goroutines", "go_goroutines", "Live goroutines.", "gauge"},
	{"/gc/cycles/total:gc-cycles", "go_gc_cycles_total", "Completed GC cycles.", "counter"},
}

// writePrometheus writes the metrics in the Prometheus text format. Names of
// per-model series follow Triton's nv_inference_* with a wasmgate_ prefix.
func (s *stats) writePrometheus(w io.Writer, residentBytes int64) {
	s.mu.RLock()
	keys := make([]string, 0, len(s.models))
	for k := range s.models {
		keys = append(keys, k)
	}
	s.mu.RUnlock()
	slices.Sort(keys)
	series := []struct {
		name, help string
		get        func(*modelStats) int64
	}{
		{"wasmgate_inference_request_success", "Successful inference requests.", func(m *modelStats) int64 { return m.success.Load() }},
		{"wasmgate_inference_request_failure", "Failed inference requests.", func(m *modelStats) int64 { return m.failure.Load() }},
		{"wasmgate_inference_request_duration_us", "Cumulative time of successful inference requests, in microseconds.", func(m *modelStats) int64 { return m.durationNs.Load() / 1e3 }},
	}
	for _, sr := range series {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", sr.name, sr.help, sr.name)
		for _, k := range keys {
			name, version, _ := cutNul(k)
			s.mu.RLock()
			m := s.models[k]
			s.mu.RUnlock()
			fmt.Fprintf(w, "%s{model=%q,version=%q} %d\n", sr.name, name, version, sr.get(m))
		}
	}
	fmt.Fprintf(w, "# HELP wasmgate_resident_model_bytes Memory the resident models hold, as counted against the budget.\n# TYPE wasmgate_resident_model_bytes gauge\nwasmgate_resident_model_bytes %d\n", residentBytes)
	samples := make([]metrics.Sample, len(runtimeMetrics))
	for i, m := range runtimeMetrics {
		samples[i].Name = m.name
	}
	metrics.Read(samples)
	for i, m := range runtimeMetrics {
		var v uint64
		switch samples[i].Value.Kind() {
		case metrics.KindUint64:
			v = samples[i].Value.Uint64()
		case metrics.KindFloat64:
			v = uint64(samples[i].Value.Float64())
		default:
			continue
		}
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", m.prom, m.help, m.prom, m.typ, m.prom, v)
	}
}

func cutNul(k string) (string, string, bool) {
	for i := 0; i < len(k); i++ {
		if k[i] == 0 {
			return k[:i], k[i+1:], true
		}
	}
	return k, "", false
}
