package kernels

import "fmt"

// ConvSlack is how many elements past the last one a ConvRows source must
// hold: the kernels load whole vectors.
const ConvSlack = 16

// ConvRows computes rows of a direct 2-D convolution of one channel as a
// sum of shifted rows: for r < rows and i < n,
//
//	dst[r·dstStride + i] = bias + Σt w[t]·src[r·srcStride + offs[t] + i]
//
// with one tap per kernel element (offs[t] its offset in a padded copy of
// the input, w[t] its weight). A depthwise convolution is this on each
// channel: the taps stay in registers across a tile of up to two rows of
// 8 vectors, so the output is written once, without an im2col copy or a
// GEMM of one row. src must hold ConvSlack elements past the last one the
// rows use; offs and w must have the same, non-zero length.
func ConvRows(rows, n int, dst []float32, dstStride int, src []float32, srcStride int, offs []int32, w []float32, bias float32) {
	vecBest.convRows(rows, n, dst, dstStride, src, srcStride, offs, w, bias)
}

func (v *vecVariant) convRows(rows, n int, dst []float32, dstStride int, src []float32, srcStride int, offs []int32, w []float32, bias float32) {
	if rows <= 0 || n <= 0 {
		return
	}
	taps := len(offs)
	if taps == 0 || len(w) < taps {
		panic(fmt.Sprintf("kernels: ConvRows with %d offsets and %d weights", taps, len(w)))
	}
	maxOff := 0
	for _, o := range offs {
		if o < 0 {
			panic("kernels: ConvRows with a negative offset")
		}
		maxOff = max(maxOff, int(o))
	}
	checkLen("ConvRows dst", len(dst), (rows-1)*dstStride+n)
	checkLen("ConvRows src", len(src), (rows-1)*srcStride+maxOff+n+ConvSlack)
	if v.taps[0][1] == nil {
		convRowsGo(rows, n, dst, dstStride, src, srcStride, offs, w, bias)
		return
	}
	lanes := v.tapsLanes
	for r := 0; r < rows; {
		rr := min(2, rows-r)
		per := 8 / rr // vectors per call
		for i := 0; i < n; {
			vecs := min(per, (n-i+lanes-1)/lanes)
			last := min(lanes, n-i-(vecs-1)*lanes)
			v.taps[rr-1][vecs](&dst[r*dstStride+i], dstStride, &src[r*srcStride+i], srcStride, &offs[0], &w[0], taps, bias, last)
			i += vecs * lanes
		}
		r += rr
	}
}

// convRowsGo is ConvRows in Go, summing the taps in the same order.
func convRowsGo(rows, n int, dst []float32, dstStride int, src []float32, srcStride int, offs []int32, w []float32, bias float32) {
	for r := range rows {
		d := dst[r*dstStride : r*dstStride+n]
		for i := range d {
			d[i] = bias
		}
		s := src[r*srcStride:]
		for t, o := range offs {
			wt := w[t]
			for i, x := range s[o : int(o)+n] {
				d[i] += wt * x
			}
		}
	}
}
