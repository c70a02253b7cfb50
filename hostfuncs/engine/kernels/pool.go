package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pool is a set of long-lived worker goroutines that SgemmParallel spreads
// one product over. It exists so that a parallel GEMM costs a queue push
// per helper thread rather than a goroutine per block, and so that the
// caller (the engine) decides how many threads the whole process uses:
// NewPool(workers) bounds it, the threads argument of each call bounds one
// request. A Pool is safe for concurrent use; Close ends its workers.
//
// Work is offered through a small queue rather than a channel: a channel
// hands a value straight to a parked receiver, whose thread then takes tens
// of microseconds to wake on a virtual machine, while a worker that is
// still polling after its last job could have started at once.
type Pool struct {
	workers int

	mu       sync.Mutex
	cond     sync.Cond    // signalled when work is queued or the pool closes
	queue    []*parJob    // one entry per helper a call wants
	queued   atomic.Int32 // len(queue), for polling without the lock
	parked   int          // workers waiting on cond
	spinning atomic.Int32 // workers polling queued
	bursts   atomic.Int32 // callers between BurstStart and BurstEnd
	// closed: Close has begun. Set under mu, so that no job is queued
	// after it; read without mu by polling workers, which then stop.
	closed atomic.Bool
	// The CPU the last caller of run was on, and the one the last worker
	// to start a job was on (-1: not known), so that a poller gives up
	// its CPU only where it may hold up a thread of the pool (spinUntil).
	callerCPU atomic.Int32
	helperCPU atomic.Int32
	wg        sync.WaitGroup
}

// NewPool starts a pool of workers goroutines (a pool of 0 workers runs
// every call on the caller).
func NewPool(workers int) *Pool {
	workers = max(workers, 0)
	p := &Pool{workers: workers, queue: make([]*parJob, 0, 4*workers)}
	p.callerCPU.Store(-1)
	p.helperCPU.Store(-1)
	p.cond.L = &p.mu
	p.wg.Add(workers)
	for range workers {
		go p.work()
	}
	return p
}

// Workers is the number of worker goroutines the pool was started with.
func (p *Pool) Workers() int { return p.workers }

// Close ends the workers once the queued work is done and waits for them.
// Calls made after Close run on the calling goroutine alone. Close is
// idempotent.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed.Store(true)
	p.mu.Unlock()
	p.cond.Broadcast()
	p.wg.Wait()
}

// BurstStart records that a caller begins a burst of calls that may split
// their work (the operators of one model run); BurstEnd, that it is done.
// They must pair. While a burst runs that a helper could be lent to (at
// most as many bursts as workers, so not every core has a caller of its
// own), idle workers keep polling for jobs instead of parking between them.
//
// Parking is what a burst must avoid: on a virtual machine a parked
// worker's thread takes 50 µs to milliseconds to run again, and the kernel
// tends to wake it on the waker's busy core rather than the idle one, so
// an operator's helper starts after its caller has done the whole
// operator alone. A worker that keeps its thread running between
// operators, as onnxruntime's and OpenMP's workers do, is there at once.
// Polling yields the processor between polls, so it delays no goroutine
// that could run in its place.
func (p *Pool) BurstStart() {
	if p != nil {
		p.bursts.Add(1)
	}
}

// BurstEnd ends what BurstStart began.
func (p *Pool) BurstEnd() {
	if p != nil {
		p.bursts.Add(-1)
	}
}

// hot reports whether a burst runs that a helper could join.
func (p *Pool) hot() bool {
	b := p.bursts.Load()
	return b > 0 && int(b) <= p.workers
}

func (p *Pool) work() {
	defer p.wg.Done()
	awake := false
	for {
		if awake {
			p.spinning.Add(1)
			p.poll()
			p.spinning.Add(-1)
		}
		p.mu.Lock()
		if len(p.queue) == 0 && !p.closed.Load() {
			p.parked++
			p.cond.Wait()
			p.parked--
			if len(p.queue) == 0 && !p.closed.Load() {
				// Woken for a job its caller finished alone, since waking
				// took longer than the job: poll for the next one rather
				// than pay for a wake again on every job.
				p.mu.Unlock()
				awake = true
				continue
			}
		}
		if len(p.queue) == 0 { // closed, nothing left
			p.mu.Unlock()
			return
		}
		j := p.queue[0]
		n := copy(p.queue, p.queue[1:])
		p.queue[n] = nil
		p.queue = p.queue[:n]
		p.queued.Store(int32(n))
		p.mu.Unlock()
		p.helperCPU.Store(thisCPU())
		j.work()
		j.release()
		awake = true
	}
}

