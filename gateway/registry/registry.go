package registry

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/ristretto/v2"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

// State is a model's lifecycle state, named as Triton's repository index
// names them.
type State string

const (
	Unavailable State = "UNAVAILABLE"
	Loading     State = "LOADING"
	Ready       State = "READY"
	Unloading   State = "UNLOADING"
)

// Resident is what a loaded model holds in memory.
type Resident interface {
	// MemoryBytes is the model's cost in the memory budget.
	MemoryBytes() int64
	// Close releases everything the model holds. It is called once, after
	// the last request using the model has finished.
	Close(ctx context.Context)
}

// Loader builds a resident model from the repository.
type Loader[R Resident] func(ctx context.Context, name, version string) (R, error)

// Config configures a Registry.
type Config[R Resident] struct {
	// Budget is the memory, in bytes, resident models may hold together.
	Budget int64
	Load   Loader[R]
	Logger *slog.Logger
}

// Registry owns every known model's lifecycle.
type Registry[R Resident] struct {
	cfg   Config[R]
	log   *slog.Logger
	cache *ristretto.Cache[string, *resident[R]]

	mu      sync.Mutex
	entries map[string]*entry[R]
	closed  bool

	releases sync.WaitGroup // resources being released
}

type entry[R Resident] struct {
	name     string
	version  string
	state    State
	reason   string
	res      *resident[R]
	loading  chan struct{} // closed when the load in progress ends
	loadErr  error
	reload   bool // evicted by the budget: the next request loads it again
	wanted   bool // asked to serve: loaded, and not unloaded since
	loadedAt time.Time
}

// resident is one load of a model. Requests hold references to it; it is
// released when it is retired and the last reference is gone.
type resident[R Resident] struct {
	e       *entry[R]
	version string // the version this load serves
	val     R
	cost    int64
	refs    int  // guarded by Registry.mu
	retired bool // guarded by Registry.mu
	dropped string
}

// New creates a registry with its ristretto cache.
func New[R Resident](cfg Config[R]) (*Registry[R], error) {
	if cfg.Budget <= 0 {
		return nil, fmt.Errorf("memory budget must be positive, got %d", cfg.Budget)
	}
	if cfg.Load == nil {
		return nil, fmt.Errorf("registry needs a loader")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Registry[R]{cfg: cfg, log: cfg.Logger, entries: map[string]*entry[R]{}}
	cache, err := ristretto.NewCache(&ristretto.Config[string, *resident[R]]{
		NumCounters:        1e4, // ~10x the models a server holds
		MaxCost:            cfg.Budget,
		BufferItems:        64,
		IgnoreInternalCost: true,
		OnEvict: func(it *ristretto.Item[*resident[R]]) {
			r.dropped(it.Value, "evicted to stay within the memory budget")
		},
		OnReject: func(it *ristretto.Item[*resident[R]]) { r.dropped(it.Value, "not admitted within the memory budget") },
	})
	if err != nil {
		return nil, fmt.Errorf("create residency cache: %w", err)
	}
	r.cache = cache
	return r, nil
}

// Add makes a model known (the repository has it), or records a new
// current version of a known one. A new model starts unloaded; a loaded one
// keeps serving its old version until it is loaded again.
func (r *Registry[R]) Add(name, version string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.entries[name]; ok {
		e.version = version
		return
	}
	r.entries[name] = &entry[R]{name: name, version: version, state: Unavailable, reason: "not loaded"}
}

// Remove unloads a model and forgets it.
func (r *Registry[R]) Remove(ctx context.Context, name string) error {
	if err := r.Unload(ctx, name); err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.entries, name)
	r.mu.Unlock()
	return nil
}

// Refresh charges a resident model's current memory against the budget,
// after it grew (a new tenant's instance pool, say).
func (r *Registry[R]) Refresh(name string) {
	r.mu.Lock()
	e, ok := r.entries[name]
	if !ok || e.res == nil {
		r.mu.Unlock()
		return
	}
	res := e.res
	res.cost = max(res.val.MemoryBytes(), 1)
	r.mu.Unlock()
	r.cache.Set(name, res, res.cost) // an update: ristretto may now evict others
}

// dropped runs on ristretto's goroutine when it evicts or rejects a model. It
// must not block: it only marks the model and hands release to retire.
func (r *Registry[R]) dropped(res *resident[R], why string) {
	if res == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	res.dropped = why
	e := res.e
	if e.res == res {
		e.res = nil
		e.state = Unavailable
		e.reason = why
		e.reload = true
		r.log.Info("model left memory", "model", e.name, "version", e.version, "reason", why, "cost_bytes", res.cost)
	}
	r.retireLocked(res)
}

// retireLocked marks res for release; the release happens now if no request
// holds it, else when the last one lets go.
func (r *Registry[R]) retireLocked(res *resident[R]) {
	if res.retired {
		return
	}
	res.retired = true
	if res.refs == 0 {
		r.releaseLocked(res)
	}
}

