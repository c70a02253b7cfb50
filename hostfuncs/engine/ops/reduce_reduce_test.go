package ops_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

type redRefOp struct {
	name  string
	fold  func([]float64) float64
	types []tensor.DType
}

func redFoldSum(g []float64) float64 {
	s := 0.0
	for _, v := range g {
		s += v
	}
	return s
}

func redFoldMax(g []float64) float64 {
	m := math.Inf(-1)
	for _, v := range g {
		if v > m || math.IsNaN(v) {
			m = v
		}
		if math.IsNaN(m) {
			return m
		}
	}
	return m
}

func redFoldMin(g []float64) float64 {
	m := math.Inf(1)
	for _, v := range g {
		if v < m || math.IsNaN(v) {
			m = v
		}
		if math.IsNaN(m) {
			return m
		}
	}
	return m
}

func redMapSum(f func(float64) float64) func([]float64) float64 {
	return func(g []float64) float64 {
		s := 0.0
		for _, v := range g {
			s += f(v)
		}
		return s
	}
}

var (
	redFloatTypes = []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16}
	redWideInts   = []tensor.DType{tensor.Int32, tensor.Int64, tensor.Uint32, tensor.Uint64}
)

func redOps() []redRefOp {
	all := append(append([]tensor.DType{}, redFloatTypes...), redWideInts...)
	extremes := append(append([]tensor.DType{}, all...), tensor.Int8, tensor.Uint8)
	return []redRefOp{
		{"ReduceSum", redFoldSum, all},
		{"ReduceMean", func(g []float64) float64 { return redFoldSum(g) / float64(len(g)) }, all},
		{"ReduceMax", redFoldMax, extremes},
		{"ReduceMin", redFoldMin, extremes},
		{"ReduceProd", func(g []float64) float64 {
			p := 1.0
			for _, v := range g {
				p *= v
			}
			return p
		}, all},
		{"ReduceSumSquare", redMapSum(func(v float64) float64 { return v * v }), all},
		{"ReduceL1", redMapSum(math.Abs), all},
		{"ReduceL2", func(g []float64) float64 { return math.Sqrt(redMapSum(func(v float64) float64 { return v * v })(g)) }, all},
		{"ReduceLogSum", func(g []float64) float64 { return math.Log(redFoldSum(g)) }, redFloatTypes},
		{"ReduceLogSumExp", func(g []float64) float64 { return math.Log(redMapSum(math.Exp)(g)) }, redFloatTypes},
	}
}

// TestReduceRandom checks every Reduce* operator against the reference on
// random data, shapes with odd and prime sizes, random (and negative) axes
// and both keepdims, with axes as an input (opset 18, 13 for ReduceSum)
// and as an attribute (opset 13, 11 for ReduceSum).
func TestReduceRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	shapes := [][]int{{7}, {3, 5}, {2, 1, 3, 5}, {5, 3, 7}, {1, 1}, {3, 2, 1, 2, 3}}
	for _, op := range redOps() {
		for _, dt := range op.types {
			for si, shape := range shapes {
				n := tensor.Shape(shape).Size()
				for trial := range 4 {
					vals := redRand(r, n, dt)
					if op.name == "ReduceLogSum" {
						for i := range vals {
							vals[i] = math.Abs(vals[i]) + 0.1
						}
					}
					vals = redRound(dt, vals)
					mask := make([]bool, len(shape))
					var axes []int64
					for i := range shape {
						if r.IntN(2) == 0 {
							mask[i] = true
							a := int64(i)
							if r.IntN(2) == 0 {
								a -= int64(len(shape))
							}
							axes = append(axes, a)
						}
					}
					if len(axes) == 0 { // empty axes reduce everything
						for i := range mask {
							mask[i] = true
						}
					}
					keep := r.IntN(2) == 0
					wantShape, want := redRefReduce(shape, vals, mask, keep, op.fold)
					x := redMake(dt, shape, vals)
					keepAttr := graph.IntAttr("keepdims", map[bool]int64{false: 0, true: 1}[keep])
					newOpset, oldOpset := int64(18), int64(13)
					if op.name == "ReduceSum" {
						newOpset, oldOpset = 13, 11
					}
					if (dt == tensor.Int8 || dt == tensor.Uint8) && oldOpset < 12 {
						oldOpset = 12
					}
					t.Run(fmt.Sprintf("%s/%s/%d/%d", op.name, dt, si, trial), func(t *testing.T) {
						got, err := runOp(t, op.name, newOpset, 1, []*graph.Attr{keepAttr}, x, tensor.MustFrom(tensor.Shape{len(axes)}, axes))
						if err != nil {
							t.Fatal(err)
						}
						redCheck(t, got[0], dt, wantShape, want)
						if dt == tensor.BFloat16 && oldOpset < 13 {
							return
						}
						attrs := []*graph.Attr{keepAttr}
						if len(axes) > 0 {
							attrs = append(attrs, graph.IntsAttr("axes", axes...))
						}
						got, err = runOp(t, op.name, oldOpset, 1, attrs, x)
						if err != nil {
							t.Fatal(err)
						}
						redCheck(t, got[0], dt, wantShape, want)
					})
				}
			}
		}
	}
}