// poll waits for a queued job (or Close) without parking: for workerSpin,
// and for as long as the pool is hot (see BurstStart).
func (p *Pool) poll() {
	wake := func() bool { return p.queued.Load() > 0 || p.closed.Load() }
	for !spinUntil(workerSpin, wake, &p.callerCPU) && p.hot() {
	}
}

// workerSpin is how long a worker outside a burst polls after a job before
// parking: products come in bursts, and a thread that is still running
// starts a job at once.
const workerSpin = 200 * time.Microsecond

// joinSpin bounds how long a caller that has run out of parts polls for
// its helpers' before parking: a part is a fraction of an operator, so a
// helper that has one is normally about to finish it, and a caller that
// parked here would be woken on its helper's processor and take it over.
const joinSpin = time.Millisecond

// spinUntil polls cond for up to window and reports whether it became
// true. It yields the processor between polls, so a polling goroutine
// delays no other goroutine that could run in its place, and every 16
// polls, if the thread is on busyCPU (the CPU of the pool thread it waits
// for, or -1: not known), that CPU too (osYield).
//
// When another process takes a core, the kernel may put the pool's two
// threads on the other one, and a thread that only yields to goroutines
// keeps the one that has work off it for a whole time slice: with a busy
// loop pinned to the second core, two-thread runs of MNIST batch 64 took
// 2.1-2.3 ms, and 1.3-1.6 ms when yielding, about what one thread takes
// under the same load. But a thread that shares its CPU with another
// process and yields it hands that process a whole time slice every 16
// polls, and has next to no share of the CPU left when work comes: with a
// busy loop at nice 3 pinned to the second core (on Linux 6.18), ResNet-18
// at two threads took 21.2 ms yielding every time, against 17.6 ms
// yielding only on busyCPU (and 25.6 against 18.1 with the busy loop at
// nice 0, where never yielding is the worse rule).
func spinUntil(window time.Duration, cond func() bool, busyCPU *atomic.Int32) bool {
	var start time.Time
	for i := 0; ; i++ {
		if cond() {
			return true
		}
		if i%16 == 0 {
			if i == 0 {
				start = time.Now()
			} else if time.Since(start) > window {
				return false
			}
			if c := busyCPU.Load(); c < 0 || c == thisCPU() {
				osYield()
			}
		}
		runtime.Gosched()
	}
}

// offer queues j for up to n helpers and wakes parked workers for the
// entries that polling workers will not take. It never blocks on a busy
// pool: the caller does every part nobody claims.
func (p *Pool) offer(j *parJob, n int) {
	if p == nil {
		return
	}
	n = min(n, p.workers)
	if n <= 0 {
		return
	}
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		return
	}
	j.refs.Add(int32(n))
	for range n {
		p.queue = append(p.queue, j)
	}
	p.queued.Store(int32(len(p.queue)))
	wake := min(n-int(p.spinning.Load()), p.parked)
	p.mu.Unlock()
	for range wake {
		p.cond.Signal()
	}
}

// retract removes the entries for j that no worker took, once the caller
// has claimed every part, so that no worker wakes for a finished job.
func (p *Pool) retract(j *parJob) {
	if p == nil {
		return
	}
	p.mu.Lock()
	kept := p.queue[:0]
	for _, q := range p.queue {
		if q != j {
			kept = append(kept, q)
		}
	}
	removed := len(p.queue) - len(kept)
	clear(p.queue[len(kept):])
	p.queue = kept
	p.queued.Store(int32(len(kept)))
	p.mu.Unlock()
	j.refs.Add(-int32(removed))
}

