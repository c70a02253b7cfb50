package kernels

import "sync/atomic"

// Compute is the engine's process-wide CPU budget: one Pool of worker
// goroutines, shared by every model, and the number of requests computing
// on it now. Whoever builds the server makes one (NewCompute) and hands it
// to every plan it compiles; each plan run calls Enter and Exit around its
// work, and operators that can split their work ask Split (or Threads) how
// many threads to use.
//
// The policy is the one of DESIGN.md §2: an operator spreads over the cores
// that no other request is using, so a lone request gets every core and,
// under load (as many requests running as there are cores, or more), each
// request runs on its own goroutine alone and nothing fans out beyond the
// cores. Work too small to gain from a second thread (Split's minimum)
// never fans out.
//
// A nil *Compute is valid and means "no pool": one thread, no workers.
type Compute struct {
	pool    *Pool
	cores   int
	running atomic.Int32
}

// NewCompute makes the budget for cores cores (normally
// runtime.GOMAXPROCS(0); at least 1): a pool of cores-1 workers, since the
// goroutine of the request that splits an operator is the other thread.
func NewCompute(cores int) *Compute {
	cores = max(cores, 1)
	return &Compute{pool: NewPool(cores - 1), cores: cores}
}

// Close stops the pool's workers; later calls run on their callers.
func (c *Compute) Close() {
	if c != nil {
		c.pool.Close()
	}
}

// Pool is the shared worker pool (nil for a nil Compute).
func (c *Compute) Pool() *Pool {
	if c == nil {
		return nil
	}
	return c.pool
}

// Cores is the number of cores the budget spans.
func (c *Compute) Cores() int {
	if c == nil {
		return 1
	}
	return c.cores
}

// Enter records that a request starts computing; Exit, that it is done.
// They must pair. A lone request's Enter also keeps the pool's workers
// polling until its Exit (Pool.BurstStart), so its operators do not wait
// for parked threads to wake.
func (c *Compute) Enter() {
	if c != nil {
		c.running.Add(1)
		c.pool.BurstStart()
	}
}

// Exit undoes one Enter.
func (c *Compute) Exit() {
	if c != nil {
		c.pool.BurstEnd()
		c.running.Add(-1)
	}
}

// Running is the number of requests between Enter and Exit now.
func (c *Compute) Running() int {
	if c == nil {
		return 0
	}
	return int(c.running.Load())
}

// Threads is how many threads one operator may use now: its own plus one
// per core no other running request holds, between 1 and Cores. A request
// that is running counts itself, so a lone request gets every core and
// Cores or more running requests get one each.
func (c *Compute) Threads() int {
	if c == nil {
		return 1
	}
	others := max(int(c.running.Load())-1, 0)
	return max(1, c.cores-others)
}

// Split is the number of parts to cut work into (a count in any unit, such
// as FLOPs or bytes): Threads, but no more parts than leave each at least
// minPerPart, so work below twice minPerPart stays on the caller.
func (c *Compute) Split(work, minPerPart int) int {
	t := c.Threads()
	if t <= 1 || work < 2*minPerPart {
		return 1
	}
	return max(1, min(t, work/max(minPerPart, 1)))
}

// Parallel runs t's parts on up to Threads threads of the pool (see
// Pool.Parallel); on a nil Compute, on the caller.
func (c *Compute) Parallel(parts int, t Task) {
	c.Pool().Parallel(c.Threads(), parts, t)
}
