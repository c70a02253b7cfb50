package ops_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// redBcastIndex maps flat index i of shape onto the flat index of p's
// shape broadcast to it.
func redBcastIndex(i int, shape, pshape []int) int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d] = i % shape[d]
		i /= shape[d]
	}
	off := len(shape) - len(pshape)
	j := 0
	for d, pd := range pshape {
		k := idx[d+off]
		if pd == 1 {
			k = 0
		}
		j = j*pd + k
	}
	return j
}

// redStandardize returns (x-mean)/sqrt(var+eps) over each row of n values
// (x/sqrt(mean(x²)+eps) for rms), with the rows' means and 1/sqrt(var+eps).
func redStandardize(x []float64, n int, eps float64, rms bool) (y, mean, inv []float64) {
	y = make([]float64, len(x))
	for r := 0; r*n < len(x); r++ {
		row := x[r*n : (r+1)*n]
		m := 0.0
		if !rms {
			for _, v := range row {
				m += v
			}
			m /= float64(n)
		}
		q := 0.0
		for _, v := range row {
			q += (v - m) * (v - m)
		}
		iv := 1 / math.Sqrt(q/float64(n)+eps)
		for i, v := range row {
			y[r*n+i] = (v - m) * iv
		}
		mean, inv = append(mean, m), append(inv, iv)
	}
	return y, mean, inv
}

func TestLayerNormRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 9))
	shapes := [][]int{{7}, {3, 5}, {2, 3, 5}, {3, 1, 2, 5}}
	for _, dt := range redFloatTypes {
		for _, shape := range shapes {
			for _, rms := range []bool{false, true} {
				rank := len(shape)
				axis := r.IntN(rank)
				// The scale spans the normalised axes, or broadcasts over a
				// leading one of them.
				pshape := slices.Clone(shape[axis:])
				if len(pshape) > 1 && r.IntN(2) == 0 {
					pshape[0] = 1
				}
				x := redRound(dt, redRand(r, tensor.Shape(shape).Size(), dt))
				scale := redRound(dt, redRand(r, tensor.Shape(pshape).Size(), dt))
				bias := redRound(dt, redRand(r, tensor.Shape(pshape).Size(), dt))
				n := tensor.Shape(shape[axis:]).Size()
				eps := 1e-3 * float64(r.IntN(3))
				norm, mean, inv := redStandardize(x, n, eps, rms)
				want := make([]float64, len(x))
				for i, v := range norm {
					j := redBcastIndex(i, shape, pshape)
					want[i] = v * scale[j]
					if !rms {
						want[i] += bias[j]
					}
				}
				statShape := slices.Clone(shape)
				for i := axis; i < rank; i++ {
					statShape[i] = 1
				}
				a := int64(axis)
				if r.IntN(2) == 0 {
					a -= int64(rank)
				}
				attrs := []*graph.Attr{graph.IntAttr("axis", a), graph.FloatAttr("epsilon", float32(eps))}
				name := "LayerNormalization"
				if rms {
					name = "RMSNormalization"
				}
				t.Run(fmt.Sprintf("%s/%s/%v/axis=%d", name, dt, shape, a), func(t *testing.T) {
					if rms {
						got, err := runOp(t, name, 23, 1, attrs, redMake(dt, shape, x), redMake(dt, pshape, scale))
						if err != nil {
							t.Fatal(err)
						}
						redCheck(t, got[0], dt, shape, want)
						return
					}
					got, err := runOp(t, name, 17, 3, attrs, redMake(dt, shape, x), redMake(dt, pshape, scale), redMake(dt, pshape, bias))
					if err != nil {
						t.Fatal(err)
					}
					redCheck(t, got[0], dt, shape, want)
					redCheck(t, got[1], tensor.Float32, statShape, mean)
					redCheck(t, got[2], tensor.Float32, statShape, inv)
				})
			}
		}
	}
}