func TestReduceEdgeCases(t *testing.T) {
	inf := math.Inf(1)
	f := tensor.Float32
	axes1 := tensor.MustFrom(tensor.Shape{1}, []int64{1})
	noAxes := tensor.MustFrom(tensor.Shape{0}, []int64{})
	empty := redMake(f, tensor.Shape{2, 0, 3}, nil)
	noop := graph.IntAttr("noop_with_empty_axes", 1)
	cases := []struct {
		name  string
		op    string
		opset int64
		attrs []*graph.Attr
		in    []*tensor.Tensor
		dt    tensor.DType
		shape []int
		want  []float64
	}{
		{"sum of empty set", "ReduceSum", 13, nil, []*tensor.Tensor{empty, axes1}, f, []int{2, 1, 3}, []float64{0, 0, 0, 0, 0, 0}},
		{"prod of empty set", "ReduceProd", 18, nil, []*tensor.Tensor{empty, axes1}, f, []int{2, 1, 3}, []float64{1, 1, 1, 1, 1, 1}},
		{"max of empty set", "ReduceMax", 20, nil, []*tensor.Tensor{empty, axes1}, f, []int{2, 1, 3}, []float64{-inf, -inf, -inf, -inf, -inf, -inf}},
		{"min of empty set", "ReduceMin", 20, []*graph.Attr{graph.IntAttr("keepdims", 0)}, []*tensor.Tensor{empty, axes1}, f, []int{2, 3}, []float64{inf, inf, inf, inf, inf, inf}},
		{"log-sum of empty set", "ReduceLogSum", 18, nil, []*tensor.Tensor{empty, axes1}, f, []int{2, 1, 3}, []float64{-inf, -inf, -inf, -inf, -inf, -inf}},
		{"log-sum-exp of empty set", "ReduceLogSumExp", 18, nil, []*tensor.Tensor{empty, axes1}, f, []int{2, 1, 3}, []float64{-inf, -inf, -inf, -inf, -inf, -inf}},
		{"mean of empty set", "ReduceMean", 18, nil, []*tensor.Tensor{empty, axes1}, f, []int{2, 1, 3}, []float64{redNaN, redNaN, redNaN, redNaN, redNaN, redNaN}},
		{"max of empty int32 set", "ReduceMax", 18, nil, []*tensor.Tensor{redMake(tensor.Int32, tensor.Shape{0, 2}, nil), tensor.MustFrom(tensor.Shape{1}, []int64{0})}, tensor.Int32, []int{1, 2}, []float64{math.MinInt32, math.MinInt32}},
		{"min of empty uint8 set", "ReduceMin", 18, nil, []*tensor.Tensor{redMake(tensor.Uint8, tensor.Shape{0, 2}, nil), tensor.MustFrom(tensor.Shape{1}, []int64{0})}, tensor.Uint8, []int{1, 2}, []float64{255, 255}},
		{"empty output", "ReduceSum", 13, nil, []*tensor.Tensor{empty, tensor.MustFrom(tensor.Shape{1}, []int64{2})}, f, []int{2, 0, 1}, nil},
		{"all axes of empty", "ReduceSum", 13, []*graph.Attr{graph.IntAttr("keepdims", 0)}, []*tensor.Tensor{empty}, f, []int{}, []float64{0}},
		{"noop with empty axes", "ReduceSum", 13, []*graph.Attr{noop}, []*tensor.Tensor{redMake(f, tensor.Shape{2}, []float64{1, 2}), noAxes}, f, []int{2}, []float64{1, 2}},
		{"noop with omitted axes", "ReduceSum", 13, []*graph.Attr{noop}, []*tensor.Tensor{redMake(f, tensor.Shape{2}, []float64{1, 2})}, f, []int{2}, []float64{1, 2}},
		{"noop log-sum takes the log", "ReduceLogSum", 18, []*graph.Attr{noop}, []*tensor.Tensor{redMake(f, tensor.Shape{2}, []float64{1, math.E})}, f, []int{2}, []float64{0, 1}},
		{"noop sum-square squares", "ReduceSumSquare", 18, []*graph.Attr{noop}, []*tensor.Tensor{redMake(f, tensor.Shape{2}, []float64{-3, 2}), noAxes}, f, []int{2}, []float64{9, 4}},
		{"noop L2 is abs", "ReduceL2", 18, []*graph.Attr{noop}, []*tensor.Tensor{redMake(f, tensor.Shape{2}, []float64{-3, 2})}, f, []int{2}, []float64{3, 2}},
		{"empty axes reduce all", "ReduceMean", 18, nil, []*tensor.Tensor{redMake(f, tensor.Shape{2, 2}, []float64{1, 2, 3, 6}), noAxes}, f, []int{1, 1}, []float64{3}},
		{"scalar input", "ReduceSum", 13, nil, []*tensor.Tensor{redMake(f, nil, []float64{4})}, f, []int{}, []float64{4}},
		{"max propagates NaN", "ReduceMax", 18, nil, []*tensor.Tensor{redMake(f, tensor.Shape{2, 3}, []float64{1, redNaN, 3, 4, 5, 6}), axes1}, f, []int{2, 1}, []float64{redNaN, 6}},
		{"min propagates NaN over outer axis", "ReduceMin", 18, nil, []*tensor.Tensor{redMake(f, tensor.Shape{2, 3}, []float64{1, redNaN, 3, 4, 5, 0}), tensor.MustFrom(tensor.Shape{1}, []int64{0})}, f, []int{1, 3}, []float64{1, redNaN, 0}},
		{"log-sum-exp of large values", "ReduceLogSumExp", 18, nil, []*tensor.Tensor{redMake(f, tensor.Shape{2}, []float64{1000, 1000})}, f, []int{1}, []float64{1000 + math.Ln2}},
		{"log-sum-exp with +inf", "ReduceLogSumExp", 18, nil, []*tensor.Tensor{redMake(f, tensor.Shape{2}, []float64{inf, 1})}, f, []int{1}, []float64{inf}},
		{"log-sum-exp of int", "ReduceLogSumExp", 18, nil, []*tensor.Tensor{redMake(tensor.Int64, tensor.Shape{2}, []float64{3, 3})}, tensor.Int64, []int{1}, []float64{3}},
		{"mean of ints truncates", "ReduceMean", 18, nil, []*tensor.Tensor{redMake(tensor.Int32, tensor.Shape{3}, []float64{-1, -2, -2})}, tensor.Int32, []int{1}, []float64{-1}},
		{"bool max is any", "ReduceMax", 20, []*graph.Attr{graph.IntAttr("keepdims", 0)}, []*tensor.Tensor{redMake(tensor.Bool, tensor.Shape{2, 2}, []float64{0, 0, 0, 1}), axes1}, tensor.Bool, []int{2}, []float64{0, 1}},
		{"bool min is all", "ReduceMin", 20, []*graph.Attr{graph.IntAttr("keepdims", 0)}, []*tensor.Tensor{redMake(tensor.Bool, tensor.Shape{2, 2}, []float64{1, 1, 0, 1}), axes1}, tensor.Bool, []int{2}, []float64{1, 0}},
		{"bool max of empty is false", "ReduceMax", 20, nil, []*tensor.Tensor{redMake(tensor.Bool, tensor.Shape{0}, nil)}, tensor.Bool, []int{1}, []float64{0}},
		{"bool min of empty is true", "ReduceMin", 20, nil, []*tensor.Tensor{redMake(tensor.Bool, tensor.Shape{0}, nil)}, tensor.Bool, []int{1}, []float64{1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runOp(t, tc.op, tc.opset, 1, tc.attrs, tc.in...)
			if err != nil {
				t.Fatal(err)
			}
			redCheck(t, got[0], tc.dt, tc.shape, tc.want)
		})
	}
}

