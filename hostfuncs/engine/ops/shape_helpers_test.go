package ops_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Test helpers of the shape family. Data-movement operators are checked
// by where each output element comes from: a reference computes, for every
// output element, the index of the input element it copies (or -1 for a
// fill value), and the check runs the operator on inputs of every dtype
// labelled with distinct values.

// shNode builds a node with one input per entry of in (nil: omitted).
func shNode(op string, attrs []*graph.Attr, in []*tensor.Tensor, nOut int) *graph.Node {
	n := &graph.Node{Name: op, OpType: op, Attrs: graph.Attrs(attrs...)}
	for i, t := range in {
		name := ""
		if t != nil {
			name = fmt.Sprintf("in%d", i)
		}
		n.Inputs = append(n.Inputs, name)
	}
	for i := range nOut {
		n.Outputs = append(n.Outputs, fmt.Sprintf("out%d", i))
	}
	return n
}

// shRun builds and runs an operator under a scratch context, twice when
// it succeeds: the second run reuses the first one's outputs, as a warm
// plan does, and must give the same result.
func shRun(t *testing.T, op string, opset int64, attrs []*graph.Attr, nOut int, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	t.Helper()
	k, _, err := ops.Default().Build(shNode(op, attrs, in, nOut), map[string]int64{"": opset})
	if err != nil {
		return nil, err
	}
	var sc ops.Scratch
	ctx := ops.WithScratch(context.Background(), &sc)
	out := make([]*tensor.Tensor, nOut)
	sc.Reset()
	if err := k.Run(ctx, in, out); err != nil {
		return nil, err
	}
	first := make([]*tensor.Tensor, nOut)
	for i, o := range out {
		if o == nil {
			t.Fatalf("%s: output %d not set", op, i)
		}
		first[i] = o.Clone()
	}
	sc.Reset()
	if err := k.Run(ctx, in, out); err != nil {
		t.Fatalf("%s: second run failed: %v", op, err)
	}
	for i := range out {
		if err := enginetest.AllClose(out[i], first[i]); err != nil {
			t.Fatalf("%s: second run differs: %v", op, err)
		}
	}
	return out, nil
}

// shExpectErr checks that building or running fails with the given kind.
func shExpectErr(t *testing.T, kind fault.Kind, op string, opset int64, attrs []*graph.Attr, nOut int, in ...*tensor.Tensor) {
	t.Helper()
	_, err := shRun(t, op, opset, attrs, nOut, in...)
	if err == nil || fault.KindOf(err) != kind {
		t.Fatalf("%s: got error %v, want a %v error", op, err, kind)
	}
}

// shDTypes are the dtypes data-movement operators are checked on.
var shDTypes = []tensor.DType{
	tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16, tensor.Int8, tensor.Int16,
	tensor.Int32, tensor.Int64, tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64,
	tensor.Bool, tensor.Bytes,
}

// shMake builds a tensor of dt from float64 values (strings print them).
func shMake(dt tensor.DType, shape []int, v []float64) *tensor.Tensor {
	s := tensor.Shape(append([]int{}, shape...))
	switch dt {
	case tensor.Float32:
		return tensor.MustFrom(s, shConv[float32](v))
	case tensor.Float64:
		return tensor.MustFrom(s, shConv[float64](v))
	case tensor.Float16:
		h := make([]tensor.F16, len(v))
		for i, x := range v {
			h[i] = tensor.F16From(float32(x))
		}
		return tensor.MustFrom(s, h)
	case tensor.BFloat16:
		h := make([]tensor.BF16, len(v))
		for i, x := range v {
			h[i] = tensor.BF16From(float32(x))
		}
		return tensor.MustFrom(s, h)
	case tensor.Int8:
		return tensor.MustFrom(s, shConv[int8](v))
	case tensor.Int16:
		return tensor.MustFrom(s, shConv[int16](v))
	case tensor.Int32:
		return tensor.MustFrom(s, shConv[int32](v))
	case tensor.Int64:
		return tensor.MustFrom(s, shConv[int64](v))
	case tensor.Uint8:
		return tensor.MustFrom(s, shConv[uint8](v))
	case tensor.Uint16:
		return tensor.MustFrom(s, shConv[uint16](v))
	case tensor.Uint32:
		return tensor.MustFrom(s, shConv[uint32](v))
	case tensor.Uint64:
		return tensor.MustFrom(s, shConv[uint64](v))
	case tensor.Bool:
		b := make([]bool, len(v))
		for i, x := range v {
			b[i] = x != 0
		}
		return tensor.MustFrom(s, b)
	case tensor.Bytes:
		ss := make([][]byte, len(v))
		for i, x := range v {
			ss[i] = []byte(shLabel(x))
		}
		t, err := tensor.FromStrings(s, ss)
		if err != nil {
			panic(err)
		}
		return t
	}
	panic("shMake: dtype " + dt.String())
}

func shConv[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64](v []float64) []T {
	out := make([]T, len(v))
	for i, x := range v {
		out[i] = T(x)
	}
	return out
}

