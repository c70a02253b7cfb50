package kernels

import (
	"fmt"
	"slices"
	"testing"

	"github.com/matryer/is"
)

// naiveOffsets lists, for every output element in row-major order, the
// element offset of a and of b under numpy broadcasting.
func naiveOffsets(out, a, b []int) (oa, ob []int) {
	n := 1
	for _, d := range out {
		n *= d
	}
	idx := make([]int, len(out))
	for range n {
		oa = append(oa, offsetOf(idx, out, a))
		ob = append(ob, offsetOf(idx, out, b))
		for d := len(out) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < out[d] {
				break
			}
			idx[d] = 0
		}
	}
	return oa, ob
}

func offsetOf(idx, out, s []int) int {
	off, stride := 0, 1
	for i := len(s) - 1; i >= 0; i-- {
		j := len(out) - len(s) + i
		if s[i] != 1 {
			off += idx[j] * stride
		}
		stride *= s[i]
	}
	return off
}

func TestBroadcast(t *testing.T) {
	cases := []struct {
		a, b []int
		out  []int // nil: incompatible
	}{
		{[]int{3, 4}, []int{3, 4}, []int{3, 4}},
		{[]int{2, 3, 4}, []int{}, []int{2, 3, 4}},
		{[]int{}, []int{5}, []int{5}},
		{[]int{1, 8, 28, 28}, []int{8, 1, 1}, []int{1, 8, 28, 28}},
		{[]int{2, 1, 5}, []int{3, 1}, []int{2, 3, 5}},
		{[]int{4, 1, 3, 1}, []int{1, 5, 1, 7}, []int{4, 5, 3, 7}},
		{[]int{1, 1}, []int{1}, []int{1, 1}},
		{[]int{2, 0, 3}, []int{1, 3}, []int{2, 0, 3}},
		{[]int{7, 1}, []int{1, 7}, []int{7, 7}},
		{[]int{3, 4}, []int{4, 3}, nil},
		{[]int{2, 3}, []int{3, 3}, nil},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.a, tc.b), func(t *testing.T) {
			is := is.New(t)
			out, err := BroadcastShape(nil, tc.a, tc.b)
			if tc.out == nil {
				is.True(err != nil)
				return
			}
			is.NoErr(err)
			is.Equal(out, tc.out)
			bc, err := NewBroadcast(out, tc.a, tc.b)
			is.NoErr(err)
			wa, wb := naiveOffsets(out, tc.a, tc.b)
			var ga, gb []int
			sa, sb := bc.Steps()
			for r := bc.Runs(); r.Next(); {
				is.Equal(r.Out, len(ga)) // runs cover the output in order
				for i := range bc.Inner() {
					ga = append(ga, r.A+i*sa)
					gb = append(gb, r.B+i*sb)
				}
			}
			is.Equal(len(ga), bc.Len())
			is.Equal(ga, wa)
			is.Equal(gb, wb)
		})
	}
}

func TestNewBroadcastRejectsMismatch(t *testing.T) {
	is := is.New(t)
	_, err := NewBroadcast([]int{3, 4}, []int{2, 4}, []int{4})
	is.True(err != nil)
	_, err = NewBroadcast([]int{4}, []int{3, 4}, []int{4})
	is.True(err != nil)
}

// TestRunsFrom checks that starting at run k visits the same runs as
// skipping k runs of a full iteration.
func TestRunsFrom(t *testing.T) {
	is := is.New(t)
	for _, c := range [][3][]int{
		{{2, 3, 4}, {2, 3, 4}, {4}},
		{{5, 1, 7}, {5, 1, 7}, {5, 1, 1}},
		{{3, 4, 5, 6}, {1, 4, 1, 6}, {3, 1, 5, 1}},
		{{8}, {8}, {1}},
		{{0, 3}, {0, 3}, {3}},
	} {
		bc, err := NewBroadcast(c[0], c[1], c[2])
		is.NoErr(err)
		type run struct{ a, b, out int }
		var all []run
		for r := bc.Runs(); r.Next(); {
			all = append(all, run{r.A, r.B, r.Out})
		}
		is.Equal(len(all), bc.NumRuns())
		for k := 0; k <= len(all); k++ {
			var got []run
			for r := bc.RunsFrom(k); r.Next(); {
				got = append(got, run{r.A, r.B, r.Out})
			}
			is.True(slices.Equal(got, all[k:]))
		}
	}
}
