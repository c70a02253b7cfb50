package kernels

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/matryer/is"
)

// TestComputeThreads checks the policy: a lone request gets every core,
// each further running request takes one away, and from Cores running
// requests on, each gets one thread.
func TestComputeThreads(t *testing.T) {
	cases := []struct {
		cores, running, want int
	}{
		{2, 0, 2}, {2, 1, 2}, {2, 2, 1}, {2, 5, 1},
		{8, 1, 8}, {8, 2, 7}, {8, 4, 5}, {8, 8, 1}, {8, 9, 1},
		{1, 1, 1}, {0, 1, 1},
	}
	for _, c := range cases {
		is := is.New(t)
		cmp := NewCompute(c.cores)
		for range c.running {
			cmp.Enter()
		}
		is.Equal(cmp.Running(), c.running)
		is.Equal(cmp.Threads(), c.want) // cores, running
		is.Equal(cmp.Pool().Workers(), max(c.cores, 1)-1)
		for range c.running {
			cmp.Exit()
		}
		is.Equal(cmp.Running(), 0)
		cmp.Close()
	}
}

func TestComputeSplit(t *testing.T) {
	is := is.New(t)
	cmp := NewCompute(4)
	defer cmp.Close()
	cmp.Enter()
	defer cmp.Exit()
	is.Equal(cmp.Split(100, 1000), 1)   // tiny work never fans out
	is.Equal(cmp.Split(1999, 1000), 1)  // nor below two minimum parts
	is.Equal(cmp.Split(2000, 1000), 2)  // two parts of the minimum
	is.Equal(cmp.Split(1<<30, 1000), 4) // at most Threads
	cmp.Enter()                         // a second request running
	is.Equal(cmp.Split(1<<30, 1000), 3) // one core fewer
	cmp.Exit()
	var none *Compute
	is.Equal(none.Threads(), 1)
	is.Equal(none.Split(1<<30, 1), 1)
	is.True(none.Pool() == nil)
	is.Equal(none.Cores(), 1)
	none.Enter() // no-ops
	none.Exit()
	none.Close()
}

type countTask struct {
	hits []atomic.Int32
}

func (c *countTask) Part(i int) { c.hits[i].Add(1) }

// TestParallelRunsEveryPartOnce runs many Parallel calls at once from
// several goroutines on a small pool (and on a nil pool, and after Close),
// checking that each part runs exactly once.
func TestParallelRunsEveryPartOnce(t *testing.T) {
	is := is.New(t)
	p := NewPool(2)
	var wg sync.WaitGroup
	var bad atomic.Int32
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range 200 {
				parts := 1 + (g+it)%9
				c := &countTask{hits: make([]atomic.Int32, parts)}
				p.Parallel(1+it%4, parts, c)
				for i := range c.hits {
					if c.hits[i].Load() != 1 {
						bad.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	is.Equal(bad.Load(), int32(0))
	for _, pool := range []*Pool{nil, p} {
		if pool == p {
			p.Close()
		}
		c := &countTask{hits: make([]atomic.Int32, 5)}
		pool.Parallel(3, 5, c)
		for i := range c.hits {
			is.Equal(c.hits[i].Load(), int32(1))
		}
	}
}

func TestParallelDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	is := is.New(t)
	cmp := NewCompute(2)
	defer cmp.Close()
	c := &countTask{hits: make([]atomic.Int32, 4)}
	cmp.Parallel(4, c)
	allocs := testing.AllocsPerRun(50, func() { cmp.Parallel(4, c) })
	is.True(allocs <= 0.1) // sync.Pool may drop a job at a GC
}

// TestBurstKeepsWorkersUp checks when a burst keeps idle workers polling:
// while as many bursts run as there are workers or fewer (a helper can be
// lent to one), not with none or more; and that Close ends workers even
// inside a burst that never ends.
func TestBurstKeepsWorkersUp(t *testing.T) {
	cases := []struct {
		workers, bursts int
		hot             bool
	}{
		{1, 0, false}, {1, 1, true}, {1, 2, false},
		{3, 1, true}, {3, 3, true}, {3, 4, false},
		{0, 1, false},
	}
	for _, c := range cases {
		is := is.New(t)
		p := NewPool(c.workers)
		for range c.bursts {
			p.BurstStart()
		}
		is.Equal(p.hot(), c.hot) // workers, bursts
		for range c.bursts {
			p.BurstEnd()
		}
		is.True(!p.hot())
		p.Close()
	}

	is := is.New(t)
	cmp := NewCompute(2)
	cmp.Enter() // a lone request: its Enter makes the pool hot
	is.True(cmp.Pool().hot())
	c := &countTask{hits: make([]atomic.Int32, 4)}
	cmp.Parallel(4, c) // wakes the worker, which then polls
	done := make(chan struct{})
	go func() { cmp.Close(); close(done) }()
	<-done // Close returned: the polling worker stopped although the burst is open
	cmp.Exit()
	var none *Pool
	none.BurstStart() // no-ops
	none.BurstEnd()
}
