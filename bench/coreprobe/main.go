// Command coreprobe measures how long a cache line takes to travel between
// two CPUs and back: two threads, pinned to the CPUs, pass a counter back
// and forth through one shared word.
//
//	go run ./bench/coreprobe [-cpus 0,1] [-trips 200000] [-every 0]
//
// It prints a line `HH:MM:SS round_trip_ns=N`, once, or every -every until
// interrupted. On the 2-vCPU machines of bench/RESULTS.md a round trip
// takes about 80-160 ns while the host is quiet, and 360-480 ns while it is
// busy (as when the host places the two vCPUs on different core complexes)
// and the engine's two-thread runs are slower: run it beside a benchmark
// to tell the two states apart (bench/peers records it for every case).
// Linux only (sched_setaffinity).
package main

import (
	"flag"
	"fmt"
	"log"
	"strconv"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/bench/internal/hostprobe"
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
		ns, err := hostprobe.RoundTrip(a, b, *trips)
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
