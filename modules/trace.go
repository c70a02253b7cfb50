package modules

import (
	"context"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Trace adds up where the time of guest calls goes: waiting for an
// execution slot and an instance, encoding the inputs, copying them into
// guest memory, the guest's own run (host functions included), and copying
// and decoding its output. Benchmarks and diagnostics attach one with
// WithTrace; calls without one pay a single context lookup.
type Trace struct {
	mu sync.Mutex
	TraceTotals
}

// TraceTotals is what a Trace has added up.
type TraceTotals struct {
	Calls   int
	Wait    time.Duration // execution limiter and pool
	Encode  time.Duration // inputs into the host-side ABI buffer
	CopyIn  time.Duration // that buffer into guest memory (input export included)
	Guest   time.Duration // the run export
	CopyOut time.Duration // output export, copy out of guest memory, decoding
	// InBytes and OutBytes are the sizes of the tensor lists written into
	// and read out of guest memory; HeldIn counts inputs passed by handle
	// instead, which cross the boundary only if the guest reads them.
	InBytes, OutBytes int64
	HeldIn            int
	// InPayload and OutPayload are the tensor data bytes inline in those
	// lists: each is copied twice, once on each side of the boundary.
	InPayload, OutPayload int64
	HostFunctions         hostfuncs.Transfers
}

// Totals returns a copy of what t has added up.
func (t *Trace) Totals() TraceTotals {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.TraceTotals
}

// Reset starts t over.
func (t *Trace) Reset() {
	t.mu.Lock()
	t.TraceTotals = TraceTotals{}
	t.mu.Unlock()
}

func (t *Trace) add(o *TraceTotals) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.Calls += o.Calls
	t.Wait += o.Wait
	t.Encode += o.Encode
	t.CopyIn += o.CopyIn
	t.Guest += o.Guest
	t.CopyOut += o.CopyOut
	t.InBytes += o.InBytes
	t.OutBytes += o.OutBytes
	t.HeldIn += o.HeldIn
	t.InPayload += o.InPayload
	t.OutPayload += o.OutPayload
	t.HostFunctions.Add(o.HostFunctions)
}

type traceKey struct{}

// WithTrace returns a context under which guest calls add to t.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

func traceFrom(ctx context.Context) *Trace {
	t, _ := ctx.Value(traceKey{}).(*Trace)
	return t
}

// stopwatch times consecutive phases of one call when tracing is on; off,
// each lap is a branch.
type stopwatch struct {
	on   bool
	last time.Time
}

func startStopwatch(on bool) stopwatch {
	if !on {
		return stopwatch{}
	}
	return stopwatch{on: true, last: time.Now()}
}

func (s *stopwatch) lap(d *time.Duration) {
	if !s.on {
		return
	}
	now := time.Now()
	*d += now.Sub(s.last)
	s.last = now
}

// callTrace is one traced call's totals and clock; its methods do nothing
// on a nil callTrace, so untraced calls skip them with one branch.
type callTrace struct {
	TraceTotals
	sw stopwatch
}

type phase int

const (
	phaseWait phase = iota
	phaseEncode
	phaseCopyIn
	phaseGuest
	phaseCopyOut
)

// lap ends phase p at the current time.
func (c *callTrace) lap(p phase) {
	if c == nil {
		return
	}
	var d *time.Duration
	switch p {
	case phaseWait:
		d = &c.Wait
	case phaseEncode:
		d = &c.Encode
	case phaseCopyIn:
		d = &c.CopyIn
	case phaseGuest:
		d = &c.Guest
	case phaseCopyOut:
		d = &c.CopyOut
	}
	c.sw.lap(d)
}

// finish records what the call moved: the input list it wrote (encLen
// bytes), which inputs went inline, the outputs it decoded and the host
// functions' traffic.
func (c *callTrace) finish(hc *hostfuncs.Call, in, out []tensor.Named, encLen int, inlineLimit int) {
	c.Calls++
	c.InBytes += int64(encLen)
	for _, t := range in {
		if n := abi.DataLen(t.Tensor); n > inlineLimit {
			c.HeldIn++
		} else {
			c.InPayload += int64(n)
		}
	}
	for _, t := range out {
		c.OutPayload += int64(abi.DataLen(t.Tensor))
	}
	c.HostFunctions.Add(hc.Transfers())
}
