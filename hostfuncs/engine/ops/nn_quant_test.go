package ops_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func nnQRange(dt tensor.DType) (float64, float64) {
	switch dt {
	case tensor.Int8:
		return -128, 127
	case tensor.Uint8:
		return 0, 255
	case tensor.Int16:
		return -32768, 32767
	case tensor.Uint16:
		return 0, 65535
	}
	return 0, 0
}

// quantCase describes a scale layout over x: per tensor (axis < 0), per
// axis, or blocked along axis.
type quantCase struct {
	name   string
	shape  []int
	axis   int
	block  int
	perTen bool
	qdt    tensor.DType
	xdt    tensor.DType
	zp     bool
	opset  int64
}

// scaleShape and scaleIndex give the scale layout of a case.
func (c *quantCase) scaleShape() []int {
	switch {
	case c.perTen:
		return []int{}
	case c.block == 0:
		return []int{c.shape[c.axis]}
	}
	s := append([]int(nil), c.shape...)
	s[c.axis] = (s[c.axis] + c.block - 1) / c.block
	return s
}

func (c *quantCase) scaleIndex(i int) int {
	if c.perTen {
		return 0
	}
	// Unravel i over x's shape.
	idx := make([]int, len(c.shape))
	for d := len(c.shape) - 1; d >= 0; d-- {
		idx[d] = i % c.shape[d]
		i /= c.shape[d]
	}
	if c.block == 0 {
		return idx[c.axis]
	}
	ss := c.scaleShape()
	o := 0
	for d := range ss {
		x := idx[d]
		if d == c.axis {
			x /= c.block
		}
		o = o*ss[d] + x
	}
	return o
}

func TestQuantizeDequantize(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	cases := []quantCase{
		{"per tensor uint8", []int{3, 4}, 0, 0, true, tensor.Uint8, tensor.Float32, true, 10},
		{"per tensor int8 no zp", []int{7}, 0, 0, true, tensor.Int8, tensor.Float32, false, 21},
		{"per axis", []int{2, 3, 5}, 1, 0, false, tensor.Int8, tensor.Float32, true, 13},
		{"per axis last", []int{2, 3, 5}, 2, 0, false, tensor.Uint8, tensor.Float16, true, 19},
		{"int16 per axis", []int{4, 3}, 0, 0, false, tensor.Int16, tensor.Float32, true, 21},
		{"uint16", []int{4, 3}, 1, 0, true, tensor.Uint16, tensor.BFloat16, true, 21},
		{"blocked", []int{3, 7, 2}, 1, 3, false, tensor.Int8, tensor.Float32, true, 21},
		{"blocked first", []int{5, 4}, 0, 2, false, tensor.Uint8, tensor.Float32, false, 23},
		{"int32 x", []int{6}, 0, 0, true, tensor.Int8, tensor.Int32, true, 13},
		{"opset 25", []int{2, 9}, 1, 4, false, tensor.Int16, tensor.Float32, true, 25},
		{"scalar x", []int{}, 0, 0, true, tensor.Uint8, tensor.Float32, true, 13},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi := nnQRange(tc.qdt)
			n := nnProd(tc.shape)
			ints := tc.xdt == tensor.Int32
			x := nnRound(tc.xdt, nnRandom(rng, n, -300, 300, ints))
			if n > 2 && !ints {
				x[0], x[1] = 2.5, -1e9 // a tie to even; saturation
			}
			sdt := tc.xdt
			if tc.opset < 19 || ints {
				sdt = tensor.Float32
			}
			ns := max(1, nnProd(tc.scaleShape()))
			scale := nnRound(sdt, nnRandom(rng, ns, 0.5, 4, false))
			if !tc.perTen {
				scale[0] = 1
			}
			var zp []float64
			in := []*tensor.Tensor{nnT(tc.xdt, tc.shape, x), nnT(sdt, tc.scaleShape(), scale)}
			if tc.zp {
				zp = nnRandom(rng, ns, math.Max(lo, -20), math.Min(hi, 20), true)
				in = append(in, nnT(tc.qdt, tc.scaleShape(), zp))
			}
			attrs := nnAttrs()
			if tc.opset >= 13 {
				attrs = append(attrs, graph.IntAttr("axis", int64(tc.axis-len(tc.shape)*(tc.axis%2))))
			}
			if tc.block > 0 {
				attrs = append(attrs, graph.IntAttr("block_size", int64(tc.block)))
			}
			if !tc.zp && tc.qdt != tensor.Uint8 {
				attrs = append(attrs, graph.IntAttr("output_dtype", int64(tc.qdt)))
			}
			want := make([]float64, n)
			for i, v := range x {
				j := tc.scaleIndex(i)
				q := v / scale[j]
				if sdt != tensor.Int32 && !ints {
					q = nnRound(sdt, []float64{q})[0]
				}
				q = math.RoundToEven(q)
				if zp != nil {
					q += zp[j]
				}
				want[i] = math.Min(hi, math.Max(lo, q))
			}
			got, err := runOp(t, "QuantizeLinear", tc.opset, 1, attrs, in...)
			if err != nil {
				t.Fatal(err)
			}
			if err := enginetest.AllClose(got[0], nnT(tc.qdt, tc.shape, want)); err != nil {
				t.Fatal(err)
			}
			// Dequantize the result back.
			dq := make([]float64, n)
			for i, q := range want {
				j := tc.scaleIndex(i)
				z := 0.0
				if zp != nil {
					z = zp[j]
				}
				dq[i] = (q - z) * scale[j]
			}
			din := []*tensor.Tensor{got[0], in[1]}
			if tc.zp {
				din = append(din, in[2])
			}
			dattrs := nnAttrs()
			for _, a := range attrs {
				if a.Name == "axis" || a.Name == "block_size" {
					dattrs = append(dattrs, a)
				}
			}
			dopset := tc.opset
			outDT := sdt
			if sdt == tensor.Int32 || tc.opset < 19 {
				outDT, dopset = tensor.Float32, min(tc.opset, 13)
			}
			got, err = runOp(t, "DequantizeLinear", dopset, 1, dattrs, din...)
			if err != nil {
				t.Fatal(err)
			}
			nnCheck(t, got[0], outDT, tc.shape, dq)
		})
	}
}

