package ops_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func TestShapeErrors(t *testing.T) {
	f := func(shape ...int) *tensor.Tensor {
		return tensor.MustFrom(tensor.Shape(shape), make([]float32, shProd(shape)))
	}
	i64 := func(v ...int64) *tensor.Tensor { return tensor.MustFrom(tensor.Shape{len(v)}, v) }
	sc := func(v int64) *tensor.Tensor { return tensor.MustFrom(nil, []int64{v}) }
	ia := graph.IntAttr
	ias := graph.IntsAttr
	sa := graph.StringAttr
	attrs := func(a ...*graph.Attr) []*graph.Attr { return a }
	cases := []struct {
		kind  fault.Kind
		op    string
		opset int64
		attrs []*graph.Attr
		nOut  int
		in    []*tensor.Tensor
	}{
		{fault.Invalid, "Transpose", 13, attrs(ias("perm", 0, 0)), 1, []*tensor.Tensor{f(2, 2)}},
		{fault.Invalid, "Transpose", 13, attrs(ias("perm", 1, 0)), 1, []*tensor.Tensor{f(2, 2, 2)}},
		{fault.Invalid, "Slice", 13, nil, 1, []*tensor.Tensor{f(4), i64(0), i64(4), i64(0), i64(0)}},
		{fault.Invalid, "Slice", 13, nil, 1, []*tensor.Tensor{f(4), i64(0), i64(4), i64(1)}},
		{fault.Invalid, "Slice", 13, nil, 1, []*tensor.Tensor{f(4, 4), i64(0, 0), i64(4, 4), i64(1, -1)}},
		{fault.Invalid, "Slice", 13, nil, 1, []*tensor.Tensor{f(4, 4), i64(0, 0), i64(4)}},
		{fault.Invalid, "Slice", 10, nil, 1, []*tensor.Tensor{f(4), i64(0), i64(4), i64(-1)}},
		{fault.Invalid, "Slice", 13, nil, 1, []*tensor.Tensor{f(4), f(1), f(1)}},
		{fault.Invalid, "Slice", 1, attrs(ias("starts", 0)), 1, []*tensor.Tensor{f(4)}},
		{fault.Invalid, "Pad", 13, nil, 1, []*tensor.Tensor{f(2, 2), i64(1, 1)}},
		{fault.Invalid, "Pad", 13, nil, 1, []*tensor.Tensor{f(2, 2), i64(-2, 0, -1, 0)}},
		{fault.Invalid, "Pad", 13, attrs(sa("mode", "reflect")), 1, []*tensor.Tensor{f(0, 2), i64(1, 0, 0, 0)}},
		{fault.Invalid, "Pad", 18, attrs(sa("mode", "wrap")), 1, []*tensor.Tensor{f(2), i64(1, 1)}},
		{fault.Invalid, "Pad", 13, attrs(sa("mode", "mirror")), 1, []*tensor.Tensor{f(2), i64(1, 1)}},
		{fault.Invalid, "Pad", 13, nil, 1, []*tensor.Tensor{f(2), i64(1, 1), tensor.MustFrom(nil, []float64{1})}},
		{fault.Invalid, "Pad", 13, nil, 1, []*tensor.Tensor{f(2), i64(1, 1), f(2)}},
		{fault.TooLarge, "Pad", 13, nil, 1, []*tensor.Tensor{f(2), i64(1<<40, 0)}},
		{fault.TooLarge, "Pad", 13, nil, 1, []*tensor.Tensor{f(2, 2), i64(1<<20, 1<<20, 0, 0)}},
		{fault.Invalid, "Pad", 18, nil, 1, []*tensor.Tensor{f(2, 2), i64(1, 1, 1, 1), nil, i64(0, 0)}},
		{fault.Invalid, "Pad", 2, nil, 1, []*tensor.Tensor{f(2)}},
		{fault.Invalid, "Gather", 13, nil, 1, []*tensor.Tensor{f(3), i64(3)}},
		{fault.Invalid, "Gather", 13, nil, 1, []*tensor.Tensor{f(3), i64(-4)}},
		{fault.Invalid, "Gather", 13, nil, 1, []*tensor.Tensor{f(), i64(0)}},
		{fault.Invalid, "Gather", 13, attrs(ia("axis", 1)), 1, []*tensor.Tensor{f(3), i64(0)}},
		{fault.TooLarge, "Gather", 13, nil, 1, []*tensor.Tensor{f(2, 1, 1, 1, 1, 1, 1, 1, 1), tensor.MustFrom(tensor.Shape{1, 1, 1, 1, 1, 1, 1, 1, 1}, []int64{0})}},
		{fault.Invalid, "GatherElements", 13, nil, 1, []*tensor.Tensor{f(3, 2), i64(0)}},
		{fault.Invalid, "GatherElements", 13, nil, 1, []*tensor.Tensor{f(3, 2), tensor.MustFrom(tensor.Shape{1, 3}, []int64{0, 0, 0})}},
		{fault.Invalid, "GatherND", 13, attrs(ia("batch_dims", 1)), 1, []*tensor.Tensor{f(2, 2), i64(0)}},
		{fault.Invalid, "GatherND", 13, nil, 1, []*tensor.Tensor{f(2, 2), i64(0, 0, 0)}},
		{fault.Invalid, "GatherND", 13, nil, 1, []*tensor.Tensor{f(2, 2), i64(2, 0)}},
		{fault.Invalid, "GatherND", 13, attrs(ia("batch_dims", 1)), 1, []*tensor.Tensor{f(2, 2), tensor.MustFrom(tensor.Shape{3, 1}, []int64{0, 0, 0})}},
		{fault.Invalid, "GatherND", 12, attrs(ia("batch_dims", -1)), 1, []*tensor.Tensor{f(2, 2), i64(0)}},
		{fault.Invalid, "Concat", 13, attrs(ia("axis", 0)), 1, []*tensor.Tensor{f(2, 3), f(2, 2)}},
		{fault.Invalid, "Concat", 13, attrs(ia("axis", 0)), 1, []*tensor.Tensor{f(2, 3), f(2)}},
		{fault.Invalid, "Concat", 13, attrs(ia("axis", 0)), 1, []*tensor.Tensor{f(2), i64(1)}},
		{fault.Invalid, "Concat", 13, attrs(ia("axis", 0)), 1, []*tensor.Tensor{f(), f()}},
		{fault.Invalid, "Concat", 13, attrs(ia("axis", 2)), 1, []*tensor.Tensor{f(2, 3), f(2, 3)}},
		{fault.Invalid, "Concat", 4, nil, 1, []*tensor.Tensor{f(2), f(2)}},
		{fault.Invalid, "Concat", 13, attrs(ia("axis", 0)), 1, []*tensor.Tensor{f(2), nil, f(2)}},
		{fault.Invalid, "Split", 13, nil, 2, []*tensor.Tensor{f(5), i64(2, 2)}},
		{fault.Invalid, "Split", 13, nil, 2, []*tensor.Tensor{f(5), i64(6, -1)}},
		{fault.Invalid, "Split", 13, nil, 2, []*tensor.Tensor{f(5)}},
		{fault.Invalid, "Split", 13, nil, 3, []*tensor.Tensor{f(5), i64(2, 3)}},
		{fault.Invalid, "Split", 18, attrs(ia("num_outputs", 3)), 2, []*tensor.Tensor{f(5)}},
		{fault.Invalid, "Split", 18, attrs(ia("num_outputs", 4)), 4, []*tensor.Tensor{f(5)}},
		{fault.Invalid, "Split", 2, attrs(ia("axis", -1)), 1, []*tensor.Tensor{f(5)}},
		{fault.Invalid, "Split", 13, nil, 1, []*tensor.Tensor{f()}},
		{fault.Invalid, "Squeeze", 13, nil, 1, []*tensor.Tensor{f(2, 1), i64(0)}},
		{fault.Invalid, "Squeeze", 1, attrs(ias("axes", -1)), 1, []*tensor.Tensor{f(2, 1)}},
		{fault.Invalid, "Squeeze", 13, nil, 1, []*tensor.Tensor{f(2, 1), i64(2)}},
		{fault.Invalid, "Unsqueeze", 13, nil, 1, []*tensor.Tensor{f(2), i64(0, 0)}},
		{fault.Invalid, "Unsqueeze", 13, nil, 1, []*tensor.Tensor{f(2), i64(2)}},
		{fault.Invalid, "Unsqueeze", 1, nil, 1, []*tensor.Tensor{f(2)}},
		{fault.TooLarge, "Unsqueeze", 13, nil, 1, []*tensor.Tensor{f(2), i64(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)}},
		{fault.Invalid, "Flatten", 13, attrs(ia("axis", 3)), 1, []*tensor.Tensor{f(2, 2)}},
		{fault.Invalid, "Flatten", 9, attrs(ia("axis", -1)), 1, []*tensor.Tensor{f(2, 2)}},
		{fault.Invalid, "Expand", 13, nil, 1, []*tensor.Tensor{f(2, 3), i64(2, 2)}},
		{fault.Invalid, "Expand", 13, nil, 1, []*tensor.Tensor{f(2), i64(-1)}},
		{fault.TooLarge, "Expand", 13, nil, 1, []*tensor.Tensor{f(1), i64(1<<20, 1<<20)}},
		{fault.Invalid, "Tile", 13, nil, 1, []*tensor.Tensor{f(2, 2), i64(2)}},
		{fault.Invalid, "Tile", 13, nil, 1, []*tensor.Tensor{f(2), i64(-1)}},
		{fault.TooLarge, "Tile", 13, nil, 1, []*tensor.Tensor{f(2, 2), i64(1<<20, 1<<20)}},
		{fault.TooLarge, "Tile", 13, nil, 1, []*tensor.Tensor{f(2), i64(math.MaxInt64)}},
		{fault.Invalid, "DepthToSpace", 13, attrs(ia("blocksize", 2)), 1, []*tensor.Tensor{f(1, 4, 2)}},
		{fault.Invalid, "DepthToSpace", 13, attrs(ia("blocksize", 2)), 1, []*tensor.Tensor{f(1, 6, 2, 2)}},
		{fault.Invalid, "DepthToSpace", 13, nil, 1, []*tensor.Tensor{f(1, 4, 2, 2)}},
		{fault.Invalid, "DepthToSpace", 13, attrs(ia("blocksize", 0)), 1, []*tensor.Tensor{f(1, 4, 2, 2)}},
		{fault.Invalid, "DepthToSpace", 11, attrs(ia("blocksize", 2), sa("mode", "RCD")), 1, []*tensor.Tensor{f(1, 4, 2, 2)}},
		{fault.Invalid, "SpaceToDepth", 13, attrs(ia("blocksize", 2)), 1, []*tensor.Tensor{f(1, 1, 3, 2)}},
		{fault.Invalid, "OneHot", 11, nil, 1, []*tensor.Tensor{i64(1), sc(3), f(3)}},
		{fault.Invalid, "OneHot", 11, nil, 1, []*tensor.Tensor{i64(1), sc(-3), f(2)}},
		{fault.Invalid, "OneHot", 11, attrs(ia("axis", 2)), 1, []*tensor.Tensor{i64(1), sc(3), f(2)}},
		{fault.Invalid, "OneHot", 11, nil, 1, []*tensor.Tensor{i64(1), i64(3, 3), f(2)}},
		{fault.Invalid, "Compress", 11, attrs(ia("axis", 1)), 1, []*tensor.Tensor{f(2), tensor.MustFrom(tensor.Shape{1}, []bool{true})}},
		{fault.Invalid, "Compress", 11, nil, 1, []*tensor.Tensor{f(2), tensor.MustFrom(tensor.Shape{1, 1}, []bool{true})}},
		{fault.Invalid, "Compress", 9, attrs(ia("axis", -1)), 1, []*tensor.Tensor{f(2), tensor.MustFrom(tensor.Shape{1}, []bool{true})}},
		{fault.Invalid, "ReverseSequence", 10, attrs(ia("batch_axis", 0), ia("time_axis", 0)), 1, []*tensor.Tensor{f(2, 2), i64(1, 1)}},
		{fault.Invalid, "ReverseSequence", 10, nil, 1, []*tensor.Tensor{f(2, 3), i64(1, 1)}},
		{fault.Invalid, "ReverseSequence", 10, nil, 1, []*tensor.Tensor{f(2, 3), i64(1, 3, 1)}},
		{fault.Invalid, "ReverseSequence", 10, nil, 1, []*tensor.Tensor{f(2), i64(1)}},
		{fault.Invalid, "Trilu", 14, nil, 1, []*tensor.Tensor{f(3)}},
		{fault.Invalid, "Trilu", 14, attrs(ia("upper", 2)), 1, []*tensor.Tensor{f(3, 3)}},
		{fault.Invalid, "Trilu", 14, nil, 1, []*tensor.Tensor{f(3, 3), i64(1, 2)}},
		{fault.Invalid, "CenterCropPad", 18, nil, 1, []*tensor.Tensor{f(3, 3), i64(2)}},
		{fault.Invalid, "CenterCropPad", 18, nil, 1, []*tensor.Tensor{f(3), i64(-2)}},
		{fault.Invalid, "CenterCropPad", 18, attrs(ias("axes", 0, 0)), 1, []*tensor.Tensor{f(3), i64(2, 2)}},
		{fault.Invalid, "Range", 27, attrs(ia("stash_type", 7)), 1, []*tensor.Tensor{sc(0), sc(1), sc(1)}},
		{fault.Invalid, "Range", 11, nil, 1, []*tensor.Tensor{sc(0), f(), sc(1)}},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d %s", i, c.op), func(t *testing.T) {
			shExpectErr(t, c.kind, c.op, c.opset, c.attrs, c.nOut, c.in...)
		})
	}
}

