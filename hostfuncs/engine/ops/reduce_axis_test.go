package ops_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Tests of the operators that work along one axis: ArgMax, ArgMin,
// Softmax, LogSoftmax, Hardmax, CumSum, CumProd, TopK.

// redSplitRef views shape as [outer, n, inner] around axis.
func redSplitRef(shape []int, axis int) (outer, n, inner int) {
	outer, n, inner = 1, shape[axis], 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	return outer, n, inner
}

// redLines calls f with the flat offsets of each line along the middle
// axis of an [outer, n, inner] view.
func redLines(outer, n, inner int, f func(offs []int)) {
	offs := make([]int, n)
	for o := range outer {
		for i := range inner {
			for j := range offs {
				offs[j] = (o*n+j)*inner + i
			}
			f(offs)
		}
	}
}

func TestArgRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	shapes := [][]int{{7}, {3, 5}, {5, 3, 7}, {2, 1, 3}}
	types := append(append([]tensor.DType{}, redFloatTypes...), redWideInts...)
	types = append(types, tensor.Int8, tensor.Uint16)
	for _, dt := range types {
		for _, shape := range shapes {
			for _, isMax := range []bool{true, false} {
				for _, last := range []bool{false, true} {
					vals := redRand(r, tensor.Shape(shape).Size(), dt)
					for i := range vals { // coarse values make ties
						vals[i] = math.Round(vals[i])
					}
					axis := r.IntN(len(shape))
					outer, n, inner := redSplitRef(shape, axis)
					var want []float64
					redLines(outer, n, inner, func(offs []int) {
						best := 0
						for j := 1; j < n; j++ {
							v, b := vals[offs[j]], vals[offs[best]]
							if (isMax && v > b) || (!isMax && v < b) || (last && v == b) {
								best = j
							}
						}
						want = append(want, float64(best))
					})
					keep := r.IntN(2)
					wantShape := slices.Clone(shape)
					if keep == 1 {
						wantShape[axis] = 1
					} else {
						wantShape = slices.Delete(wantShape, axis, axis+1)
					}
					op := "ArgMin"
					if isMax {
						op = "ArgMax"
					}
					a := int64(axis)
					if r.IntN(2) == 0 {
						a -= int64(len(shape))
					}
					t.Run(fmt.Sprintf("%s/%s/%v/last=%v", op, dt, shape, last), func(t *testing.T) {
						got, err := runOp(t, op, 13, 1, []*graph.Attr{
							graph.IntAttr("axis", a), graph.IntAttr("keepdims", int64(keep)), graph.IntAttr("select_last_index", map[bool]int64{false: 0, true: 1}[last]),
						}, redMake(dt, shape, vals))
						if err != nil {
							t.Fatal(err)
						}
						redCheck(t, got[0], tensor.Int64, wantShape, want)
					})
				}
			}
		}
	}
}

func TestArgEdgeCases(t *testing.T) {
	nan := redNaN
	x := redMake(tensor.Float32, tensor.Shape{5}, []float64{1, nan, 3, nan, 0})
	for _, tc := range []struct {
		op   string
		last int64
		want float64
	}{{"ArgMax", 0, 1}, {"ArgMax", 1, 3}, {"ArgMin", 0, 1}, {"ArgMin", 1, 3}} {
		t.Run(fmt.Sprintf("NaN %s last=%d", tc.op, tc.last), func(t *testing.T) {
			got, err := runOp(t, tc.op, 12, 1, []*graph.Attr{graph.IntAttr("select_last_index", tc.last)}, x)
			if err != nil {
				t.Fatal(err)
			}
			redCheck(t, got[0], tensor.Int64, []int{1}, []float64{tc.want})
		})
	}
	// Default axis 0 and keepdims 1, at the first opset.
	got, err := runOp(t, "ArgMax", 1, 1, nil, redMake(tensor.Float64, tensor.Shape{2, 2}, []float64{1, 4, 3, 2}))
	if err != nil {
		t.Fatal(err)
	}
	redCheck(t, got[0], tensor.Int64, []int{1, 2}, []float64{1, 0})
	got, err = runOp(t, "ArgMin", 13, 1, []*graph.Attr{graph.IntAttr("axis", 1)}, redMake(tensor.Float32, tensor.Shape{0, 3}, nil))
	if err != nil {
		t.Fatal(err)
	}
	redCheck(t, got[0], tensor.Int64, []int{0, 1}, nil)
	redExpectErr(t, "ArgMax", 13, 1, nil, fault.Invalid, redMake(tensor.Float32, tensor.Shape{0, 3}, nil))
	redExpectErr(t, "ArgMax", 13, 1, []*graph.Attr{graph.IntAttr("axis", 2)}, fault.Invalid, redMake(tensor.Float32, tensor.Shape{1, 3}, []float64{1, 2, 3}))
	redExpectBuildErr(t, node("ArgMax", []string{"x"}, []string{"y"}, graph.IntAttr("select_last_index", 1)), 11, fault.Invalid)
}