func TestDequantizeLinear(t *testing.T) {
	is := is.New(t)
	x := tensor.MustFrom(tensor.Shape{4}, []int32{-100000, 0, 7, 1 << 20})
	got, err := runOp(t, "DequantizeLinear", 10, 1, nil, x, f32(nil, 0.5))
	is.NoErr(err)
	nnCheck(t, got[0], tensor.Float32, tensor.Shape{4}, []float64{-50000, 0, 3.5, 1 << 19})
	// output_dtype (opset 23) overrides the scale's type.
	u := tensor.MustFrom(tensor.Shape{3}, []uint8{0, 128, 255})
	got, err = runOp(t, "DequantizeLinear", 23, 1, nnAttrs(graph.IntAttr("output_dtype", int64(tensor.Float16))), u, f32(nil, 2), tensor.MustFrom(nil, []uint8{128}))
	is.NoErr(err)
	nnCheck(t, got[0], tensor.Float16, tensor.Shape{3}, []float64{-256, 0, 254})
	// QuantizeLinear saturates infinities and maps NaN to the zero point.
	got, err = runOp(t, "QuantizeLinear", 13, 1, nil, f32(tensor.Shape{3}, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))), f32(nil, 1), tensor.MustFrom(nil, []uint8{10}))
	is.NoErr(err)
	is.NoErr(enginetest.AllClose(got[0], tensor.MustFrom(tensor.Shape{3}, []uint8{10, 255, 0})))
	// Errors: a per-axis scale of the wrong length, a zero point of
	// another type or shape, a per-axis scale before opset 13.
	for _, tc := range []struct {
		opset int64
		in    []*tensor.Tensor
	}{
		{13, []*tensor.Tensor{u, f32(tensor.Shape{2}, 1, 2)}},
		{13, []*tensor.Tensor{u, f32(nil, 1), tensor.MustFrom(nil, []int8{1})}},
		{13, []*tensor.Tensor{u, f32(tensor.Shape{3}, 1, 2, 3), tensor.MustFrom(tensor.Shape{2}, []uint8{1, 2})}},
		{10, []*tensor.Tensor{u, f32(tensor.Shape{3}, 1, 2, 3)}},
	} {
		attrs := nnAttrs(graph.IntAttr("axis", 0))
		if tc.opset == 10 {
			attrs = nil
		}
		_, err := runOp(t, "DequantizeLinear", tc.opset, 1, attrs, tc.in...)
		is.Equal(fault.KindOf(err), fault.Invalid)
	}
}

