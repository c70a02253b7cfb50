//go:build linux

package hostprobe

import (
	"runtime"
	"sync"
	"testing"

	"github.com/matryer/is"
	"golang.org/x/sys/unix"
)

func TestRoundTripRefusesBadCPUs(t *testing.T) {
	is := is.New(t)
	for _, c := range []struct{ a, b, trips int }{{0, 0, 10}, {-1, 1, 10}, {0, 1, 0}} {
		_, err := RoundTrip(c.a, c.b, c.trips)
		is.True(err != nil) // bad CPUs or trips are refused
	}
}

// TestRoundTripNeedsTwoPs: with GOMAXPROCS=1 the two spinning sides
// would wait on each other for a preemption per trip; the probe refuses.
func TestRoundTripNeedsTwoPs(t *testing.T) {
	is := is.New(t)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	_, err := RoundTrip(0, 1, 1000)
	is.True(err != nil) // refused at GOMAXPROCS=1
}

// TestRoundTripLeavesThreadsUnpinned: after the probe, goroutines that
// land on the threads it pinned still have the process's whole CPU mask.
func TestRoundTripLeavesThreadsUnpinned(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("hostprobe needs two CPUs")
	}
	is := is.New(t)
	var want unix.CPUSet
	is.NoErr(unix.SchedGetaffinity(0, &want))
	if want.Count() < 2 {
		t.Skip("the process may run on one CPU only")
	}
	for range 10 {
		ns, err := RoundTrip(0, 1, 1000)
		is.NoErr(err)
		is.True(ns > 0)
	}
	var wg sync.WaitGroup
	counts := make([]int, 4*runtime.GOMAXPROCS(0))
	for i := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var got unix.CPUSet
			if unix.SchedGetaffinity(0, &got) == nil {
				counts[i] = got.Count()
			}
		}()
	}
	wg.Wait()
	for _, n := range counts {
		is.Equal(n, want.Count()) // a thread's mask after the probe
	}
}