// TestShapeNoPanic runs every operator of the family on random, mostly
// invalid, shapes, attributes and index values: kernels must return errors,
// never panic.
func TestShapeNoPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	anyInt := func() int64 {
		switch r.IntN(6) {
		case 0:
			return math.MaxInt64
		case 1:
			return math.MinInt64
		case 2:
			return r.Int64N(1 << 40)
		}
		return r.Int64N(9) - 4
	}
	ints := func(n int) *tensor.Tensor {
		v := make([]int64, n)
		for i := range v {
			v[i] = anyInt()
		}
		return tensor.MustFrom(tensor.Shape{n}, v)
	}
	data := func() *tensor.Tensor {
		shape := make([]int, r.IntN(5))
		for i := range shape {
			shape[i] = r.IntN(4)
		}
		dt := shDTypes[r.IntN(len(shDTypes))]
		v := make([]float64, shProd(shape))
		for i := range v {
			v[i] = float64(r.IntN(5))
		}
		return shMake(dt, shape, v)
	}
	attrPool := func() []*graph.Attr {
		var as []*graph.Attr
		for _, name := range []string{"axis", "blocksize", "k", "batch_dims", "num_outputs", "start", "end", "upper", "time_axis", "batch_axis", "dtype", "to"} {
			if r.IntN(3) == 0 {
				as = append(as, graph.IntAttr(name, anyInt()))
			}
		}
		for _, name := range []string{"perm", "axes", "split", "starts", "ends", "pads"} {
			if r.IntN(4) == 0 {
				v := make([]int64, r.IntN(4))
				for i := range v {
					v[i] = anyInt()
				}
				as = append(as, graph.IntsAttr(name, v...))
			}
		}
		modes := []string{"constant", "reflect", "edge", "wrap", "DCR", "CRD", "add", "max", "none"}
		if r.IntN(3) == 0 {
			as = append(as, graph.StringAttr("mode", modes[r.IntN(len(modes))]))
		}
		if r.IntN(3) == 0 {
			as = append(as, graph.StringAttr("reduction", modes[r.IntN(len(modes))]))
		}
		return as
	}
	opsets := []int64{1, 9, 11, 13, 18, 19, 25, 27}
	names := []string{"Cast", "CastLike", "CenterCropPad", "Compress", "Concat", "ConstantOfShape", "DepthToSpace",
		"Expand", "EyeLike", "Flatten", "Gather", "GatherElements", "GatherND", "NonZero", "OneHot", "Pad", "Range",
		"ReverseSequence", "Scatter", "ScatterElements", "ScatterND", "Shape", "Size", "Slice", "SpaceToDepth", "Split",
		"Squeeze", "Tile", "Transpose", "Trilu", "Unsqueeze"}
	for _, op := range names {
		for range 300 {
			opset := opsets[r.IntN(len(opsets))]
			as := attrPool()
			var in []*tensor.Tensor
			for range 1 + r.IntN(5) {
				switch r.IntN(4) {
				case 0:
					in = append(in, ints(r.IntN(5)))
				case 1:
					in = append(in, tensor.MustFrom(nil, []int64{anyInt()}))
				default:
					in = append(in, data())
				}
			}
			nOut := 1 + r.IntN(3)
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("%s opset %d attrs %v inputs %v: panic: %v", op, opset, as, in, p)
					}
				}()
				n := shNode(op, as, in, nOut)
				k, s, err := ops.Default().Build(n, map[string]int64{"": opset})
				if err != nil {
					return
				}
				// Run only what the schema's types admit, as the planner does.
				dts := make([]tensor.DType, len(in))
				for i, x := range in {
					dts[i] = x.DType
				}
				if _, err := s.InferTypes(dts, nOut); err != nil {
					return
				}
				var sc ops.Scratch
				_ = k.Run(ops.WithScratch(context.Background(), &sc), in, make([]*tensor.Tensor, nOut))
			}()
		}
	}
}