// shLabel is the string standing for value x; 0 is the empty string, the
// fill value of BYTES tensors.
func shLabel(x float64) string {
	if x == 0 {
		return ""
	}
	return fmt.Sprintf("é%g", x)
}

// shLabelValue is the label of element i of a dtype: distinct (within the
// dtype's exact range) and never 0, so fills of 0 stand out.
func shLabelValue(dt tensor.DType, i int) float64 {
	mod := 1 << 20
	switch dt {
	case tensor.Float16:
		mod = 2039
	case tensor.BFloat16, tensor.Uint8:
		mod = 251
	case tensor.Int8:
		mod = 127
	case tensor.Bool:
		return 1
	}
	return float64(i%mod + 1)
}

// shIn is one input of a movement case: labelled data of a shape, a fixed
// tensor, a scalar of the data's dtype holding fill, or omitted.
type shIn struct {
	data    []int
	fixed   *tensor.Tensor
	fillVal bool
	omitted bool
}

func shData(shape ...int) shIn           { return shIn{data: append([]int{}, shape...)} }
func shFixed(t *tensor.Tensor) shIn      { return shIn{fixed: t} }
func shI64(shape []int, v ...int64) shIn { return shIn{fixed: tensor.MustFrom(tensor.Shape(shape), v)} }

// shMove is a data-movement case: outputs list their shapes and, per
// element, the index of the data element they copy across all data inputs
// in order, or -1 for fill.
type shMove struct {
	name   string
	op     string
	opset  int64
	attrs  []*graph.Attr
	in     []shIn
	shapes [][]int
	src    [][]int
	fill   float64
	dtypes []tensor.DType
}

func shCheckMoves(t *testing.T, cases []shMove) {
	t.Helper()
	for _, c := range cases {
		dts := c.dtypes
		if dts == nil {
			dts = shDTypes
		}
		for _, dt := range dts {
			t.Run(c.name+"/"+dt.String(), func(t *testing.T) {
				var labels []float64
				in := make([]*tensor.Tensor, len(c.in))
				for i, x := range c.in {
					switch {
					case x.omitted:
					case x.fixed != nil:
						in[i] = x.fixed
					case x.fillVal:
						in[i] = shMake(dt, nil, []float64{c.fill})
					default:
						n := shProd(x.data)
						v := make([]float64, n)
						for j := range v {
							v[j] = shLabelValue(dt, len(labels)+j)
						}
						labels = append(labels, v...)
						in[i] = shMake(dt, x.data, v)
					}
				}
				got, err := shRun(t, c.op, c.opset, c.attrs, len(c.shapes), in...)
				if err != nil {
					t.Fatal(err)
				}
				for o, shape := range c.shapes {
					want := make([]float64, len(c.src[o]))
					for j, s := range c.src[o] {
						if s < 0 {
							want[j] = c.fill
						} else {
							want[j] = labels[s]
						}
					}
					if err := enginetest.AllClose(got[o], shMake(dt, shape, want)); err != nil {
						t.Fatalf("output %d: %v", o, err)
					}
				}
				shCheckOwned(t, in, got)
			})
		}
	}
}

// shCheckOwned checks that no BYTES output shares element bytes with an
// input.
func shCheckOwned(t *testing.T, in, out []*tensor.Tensor) {
	t.Helper()
	for _, o := range out {
		if o.DType != tensor.Bytes {
			continue
		}
		for _, s := range o.Strings {
			if len(s) == 0 {
				continue
			}
			for _, x := range in {
				if x == nil || x.DType != tensor.Bytes {
					continue
				}
				for _, xs := range x.Strings {
					if len(xs) > 0 && &xs[0] == &s[0] {
						t.Fatalf("output element %q shares its bytes with an input", s)
					}
				}
			}
		}
	}
}

func shProd(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// shEach calls fn with every coordinate of shape in row-major order.
func shEach(shape []int, fn func(c []int)) {
	if shProd(shape) == 0 {
		return
	}
	c := make([]int, len(shape))
	for {
		fn(c)
		k := len(shape) - 1
		for ; k >= 0; k-- {
			if c[k]++; c[k] < shape[k] {
				break
			}
			c[k] = 0
		}
		if k < 0 {
			return
		}
	}
}

// shFlat is the row-major flat index of coordinate c in shape.
func shFlat(shape, c []int) int {
	f := 0
	for i, d := range shape {
		f = f*d + c[i]
	}
	return f
}

func shIota(n int) []int {
	v := make([]int, n)
	for i := range v {
		v[i] = i
	}
	return v
}

func shRandShape(r *rand.Rand, rank, maxDim int) []int {
	s := make([]int, rank)
	for i := range s {
		s[i] = 1 + r.IntN(maxDim)
	}
	return s
}

func shAttrInts(name string, v ...int64) *graph.Attr { return graph.IntsAttr(name, v...) }

// shValues reads a numeric tensor as float64 values.
func shValues(t *tensor.Tensor) []float64 {
	v := make([]float64, t.Len())
	for i := range v {
		v[i] = t.Float64At(i)
	}
	return v
}

var shNaN = math.NaN()
