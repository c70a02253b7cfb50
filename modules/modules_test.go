package modules

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/guest"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
	"github.com/wasmgate/wasmgate/tests/wasmgen"
)

func newTestRuntime(t *testing.T) *Runtime {
	t.Helper()
	rt, err := NewRuntime(context.Background(), Config{
		CacheDir: t.TempDir(),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

func compile(t *testing.T, rt *Runtime, g wasmgen.Guest) *Module {
	t.Helper()
	m, err := rt.Compile(context.Background(), "test", g.Bytes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func xs(v ...float32) []tensor.Named {
	return []tensor.Named{{Name: "x", Tensor: tensor.MustFrom(tensor.Shape{len(v)}, v)}}
}

var loopForever = [][]byte{wasmgen.Loop, wasmgen.Br(0), wasmgen.End, wasmgen.I32Const(0)}

func TestEchoGuestRoundTrip(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	rt := newTestRuntime(t)
	m := compile(t, rt, wasmgen.Guest{})
	is.Equal(m.Description().Name, "echo")
	p, err := NewPool(ctx, m, PoolConfig{Size: 2})
	is.NoErr(err)
	defer p.Close(ctx)
	for i := range 100 {
		out, err := p.Call(ctx, xs(1, 2, float32(i)))
		is.NoErr(err)
		is.Equal(len(out), 1)
		is.Equal(tensor.Values[float32](out[0].Tensor), []float32{1, 2, float32(i)})
	}
	is.Equal(p.Discarded(), int64(0))
}

// Modules that do not keep the ABI are refused at compile time with a
// message that says what is wrong.
func TestCompileRejects(t *testing.T) {
	cases := []struct {
		name string
		wasm []byte
		msg  string
	}{
		{"not wasm", []byte("hello"), "not a valid WebAssembly module"},
		{"missing export", wasmgen.Guest{Omit: "wasmgate_run"}.Bytes(), "does not export wasmgate_run"},
		{"wrong version", wasmgen.Guest{Version: 2}.Bytes(), "ABI v2"},
		{"bad description", wasmgen.Guest{Description: `{"abi":1,"inputs":[{"name":""}]}`}.Bytes(), "bad description"},
		{"no memory export", func() []byte {
			var m wasmgen.Module
			m.Export("wasmgate_abi_version", m.Func(nil, []wasmgen.ValType{wasmgen.I32}, nil, wasmgen.I32Const(1)))
			return m.Bytes()
		}(), "memory"},
		{"forbidden import", func() []byte {
			var m wasmgen.Module
			m.ImportFunc("env", "open_socket", nil, nil)
			m.Memory(1, 0)
			return m.Bytes()
		}(), "env.open_socket"},
		{"wrong signature", func() []byte {
			var m wasmgen.Module
			m.Memory(1, 0)
			for _, n := range []string{"wasmgate_abi_version", "wasmgate_describe", "wasmgate_run", "wasmgate_input"} {
				m.Export(n, m.Func(nil, nil, nil))
			}
			return m.Bytes()
		}(), "signature"},
	}
	rt := newTestRuntime(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			_, err := rt.Compile(context.Background(), "bad", c.wasm, 0)
			is.True(err != nil)
			is.Equal(fault.KindOf(err), fault.Invalid)
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
		})
	}
}

// A call that traps, times out or breaks the ABI discards its instance;
// the pool replaces it and keeps serving.
func TestBrokenCallsDiscardInstance(t *testing.T) {
	cases := []struct {
		name    string
		guest   wasmgen.Guest
		timeout time.Duration
		kind    fault.Kind
		msg     string
	}{
		{"trap", wasmgen.Guest{Run: [][]byte{wasmgen.Unreachable}}, time.Second, fault.ModuleFault, "trapped"},
		{"infinite loop", wasmgen.Guest{Run: loopForever}, 50 * time.Millisecond, fault.Timeout, "deadline"},
		{"output out of bounds", wasmgen.Guest{Run: [][]byte{
			wasmgen.I32Const(0), wasmgen.I32Const(-16), wasmgen.I32Store(0),
			wasmgen.I32Const(0), wasmgen.I32Const(64), wasmgen.I32Store(4),
			wasmgen.I32Const(0),
		}}, time.Second, fault.ModuleFault, "outside its memory"},
		{"no input buffer", wasmgen.Guest{Input: [][]byte{wasmgen.I32Const(0)}}, time.Second, fault.ModuleFault, "input buffer"},
		{"input buffer out of bounds", wasmgen.Guest{Input: [][]byte{wasmgen.I32Const(-8)}}, time.Second, fault.ModuleFault, "outside its memory"},
		{"failure status", wasmgen.Guest{Message: "boom", Run: [][]byte{
			wasmgen.I32Const(0), wasmgen.I32Const(wasmgen.MessageAddr), wasmgen.I32Store(0),
			wasmgen.I32Const(0), wasmgen.I32Const(4), wasmgen.I32Store(4),
			wasmgen.I32Const(2),
		}}, time.Second, fault.ModuleFault, "failed: boom"},
		{"misaligned input buffer", wasmgen.Guest{Input: [][]byte{wasmgen.I32Const(wasmgen.InputAddr + 4)}}, time.Second, fault.ModuleFault, "aligned"},
		{"garbage output", wasmgen.Guest{Run: append(wasmgen.SetOutput(0, 1), wasmgen.I32Const(0), wasmgen.I32Const(1), wasmgen.I32Store(0), wasmgen.I32Const(0))}, time.Second, fault.ModuleFault, "malformed"},
		{"host call out of bounds", wasmgen.Guest{ImportLog: true, Run: [][]byte{
			wasmgen.I32Const(1), wasmgen.I32Const(-100), wasmgen.I32Const(1000), wasmgen.Call(0), wasmgen.I32Const(0),
		}}, time.Second, fault.ModuleFault, "outside guest memory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			ctx := context.Background()
			rt := newTestRuntime(t)
			p, err := NewPool(ctx, compile(t, rt, c.guest), PoolConfig{Size: 1})
			is.NoErr(err)
			defer p.Close(ctx)
			before := p.MemoryBytes()
			for i := 1; i <= 3; i++ {
				cctx, cancel := context.WithTimeout(ctx, c.timeout)
				_, err := p.Call(cctx, xs(1))
				cancel()
				is.True(err != nil)
				is.Equal(fault.KindOf(err), c.kind)
				if !strings.Contains(err.Error(), c.msg) {
					t.Errorf("error %q does not mention %q", err, c.msg)
				}
				is.Equal(p.Discarded(), int64(i)) // every failed instance is thrown away
			}
			is.Equal(p.MemoryBytes(), int64(0)) // nothing left alive, nothing left counted
			is.True(before > 0)
		})
	}
}

// A guest's clean error status keeps the instance: it did nothing wrong.
func TestGuestStatusKeepsInstance(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	rt := newTestRuntime(t)
	const msg = "bad pixels"
	g := wasmgen.Guest{Message: msg, Run: [][]byte{
		wasmgen.I32Const(0), wasmgen.I32Const(wasmgen.MessageAddr), wasmgen.I32Store(0),
		wasmgen.I32Const(0), wasmgen.I32Const(int32(len(msg))), wasmgen.I32Store(4),
		wasmgen.I32Const(1), // invalid input
	}}
	p, err := NewPool(ctx, compile(t, rt, g), PoolConfig{Size: 1})
	is.NoErr(err)
	defer p.Close(ctx)
	for range 3 {
		_, err = p.Call(ctx, xs(1))
		is.Equal(fault.KindOf(err), fault.Invalid)
		is.Equal(err.Error(), msg)
	}
	is.Equal(p.Discarded(), int64(0))
}

// An instance stuck in a loop holds its pool's only slot: the next request
// waits until its own deadline and is told to retry, not queued forever.
func TestPoolSaturationIsOverloaded(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	rt := newTestRuntime(t)
	p, err := NewPool(ctx, compile(t, rt, wasmgen.Guest{Run: loopForever}), PoolConfig{Size: 1})
	is.NoErr(err)
	defer p.Close(ctx)
	busy, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { _, err := p.Call(busy, xs(1)); done <- err }()
	time.Sleep(50 * time.Millisecond)
	short, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	start := time.Now()
	_, err = p.Call(short, xs(1))
	is.Equal(fault.KindOf(err), fault.Overloaded)
	is.True(time.Since(start) >= 90*time.Millisecond)
	cancel()
	is.Equal(fault.KindOf(<-done), fault.Canceled)
}

// The Go garbage collector needs every goroutine to reach a safe point; a
// guest in a tight loop must not stall it (DESIGN.md §4).
func TestGCCompletesWhileGuestLoops(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	rt := newTestRuntime(t)
	p, err := NewPool(ctx, compile(t, rt, wasmgen.Guest{Run: loopForever}), PoolConfig{Size: 1})
	is.NoErr(err)
	defer p.Close(ctx)
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = p.Call(cctx, xs(1)) })
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	runtime.GC()
	took := time.Since(start)
	t.Logf("runtime.GC took %v while a guest looped", took)
	is.True(took < time.Second)
	cancel()
	wg.Wait()
}