func (r *Registry[R]) releaseLocked(res *resident[R]) {
	r.releases.Add(1)
	go func() { // owned by r.releases; Close waits for it
		defer r.releases.Done()
		res.val.Close(context.Background())
	}()
}

// Lease is a reference to a ready model. Release it when the request ends.
type Lease[R Resident] struct {
	r   *Registry[R]
	res *resident[R]
}

// Model is the leased model.
func (l Lease[R]) Model() R { return l.res.val }

// Version is the version the lease serves.
func (l Lease[R]) Version() string { return l.res.version }

// Release gives the reference back.
func (l Lease[R]) Release() {
	l.r.mu.Lock()
	defer l.r.mu.Unlock()
	l.res.refs--
	if l.res.refs == 0 && l.res.retired {
		l.r.releaseLocked(l.res)
	}
}

// Acquire returns a lease on a ready model. A model evicted by the memory
// budget is loaded again; an unloaded or failed model is Unavailable. version
// "" means the model's current version.
func (r *Registry[R]) Acquire(ctx context.Context, name, version string) (Lease[R], error) {
	for {
		e, err := r.lockSettled(ctx, name, version)
		if err != nil {
			return Lease[R]{}, err
		}
		switch {
		case e.state == Ready && version != "" && e.res.version != version:
			loaded := e.res.version
			r.mu.Unlock()
			return Lease[R]{}, fault.Errorf(fault.Unavailable, "model %s version %s is not loaded (version %s is)", name, version, loaded)
		case e.state == Ready:
			res := e.res
			res.refs++
			r.mu.Unlock()
			r.cache.Get(name) // counts the use for LFU eviction
			return Lease[R]{r: r, res: res}, nil
		case e.state == Unavailable && e.reload:
			r.mu.Unlock()
			if err := r.Load(ctx, name); err != nil {
				return Lease[R]{}, err
			}
		default:
			st, why := e.state, e.reason
			r.mu.Unlock()
			return Lease[R]{}, fault.Errorf(fault.Unavailable, "model %s is not ready (%s: %s)", name, st, why)
		}
	}
}

// lockSettled locks r.mu and returns the model's entry once no load of it
// is in progress, waiting for one that is. On error r.mu is not held.
func (r *Registry[R]) lockSettled(ctx context.Context, name, version string) (*entry[R], error) {
	for {
		r.mu.Lock()
		e, err := r.lookupLocked(name, version)
		if err != nil {
			r.mu.Unlock()
			return nil, err
		}
		if e.state != Loading {
			return e, nil
		}
		done := e.loading
		r.mu.Unlock()
		if err := waitLoad(ctx, done); err != nil {
			return nil, err
		}
	}
}

func waitLoad(ctx context.Context, done chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fault.Errorf(fault.KindOf(ctx.Err()), "waiting for the model to load: %w", ctx.Err())
	}
}

func (r *Registry[R]) lookupLocked(name, version string) (*entry[R], error) {
	if r.closed {
		return nil, fault.Errorf(fault.Unavailable, "server is shutting down")
	}
	e, ok := r.entries[name]
	if !ok {
		return nil, fault.Errorf(fault.NotFound, "unknown model %q", name)
	}
	if version != "" && version != e.version && (e.res == nil || e.res.version != version) {
		return nil, fault.Errorf(fault.NotFound, "model %q has no version %q (available: %s)", name, version, e.version)
	}
	return e, nil
}

// Load loads a model, or reloads it if it is loaded (the new load replaces
// the old one once it is ready; requests in flight finish on the old one).
// Concurrent loads of one model share the same work.
func (r *Registry[R]) Load(ctx context.Context, name string) error {
	return r.load(ctx, name, "", nil)
}

// Install makes version the model's current version, served by a model the
// caller built already (a freshly uploaded manifest, validated by building
// it). It is a Load whose work is done.
func (r *Registry[R]) Install(ctx context.Context, name, version string, val R) error {
	return r.load(ctx, name, version, func(context.Context, string, string) (R, error) { return val, nil })
}