func TestDynamicQuantizeLinear(t *testing.T) {
	// The operator's documented examples.
	for _, tc := range []struct {
		x     []float64
		y     []float64
		scale float64
		zp    float64
	}{
		{[]float64{0, 2, -3, -2.5, 1.34, 0.5}, []float64{153, 255, 0, 26, 221, 179}, 0.0196078438, 153},
		{[]float64{-1, -2.1, -1.3, -2.5, -3.34, -4}, []float64{191, 121, 172, 96, 42, 0}, 0.0156862754, 255},
		{[]float64{1, 2.1, 1.3, 2.5, 3.34, 4, 1.5, 2.6, 3.9, 4, 3, 2.345}, []float64{64, 134, 83, 159, 213, 255, 96, 166, 249, 255, 191, 149}, 0.0156862754, 0},
		{[]float64{0, 0, 0}, []float64{0, 0, 0}, 1, 0},
	} {
		t.Run(fmt.Sprint(tc.x), func(t *testing.T) {
			is := is.New(t)
			got, err := runOp(t, "DynamicQuantizeLinear", 11, 3, nil, nnT(tensor.Float32, tensor.Shape{len(tc.x)}, tc.x))
			is.NoErr(err)
			is.NoErr(enginetest.AllClose(got[0], nnT(tensor.Uint8, tensor.Shape{len(tc.x)}, tc.y)))
			is.NoErr(enginetest.AllClose(got[1], nnT(tensor.Float32, nil, []float64{tc.scale})))
			is.NoErr(enginetest.AllClose(got[2], nnT(tensor.Uint8, nil, []float64{tc.zp})))
		})
	}
}

// qmatmulRef multiplies (a - za)(b - zb) over broadcast batches given as
// flat matrices; za is per row, zb per column.
func qmatmulRef(a, b []float64, batch, m, k, n int, za func(bt, i int) float64, zb func(bt, j int) float64) []float64 {
	y := make([]float64, batch*m*n)
	for bt := range batch {
		for i := range m {
			for j := range n {
				s := 0.0
				for p := range k {
					s += (a[(bt*m+i)*k+p] - za(bt, i)) * (b[(bt*k+p)*n+j] - zb(bt, j))
				}
				y[(bt*m+i)*n+j] = s
			}
		}
	}
	return y
}