func TestReduceInt64IsExact(t *testing.T) {
	is := is.New(t)
	got, err := runOp(t, "ReduceSum", 13, 1, nil, tensor.MustFrom(tensor.Shape{2}, []int64{1 << 60, 1}))
	is.NoErr(err)
	is.Equal(tensor.Values[int64](got[0]), []int64{1<<60 + 1})
	got, err = runOp(t, "ReduceMean", 18, 1, nil, tensor.MustFrom(tensor.Shape{2}, []uint64{1<<63 + 1, 1<<63 + 3}))
	is.NoErr(err)
	is.Equal(tensor.Values[uint64](got[0]), []uint64{2}) // the sum wraps modulo 2^64, as the element type does
}

func TestReduceErrors(t *testing.T) {
	x := redMake(tensor.Float32, tensor.Shape{2, 3}, []float64{1, 2, 3, 4, 5, 6})
	ax := func(a ...int64) *tensor.Tensor { return tensor.MustFrom(tensor.Shape{len(a)}, a) }
	redExpectErr(t, "ReduceSum", 13, 1, nil, fault.Invalid, x, ax(2))
	redExpectErr(t, "ReduceSum", 13, 1, nil, fault.Invalid, x, ax(-3))
	redExpectErr(t, "ReduceSum", 13, 1, nil, fault.Invalid, x, ax(1, -1))
	redExpectErr(t, "ReduceMax", 18, 1, nil, fault.Invalid, x, tensor.MustFrom(tensor.Shape{1}, []int32{0}))
	redExpectErr(t, "ReduceMean", 13, 1, []*graph.Attr{graph.IntsAttr("axes", 5)}, fault.Invalid, x)
	redExpectErr(t, "ReduceSum", 13, 1, nil, fault.Invalid, redMake(tensor.Float32, nil, []float64{1}), ax(0))
	redExpectBuildErr(t, node("ReduceSum", []string{"x"}, []string{"y"}, graph.IntAttr("keepdims", 2)), 13, fault.Invalid)
	// The axes attribute went away when axes became an input.
	redExpectBuildErr(t, node("ReduceMean", []string{"x"}, []string{"y"}, graph.IntsAttr("axes", 0)), 18, fault.Invalid)
	redExpectBuildErr(t, node("ReduceSum", []string{"x"}, []string{"y"}, graph.IntsAttr("axes", 0)), 13, fault.Invalid)
	redExpectBuildErr(t, node("ReduceMean", []string{"x"}, []string{"y"}, graph.IntAttr("noop_with_empty_axes", 1)), 13, fault.Invalid)
}

func TestReduceTypes(t *testing.T) {
	cases := []struct {
		op    string
		opset int64
		dt    tensor.DType
		ok    bool
	}{
		{"ReduceMax", 20, tensor.Bool, true},
		{"ReduceMax", 18, tensor.Bool, false},
		{"ReduceMin", 12, tensor.Int8, true},
		{"ReduceMin", 11, tensor.Int8, false},
		{"ReduceSum", 13, tensor.BFloat16, true},
		{"ReduceSum", 11, tensor.BFloat16, false},
		{"ReduceMean", 18, tensor.Uint8, false},
		{"ReduceL2", 18, tensor.Uint64, true},
	}
	for _, tc := range cases {
		is := is.New(t)
		s, err := redLookup(tc.op, tc.opset)
		is.NoErr(err)
		_, err = s.InferTypes([]tensor.DType{tc.dt}, 1)
		is.Equal(err == nil, tc.ok) // dtype admitted by this version
	}
}
