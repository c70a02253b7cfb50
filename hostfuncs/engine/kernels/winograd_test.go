package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/matryer/is"
)

// TestWinogradTileIsConvolution checks the three transforms together on
// single tiles against the direct 3×3 correlation in float64: the 2×2
// output of one channel's tile, and the sum over channels the GEMMs make.
func TestWinogradTileIsConvolution(t *testing.T) {
	is := is.New(t)
	r := rand.New(rand.NewPCG(1, 2))
	const c = 5 // channels summed, as the GEMMs do
	w := make([]float32, c*9)
	d := make([][4][4]float32, c)
	for i := range w {
		w[i] = r.Float32()*2 - 1
	}
	for ch := range d {
		for i := range 4 {
			for j := range 4 {
				d[ch][i][j] = r.Float32()*2 - 1
			}
		}
	}
	u := make([]float32, WinogradTerms*c)
	WinogradFilters(u, w, 1, c)
	m := make([]float32, WinogradTerms)
	for ch := range c {
		// One tile: even columns 0, 2 and odd 1, 3 of each row.
		e, o := make([]float32, 4*2), make([]float32, 4*2)
		for i := range 4 {
			e[2*i], e[2*i+1], o[2*i], o[2*i+1] = d[ch][i][0], d[ch][i][2], d[ch][i][1], d[ch][i][3]
		}
		v := make([]float32, WinogradTerms)
		WinogradInput(v, 1, e, o, 2, 1)
		for xi := range WinogradTerms {
			m[xi] += u[xi*c+ch] * v[xi]
		}
	}
	y0, y1 := make([]float32, 2), make([]float32, 2)
	WinogradOutput(y0, y1, 2, m, 1, 1, 0.25)
	for oy, y := range [][]float32{y0, y1} {
		for ox := range 2 {
			want := 0.25
			for ch := range c {
				for ky := range 3 {
					for kx := range 3 {
						want += float64(w[ch*9+ky*3+kx]) * float64(d[ch][oy+ky][ox+kx])
					}
				}
			}
			is.True(math.Abs(float64(y[ox])-want) < 1e-5) // output (oy, ox) of the tile
		}
	}
}

// TestWinogradTransformsMatchGo checks every variant's transforms against
// the portable ones, bit for bit (they sum in the same order), on every
// tail length, with odd output widths and a dropped second row, and that
// nothing past the outputs is written.
func TestWinogradTransformsMatchGo(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, vv := range vecVariants {
		if vv.winoIn == nil {
			continue
		}
		t.Run(vv.name, func(t *testing.T) {
			is := is.New(t)
			for n := 1; n <= 50; n++ {
				rs, vs := n+1+r.IntN(5), n+r.IntN(7)
				e, o := randSlice(r, 3*rs+n+1), randSlice(r, 3*rs+n+1)
				got, want := make([]float32, 15*vs+n+8), make([]float32, 15*vs+n+8)
				for i := range got {
					got[i], want[i] = -7, -7
				}
				vv.winoIn(n, &e[0], &o[0], rs, &got[0], vs)
				winoInGo(n, e, o, rs, want, vs)
				is.Equal(bitsOf(got), bitsOf(want)) // input transform, n tiles

				m := randSlice(r, 15*vs+n)
				for _, ow := range []int{2 * n, 2*n - 1} {
					for _, two := range []bool{true, false} {
						y := [2][2][]float32{}
						for k := range y {
							for j := range y[k] {
								y[k][j] = make([]float32, ow+20)
								for i := range y[k][j] {
									y[k][j][i] = -7
								}
							}
						}
						var g1, w1 []float32
						var p1 *float32
						if two {
							g1, w1, p1 = y[0][1], y[1][1], &y[0][1][0]
						}
						vv.winoOut(n, &m[0], vs, &y[0][0][0], p1, ow, 0.5)
						winoOutGo(n, m, vs, y[1][0], w1, ow, 0.5)
						is.Equal(bitsOf(y[0][0]), bitsOf(y[1][0])) // first output row
						is.Equal(bitsOf(g1), bitsOf(w1))           // second output row
						is.Equal(y[0][0][ow], float32(-7))         // nothing past ow written
					}
				}
			}
		})
	}
}

func bitsOf(s []float32) []uint32 {
	b := make([]uint32, len(s))
	for i, x := range s {
		b[i] = math.Float32bits(x)
	}
	return b
}
