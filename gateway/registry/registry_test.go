package registry

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

// fakeModel is a resident of a given cost that counts how often it is closed.
type fakeModel struct {
	name   string
	cost   int64
	closed atomic.Int32
}

func (f *fakeModel) MemoryBytes() int64    { return f.cost }
func (f *fakeModel) Close(context.Context) { f.closed.Add(1) }

// fakeRepo hands out fakeModels and remembers every one it made.
type fakeRepo struct {
	mu    sync.Mutex
	costs map[string]int64
	made  []*fakeModel
	fail  error
	delay time.Duration
	loads atomic.Int32
}

func (r *fakeRepo) load(ctx context.Context, name, version string) (*fakeModel, error) {
	r.loads.Add(1)
	time.Sleep(r.delay)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return nil, r.fail
	}
	m := &fakeModel{name: name, cost: r.costs[name]}
	r.made = append(r.made, m)
	return m, nil
}

func (r *fakeRepo) all() []*fakeModel {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*fakeModel(nil), r.made...)
}

func newTestRegistry(t *testing.T, budget int64, repo *fakeRepo, names ...string) *Registry[*fakeModel] {
	t.Helper()
	r, err := New(Config[*fakeModel]{Budget: budget, Load: repo.load, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		r.Add(n, "1")
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

// waitClosed polls until m has been released (release runs on its own
// goroutine) or a second passes.
func waitClosed(m *fakeModel) int32 {
	for range 100 {
		if n := m.closed.Load(); n > 0 {
			time.Sleep(5 * time.Millisecond) // a second release would show by now
			return m.closed.Load()
		}
		time.Sleep(10 * time.Millisecond)
	}
	return m.closed.Load()
}

func TestLifecycle(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	repo := &fakeRepo{costs: map[string]int64{"a": 10}}
	r := newTestRegistry(t, 100, repo, "a")

	_, err := r.Acquire(ctx, "a", "")
	is.Equal(fault.KindOf(err), fault.Unavailable) // known but never loaded

	_, err = r.Acquire(ctx, "nope", "")
	is.Equal(fault.KindOf(err), fault.NotFound)

	is.NoErr(r.Load(ctx, "a"))
	l, err := r.Acquire(ctx, "a", "1")
	is.NoErr(err)
	is.Equal(l.Model().name, "a")
	_, err = r.Acquire(ctx, "a", "2")
	is.Equal(fault.KindOf(err), fault.NotFound) // no such version

	// Unload while a request holds the model: it is released only after.
	is.NoErr(r.Unload(ctx, "a"))
	first := repo.all()[0]
	time.Sleep(20 * time.Millisecond)
	is.Equal(first.closed.Load(), int32(0)) // still in use
	_, err = r.Acquire(ctx, "a", "")
	is.Equal(fault.KindOf(err), fault.Unavailable)
	st, _ := r.Status("a", "")
	is.Equal(st.State, Unavailable)
	is.Equal(st.Reason, "unloaded")
	is.True(!st.Servable())
	l.Release()
	is.Equal(waitClosed(first), int32(1)) // released exactly once

	// Loading again works and makes a fresh model.
	is.NoErr(r.Load(ctx, "a"))
	l, err = r.Acquire(ctx, "a", "")
	is.NoErr(err)
	is.True(l.Model() != first)
	l.Release()
	is.Equal(r.ResidentBytes(), int64(10))
}

func TestReloadReplacesAndReleasesOld(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	repo := &fakeRepo{costs: map[string]int64{"a": 10}}
	r := newTestRegistry(t, 100, repo, "a")
	is.NoErr(r.Load(ctx, "a"))
	old, err := r.Acquire(ctx, "a", "")
	is.NoErr(err)
	is.NoErr(r.Load(ctx, "a")) // reload while in use
	cur, err := r.Acquire(ctx, "a", "")
	is.NoErr(err)
	is.True(cur.Model() != old.Model())
	is.Equal(old.Model().closed.Load(), int32(0))
	old.Release()
	is.Equal(waitClosed(old.Model()), int32(1))
	cur.Release()
	is.Equal(cur.Model().closed.Load(), int32(0))
}

func TestFailedLoad(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	repo := &fakeRepo{costs: map[string]int64{"a": 10}, fail: fault.Errorf(fault.Invalid, "corrupt model")}
	r := newTestRegistry(t, 100, repo, "a")
	err := r.Load(ctx, "a")
	is.Equal(fault.KindOf(err), fault.Invalid)
	st, _ := r.Status("a", "")
	is.Equal(st.State, Unavailable)
	is.Equal(st.Reason, "load failed: corrupt model")
	_, err = r.Acquire(ctx, "a", "")
	is.Equal(fault.KindOf(err), fault.Unavailable)
}

func TestTooLargeForBudget(t *testing.T) {
	is := is.New(t)
	repo := &fakeRepo{costs: map[string]int64{"big": 150}}
	r := newTestRegistry(t, 100, repo, "big")
	err := r.Load(context.Background(), "big")
	is.Equal(fault.KindOf(err), fault.Unavailable)
	is.Equal(waitClosed(repo.all()[0]), int32(1)) // what was built is released
	st, _ := r.Status("big", "")
	is.Equal(st.State, Unavailable)
}

// Four models of cost 40 in a budget of 100 cannot all stay: ristretto
// evicts some, the registry reports them as evicted, releases each exactly
// once, and a request for an evicted model loads it again.
func TestEvictionByBudget(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	repo := &fakeRepo{costs: map[string]int64{"a": 40, "b": 40, "c": 40, "d": 40}}
	r := newTestRegistry(t, 100, repo, "a", "b", "c", "d")
	for _, n := range []string{"a", "b", "c", "d"} {
		if err := r.Load(ctx, n); err != nil {
			is.Equal(fault.KindOf(err), fault.Unavailable) // not admitted
		}
	}
	ready, out := 0, 0
	state := map[string]State{}
	for _, e := range r.Index() {
		state[e.Name] = e.State
		switch e.State {
		case Ready:
			ready++
		case Unavailable:
			out++
			is.True(e.Servable()) // evicted or rejected by the budget: loads on demand
			is.True(e.Reason != "")
		}
	}
	is.True(ready <= 2)
	is.True(out >= 2)
	is.Equal(ready+out, 4)
	is.True(r.ResidentBytes() <= 100)
	for _, m := range repo.all() { // each name was built once
		if state[m.name] == Ready {
			is.Equal(m.closed.Load(), int32(0))
		} else {
			is.Equal(waitClosed(m), int32(1))
		}
	}

	// A request for a model that left memory brings it back.
	for _, e := range r.Index() {
		if e.State != Ready {
			l, err := r.Acquire(ctx, e.Name, "")
			if err == nil {
				is.Equal(l.Model().name, e.Name)
				l.Release()
			} else {
				is.Equal(fault.KindOf(err), fault.Unavailable) // the budget may refuse it again
			}
			break
		}
	}
}

func TestConcurrentLoadsShareWork(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	repo := &fakeRepo{costs: map[string]int64{"a": 10}, delay: 50 * time.Millisecond}
	r := newTestRegistry(t, 100, repo, "a")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- r.Load(ctx, "a") })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		is.NoErr(err)
	}
	is.True(repo.loads.Load() <= 2) // waiters share one load (a second may start after it ends)
}

// Requests, unloads and loads racing: every model ever built is released
// exactly once by the end, and nothing is released while a request holds it.
func TestRaceAcquireUnload(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	repo := &fakeRepo{costs: map[string]int64{"a": 10}}
	r, err := New(Config[*fakeModel]{Budget: 100, Load: repo.load, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	is.NoErr(err)
	r.Add("a", "1")
	is.NoErr(r.Load(ctx, "a"))
	var wg sync.WaitGroup
	var served atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				if w == 0 && i%20 == 0 {
					_ = r.Unload(ctx, "a")
					_ = r.Load(ctx, "a")
					continue
				}
				l, err := r.Acquire(ctx, "a", "")
				if err != nil {
					continue
				}
				if l.Model().closed.Load() != 0 {
					panic("model released while in use")
				}
				served.Add(1)
				l.Release()
			}
		})
	}
	wg.Wait()
	r.Close(ctx)
	for _, m := range repo.all() {
		is.Equal(m.closed.Load(), int32(1))
	}
	is.True(served.Load() > 0)
	_, err = r.Acquire(ctx, "a", "")
	is.Equal(fault.KindOf(err), fault.Unavailable) // closed
}
