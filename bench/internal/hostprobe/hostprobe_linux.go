//go:build linux

package hostprobe

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// RoundTrip is the mean time, in nanoseconds, of trips round trips of a
// cache line between CPUs a and b: two goroutines, each locked to a thread
// pinned to one of them, pass a counter back and forth through one shared
// word, each spinning until the other's value arrives. The calling
// goroutine is never pinned, and the threads get their CPU masks back
// before other goroutines may run on them.
func RoundTrip(a, b, trips int) (float64, error) {
	if a == b || a < 0 || b < 0 {
		return 0, fmt.Errorf("hostprobe: two different CPUs needed, got %d and %d", a, b)
	}
	if trips <= 0 {
		return 0, errors.New("hostprobe: trips must be positive")
	}
	if n := runtime.GOMAXPROCS(0); n < 2 {
		// The two sides spin, each waiting for the other to run.
		return 0, fmt.Errorf("hostprobe: needs GOMAXPROCS >= 2, have %d", n)
	}
	var (
		word    atomic.Int64
		ready   sync.WaitGroup // both threads pinned, or failed to be
		done    sync.WaitGroup
		errs    [2]error
		elapsed time.Duration
	)
	ready.Add(2)
	done.Add(2)
	side := func(k, cpu int, run func()) {
		defer done.Done()
		restore, err := pin(cpu)
		errs[k] = err
		ready.Done()
		if err != nil {
			return
		}
		defer restore()
		ready.Wait()
		if errs[1-k] == nil {
			run()
		}
	}
	go side(0, a, func() {
		start := time.Now()
		for i := int64(0); i < int64(trips); i++ {
			word.Store(2*i + 1)
			for word.Load() != 2*i+2 {
			}
		}
		elapsed = time.Since(start)
	})
	go side(1, b, func() {
		for i := int64(0); i < int64(trips); i++ {
			for word.Load() != 2*i+1 {
			}
			word.Store(2*i + 2)
		}
	})
	done.Wait()
	if err := errors.Join(errs[0], errs[1]); err != nil {
		return 0, err
	}
	return float64(elapsed.Nanoseconds()) / float64(trips), nil
}

// pin locks the calling goroutine to its thread and the thread to cpu.
// restore gives the thread its CPU mask back and unlocks it; where the
// mask cannot be restored it stays locked, so that the thread ends with
// its goroutine instead of running others on one CPU.
func pin(cpu int) (restore func(), err error) {
	runtime.LockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return func() {}, fmt.Errorf("hostprobe: reading the CPU mask: %w", err)
	}
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("hostprobe: pinning to CPU %d: %w", cpu, err)
	}
	return func() {
		if unix.SchedSetaffinity(0, &old) == nil {
			runtime.UnlockOSThread()
		}
	}, nil
}