func TestLayerNormOptions(t *testing.T) {
	is := is.New(t)
	x := redMake(tensor.Float32, tensor.Shape{2, 2}, []float64{1, 3, 2, 2})
	one := redMake(tensor.Float32, tensor.Shape{2}, []float64{1, 1})
	// No bias, Y alone; a zero variance row gives zeros.
	got, err := runOp(t, "LayerNormalization", 17, 1, nil, x, one)
	is.NoErr(err)
	redCheck(t, got[0], tensor.Float32, []int{2, 2}, []float64{-1, 1, 0, 0})
	// stash_type BFLOAT16 makes the statistics BFLOAT16.
	got, err = runOp(t, "LayerNormalization", 17, 3, []*graph.Attr{graph.IntAttr("stash_type", int64(tensor.BFloat16))}, x, one, nil)
	is.NoErr(err)
	is.Equal(got[1].DType, tensor.BFloat16)
	redCheck(t, got[1], tensor.BFloat16, []int{2, 1}, []float64{2, 2})
	// RMSNormalization's Y takes the scale's type.
	got, err = runOp(t, "RMSNormalization", 23, 1, []*graph.Attr{graph.FloatAttr("epsilon", 0)}, x, redMake(tensor.Float16, tensor.Shape{2}, []float64{1, 2}))
	is.NoErr(err)
	r1, r2 := math.Sqrt(5), 2.0
	redCheck(t, got[0], tensor.Float16, []int{2, 2}, []float64{1 / r1, 6 / r1, 2 / r2, 4 / r2})
	redExpectErr(t, "LayerNormalization", 17, 1, nil, fault.Invalid, x, redMake(tensor.Float32, tensor.Shape{3}, []float64{1, 1, 1}))
	redExpectErr(t, "LayerNormalization", 17, 1, []*graph.Attr{graph.IntAttr("axis", 2)}, fault.Invalid, x, one)
	redExpectBuildErr(t, node("LayerNormalization", []string{"x", "s"}, []string{"y"}, graph.IntAttr("stash_type", 7)), 17, fault.Invalid)
}

// redBatchNormRef normalises [N, C, S] data per channel.
func redBatchNormRef(x []float64, nb, c, s int, scale, bias, mean, variance []float64, eps float64) []float64 {
	y := make([]float64, len(x))
	for i := range nb {
		for ch := range c {
			for j := range s {
				o := (i*c+ch)*s + j
				y[o] = (x[o]-mean[ch])/math.Sqrt(variance[ch]+eps)*scale[ch] + bias[ch]
			}
		}
	}
	return y
}

// redChannelStats returns each channel's mean and population variance.
func redChannelStats(x []float64, nb, c, s int) (mean, variance []float64) {
	mean, variance = make([]float64, c), make([]float64, c)
	for ch := range c {
		var vals []float64
		for i := range nb {
			vals = append(vals, x[(i*c+ch)*s:(i*c+ch+1)*s]...)
		}
		for _, v := range vals {
			mean[ch] += v
		}
		mean[ch] /= float64(len(vals))
		for _, v := range vals {
			variance[ch] += (v - mean[ch]) * (v - mean[ch])
		}
		variance[ch] /= float64(len(vals))
	}
	return mean, variance
}

func TestBatchNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, dt := range redFloatTypes {
		for _, shape := range [][]int{{2, 3, 5}, {3, 5}, {7}, {2, 3, 2, 3}} {
			nb, c, s := shape[0], 1, 1
			if len(shape) > 1 {
				c = shape[1]
				s = tensor.Shape(shape[2:]).Size()
			}
			x := redRound(dt, redRand(r, tensor.Shape(shape).Size(), dt))
			scale := redRound(dt, redRand(r, c, dt))
			bias := redRound(dt, redRand(r, c, dt))
			mean := redRound(dt, redRand(r, c, dt))
			variance := redRand(r, c, dt)
			for i := range variance {
				variance[i] = math.Abs(variance[i]) + 0.5
			}
			variance = redRound(dt, variance)
			in := func(dt tensor.DType) []*tensor.Tensor {
				return []*tensor.Tensor{redMake(dt, shape, x), redMake(dt, tensor.Shape{c}, scale), redMake(dt, tensor.Shape{c}, bias), redMake(dt, tensor.Shape{c}, mean), redMake(dt, tensor.Shape{c}, variance)}
			}
			eps := 1e-2
			attrs := []*graph.Attr{graph.FloatAttr("epsilon", float32(eps)), graph.FloatAttr("momentum", 0.8)}
			t.Run(fmt.Sprintf("inference/%s/%v", dt, shape), func(t *testing.T) {
				want := redBatchNormRef(x, nb, c, s, scale, bias, mean, variance, eps)
				for _, opset := range []int64{9, 14, 15} {
					if dt == tensor.BFloat16 && opset < 14 {
						continue
					}
					got, err := runOp(t, "BatchNormalization", opset, 1, attrs, in(dt)...)
					if err != nil {
						t.Fatal(err)
					}
					redCheck(t, got[0], dt, shape, want)
				}
			})
			t.Run(fmt.Sprintf("training/%s/%v", dt, shape), func(t *testing.T) {
				bm, bv := redChannelStats(x, nb, c, s)
				want := redBatchNormRef(x, nb, c, s, scale, bias, bm, bv, eps)
				rm, rv := make([]float64, c), make([]float64, c)
				for i := range c {
					rm[i] = mean[i]*0.8 + bm[i]*0.2
					rv[i] = variance[i]*0.8 + bv[i]*0.2
				}
				got, err := runOp(t, "BatchNormalization", 15, 3, append(attrs, graph.IntAttr("training_mode", 1)), in(dt)...)
				if err != nil {
					t.Fatal(err)
				}
				redCheck(t, got[0], dt, shape, want)
				redCheck(t, got[1], dt, []int{c}, rm)
				redCheck(t, got[2], dt, []int{c}, rv)
				if dt == tensor.BFloat16 {
					return
				}
				// Before opset 14 the extra outputs ask for training mode.
				got, err = runOp(t, "BatchNormalization", 9, 5, attrs, in(dt)...)
				if err != nil {
					t.Fatal(err)
				}
				redCheck(t, got[0], dt, shape, want)
				redCheck(t, got[1], dt, []int{c}, rm)
				redCheck(t, got[2], dt, []int{c}, rv)
				redCheck(t, got[3], dt, []int{c}, bm)
				redCheck(t, got[4], dt, []int{c}, bv)
			})
		}
	}
}

func TestBatchNormVersions(t *testing.T) {
	is := is.New(t)
	// Opset 15 lets the statistics have another type than X.
	x := redMake(tensor.Float16, tensor.Shape{1, 2}, []float64{1, 2})
	p := func(v ...float64) *tensor.Tensor { return redMake(tensor.Float64, tensor.Shape{2}, v) }
	got, err := runOp(t, "BatchNormalization", 15, 1, []*graph.Attr{graph.FloatAttr("epsilon", 0)}, x, redMake(tensor.Float32, tensor.Shape{2}, []float64{2, 3}), redMake(tensor.Float32, tensor.Shape{2}, []float64{1, 1}), p(0, 1), p(4, 9))
	is.NoErr(err)
	redCheck(t, got[0], tensor.Float16, []int{1, 2}, []float64{2, 2})
	// spatial = 0 (opset 7) normalises each element of a sample on its own.
	x = redMake(tensor.Float32, tensor.Shape{1, 2, 2}, []float64{1, 2, 3, 4})
	q := func(v ...float64) *tensor.Tensor { return redMake(tensor.Float32, tensor.Shape{2, 2}, v) }
	got, err = runOp(t, "BatchNormalization", 7, 1, []*graph.Attr{graph.IntAttr("spatial", 0), graph.FloatAttr("epsilon", 0)}, x, q(1, 1, 1, 2), q(0, 0, 0, 1), q(1, 2, 3, 0), q(1, 1, 1, 4))
	is.NoErr(err)
	redCheck(t, got[0], tensor.Float32, []int{1, 2, 2}, []float64{0, 0, 0, 5})
	// is_test at opset 6 is accepted; consumed_inputs only at 1.
	_, _, err = redBuild(node("BatchNormalization", []string{"x", "s", "b", "m", "v"}, []string{"y"}, graph.IntAttr("is_test", 1)), 6)
	is.NoErr(err)
	redExpectBuildErr(t, node("BatchNormalization", []string{"x", "s", "b", "m", "v"}, []string{"y"}, graph.IntAttr("is_test", 1)), 7, fault.Invalid)
	redExpectBuildErr(t, node("BatchNormalization", []string{"x", "s", "b", "m", "v"}, []string{"y", "rm", "rv"}), 15, fault.Invalid)
	redExpectBuildErr(t, node("BatchNormalization", []string{"x", "s", "b", "m", "v"}, []string{"y", "m", "v"}, graph.IntAttr("is_test", 1)), 6, fault.Invalid)
	redExpectErr(t, "BatchNormalization", 15, 1, nil, fault.Invalid, x, q(1, 1, 1, 1), p(1, 1), p(1, 1), p(1, 1))
}

func TestGroupAndInstanceNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 3))
	for _, dt := range redFloatTypes {
		for _, shape := range [][]int{{2, 6, 5}, {1, 6, 2, 3}, {3, 6}} {
			nb, c := shape[0], shape[1]
			s := tensor.Shape(shape[2:]).Size()
			x := redRound(dt, redRand(r, tensor.Shape(shape).Size(), dt))
			for _, groups := range []int{0, 1, 2, 3, 6} { // 0: InstanceNormalization
				for _, opset := range []int64{18, 21} {
					g, per := groups, 1
					op := "GroupNormalization"
					if groups == 0 {
						op, g = "InstanceNormalization", c
						if opset == 18 {
							opset = 6
						} else {
							opset = 22
						}
					}
					if dt == tensor.BFloat16 && opset == 6 {
						continue
					}
					nParams := c
					if opset == 18 {
						nParams, per = g, c/g
					}
					scale := redRound(dt, redRand(r, nParams, dt))
					bias := redRound(dt, redRand(r, nParams, dt))
					norm, _, _ := redStandardize(x, c/g*s, 1e-5, false)
					want := make([]float64, len(x))
					for i := range nb {
						for ch := range c {
							for j := range s {
								o := (i*c+ch)*s + j
								want[o] = norm[o]*scale[ch/per] + bias[ch/per]
							}
						}
					}
					var attrs []*graph.Attr
					if groups > 0 {
						attrs = append(attrs, graph.IntAttr("num_groups", int64(g)))
					}
					t.Run(fmt.Sprintf("%s-%d/%s/%v/g=%d", op, opset, dt, shape, g), func(t *testing.T) {
						got, err := runOp(t, op, opset, 1, attrs, redMake(dt, shape, x), redMake(dt, tensor.Shape{nParams}, scale), redMake(dt, tensor.Shape{nParams}, bias))
						if err != nil {
							t.Fatal(err)
						}
						redCheck(t, got[0], dt, shape, want)
					})
				}
			}
		}
	}
	x := redMake(tensor.Float32, tensor.Shape{1, 6, 1}, []float64{1, 2, 3, 4, 5, 6})
	p := redMake(tensor.Float32, tensor.Shape{6}, []float64{1, 1, 1, 1, 1, 1})
	redExpectErr(t, "GroupNormalization", 21, 1, []*graph.Attr{graph.IntAttr("num_groups", 4)}, fault.Invalid, x, p, p)
	redExpectErr(t, "GroupNormalization", 18, 1, []*graph.Attr{graph.IntAttr("num_groups", 2)}, fault.Invalid, x, p, p)
	redExpectErr(t, "InstanceNormalization", 6, 1, nil, fault.Invalid, redMake(tensor.Float32, tensor.Shape{6}, []float64{1, 2, 3, 4, 5, 6}), p, p)
	redExpectBuildErr(t, node("GroupNormalization", []string{"x", "s", "b"}, []string{"y"}), 21, fault.Invalid)
	redExpectBuildErr(t, node("GroupNormalization", []string{"x", "s", "b"}, []string{"y"}, graph.IntAttr("num_groups", 0)), 21, fault.Invalid)
	redExpectBuildErr(t, node("GroupNormalization", []string{"x", "s", "b"}, []string{"y"}, graph.IntAttr("num_groups", 1), graph.IntAttr("stash_type", 1)), 18, fault.Invalid)
}

func TestLpNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, dt := range redFloatTypes {
		for _, shape := range [][]int{{7}, {3, 5}, {2, 3, 5}} {
			for _, p := range []int64{1, 2} {
				x := redRound(dt, redRand(r, tensor.Shape(shape).Size(), dt))
				axis := r.IntN(len(shape))
				outer, n, inner := redSplitRef(shape, axis)
				// Zero one line: its output is zero, not NaN.
				for j := range n {
					x[j*inner] = 0
				}
				want := make([]float64, len(x))
				redLines(outer, n, inner, func(offs []int) {
					norm := 0.0
					for _, o := range offs {
						if p == 1 {
							norm += math.Abs(x[o])
						} else {
							norm += x[o] * x[o]
						}
					}
					if p == 2 {
						norm = math.Sqrt(norm)
					}
					for _, o := range offs {
						if norm != 0 {
							want[o] = x[o] / norm
						}
					}
				})
				opset := int64(1)
				if dt == tensor.BFloat16 {
					opset = 22
				}
				t.Run(fmt.Sprintf("%s/%v/p=%d", dt, shape, p), func(t *testing.T) {
					got, err := runOp(t, "LpNormalization", opset, 1, []*graph.Attr{graph.IntAttr("axis", int64(axis)), graph.IntAttr("p", p)}, redMake(dt, shape, x))
					if err != nil {
						t.Fatal(err)
					}
					redCheck(t, got[0], dt, shape, want)
				})
			}
		}
	}
	redExpectBuildErr(t, node("LpNormalization", []string{"x"}, []string{"y"}, graph.IntAttr("p", 3)), 1, fault.Invalid)
}

func TestMVN(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	cases := []struct {
		shape []int
		axes  []int64 // nil: the default [0, 2, 3]
	}{
		{[]int{2, 3, 2, 5}, nil},
		{[]int{3, 5, 7}, []int64{1}},
		{[]int{3, 5, 7}, []int64{0, -1}},
		{[]int{1, 3, 1, 2}, []int64{2, 3}},
	}
	for _, dt := range redFloatTypes {
		for _, tc := range cases {
			x := redRound(dt, redRand(r, tensor.Shape(tc.shape).Size(), dt))
			axes := tc.axes
			if axes == nil {
				axes = []int64{0, 2, 3}
			}
			mask := make([]bool, len(tc.shape))
			for _, a := range axes {
				if a < 0 {
					a += int64(len(tc.shape))
				}
				mask[a] = true
			}
			_, mean := redRefReduce(tc.shape, x, mask, true, func(g []float64) float64 { return redFoldSum(g) / float64(len(g)) })
			_, meanSq := redRefReduce(tc.shape, x, mask, true, func(g []float64) float64 {
				return redMapSum(func(v float64) float64 { return v * v })(g) / float64(len(g))
			})
			want := make([]float64, len(x))
			groups := redGroupIndex(tc.shape, mask)
			for i, v := range x {
				gi := groups[i]
				sd := math.Sqrt(math.Max(meanSq[gi]-mean[gi]*mean[gi], 0))
				want[i] = (v - mean[gi]) / (sd + 1e-9)
			}
			var attrs []*graph.Attr
			if tc.axes != nil {
				attrs = append(attrs, graph.IntsAttr("axes", tc.axes...))
			}
			opset := int64(9)
			if dt == tensor.BFloat16 {
				opset = 13
			}
			t.Run(fmt.Sprintf("%s/%v/%v", dt, tc.shape, tc.axes), func(t *testing.T) {
				got, err := runOp(t, "MeanVarianceNormalization", opset, 1, attrs, redMake(dt, tc.shape, x))
				if err != nil {
					t.Fatal(err)
				}
				redCheck(t, got[0], dt, tc.shape, want)
			})
		}
	}
	redExpectErr(t, "MeanVarianceNormalization", 13, 1, nil, fault.Invalid, redMake(tensor.Float32, tensor.Shape{2, 3, 4}, make([]float64, 24)))
}

// redGroupIndex gives each element's output position in a reduction
// with keepdims.
func redGroupIndex(shape []int, mask []bool) []int {
	n := tensor.Shape(shape).Size()
	out := make([]int, n)
	idx := make([]int, len(shape))
	for i := range out {
		o := 0
		for d, s := range shape {
			if !mask[d] {
				o = o*s + idx[d]
			}
		}
		out[i] = o
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}
