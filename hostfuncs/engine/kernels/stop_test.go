package kernels

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/matryer/is"
)

// TestSgemmStop checks the cancellation polling of every variant, alone
// and split over a pool: a Stop that has not fired changes nothing (the
// result is SgemmParallel's bit for bit), and one that has fired before
// the call ends it before any tile of C is written.
func TestSgemmStop(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	const m, n, k = 150, 260, 90
	r := rand.New(rand.NewPCG(3, 4))
	a, b, bias := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, m)
	fired := make(chan struct{})
	close(fired)
	for _, v := range variants {
		for _, threads := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/threads=%d", v.name, threads), func(t *testing.T) {
				is := is.New(t)
				want := make([]float32, m*n)
				v.sgemmParallel(pool, threads, 0, false, false, m, n, k, 1, a, k, b, n, 0, want, n, bias)

				got := make([]float32, m*n)
				v.sgemmParallelStop(pool, threads, 0, StopOn(make(chan struct{})), false, false, m, n, k, 1, a, k, b, n, 0, got, n, bias)
				is.Equal(got, want) // a pending stop changes nothing

				for i := range got {
					got[i] = sentinel
				}
				v.sgemmParallelStop(pool, threads, 0, StopOn(fired), false, false, m, n, k, 1, a, k, b, n, 0, got, n, bias)
				is.True(!slices.ContainsFunc(got, func(x float32) bool { return x != sentinel })) // nothing computed
			})
		}
	}
}

func TestStopZeroNeverFires(t *testing.T) {
	is := is.New(t)
	is.True(!Stop{}.Stopped())
	done := make(chan struct{})
	s := StopOn(done)
	is.True(!s.Stopped())
	close(done)
	is.True(s.Stopped())
}
