package ops

import (
	"testing"

	"github.com/matryer/is"
)

// TestDropoutMT checks the generator against MT19937's published first
// output and numpy's RandomState(0).random_sample().
func TestDropoutMT(t *testing.T) {
	is := is.New(t)
	m := dropoutMT{state: make([]uint32, mtN)}
	m.seed(5489)
	is.Equal(m.next32(), uint32(3499211612))
	m.seed(0)
	is.Equal(m.float64(), 0.5488135039273248)
	is.Equal(m.float64(), 0.7151893663724195)
}
