package kernels

import "fmt"

// The transforms of the Winograd convolution F(2×2, 3×3) (Lavin and Gray,
// "Fast Algorithms for Convolutional Neural Networks", 2015): a 3×3
// filter g becomes U = G·g·Gᵀ, a 4×4 input tile d becomes V = Bᵀ·d·B, and
// the 2×2 output of that tile is Aᵀ·(Σ over channels U ⊙ V)·A. The sum
// over channels is, for each of the 16 elements ξ, a GEMM of the filters'
// U[ξ] (filters × channels) by the tiles' V[ξ] (channels × tiles): 16
// products of 4 tiles' outputs each, against 9 per output position
// directly, 2.25 times fewer multiplications. The transforms are adds and
// subtractions only (G's halves are exact), so the result differs from a
// direct sum by rounding alone.
//
//	Bᵀ = | 1  0 -1  0 |   G = | 1    0    0  |   Aᵀ = | 1  1  1  0 |
//	     | 0  1  1  0 |       | 1/2  1/2  1/2|        | 0  1 -1 -1 |
//	     | 0 -1  1  0 |       | 1/2 -1/2  1/2|
//	     | 0  1  0 -1 |       | 0    0    1  |

// WinogradTile is the side of the input tile, WinogradTerms the elements ξ
// of a transformed tile.
const (
	WinogradTile  = 4
	WinogradTerms = WinogradTile * WinogradTile
)

// WinogradFast reports whether this machine has the vector transforms:
// without them (AVX2, the portable variant) a Winograd convolution's
// transforms cost more than the multiplications it saves.
func WinogradFast() bool { return vecBest.winoIn != nil }

// WinogradFilters writes the transformed filters of w (m filters of c
// channels, 3×3 each, as ONNX lays out Conv's W) into u: u[ξ·m·c + f·c + ch]
// = (G·w[f, ch]·Gᵀ)[ξ], so that u holds the 16 matrices U[ξ], m×c each,
// one after the other. The sums are in float64.
func WinogradFilters(u, w []float32, m, c int) {
	checkLen("WinogradFilters w", len(w), m*c*9)
	checkLen("WinogradFilters u", len(u), WinogradTerms*m*c)
	for f := range m {
		for ch := range c {
			g := w[(f*c+ch)*9:][:9]
			var t [4][3]float64 // G·g
			for j := range 3 {
				g0, g1, g2 := float64(g[j]), float64(g[3+j]), float64(g[6+j])
				t[0][j], t[1][j], t[2][j], t[3][j] = g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2
			}
			for i := range 4 {
				t0, t1, t2 := t[i][0], t[i][1], t[i][2]
				row := [4]float64{t0, (t0 + t1 + t2) / 2, (t0 - t1 + t2) / 2, t2}
				for j, x := range row {
					u[(4*i+j)*m*c+f*c+ch] = float32(x)
				}
			}
		}
	}
}

// WinogradInput transforms n tiles of one channel along a row of tiles:
// tile i's window is rows r < 4 of the channel's padded copy from column
// 2i, given as the even padded columns (e, e[r·rs + i] is column 2i of row
// r) and the odd ones (o, column 2i + 1), n + 1 of each per row. Element ξ
// of tile i's transform goes to v[ξ·vs + i].
func WinogradInput(v []float32, vs int, e, o []float32, rs, n int) {
	if n <= 0 {
		return
	}
	checkLen("WinogradInput e", len(e), 3*rs+n+1)
	checkLen("WinogradInput o", len(o), 3*rs+n+1)
	checkLen("WinogradInput v", len(v), (WinogradTerms-1)*vs+n)
	if f := vecBest.winoIn; f != nil {
		f(n, &e[0], &o[0], rs, &v[0], vs)
		return
	}
	winoInGo(n, e, o, rs, v, vs)
}

// WinogradOutput transforms n tiles' products back, adding bias: tile i's
// product is m[ξ·ms + i], and its 2×2 output goes to columns 2i and 2i + 1
// of the output rows y0 and y1, the first ow columns of them (ow ≤ 2n);
// y1 nil drops the second row (an odd output height).
func WinogradOutput(y0, y1 []float32, ow int, m []float32, ms, n int, bias float32) {
	if n <= 0 || ow <= 0 {
		return
	}
	if ow > 2*n {
		panic(fmt.Sprintf("kernels: WinogradOutput of %d columns from %d tiles", ow, n))
	}
	checkLen("WinogradOutput m", len(m), (WinogradTerms-1)*ms+n)
	checkLen("WinogradOutput y0", len(y0), ow)
	if y1 != nil {
		checkLen("WinogradOutput y1", len(y1), ow)
	}
	if f := vecBest.winoOut; f != nil {
		var p1 *float32
		if y1 != nil {
			p1 = &y1[0]
		}
		f(n, &m[0], ms, &y0[0], p1, ow, bias)
		return
	}
	winoOutGo(n, m, ms, y0, y1, ow, bias)
}

// winoInGo is WinogradInput in Go, with the vector kernel's sums in its
// order: the vertical pass on each column, then the horizontal one.
func winoInGo(n int, e, o []float32, rs int, v []float32, vs int) {
	for i := range n {
		var c [4][4]float32 // c[column][row]: even at i, odd at i, even at i+1, odd at i+1
		for r := range 4 {
			c[0][r], c[1][r], c[2][r], c[3][r] = e[r*rs+i], o[r*rs+i], e[r*rs+i+1], o[r*rs+i+1]
		}
		var d [4][4]float32 // d[column][row] after Bᵀ·
		for k := range 4 {
			r0, r1, r2, r3 := c[k][0], c[k][1], c[k][2], c[k][3]
			d[k] = [4]float32{r0 - r2, r1 + r2, r2 - r1, r1 - r3}
		}
		for r := range 4 {
			c0, c1, c2, c3 := d[0][r], d[1][r], d[2][r], d[3][r]
			row := [4]float32{c0 - c2, c1 + c2, c2 - c1, c1 - c3}
			for j, x := range row {
				v[(4*r+j)*vs+i] = x
			}
		}
	}
}

// winoOutGo is WinogradOutput in Go, with the vector kernel's sums in
// its order.
func winoOutGo(n int, m []float32, ms int, y0, y1 []float32, ow int, bias float32) {
	for i := range n {
		var t [2][4]float32 // Aᵀ·M
		for j := range 4 {
			m0, m1, m2, m3 := m[j*ms+i], m[(4+j)*ms+i], m[(8+j)*ms+i], m[(12+j)*ms+i]
			t[0][j] = m0 + m1 + m2
			t[1][j] = m1 - m2 - m3
		}
		for r, y := range [2][]float32{y0, y1} {
			if y == nil {
				continue
			}
			a := t[r][0] + t[r][1] + t[r][2] + bias
			b := t[r][1] - t[r][2] - t[r][3] + bias
			if 2*i < ow {
				y[2*i] = a
			}
			if 2*i+1 < ow {
				y[2*i+1] = b
			}
		}
	}
}