func (r *Registry[R]) load(ctx context.Context, name, version string, build Loader[R]) error {
	r.mu.Lock()
	e, err := r.lookupLocked(name, "")
	if err != nil {
		r.mu.Unlock()
		return err
	}
	for e.state == Loading {
		done := e.loading
		r.mu.Unlock()
		if err := waitLoad(ctx, done); err != nil {
			return err
		}
		r.mu.Lock()
		if build == nil { // a plain load shares the one in progress
			err := e.loadErr
			r.mu.Unlock()
			return err
		}
	}
	if version != "" {
		e.version = version
	}
	if build == nil {
		build = r.cfg.Load
	}
	prevState := e.state
	e.state, e.reason, e.reload, e.wanted = Loading, "", false, true
	e.loading = make(chan struct{})
	done := e.loading
	version = e.version
	r.mu.Unlock()

	start := time.Now()
	// The load outlives a client that goes away: others may be waiting on it.
	val, err := build(context.WithoutCancel(ctx), e.name, version)
	if err == nil {
		err = r.admit(e, version, val)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	defer close(done)
	e.loadErr = err
	if err != nil {
		if e.res != nil && prevState == Ready {
			// A failed reload keeps the old model, and its version, serving.
			e.state, e.reason, e.version = Ready, "", e.res.version
		} else {
			e.state, e.reason = Unavailable, "load failed: "+err.Error()
		}
		r.log.Warn("model load failed", "model", e.name, "version", version, "err", err)
		return err
	}
	e.state, e.reason, e.loadedAt = Ready, "", time.Now()
	r.log.Info("model loaded", "model", e.name, "version", version,
		"memory_bytes", e.res.cost, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// admit hands a freshly loaded model to ristretto and makes it current if
// ristretto kept it.
func (r *Registry[R]) admit(e *entry[R], version string, val R) error {
	cost := val.MemoryBytes()
	if cost <= 0 {
		cost = 1
	}
	res := &resident[R]{e: e, version: version, val: val, cost: cost}
	if cost > r.cfg.Budget {
		val.Close(context.Background())
		return fault.Errorf(fault.Unavailable, "model %s needs %d bytes, more than the whole memory budget of %d bytes", e.name, cost, r.cfg.Budget)
	}
	r.mu.Lock()
	old := e.res
	e.res = res
	if old != nil {
		r.retireLocked(old)
	}
	r.mu.Unlock()
	if old != nil {
		r.cache.Del(e.name)
	}
	ok := r.cache.Set(e.name, res, cost)
	r.cache.Wait()

	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok && res.dropped == "" {
		res.dropped = "the residency cache was busy"
	}
	if res.dropped != "" {
		if e.res == res {
			e.res = nil
		}
		r.retireLocked(res)
		return fault.Errorf(fault.Unavailable, "model %s (%d bytes) was %s; memory budget is %d bytes", e.name, cost, res.dropped, r.cfg.Budget)
	}
	return nil
}

// Unload takes a model out of service. Requests in flight finish first; new
// ones get Unavailable until the model is loaded again.
func (r *Registry[R]) Unload(ctx context.Context, name string) error {
	e, err := r.lockSettled(ctx, name, "")
	if err != nil {
		return err
	}
	res := e.res
	e.res, e.state, e.reason, e.reload, e.wanted = nil, Unavailable, "unloaded", false, false
	if res != nil {
		r.retireLocked(res)
	}
	r.mu.Unlock()
	if res != nil {
		r.cache.Del(name)
		r.log.Info("model unloaded", "model", name, "version", e.version)
	}
	return nil
}

// Entry describes one model for the repository index.
type Entry struct {
	Name, Version string
	State         State
	Reason        string
	MemoryBytes   int64
	// Wanted is true for a model asked to serve: loaded, and not unloaded
	// since. Server readiness only waits for those.
	Wanted bool
	reload bool
}

// Servable reports whether a request for the model would be served: it is
// ready, or it was evicted by the memory budget and loads again on demand.
func (e Entry) Servable() bool { return e.State == Ready || (e.State == Unavailable && e.reload) }

func (e *entry[R]) snapshot() Entry {
	en := Entry{Name: e.name, Version: e.version, State: e.state, Reason: e.reason, Wanted: e.wanted, reload: e.reload}
	if e.res != nil {
		en.MemoryBytes = e.res.cost
	}
	return en
}

// Index lists every known model, sorted by name.
func (r *Registry[R]) Index() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Entry, 0, len(r.entries))
	for _, e := range r.entries {
		out = append(out, e.snapshot())
	}
	slices.SortFunc(out, func(a, b Entry) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// Status returns one model's entry.
func (r *Registry[R]) Status(name, version string) (Entry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, err := r.lookupLocked(name, version)
	if err != nil {
		return Entry{}, err
	}
	return e.snapshot(), nil
}

// Peek returns the ready model without taking a reference, for metadata.
// ok is false if the model is not ready.
func (r *Registry[R]) Peek(name, version string) (R, Entry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var zero R
	e, err := r.lookupLocked(name, version)
	if err != nil {
		return zero, Entry{}, err
	}
	if e.state != Ready || e.res == nil {
		return zero, e.snapshot(), nil
	}
	return e.res.val, e.snapshot(), nil
}

// ResidentBytes is the memory the ready models hold together.
func (r *Registry[R]) ResidentBytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for _, e := range r.entries {
		if e.res != nil {
			n += e.res.cost
		}
	}
	return n
}

// WaitReleased waits until the releases already started have finished.
func (r *Registry[R]) WaitReleased() { r.releases.Wait() }

// Close unloads every model, waits for their resources to be released, and
// stops the cache.
func (r *Registry[R]) Close(ctx context.Context) {
	r.mu.Lock()
	r.closed = true
	for _, e := range r.entries {
		if e.res != nil {
			r.retireLocked(e.res)
			e.res = nil
		}
		e.state, e.reason = Unavailable, "server shut down"
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.releases.Wait(); close(done) }() // ends when releases do
	select {
	case <-done:
	case <-ctx.Done():
		r.log.Warn("shutdown: gave up waiting for models to release", "err", ctx.Err())
	}
	r.cache.Close()
}