// TestShapeSteadyStateAllocs checks that warm runs of the common kernels
// allocate nothing.
func TestShapeSteadyStateAllocs(t *testing.T) {
	f := func(shape ...int) *tensor.Tensor {
		return tensor.MustFrom(tensor.Shape(shape), make([]float32, shProd(shape)))
	}
	i64 := func(v ...int64) *tensor.Tensor { return tensor.MustFrom(tensor.Shape{len(v)}, v) }
	cases := []struct {
		op    string
		opset int64
		attrs []*graph.Attr
		nOut  int
		in    []*tensor.Tensor
	}{
		{"Transpose", 13, []*graph.Attr{graph.IntsAttr("perm", 2, 0, 1)}, 1, []*tensor.Tensor{f(3, 4, 5)}},
		{"Slice", 13, nil, 1, []*tensor.Tensor{f(6, 7), i64(1, 5), i64(-1, 0), i64(0, 1), i64(2, -2)}},
		{"Slice", 13, nil, 1, []*tensor.Tensor{f(6, 7), tensor.MustFrom(tensor.Shape{1}, []int32{1}), tensor.MustFrom(tensor.Shape{1}, []int32{4})}},
		{"Gather", 13, []*graph.Attr{graph.IntAttr("axis", 1)}, 1, []*tensor.Tensor{f(3, 5, 2), i64(4, -1, 0)}},
		{"GatherElements", 13, nil, 1, []*tensor.Tensor{f(3, 2), tensor.MustFrom(tensor.Shape{2, 2}, []int64{0, 2, 1, 1})}},
		{"GatherND", 13, nil, 1, []*tensor.Tensor{f(3, 2), tensor.MustFrom(tensor.Shape{2, 1}, []int64{0, 2})}},
		{"Concat", 13, []*graph.Attr{graph.IntAttr("axis", 1)}, 1, []*tensor.Tensor{f(2, 3), f(2, 1), f(2, 4)}},
		{"Split", 18, []*graph.Attr{graph.IntAttr("num_outputs", 3)}, 3, []*tensor.Tensor{f(7, 2)}},
		{"Pad", 19, []*graph.Attr{graph.StringAttr("mode", "reflect")}, 1, []*tensor.Tensor{f(3, 4), i64(1, 2, 2, 1)}},
		{"Tile", 13, nil, 1, []*tensor.Tensor{f(2, 3), i64(2, 2)}},
		{"Expand", 13, nil, 1, []*tensor.Tensor{f(3, 1), i64(2, 3, 4)}},
		{"Cast", 13, []*graph.Attr{graph.IntAttr("to", int64(tensor.Float16))}, 1, []*tensor.Tensor{f(5, 5)}},
		{"Cast", 13, []*graph.Attr{graph.IntAttr("to", int64(tensor.Int8))}, 1, []*tensor.Tensor{i64(1, 2, 300)}},
		{"Shape", 15, nil, 1, []*tensor.Tensor{f(2, 3)}},
		{"Squeeze", 13, nil, 1, []*tensor.Tensor{f(2, 1, 3), i64(1)}},
		{"Unsqueeze", 13, nil, 1, []*tensor.Tensor{f(2, 3), i64(0, -1)}},
		{"Range", 11, nil, 1, []*tensor.Tensor{tensor.MustFrom(nil, []float32{0}), tensor.MustFrom(nil, []float32{9}), tensor.MustFrom(nil, []float32{2})}},
		{"ScatterND", 18, []*graph.Attr{graph.StringAttr("reduction", "add")}, 1, []*tensor.Tensor{f(4, 2), tensor.MustFrom(tensor.Shape{2, 1}, []int64{0, 3}), f(2, 2)}},
		{"NonZero", 13, nil, 1, []*tensor.Tensor{f(3, 3)}},
		{"DepthToSpace", 13, []*graph.Attr{graph.IntAttr("blocksize", 2)}, 1, []*tensor.Tensor{f(1, 8, 2, 3)}},
		{"ConstantOfShape", 9, nil, 1, []*tensor.Tensor{i64(3, 2)}},
		{"Trilu", 14, nil, 1, []*tensor.Tensor{f(3, 4)}},
	}
	for _, c := range cases {
		t.Run(c.op, func(t *testing.T) {
			k, _, err := ops.Default().Build(shNode(c.op, c.attrs, c.in, c.nOut), map[string]int64{"": c.opset})
			if err != nil {
				t.Fatal(err)
			}
			var sc ops.Scratch
			ctx := ops.WithScratch(context.Background(), &sc)
			out := make([]*tensor.Tensor, c.nOut)
			run := func() {
				sc.Reset()
				if err := k.Run(ctx, c.in, out); err != nil {
					t.Fatal(err)
				}
			}
			run()
			if n := testing.AllocsPerRun(20, run); n != 0 {
				t.Fatalf("%v allocations per warm run", n)
			}
		})
	}
}
