package kernels

import (
	"fmt"
	"slices"
)

// MaxRank bounds the rank of broadcast shapes (tensor.MaxRank).
const MaxRank = 16

// BroadcastShape is the shape numpy's multidirectional broadcasting gives two
// operand shapes: aligned at the trailing dimension, each pair of sizes must
// be equal or one of them 1.
func BroadcastShape(dst, a, b []int) ([]int, error) {
	r := max(len(a), len(b))
	if r > MaxRank {
		return nil, fmt.Errorf("rank %d exceeds the maximum of %d", r, MaxRank)
	}
	dst = dst[:0]
	for i := range r {
		da, db := dimFromEnd(a, r-1-i), dimFromEnd(b, r-1-i)
		switch {
		case da == db, db == 1:
			dst = append(dst, da)
		case da == 1:
			dst = append(dst, db)
		default:
			return nil, fmt.Errorf("shapes %v and %v cannot be broadcast together", slices.Clone(a), slices.Clone(b))
		}
	}
	return dst, nil
}

// dimFromEnd is s's size at position i counted from the end, 1 beyond its rank.
func dimFromEnd(s []int, i int) int {
	if i < len(s) {
		return s[len(s)-1-i]
	}
	return 1
}

// Broadcast maps an output shape onto two operands broadcast to it. Runs of
// the innermost dimension are the unit of iteration, so elementwise loops
// stay tight and need no per-element index arithmetic. Dimensions where
// both operands behave alike are merged first, so same-shape operands make
// one run and a bias over channels makes one run per channel.
type Broadcast struct {
	rank   int
	out    [MaxRank]int // merged output dimensions
	sa, sb [MaxRank]int // operand strides per merged dimension; 0 where broadcast
	total  int
}

// NewBroadcast prepares iteration of out, which must be the broadcast of a
// and b (as BroadcastShape gives, or a given shape both broadcast to).
func NewBroadcast(out, a, b []int) (Broadcast, error) {
	var bc Broadcast
	r := len(out)
	if r > MaxRank || len(a) > r || len(b) > r {
		return bc, mismatch(out, a, b)
	}
	bc.total = 1
	// Walk dimensions outermost first, dropping size-1 output dimensions
	// and merging a dimension into the previous one when both operands
	// either span or broadcast over both.
	prevHasA, prevHasB := false, false
	for i := range r {
		o := out[i]
		da, db := dimFromEnd(a, r-1-i), dimFromEnd(b, r-1-i)
		if (da != o && da != 1) || (db != o && db != 1) {
			return bc, mismatch(out, a, b)
		}
		bc.total *= o
		if o == 1 {
			continue
		}
		hasA, hasB := da == o, db == o
		if bc.rank > 0 && hasA == prevHasA && hasB == prevHasB {
			bc.out[bc.rank-1] *= o
			continue
		}
		bc.out[bc.rank] = o
		bc.sa[bc.rank], bc.sb[bc.rank] = b2i(hasA), b2i(hasB)
		bc.rank++
		prevHasA, prevHasB = hasA, hasB
	}
	if bc.total == 0 {
		bc.rank = 0
	}
	// Turn the 0/1 markers into element strides, innermost first.
	accA, accB := 1, 1
	for i := bc.rank - 1; i >= 0; i-- {
		if bc.sa[i] != 0 {
			bc.sa[i] = accA
			accA *= bc.out[i]
		}
		if bc.sb[i] != 0 {
			bc.sb[i] = accB
			accB *= bc.out[i]
		}
	}
	return bc, nil
}

// mismatch formats copies of the shapes, so callers' shape buffers can stay
// on the stack.
func mismatch(out, a, b []int) error {
	return fmt.Errorf("shapes %v and %v do not broadcast to %v", slices.Clone(a), slices.Clone(b), slices.Clone(out))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Len is the number of output elements.
func (bc *Broadcast) Len() int { return bc.total }

// Inner is the length of every run.
func (bc *Broadcast) Inner() int {
	if bc.total == 0 {
		return 0
	}
	if bc.rank == 0 {
		return 1
	}
	return bc.out[bc.rank-1]
}

// Steps are the operands' strides within a run: 1 where an operand spans
// the run, 0 where one element of it is repeated along the run.
func (bc *Broadcast) Steps() (stepA, stepB int) {
	if bc.rank == 0 {
		return 0, 0
	}
	return bc.sa[bc.rank-1], bc.sb[bc.rank-1]
}

// Runs iterates the runs of bc. The zero value is not usable.
type Runs struct {
	bc        *Broadcast
	idx       [MaxRank]int
	A, B, Out int // element offsets of the current run's start
	started   bool
	exhausted bool
}

// Runs starts an iteration over bc's runs.
func (bc *Broadcast) Runs() Runs { return Runs{bc: bc, exhausted: bc.total == 0} }

// NumRuns is the number of runs.
func (bc *Broadcast) NumRuns() int {
	if bc.total == 0 {
		return 0
	}
	return bc.total / bc.Inner()
}

// RunsFrom starts an iteration at run k (0 ≤ k ≤ NumRuns): the first Next
// yields run k. Parts of a parallel loop each walk their own range of
// runs this way.
func (bc *Broadcast) RunsFrom(k int) Runs {
	r := Runs{bc: bc, exhausted: bc.total == 0 || k >= bc.NumRuns()}
	if r.exhausted || k <= 0 {
		return r
	}
	r.Out = k * bc.Inner()
	for d := bc.rank - 2; d >= 0 && k > 0; d-- {
		i := k % bc.out[d]
		k /= bc.out[d]
		r.idx[d] = i
		r.A += i * bc.sa[d]
		r.B += i * bc.sb[d]
	}
	return r
}

// Next advances to the next run, reporting false when there is none.
func (r *Runs) Next() bool {
	if r.exhausted {
		return false
	}
	if !r.started {
		r.started = true
		return true
	}
	bc := r.bc
	r.Out += bc.Inner()
	// Advance the odometer over all dimensions but the innermost.
	for d := bc.rank - 2; d >= 0; d-- {
		r.idx[d]++
		r.A += bc.sa[d]
		r.B += bc.sb[d]
		if r.idx[d] < bc.out[d] {
			return true
		}
		r.A -= bc.sa[d] * bc.out[d]
		r.B -= bc.sb[d] * bc.out[d]
		r.idx[d] = 0
	}
	r.exhausted = true
	return false
}