// parallelMinFlops is the smallest product (2·m·n·k) that SgemmParallel
// splits. Below it, handing a part to a worker and joining it costs more
// than the second thread saves. Measured with 2 threads against 1 on the
// 2-core Zen 5 machine this was tuned on (the other core partly busy):
// 64³ (0.5 MFLOP, 2.4 µs) 0.83×, 96³ (1.8 MFLOP) 1.11×, 128³ 1.15×,
// 256³ 1.47×, and the memory-bound 1×768×768 GEMV (1.2 MFLOP) 1.36×.
const parallelMinFlops = 1 << 20

// SgemmParallel is Sgemm spread over up to threads threads: the calling
// goroutine and up to threads-1 idle workers of p. The product is split
// into independent blocks of C along its longer dimension, n in multiples
// of the kernel's panel width or m in multiples of its tile height, each
// computed (and packed) by one thread, so threads never wait on each other
// inside a call. Products under parallelMinFlops, a nil or closed pool, or
// threads <= 1 run on the calling goroutine alone. Parts are aligned to the
// kernels' panels, so the result is normally Sgemm's bit for bit (a part
// left with a single row or column goes through the GEMV kernels, which
// may round differently).
func SgemmParallel(p *Pool, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	best.sgemmParallel(p, threads, parallelMinFlops, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

// SgemmBias is SgemmParallel with a bias per row of C, added by the kernels
// as they store C, so it costs no pass of its own:
// C = alpha·op(A)·op(B) + beta·C + bias·1ᵀ, where bias holds m values (nil:
// none). It is a convolution lowered to a GEMM: one row of C per output
// channel. p may be nil and threads 1, to run on the calling goroutine.
func SgemmBias(p *Pool, threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	best.sgemmParallel(p, threads, parallelMinFlops, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
}

// SgemmParallelStop is SgemmParallel that gives up once stop fires (see
// Stop), leaving C partly computed: every thread polls it between blocks
// of its part. A run that may be cancelled passes its context's Done.
func SgemmParallelStop(p *Pool, threads int, stop Stop, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	best.sgemmParallelStop(p, threads, parallelMinFlops, stop, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

// SgemmBiasStop is SgemmBias that gives up once stop fires, as
// SgemmParallelStop does.
func SgemmBiasStop(p *Pool, threads int, stop Stop, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	best.sgemmParallelStop(p, threads, parallelMinFlops, stop, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
}

func (v *variant) sgemmParallel(p *Pool, threads, minFlops int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	v.sgemmParallelStop(p, threads, minFlops, Stop{}, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
}

func (v *variant) sgemmParallelStop(p *Pool, threads, minFlops int, stop Stop, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	v.sgemmParallelPre(p, threads, minFlops, stop, prePacked{}, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
}

func (v *variant) sgemmParallelPre(p *Pool, threads, minFlops int, stop Stop, pre prePacked, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, bias []float32) {
	if p != nil {
		threads = min(threads, p.workers+1)
	}
	if m == 1 || n == 1 {
		// A matrix-vector product reads the matrix once and is bound by
		// memory, where a second thread's own misses in flight help more
		// than for the same flops of a product (ResNet-18's classifier,
		// 1×512 by 512×1000 from memory: 84-95 -> 59 µs at two threads).
		minFlops /= 2
	}
	if p == nil || threads <= 1 || m <= 0 || n <= 0 || k <= 0 || alpha == 0 || 2*m*n*k < minFlops {
		v.sgemmPre(stop, pre, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
		return
	}
	j := jobPool.Get().(*parJob)
	*j = parJob{v: v, stop: stop, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
		a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, bias: bias, pre: pre}
	// Split the longer side, in whole panels (so no part packs a partial
	// panel it could have avoided), into at most threads parts of as equal
	// a number of panels as possible.
	j.gran, j.size = max(v.nr, 1), n
	j.splitN = n >= m
	if !j.splitN {
		j.gran, j.size = max(v.mr, 1), m
	}
	j.panels = (j.size + j.gran - 1) / j.gran
	j.parts = min(threads, j.panels)
	if j.parts <= 1 {
		*j = parJob{}
		jobPool.Put(j)
		v.sgemmPre(stop, pre, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)
		return
	}
	p.run(j, j.parts-1)
}

// run does job j with up to helpers workers of p besides the caller, and
// recycles it.
func (p *Pool) run(j *parJob, helpers int) {
	j.refs.Store(1)
	p.callerCPU.Store(thisCPU())
	j.pending.Add(j.parts)
	p.offer(j, helpers)
	j.work()
	p.retract(j)
	// The helpers' parts are no larger than the caller's, so they end
	// about now: poll for them before parking (see joinSpin).
	spinUntil(joinSpin, func() bool { return j.finished.Load() == int64(j.parts) }, &p.helperCPU)
	j.pending.Wait()
	j.release()
}

// Task is work split into independent parts, for Parallel.
type Task interface {
	// Part computes part i. Parts may run concurrently, in any order.
	Part(i int)
}

// Parallel calls t.Part(i) for every i < parts on up to threads threads:
// the calling goroutine and up to threads-1 idle workers of p, which claim
// parts one at a time, so no goroutine is started and the caller computes
// every part nobody else claims. It returns when all parts are done. With
// a nil or closed pool, threads <= 1 or a single part, the parts run on
// the caller, in order. Splitting is the caller's choice: Compute.Split
// sizes it from the work and the cores that are free.
//
// t is kept only until Parallel returns, but it escapes: callers that must
// not allocate keep their Task values in a sync.Pool.
func (p *Pool) Parallel(threads, parts int, t Task) {
	if p != nil {
		threads = min(threads, p.workers+1, parts)
	}
	if p == nil || threads <= 1 || parts <= 1 {
		for i := range parts {
			t.Part(i)
		}
		return
	}
	j := jobPool.Get().(*parJob)
	*j = parJob{task: t, parts: parts}
	p.run(j, threads-1)
}

// parJob is one SgemmParallel or Parallel call: the arguments and the
// parts still to be claimed. It is shared by the caller and the workers it
// was offered to, and recycled by whichever of them drops the last
// reference.
type parJob struct {
	task Task // Parallel's work; nil for a GEMM

	v              *variant
	stop           Stop
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	bias           []float32
	pre            prePacked

	splitN             bool
	gran, size, panels int // split unit (nr or mr), length of the split side, units in it
	parts              int
	next               atomic.Int64 // next part to claim
	finished           atomic.Int64 // parts done
	pending            sync.WaitGroup
	refs               atomic.Int32
}

var jobPool = sync.Pool{New: func() any { return new(parJob) }}

// work claims and computes parts until none is left.
func (j *parJob) work() {
	for {
		i := int(j.next.Add(1)) - 1
		if i >= j.parts {
			return
		}
		j.part(i)
		j.finished.Add(1)
		j.pending.Done()
	}
}

// part computes part i: a block of columns or rows of C, or the task's.
func (j *parJob) part(i int) {
	if j.task != nil {
		j.task.Part(i)
		return
	}
	lo := i * j.panels / j.parts * j.gran
	hi := min((i+1)*j.panels/j.parts*j.gran, j.size)
	if j.splitN {
		cols := hi - lo
		boff := lo // column lo of op(B)
		if j.transB {
			boff = lo * j.ldb
		}
		pre, b := j.pre, j.b
		if pre.b != nil {
			pre.off += lo
		}
		if b != nil { // nil: only pre.b's panels hold B (Packed.Release)
			b = b[boff:]
		}
		j.v.sgemmPre(j.stop, pre, j.transA, j.transB, j.m, cols, j.k, j.alpha, j.a, j.lda, b, j.ldb, j.beta, j.c[lo:], j.ldc, j.bias)
		return
	}
	rows := hi - lo
	aoff := lo * j.lda // row lo of op(A)
	if j.transA {
		aoff = lo
	}
	var bias []float32
	if j.bias != nil {
		bias = j.bias[lo:hi]
	}
	pre, a := j.pre, j.a
	if pre.a != nil {
		pre.off += lo
	}
	if a != nil { // nil: only pre.a's panels hold A (Packed.Release)
		a = a[aoff:]
	}
	j.v.sgemmPre(j.stop, pre, j.transA, j.transB, rows, j.n, j.k, j.alpha, a, j.lda, j.b, j.ldb, j.beta, j.c[lo*j.ldc:], j.ldc, bias)
}

func (j *parJob) release() {
	if j.refs.Add(-1) == 0 {
		*j = parJob{} // drop the slices so a pooled job pins no memory
		jobPool.Put(j)
	}
}