// Pool memory is charged to the model that owns it; the estimate has to
// match what instances of real (Go-built) modules hold on the heap.
func TestInstanceMemoryEstimate(t *testing.T) {
	ctx := context.Background()
	rt := newTestRuntime(t)
	for _, name := range guest.Names() {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			wasm, _ := guest.Module(name)
			m, err := rt.Compile(ctx, name, wasm, 0)
			is.NoErr(err)
			before := heapAfterGC()
			p, err := NewPool(ctx, m, PoolConfig{Size: 8})
			is.NoErr(err)
			grown := heapAfterGC() - before
			est := p.MemoryBytes()
			t.Logf("%s: 8 instances hold %d bytes of heap; estimated %d (%.3f)", name, grown, est, float64(grown)/float64(est))
			is.True(float64(grown) > 0.9*float64(est) && float64(grown) < 1.1*float64(est))
			p.Close(ctx)
		})
	}
}

func heapAfterGC() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// An input too large for the guest's memory is refused before the guest
// sees it, and the instance stays.
func TestInputLargerThanGuestCanTake(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	rt, err := NewRuntime(ctx, Config{Limits: Limits{MemoryPages: 64}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	is.NoErr(err)
	defer rt.Close(ctx)
	p, err := NewPool(ctx, compile(t, rt, wasmgen.Guest{}), PoolConfig{Size: 1})
	is.NoErr(err)
	defer p.Close(ctx)
	_, err = p.Call(ctx, xs(make([]float32, 256<<10)...)) // 1 MiB inline, more with its header; the cap is 1 MiB
	is.Equal(fault.KindOf(err), fault.TooLarge)
	is.Equal(p.Discarded(), int64(0))
	_, err = p.Call(ctx, xs(1, 2))
	is.NoErr(err)
}

// A tensor larger than the inline limit reaches the guest as a host handle
// and can come back the same way, never copied through guest memory: here
// 8 MiB through a guest whose memory could not hold it.
func TestLargeTensorsTravelByHandle(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	rt, err := NewRuntime(ctx, Config{Limits: Limits{MemoryPages: 64}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	is.NoErr(err)
	defer rt.Close(ctx)
	p, err := NewPool(ctx, compile(t, rt, wasmgen.Guest{}), PoolConfig{Size: 1})
	is.NoErr(err)
	defer p.Close(ctx)
	big := make([]float32, 2<<20)
	big[12345] = 7
	out, err := p.Call(ctx, xs(big...))
	is.NoErr(err)
	is.Equal(tensor.Values[float32](out[0].Tensor)[12345], float32(7))
	is.Equal(out[0].Len(), len(big))
}

// Tenants never share an instance: a built-in model's stage keeps a pool per
// tenant, so a guest's global state counts each tenant's calls apart.
func TestPerTenantPools(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	rt := newTestRuntime(t)
	grew := 0
	s, err := NewWasmStage(ctx, compile(t, rt, wasmgen.Counter()), PoolConfig{Size: 1}, true)
	is.NoErr(err)
	s.OnGrow(func() { grew++ })
	defer s.Close(ctx)
	count := func(tenant string) int32 {
		out, err := s.Run(WithTenant(ctx, tenant), xs(1))
		is.NoErr(err)
		return tensor.Values[int32](out[0].Tensor)[0]
	}
	is.Equal(count("a"), int32(1))
	is.Equal(count("a"), int32(2))
	is.Equal(count("b"), int32(1)) // b's own instance
	is.Equal(count("a"), int32(3))
	is.Equal(count("b"), int32(2))
	is.Equal(grew, 2) // pools made for a and b after the first ("")
	one, err := s.Pool(WithTenant(ctx, "a"))
	is.NoErr(err)
	is.Equal(s.MemoryBytes(), 3*one.MemoryBytes())
}

func TestCompileLimits(t *testing.T) {
	ctx := context.Background()
	rt, err := NewRuntime(ctx, Config{MaxModuleBytes: 4096, MaxFunctions: 6, Limits: Limits{MemoryPages: 4}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	var many wasmgen.Module
	for range 7 {
		many.Func(nil, nil, nil)
	}
	cases := []struct {
		name string
		wasm []byte
		kind fault.Kind
		msg  string
	}{
		{"too large", make([]byte, 5000), fault.TooLarge, "limit is 4096"},
		{"too many functions", many.Bytes(), fault.Invalid, "defines 7 functions"},
		{"memory over the limit", wasmgen.Guest{MemoryPages: 8}.Bytes(), fault.Invalid, "starts with 8 pages"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			_, err := rt.Compile(ctx, "m", c.wasm, 0)
			is.Equal(fault.KindOf(err), c.kind)
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %v does not mention %q", err, c.msg)
			}
		})
	}
	// The same module fits a runtime with a larger limit.
	m, err := rt.Compile(ctx, "m", wasmgen.Guest{MemoryPages: 8}.Bytes(), 16)
	is.New(t).NoErr(err)
	is.New(t).Equal(m.pages, uint32(16))
}

// A module whose _initialize never returns fails to load within its
// InitTimeout instead of hanging.
func TestInitTimeout(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	rt, err := NewRuntime(ctx, Config{Limits: Limits{InitTimeout: 200 * time.Millisecond}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	is.NoErr(err)
	defer rt.Close(ctx)
	start := time.Now()
	_, err = rt.Compile(ctx, "slow-init", wasmgen.Guest{Initialize: loopForever[:3]}.Bytes(), 0) // the probe instantiates it
	is.True(err != nil)
	is.True(strings.Contains(err.Error(), "within 200ms"))
	is.True(time.Since(start) < 5*time.Second)
}

// One tenant flooding the limiter cannot take the other's share.
func TestLimiterFairShare(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	l := NewLimiter(4)
	l.window = 30 * time.Millisecond
	acquire := func(tenant string, wait time.Duration) (func(), error) {
		c, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		_, rel, err := l.Acquire(c, tenant)
		return rel, err
	}
	a1, err := acquire("a", time.Second)
	is.NoErr(err)
	a2, err := acquire("a", time.Second)
	is.NoErr(err)
	b1, err := acquire("b", time.Second)
	is.NoErr(err)
	// A slot is free, but a already holds its share of 4/2 while b wants
	// slots too: a waits, and is told to retry at its deadline.
	_, err = acquire("a", 50*time.Millisecond)
	is.Equal(fault.KindOf(err), fault.Overloaded)
	b2, err := acquire("b", 50*time.Millisecond) // b is within its share
	is.NoErr(err)
	b1()
	b2()
	// While b was active lately it keeps its share; then it is gone and a
	// may use the whole limiter.
	_, err = acquire("a", 10*time.Millisecond)
	is.Equal(fault.KindOf(err), fault.Overloaded)
	time.Sleep(40 * time.Millisecond)
	a3, err := acquire("a", 50*time.Millisecond)
	is.NoErr(err)
	a4, err := acquire("a", 50*time.Millisecond)
	is.NoErr(err)
	is.Equal(l.InUse(), 4)
	// Full: a newcomer waits until its deadline.
	_, err = acquire("c", 30*time.Millisecond)
	is.Equal(fault.KindOf(err), fault.Overloaded)
	// A waiter gets the slot freed while it waits.
	got := make(chan error, 1)
	go func() {
		rel, err := acquire("c", time.Second)
		if err == nil {
			rel()
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	a1()
	is.NoErr(<-got)
	time.Sleep(40 * time.Millisecond) // c is no longer active
	// Calls nested in an admitted call pass without a slot.
	adm, rel, err := l.Acquire(ctx, "a")
	is.NoErr(err)
	_, nested, err := l.Acquire(adm, "a")
	is.NoErr(err)
	nested()
	rel()
	a2()
	a3()
	a4()
	is.Equal(l.InUse(), 0)
}

// slowToCompile is a small module that takes wazero seconds to compile: one
// loop of thousands of conditional branches over hundreds of live locals.
func slowToCompile(branches int) []byte {
	locals := make([]wasmgen.ValType, 500)
	for i := range locals {
		locals[i] = wasmgen.I32
	}
	body := [][]byte{wasmgen.Loop}
	for i := range branches {
		body = append(body, wasmgen.LocalGet(uint32(i%500)), wasmgen.BrIf(0),
			wasmgen.LocalGet(uint32((i+1)%500)), wasmgen.LocalSet(uint32((i*13)%500)))
	}
	body = append(body, wasmgen.End)
	return wasmgen.Guest{Funcs: []wasmgen.Func{{Locals: locals, Body: body}}}.Bytes()
}

// A module built to compile slowly is stopped at the compile timeout — its
// compile process killed — and holds no compile worker afterwards.
func TestSlowCompileIsKilled(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	rt, err := NewRuntime(ctx, Config{
		// 3 s: a compile child of a race-instrumented test binary takes
		// over a second to start and compile even a small module.
		CacheDir: t.TempDir(), IsolateCompiles: true, CompileWorkers: 1, CompileTimeout: 3 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	is.NoErr(err)
	defer rt.Close(ctx)
	start := time.Now()
	_, err = rt.Compile(ctx, "bomb", slowToCompile(20000), 0, Untrusted())
	took := time.Since(start)
	t.Logf("refused after %v: %v", took, err)
	is.Equal(fault.KindOf(err), fault.Invalid)
	is.True(strings.Contains(err.Error(), "did not compile within 3s"))
	is.True(took < 8*time.Second) // in process it would take tens of seconds
	// The one worker is free again at once.
	start = time.Now()
	_, err = rt.Compile(ctx, "echo", wasmgen.Guest{}.Bytes(), 0, Untrusted())
	is.NoErr(err)
	is.True(time.Since(start) < 3*time.Second)
	// Invalid bytes report wazero's reason from the child.
	_, err = rt.Compile(ctx, "junk", append([]byte("\x00asm\x01\x00\x00\x00"), 0xff, 0x01, 0x00), 0, Untrusted())
	is.Equal(fault.KindOf(err), fault.Invalid)
	is.True(strings.Contains(err.Error(), "not a valid WebAssembly module"))
}

// A traced call accounts for its phases and the bytes it moved; a large
// input goes by handle and is counted as held, not copied.
func TestTraceAccountsForACall(t *testing.T) {
	is := is.New(t)
	ctx := context.Background()
	rt, err := NewRuntime(ctx, Config{Limits: Limits{MemoryPages: 64}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	is.NoErr(err)
	defer rt.Close(ctx)
	p, err := NewPool(ctx, compile(t, rt, wasmgen.Guest{}), PoolConfig{Size: 1})
	is.NoErr(err)
	defer p.Close(ctx)

	var tr Trace
	tctx := WithTrace(ctx, &tr)
	_, err = p.Call(tctx, xs(1, 2, 3))
	is.NoErr(err)
	got := tr.Totals()
	is.Equal(got.Calls, 1)
	is.Equal(got.InPayload, int64(12))  // three float32 inline
	is.Equal(got.OutPayload, int64(12)) // echoed back
	is.Equal(got.HeldIn, 0)
	is.True(got.InBytes > got.InPayload && got.OutBytes > got.OutPayload) // headers and names
	is.True(got.Guest > 0 && got.Encode+got.CopyIn+got.CopyOut > 0)

	tr.Reset()
	_, err = p.Call(tctx, xs(make([]float32, 2<<20)...))
	is.NoErr(err)
	got = tr.Totals()
	is.Equal(got.HeldIn, 1)
	is.Equal(got.InPayload, int64(0))

	// Untraced calls add nothing.
	tr.Reset()
	_, err = p.Call(ctx, xs(1))
	is.NoErr(err)
	is.Equal(tr.Totals().Calls, 0)
}