func TestMatMulInteger(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, tc := range []struct {
		name       string
		batch      int
		m, k, n    int
		adt, bdt   tensor.DType
		zaMode     int // 0 none, 1 scalar, 2 per row, 3 per batch row
		zbMode     int
		batchShape bool
	}{
		{"plain", 1, 4, 3, 5, tensor.Uint8, tensor.Uint8, 0, 0, false},
		{"scalar zp", 1, 4, 3, 5, tensor.Uint8, tensor.Int8, 1, 1, false},
		{"per row col", 1, 5, 7, 3, tensor.Int8, tensor.Uint8, 2, 2, false},
		{"batched", 3, 2, 5, 4, tensor.Int8, tensor.Int8, 3, 3, true},
		{"batched scalar", 2, 3, 3, 3, tensor.Uint8, tensor.Uint8, 1, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rngInts := func(dt tensor.DType, n int) []float64 {
				lo, hi := nnQRange(dt)
				return nnRandom(rng, n, lo, hi+1, true)
			}
			a, b := rngInts(tc.adt, tc.batch*tc.m*tc.k), rngInts(tc.bdt, tc.batch*tc.k*tc.n)
			aShape, bShape := []int{tc.m, tc.k}, []int{tc.k, tc.n}
			yShape := []int{tc.m, tc.n}
			if tc.batchShape {
				aShape, bShape, yShape = append([]int{tc.batch}, aShape...), append([]int{tc.batch}, bShape...), append([]int{tc.batch}, yShape...)
			}
			in := []*tensor.Tensor{nnT(tc.adt, aShape, a), nnT(tc.bdt, bShape, b), nil, nil}
			zp := func(mode int, dt tensor.DType, lines int, perRow bool) (*tensor.Tensor, func(bt, i int) float64) {
				switch mode {
				case 1:
					v := rngInts(dt, 1)
					return nnT(dt, nil, v), func(int, int) float64 { return v[0] }
				case 2:
					v := rngInts(dt, lines)
					return nnT(dt, []int{lines}, v), func(_, i int) float64 { return v[i] }
				case 3:
					v := rngInts(dt, tc.batch*lines)
					s := []int{tc.batch, lines, 1}
					if !perRow {
						s = []int{tc.batch, 1, lines}
					}
					return nnT(dt, s, v), func(bt, i int) float64 { return v[bt*lines+i] }
				}
				return nil, func(int, int) float64 { return 0 }
			}
			var za, zb func(bt, i int) float64
			in[2], za = zp(tc.zaMode, tc.adt, tc.m, true)
			in[3], zb = zp(tc.zbMode, tc.bdt, tc.n, false)
			for len(in) > 2 && in[len(in)-1] == nil {
				in = in[:len(in)-1]
			}
			want := qmatmulRef(a, b, tc.batch, tc.m, tc.k, tc.n, za, zb)
			got, err := runOp(t, "MatMulInteger", 10, 1, nil, in...)
			if err != nil {
				t.Fatal(err)
			}
			if err := enginetest.AllClose(got[0], nnT(tensor.Int32, yShape, want)); err != nil {
				t.Fatal(err)
			}
			// QLinearMatMul requantizes the same product.
			if tc.zaMode == 0 || tc.zbMode == 0 {
				return
			}
			sa, sb := nnRandom(rng, 1, 0.01, 0.05, false), nnRandom(rng, 1, 0.01, 0.05, false)
			sa, sb = nnRound(tensor.Float32, sa), nnRound(tensor.Float32, sb)
			sy, zy := 0.5, 7.0
			q := make([]float64, len(want))
			for i, v := range want {
				mult := float64(float32(float32(sa[0]*sb[0]) / float32(sy)))
				q[i] = math.Min(127, math.Max(-128, math.RoundToEven(v*mult+zy)))
			}
			qin := []*tensor.Tensor{in[0], f32(nil, float32(sa[0])), in[2], in[1], f32(nil, float32(sb[0])), in[3], f32(nil, float32(sy)), tensor.MustFrom(nil, []int8{int8(zy)})}
			if tc.zaMode != 1 || tc.zbMode != 1 {
				// Per-line scales must have their zero points' shapes.
				qin[1] = nnT(tensor.Float32, in[2].Shape, make([]float64, in[2].Len()))
				qin[4] = nnT(tensor.Float32, in[3].Shape, make([]float64, in[3].Len()))
				for i := range in[2].Len() {
					tensor.Values[float32](qin[1])[i] = float32(sa[0])
				}
				for i := range in[3].Len() {
					tensor.Values[float32](qin[4])[i] = float32(sb[0])
				}
			}
			got, err = runOp(t, "QLinearMatMul", 21, 1, nil, qin...)
			if err != nil {
				t.Fatal(err)
			}
			if err := enginetest.AllClose(got[0], nnT(tensor.Int8, yShape, q)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// convRef is a direct 2-D convolution of (x - xz) and (w - wz[m]) with
// bias, over NCHW and MCkk layouts.
func convRef(x []float64, xs []int, w []float64, ws []int, bias []float64, xz float64, wz []float64,
	group int, pads, strides, dil [2]int) ([]float64, []int) {
	n, c, h, wd := xs[0], xs[1], xs[2], xs[3]
	m, cg, kh, kw := ws[0], ws[1], ws[2], ws[3]
	oh := (h+pads[0]*2-((kh-1)*dil[0]+1))/strides[0] + 1
	ow := (wd+pads[1]*2-((kw-1)*dil[1]+1))/strides[1] + 1
	y := make([]float64, n*m*oh*ow)
	mg := m / group
	for b := range n {
		for o := range m {
			g := o / mg
			for i := range oh {
				for j := range ow {
					s := 0.0
					if bias != nil {
						s = bias[o]
					}
					for ci := range cg {
						for p := range kh {
							for q := range kw {
								yy := i*strides[0] + p*dil[0] - pads[0]
								xx := j*strides[1] + q*dil[1] - pads[1]
								if yy < 0 || yy >= h || xx < 0 || xx >= wd {
									continue
								}
								xv := x[((b*c+g*cg+ci)*h+yy)*wd+xx] - xz
								z := wz[0]
								if len(wz) > 1 {
									z = wz[o]
								}
								s += xv * (w[((o*cg+ci)*kh+p)*kw+q] - z)
							}
						}
					}
					y[((b*m+o)*oh+i)*ow+j] = s
				}
			}
		}
	}
	return y, []int{n, m, oh, ow}
}

func TestConvIntegerAndQLinearConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, tc := range []struct {
		name                   string
		xs, ws                 []int
		group                  int
		pads, strides, dil     [2]int
		xdt, wdt               tensor.DType
		perChannel, bias, oneD bool
	}{
		{"plain", []int{1, 1, 3, 3}, []int{1, 1, 2, 2}, 1, [2]int{0, 0}, [2]int{1, 1}, [2]int{1, 1}, tensor.Uint8, tensor.Uint8, false, false, false},
		{"padded", []int{2, 3, 5, 4}, []int{4, 3, 3, 2}, 1, [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}, tensor.Uint8, tensor.Int8, true, true, false},
		{"strided dilated", []int{1, 2, 7, 6}, []int{3, 2, 2, 3}, 1, [2]int{1, 0}, [2]int{2, 1}, [2]int{2, 1}, tensor.Int8, tensor.Int8, false, true, false},
		{"grouped", []int{1, 4, 5, 5}, []int{6, 2, 3, 3}, 2, [2]int{1, 1}, [2]int{1, 2}, [2]int{1, 1}, tensor.Uint8, tensor.Uint8, true, false, false},
		{"1d", []int{2, 3, 1, 9}, []int{2, 3, 1, 3}, 1, [2]int{0, 2}, [2]int{1, 1}, [2]int{1, 1}, tensor.Int8, tensor.Uint8, false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ints := func(dt tensor.DType, n int) []float64 {
				lo, hi := nnQRange(dt)
				return nnRandom(rng, n, lo, hi+1, true)
			}
			x, w := ints(tc.xdt, nnProd(tc.xs)), ints(tc.wdt, nnProd(tc.ws))
			xz := ints(tc.xdt, 1)
			wz := ints(tc.wdt, 1)
			if tc.perChannel {
				wz = ints(tc.wdt, tc.ws[0])
			}
			var bias []float64
			if tc.bias {
				bias = nnRandom(rng, tc.ws[0], -1000, 1000, true)
			}
			acc, ys := convRef(x, tc.xs, w, tc.ws, nil, xz[0], wz, tc.group, tc.pads, tc.strides, tc.dil)
			xs, ws, yshape := tc.xs, tc.ws, ys
			pads := []int64{int64(tc.pads[0]), int64(tc.pads[1]), int64(tc.pads[0]), int64(tc.pads[1])}
			strides, dil := []int64{int64(tc.strides[0]), int64(tc.strides[1])}, []int64{int64(tc.dil[0]), int64(tc.dil[1])}
			if tc.oneD {
				xs, ws, yshape = []int{xs[0], xs[1], xs[3]}, []int{ws[0], ws[1], ws[3]}, []int{ys[0], ys[1], ys[3]}
				pads, strides, dil = []int64{pads[1], pads[3]}, strides[1:], dil[1:]
			}
			wzShape := []int{}
			if tc.perChannel {
				wzShape = []int{tc.ws[0]}
			}
			attrs := nnAttrs(graph.IntAttr("group", int64(tc.group)), graph.IntsAttr("pads", pads...),
				graph.IntsAttr("strides", strides...), graph.IntsAttr("dilations", dil...))
			xt, wt := nnT(tc.xdt, xs, x), nnT(tc.wdt, ws, w)
			xzt, wzt := nnT(tc.xdt, nil, xz), nnT(tc.wdt, wzShape, wz)
			got, err := runOp(t, "ConvInteger", 10, 1, attrs, xt, wt, xzt, wzt)
			if err != nil {
				t.Fatal(err)
			}
			if err := enginetest.AllClose(got[0], nnT(tensor.Int32, yshape, acc)); err != nil {
				t.Fatal(err)
			}
			// QLinearConv over the same operands.
			xsc, ysc := 0.02, 3.0
			wsc := nnRound(tensor.Float32, nnRandom(rng, len(wz), 0.01, 0.1, false))
			per := len(acc) / (ys[0] * ys[1])
			want := make([]float64, len(acc))
			for i, v := range acc {
				o := (i / per) % ys[1]
				s := wsc[0]
				if len(wsc) > 1 {
					s = wsc[o]
				}
				if bias != nil {
					v += bias[o]
				}
				mult := float64(float32(float32(float32(xsc)*float32(s)) / float32(ysc)))
				want[i] = math.Min(255, math.Max(0, math.RoundToEven(v*mult+10)))
			}
			in := []*tensor.Tensor{xt, f32(nil, float32(xsc)), xzt, wt, nnT(tensor.Float32, wzShape, wsc), wzt, f32(nil, float32(ysc)), tensor.MustFrom(nil, []uint8{10})}
			if bias != nil {
				in = append(in, nnT(tensor.Int32, []int{tc.ws[0]}, bias))
			}
			got, err = runOp(t, "QLinearConv", 10, 1, attrs, in...)
			if err != nil {
				t.Fatal(err)
			}
			if err := enginetest.AllClose(got[0], nnT(tensor.Uint8, yshape, want)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
