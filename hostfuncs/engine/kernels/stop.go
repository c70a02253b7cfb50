package kernels

// Stop tells a long kernel to give up before it is done, so that a run
// whose caller has gone away ends within one block of work rather than at
// the end of the operator. The kernels poll it between blocks of a few
// milliseconds at most; what a stopped kernel leaves in its output is
// garbage, and the caller must discard it. The zero Stop never fires.
type Stop struct{ done <-chan struct{} }

// StopOn returns a Stop that fires once done is closed: a context's Done
// channel, so the kernels need not know about contexts.
func StopOn(done <-chan struct{}) Stop { return Stop{done: done} }

// Stopped reports whether the work should end now. It never blocks, and
// costs a nil check for the zero Stop and a non-blocking channel receive
// otherwise.
func (s Stop) Stopped() bool {
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}
