package modules

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

// Limiter caps the guest calls running at once in the process and shares
// them fairly between tenants: while k tenants are active, none holds more
// than ceil(capacity/k) slots, so one tenant's flood leaves the others
// their share however many requests it sends.
//
// A tenant counts as active while it has calls running or waiting, and for
// a while after (activeWindow): a guest call cannot be preempted, so a
// flooder that grabbed every slot in the moment between two of another
// tenant's requests would keep them until its deadline.
type Limiter struct {
	capacity int
	window   time.Duration // activeWindow; tests shorten it

	mu       sync.Mutex
	total    int
	held     map[string]int       // slots held, by tenant
	demand   map[string]int       // calls running or waiting, by tenant
	lastSeen map[string]time.Time // when each tenant last had demand
	waiters  map[chan struct{}]struct{}
}

// activeWindow is how long a tenant keeps its share after its last call.
const activeWindow = 2 * time.Second

// NewLimiter makes a limiter of capacity slots.
func NewLimiter(capacity int) *Limiter {
	return &Limiter{
		capacity: max(1, capacity),
		window:   activeWindow,
		held:     map[string]int{},
		demand:   map[string]int{},
		lastSeen: map[string]time.Time{},
		waiters:  map[chan struct{}]struct{}{},
	}
}

// share is the most slots one tenant may hold now.
func (l *Limiter) share() int {
	now := time.Now()
	k := 0
	for t, seen := range l.lastSeen {
		switch {
		case l.demand[t] > 0 || now.Sub(seen) < l.window:
			k++
		default:
			delete(l.lastSeen, t) // forgotten: keeps the map to active tenants
		}
	}
	k = max(1, k)
	return (l.capacity + k - 1) / k
}

func (l *Limiter) mayRun(tenant string) bool {
	return l.total < l.capacity && l.held[tenant] < l.share()
}

type admittedKey struct{}

// Acquire waits for a slot for tenant until ctx is done. A call nested in
// one already admitted (an adapter running another model) passes without a
// slot: making it wait for a slot its own caller holds could deadlock.
// The returned context marks calls under it as admitted; release gives the
// slot back.
func (l *Limiter) Acquire(ctx context.Context, tenant string) (context.Context, func(), error) {
	if ctx.Value(admittedKey{}) != nil {
		return ctx, func() {}, nil
	}
	l.mu.Lock()
	l.demand[tenant]++
	l.lastSeen[tenant] = time.Now()
	for !l.mayRun(tenant) {
		wake := make(chan struct{})
		l.waiters[wake] = struct{}{}
		l.mu.Unlock()
		select {
		case <-wake:
			l.mu.Lock()
		case <-ctx.Done():
			l.mu.Lock()
			delete(l.waiters, wake)
			l.dropDemand(tenant)
			l.wakeAll() // a smaller demand may raise the others' share
			l.mu.Unlock()
			if errors.Is(ctx.Err(), context.Canceled) {
				return ctx, nil, fault.Errorf(fault.Canceled, "canceled while waiting to run")
			}
			return ctx, nil, fault.Errorf(fault.Overloaded, "no Wasm execution slot free for this tenant before the deadline (%d in use)", l.capacity)
		}
	}
	l.held[tenant]++
	l.total++
	l.mu.Unlock()
	var once sync.Once
	release := func() {
		once.Do(func() {
			l.mu.Lock()
			l.held[tenant]--
			if l.held[tenant] == 0 {
				delete(l.held, tenant)
			}
			l.total--
			l.dropDemand(tenant)
			l.wakeAll()
			l.mu.Unlock()
		})
	}
	return context.WithValue(ctx, admittedKey{}, true), release, nil
}

func (l *Limiter) dropDemand(tenant string) {
	l.lastSeen[tenant] = time.Now()
	l.demand[tenant]--
	if l.demand[tenant] <= 0 {
		delete(l.demand, tenant)
	}
}

// wakeAll lets every waiter check again; called with l.mu held.
func (l *Limiter) wakeAll() {
	for w := range l.waiters {
		close(w)
		delete(l.waiters, w)
	}
}

// InUse is the number of slots held now.
func (l *Limiter) InUse() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

type tenantKey struct{}

// WithTenant tells the stages under ctx which tenant a request serves: pools
// of shared modules are kept per tenant, and execution slots are shared
// fairly between tenants.
func WithTenant(ctx context.Context, tenant string) context.Context {
	return context.WithValue(ctx, tenantKey{}, tenant)
}

// TenantFrom returns the tenant set by WithTenant, "" if none.
func TenantFrom(ctx context.Context) string {
	t, _ := ctx.Value(tenantKey{}).(string)
	return t
}
