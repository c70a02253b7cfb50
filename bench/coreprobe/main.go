//go:build linux

// Command coreprobe measures how long a cache line takes to travel between
// two CPUs and back: two threads, pinned to the CPUs, pass a counter back
// and forth through one shared word.
//
//	go run ./bench/coreprobe [-cpus 0,1] [-trips 200000] [-every 0]
//
// It prints a line `HH:MM:SS round_trip_ns=N`, once, or every -every until
// interrupted. On the 2-vCPU machines of bench/RESULTS.md a round trip
// takes about 90-150 ns while the host is quiet, and 420-480 ns while it is
// busy (as when the host places the two vCPUs on different core complexes)
// and the engine's two-thread runs are slower: run it beside a benchmark
// to tell the two states apart. Linux only (sched_setaffinity).
package main

import (
	"flag"
	"fmt"
	"log"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	cpus := flag.String("cpus", "0,1", "the two CPUs to pin the threads to")
	trips := flag.Int("trips", 200000, "round trips per measurement")
	every := flag.Duration("every", 0, "measure again at this interval until interrupted (0: once)")
	flag.Parse()
	a, b, err := parseCPUs(*cpus)
	if err != nil {
		log.Fatal(err)
	}
	for {
		ns, err := roundTrip(a, b, *trips)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s round_trip_ns=%.0f\n", time.Now().Format("15:04:05"), ns)
		if *every <= 0 {
			return
		}
		time.Sleep(*every)
	}
}

func parseCPUs(s string) (a, b int, err error) {
	parts := strings.Split(s, ",")
	if len(parts) != 2 {
		return 0, 0, fmt.Errorf("-cpus wants two CPUs, got %q", s)
	}
	if a, err = strconv.Atoi(strings.TrimSpace(parts[0])); err == nil {
		b, err = strconv.Atoi(strings.TrimSpace(parts[1]))
	}
	if err != nil || a < 0 || b < 0 || a == b {
		return 0, 0, fmt.Errorf("-cpus wants two different CPU numbers, got %q", s)
	}
	return a, b, nil
}

// pin locks the calling goroutine to its thread and the thread to cpu.
func pin(cpu int) error {
	runtime.LockOSThread()
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pinning to CPU %d: %w", cpu, err)
	}
	return nil
}

// roundTrip is the mean time of trips round trips of a cache line between
// CPUs a and b, in nanoseconds. Both threads spin: b waits for a's odd
// value, a for b's even one.
func roundTrip(a, b, trips int) (float64, error) {
	if err := pin(a); err != nil {
		return 0, err
	}
	defer runtime.UnlockOSThread()
	var word atomic.Int64
	var wg sync.WaitGroup
	pinned := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer runtime.UnlockOSThread()
		err := pin(b)
		pinned <- err
		if err != nil {
			return
		}
		for i := int64(0); i < int64(trips); i++ {
			for word.Load() != 2*i+1 {
			}
			word.Store(2*i + 2)
		}
	}()
	if err := <-pinned; err != nil {
		wg.Wait()
		return 0, err
	}
	start := time.Now()
	for i := int64(0); i < int64(trips); i++ {
		word.Store(2*i + 1)
		for word.Load() != 2*i+2 {
		}
	}
	d := time.Since(start)
	wg.Wait()
	return float64(d.Nanoseconds()) / float64(trips), nil
}