// redSoftmaxRef computes softmax, log-softmax or hardmax over each line.
func redSoftmaxRef(kind string, vals []float64, outer, n, inner int) []float64 {
	out := make([]float64, len(vals))
	redLines(outer, n, inner, func(offs []int) {
		m := math.Inf(-1)
		best := -1
		for _, o := range offs {
			if vals[o] > m {
				m = vals[o]
				best = o
			}
		}
		s := 0.0
		for _, o := range offs {
			s += math.Exp(vals[o] - m)
		}
		for _, o := range offs {
			switch kind {
			case "Softmax":
				out[o] = math.Exp(vals[o]-m) / s
			case "LogSoftmax":
				out[o] = vals[o] - m - math.Log(s)
			case "Hardmax":
				if o == best {
					out[o] = 1
				}
			}
		}
	})
	return out
}

func TestSoftmaxRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	shapes := [][]int{{7}, {3, 5}, {2, 3, 5}, {3, 1, 2, 5}}
	for _, kind := range []string{"Softmax", "LogSoftmax", "Hardmax"} {
		for _, dt := range redFloatTypes {
			for _, shape := range shapes {
				for _, opset := range []int64{11, 13} {
					if dt == tensor.BFloat16 && opset < 13 {
						continue
					}
					vals := redRound(dt, redRand(r, tensor.Shape(shape).Size(), dt))
					rank := len(shape)
					var axis int
					var outer, n, inner int
					if opset < 13 { // coerced to 2-D at axis, which may equal the rank
						axis = r.IntN(rank + 1)
						outer, n, inner = 1, 1, 1
						for i, d := range shape {
							if i < axis {
								outer *= d
							} else {
								n *= d
							}
						}
					} else {
						axis = r.IntN(rank)
						outer, n, inner = redSplitRef(shape, axis)
					}
					want := redSoftmaxRef(kind, vals, outer, n, inner)
					a := int64(axis)
					if axis < rank && r.IntN(2) == 0 {
						a -= int64(rank)
					}
					t.Run(fmt.Sprintf("%s-%d/%s/%v/axis=%d", kind, opset, dt, shape, a), func(t *testing.T) {
						got, err := runOp(t, kind, opset, 1, []*graph.Attr{graph.IntAttr("axis", a)}, redMake(dt, shape, vals))
						if err != nil {
							t.Fatal(err)
						}
						redCheck(t, got[0], dt, shape, want)
					})
				}
			}
		}
	}
}

func TestSoftmaxDefaults(t *testing.T) {
	x := redMake(tensor.Float32, tensor.Shape{2, 2, 2}, []float64{0, 1, 2, 3, 4, 5, 6, 7})
	vals := redValues(x)
	// Opset 13 defaults to the last axis; opset 1 to a 2-D split at 1.
	got, err := runOp(t, "Softmax", 13, 1, nil, x)
	if err != nil {
		t.Fatal(err)
	}
	redCheck(t, got[0], tensor.Float32, []int{2, 2, 2}, redSoftmaxRef("Softmax", vals, 4, 2, 1))
	got, err = runOp(t, "Softmax", 1, 1, nil, x)
	if err != nil {
		t.Fatal(err)
	}
	redCheck(t, got[0], tensor.Float32, []int{2, 2, 2}, redSoftmaxRef("Softmax", vals, 2, 4, 1))
	// Large values do not overflow; ties go to the first maximum.
	big := redMake(tensor.Float32, tensor.Shape{3}, []float64{1000, 1000, -1000})
	got, err = runOp(t, "LogSoftmax", 13, 1, nil, big)
	if err != nil {
		t.Fatal(err)
	}
	redCheck(t, got[0], tensor.Float32, []int{3}, []float64{-math.Ln2, -math.Ln2, -2000 - math.Ln2})
	got, err = runOp(t, "Hardmax", 13, 1, nil, big)
	if err != nil {
		t.Fatal(err)
	}
	redCheck(t, got[0], tensor.Float32, []int{3}, []float64{1, 0, 0})
	got, err = runOp(t, "Softmax", 13, 1, []*graph.Attr{graph.IntAttr("axis", 0)}, redMake(tensor.Float32, tensor.Shape{0, 3}, nil))
	if err != nil {
		t.Fatal(err)
	}
	redCheck(t, got[0], tensor.Float32, []int{0, 3}, nil)
	redExpectErr(t, "Softmax", 13, 1, []*graph.Attr{graph.IntAttr("axis", 3)}, fault.Invalid, x)
	redExpectErr(t, "Softmax", 11, 1, []*graph.Attr{graph.IntAttr("axis", 4)}, fault.Invalid, x)
}

func TestCumRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 1))
	shapes := [][]int{{7}, {3, 5}, {2, 3, 5}}
	for _, op := range []string{"CumSum", "CumProd"} {
		for _, dt := range append(append([]tensor.DType{}, redFloatTypes...), redWideInts...) {
			for _, shape := range shapes {
				for _, mode := range [][2]int64{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
					vals := redRound(dt, redRand(r, tensor.Shape(shape).Size(), dt))
					if op == "CumProd" && dt.IsFloat() {
						for i := range vals {
							vals[i] = redRound(dt, []float64{1 + vals[i]/10})[0]
						}
					}
					axis := r.IntN(len(shape))
					outer, n, inner := redSplitRef(shape, axis)
					want := make([]float64, len(vals))
					redLines(outer, n, inner, func(offs []int) {
						if mode[1] == 1 {
							slices.Reverse(offs)
						}
						acc := 0.0
						if op == "CumProd" {
							acc = 1
						}
						for _, o := range offs {
							if mode[0] == 1 {
								want[o] = acc
							}
							if op == "CumProd" {
								acc *= vals[o]
							} else {
								acc += vals[o]
							}
							if mode[0] == 0 {
								want[o] = acc
							}
						}
					})
					opset := int64(14)
					if op == "CumProd" {
						opset = 26
					}
					a := int64(axis)
					if r.IntN(2) == 0 {
						a -= int64(len(shape))
					}
					var axisT *tensor.Tensor
					if r.IntN(2) == 0 {
						axisT = tensor.MustFrom(nil, []int32{int32(a)})
					} else {
						axisT = tensor.MustFrom(nil, []int64{a})
					}
					t.Run(fmt.Sprintf("%s/%s/%v/%v", op, dt, shape, mode), func(t *testing.T) {
						got, err := runOp(t, op, opset, 1, []*graph.Attr{graph.IntAttr("exclusive", mode[0]), graph.IntAttr("reverse", mode[1])}, redMake(dt, shape, vals), axisT)
						if err != nil {
							t.Fatal(err)
						}
						redCheck(t, got[0], dt, shape, want)
					})
				}
			}
		}
	}
	x := redMake(tensor.Float32, tensor.Shape{3}, []float64{1, 2, 3})
	redExpectErr(t, "CumSum", 14, 1, nil, fault.Invalid, x, tensor.MustFrom(nil, []int64{1}))
	redExpectErr(t, "CumSum", 14, 1, nil, fault.Invalid, x, tensor.MustFrom(tensor.Shape{2}, []int64{0, 0}))
	redExpectBuildErr(t, node("CumSum", []string{"x", "a"}, []string{"y"}, graph.IntAttr("reverse", 3)), 14, fault.Invalid)
}

// redTopKRef sorts each line by value (NaN highest), ties by index.
func redTopKRef(vals []float64, outer, n, inner, k int, largest bool) (v, idx []float64) {
	v = make([]float64, outer*k*inner)
	idx = make([]float64, outer*k*inner)
	redLines(outer, n, inner, func(offs []int) {
		order := make([]int, n)
		for j := range order {
			order[j] = j
		}
		sort.SliceStable(order, func(a, b int) bool {
			ka, kb := vals[offs[order[a]]], vals[offs[order[b]]]
			na, nb := math.IsNaN(vals[offs[order[a]]]), math.IsNaN(vals[offs[order[b]]])
			if na || nb {
				if largest {
					return na && !nb
				}
				return !na && nb
			}
			if largest {
				return ka > kb
			}
			return ka < kb
		})
		o, i := offs[0]/(n*inner), offs[0]%inner
		for m := range k {
			at := (o*k+m)*inner + i
			v[at] = vals[offs[order[m]]]
			idx[at] = float64(order[m])
		}
	})
	return v, idx
}

func TestTopKRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	shapes := [][]int{{7}, {3, 5}, {2, 3, 5}, {5, 1, 3}}
	types := append(append([]tensor.DType{}, redFloatTypes...), redWideInts...)
	types = append(types, tensor.Int8, tensor.Uint8, tensor.Int16, tensor.Uint16)
	for _, dt := range types {
		for _, shape := range shapes {
			for _, largest := range []bool{true, false} {
				vals := redRand(r, tensor.Shape(shape).Size(), dt)
				for i := range vals {
					vals[i] = math.Round(vals[i]) // ties
				}
				if dt.IsFloat() && len(vals) > 3 {
					vals[2], vals[len(vals)-1] = redNaN, redNaN
				}
				axis := r.IntN(len(shape))
				outer, n, inner := redSplitRef(shape, axis)
				k := r.IntN(n + 1)
				wantV, wantI := redTopKRef(vals, outer, n, inner, k, largest)
				wantShape := slices.Clone(shape)
				wantShape[axis] = k
				a := int64(axis)
				if r.IntN(2) == 0 {
					a -= int64(len(shape))
				}
				t.Run(fmt.Sprintf("%s/%v/k=%d/largest=%v", dt, shape, k, largest), func(t *testing.T) {
					got, err := runOp(t, "TopK", 24, 2, []*graph.Attr{graph.IntAttr("axis", a), graph.IntAttr("largest", map[bool]int64{false: 0, true: 1}[largest])},
						redMake(dt, shape, vals), tensor.MustFrom(tensor.Shape{1}, []int64{int64(k)}))
					if err != nil {
						t.Fatal(err)
					}
					redCheck(t, got[0], dt, wantShape, wantV)
					redCheck(t, got[1], tensor.Int64, wantShape, wantI)
				})
			}
		}
	}
}

func TestTopKVersions(t *testing.T) {
	is := is.New(t)
	x := redMake(tensor.Float32, tensor.Shape{2, 3}, []float64{1, 3, 2, 6, 5, 4})
	got, err := runOp(t, "TopK", 1, 2, []*graph.Attr{graph.IntAttr("k", 2)}, x)
	is.NoErr(err)
	redCheck(t, got[0], tensor.Float32, []int{2, 2}, []float64{3, 2, 6, 5})
	redCheck(t, got[1], tensor.Int64, []int{2, 2}, []float64{1, 2, 0, 1})
	got, err = runOp(t, "TopK", 10, 2, []*graph.Attr{graph.IntAttr("axis", 0)}, x, tensor.MustFrom(tensor.Shape{1}, []int64{1}))
	is.NoErr(err)
	redCheck(t, got[0], tensor.Float32, []int{1, 3}, []float64{6, 5, 4})
	redCheck(t, got[1], tensor.Int64, []int{1, 3}, []float64{1, 1, 1})
	k := tensor.MustFrom(tensor.Shape{1}, []int64{4})
	redExpectErr(t, "TopK", 11, 2, nil, fault.Invalid, x, k)
	redExpectErr(t, "TopK", 11, 2, nil, fault.Invalid, x, tensor.MustFrom(tensor.Shape{1}, []int64{-1}))
	redExpectErr(t, "TopK", 11, 2, nil, fault.Invalid, x, tensor.MustFrom(tensor.Shape{1}, []int32{1}))
	redExpectBuildErr(t, node("TopK", []string{"x"}, []string{"v", "i"}), 1, fault.Invalid)
	redExpectBuildErr(t, node("TopK", []string{"x", "k"}, []string{"v", "i"}, graph.IntAttr("largest", 0)), 10, fault.Invalid)
	s, err := redLookup("TopK", 10)
	is.NoErr(err)
	_, err = s.InferTypes([]tensor.DType{tensor.Int32, tensor.Int64}, 2)
	is.True(err != nil) // integers arrive at opset 11
}
