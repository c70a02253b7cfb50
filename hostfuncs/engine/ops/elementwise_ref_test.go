package ops_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/enginetest"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// The elementwise operators are checked against straightforward float64
// reference implementations on random inputs of odd and prime sizes, with
// broadcasting and every dtype each operator admits.

var (
	ewFloatTypes = []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16}
	ewSignedInts = []tensor.DType{tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64}
	ewUintTypes  = []tensor.DType{tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64}
	ewIntTypes   = append(append([]tensor.DType{}, ewSignedInts...), ewUintTypes...)
	ewNumTypes   = append(append([]tensor.DType{}, ewIntTypes...), ewFloatTypes...)
)

func ewIsUnsigned(dt tensor.DType) bool {
	return dt == tensor.Uint8 || dt == tensor.Uint16 || dt == tensor.Uint32 || dt == tensor.Uint64
}

// ewConv converts float64 values with f.
func ewConv[T any](v []float64, f func(float64) T) []T {
	out := make([]T, len(v))
	for i, x := range v {
		out[i] = f(x)
	}
	return out
}

// ewTensor makes a tensor of dtype dt from float64 values: integers
// truncate and wrap, floats round, booleans are v != 0.
func ewTensor(dt tensor.DType, shape tensor.Shape, v []float64) *tensor.Tensor {
	var t *tensor.Tensor
	var err error
	switch dt {
	case tensor.Float32:
		t, err = tensor.From(shape, ewConv(v, func(x float64) float32 { return float32(x) }))
	case tensor.Float64:
		t, err = tensor.From(shape, ewConv(v, func(x float64) float64 { return x }))
	case tensor.Float16:
		t, err = tensor.From(shape, ewConv(v, func(x float64) tensor.F16 { return tensor.F16From(float32(x)) }))
	case tensor.BFloat16:
		t, err = tensor.From(shape, ewConv(v, func(x float64) tensor.BF16 { return tensor.BF16From(float32(x)) }))
	case tensor.Int8:
		t, err = tensor.From(shape, ewConv(v, func(x float64) int8 { return int8(int64(x)) }))
	case tensor.Int16:
		t, err = tensor.From(shape, ewConv(v, func(x float64) int16 { return int16(int64(x)) }))
	case tensor.Int32:
		t, err = tensor.From(shape, ewConv(v, func(x float64) int32 { return int32(int64(x)) }))
	case tensor.Int64:
		t, err = tensor.From(shape, ewConv(v, func(x float64) int64 { return int64(x) }))
	case tensor.Uint8:
		t, err = tensor.From(shape, ewConv(v, func(x float64) uint8 { return uint8(int64(x)) }))
	case tensor.Uint16:
		t, err = tensor.From(shape, ewConv(v, func(x float64) uint16 { return uint16(int64(x)) }))
	case tensor.Uint32:
		t, err = tensor.From(shape, ewConv(v, func(x float64) uint32 { return uint32(int64(x)) }))
	case tensor.Uint64:
		t, err = tensor.From(shape, ewConv(v, func(x float64) uint64 { return uint64(int64(x)) }))
	case tensor.Bool:
		t, err = tensor.From(shape, ewConv(v, func(x float64) bool { return x != 0 }))
	default:
		panic("ewTensor: " + dt.String())
	}
	if err != nil {
		panic(err)
	}
	return t
}

// ewValues reads a tensor back as float64.
func ewValues(t *tensor.Tensor) []float64 {
	v := make([]float64, t.Len())
	for i := range v {
		v[i] = t.Float64At(i)
	}
	return v
}

// ewRandom draws n values that fit dt: small integers (non-negative for
// unsigned types), floats in [-5, 5).
func ewRandom(r *rand.Rand, dt tensor.DType, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		switch {
		case dt == tensor.Bool:
			v[i] = float64(r.IntN(2))
		case ewIsUnsigned(dt):
			v[i] = float64(r.IntN(41))
		case dt.IsFloat():
			v[i] = r.Float64()*10 - 5
		default:
			v[i] = float64(r.IntN(41) - 20)
		}
	}
	return v
}

// ewRefOffsets lists, for every element of out in row-major order, the
// offset of the element of an operand of the given shape that numpy
// broadcasting pairs with it.
func ewRefOffsets(out, shape []int) []int {
	n := tensor.Shape(out).Size()
	idx := make([]int, len(out))
	offs := make([]int, 0, n)
	for range n {
		off, stride := 0, 1
		for i := len(shape) - 1; i >= 0; i-- {
			if shape[i] != 1 {
				off += idx[len(out)-len(shape)+i] * stride
			}
			stride *= shape[i]
		}
		offs = append(offs, off)
		for d := len(out) - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < out[d] {
				break
			}
			idx[d] = 0
		}
	}
	return offs
}

// ewRefNary applies f to the broadcast operands.
func ewRefNary(out []int, in []*tensor.Tensor, f func(x []float64) float64) []float64 {
	vals := make([][]float64, len(in))
	offs := make([][]int, len(in))
	for i, t := range in {
		vals[i], offs[i] = ewValues(t), ewRefOffsets(out, t.Shape)
	}
	res := make([]float64, tensor.Shape(out).Size())
	x := make([]float64, len(in))
	for j := range res {
		for i := range in {
			x[i] = vals[i][offs[i][j]]
		}
		res[j] = f(x)
	}
	return res
}

var ewShapePairs = []struct{ a, b, out tensor.Shape }{
	{tensor.Shape{7}, tensor.Shape{7}, tensor.Shape{7}},
	{tensor.Shape{3, 5, 7}, tensor.Shape{5, 1}, tensor.Shape{3, 5, 7}},
	{tensor.Shape{1, 11}, tensor.Shape{13, 1}, tensor.Shape{13, 11}},
	{tensor.Shape{}, tensor.Shape{2, 3, 5}, tensor.Shape{2, 3, 5}},
	{tensor.Shape{2, 1, 3}, tensor.Shape{2, 3, 1}, tensor.Shape{2, 3, 3}},
	{tensor.Shape{4, 1, 1, 3}, tensor.Shape{5, 1}, tensor.Shape{4, 1, 5, 3}},
	{tensor.Shape{0, 3}, tensor.Shape{3}, tensor.Shape{0, 3}},
}

type ewBinRef struct {
	op    string
	opset int64
	attrs []*graph.Attr
	types []tensor.DType
	pred  bool // the output is boolean
	// ref computes one element; dt is the input dtype.
	ref func(x, y float64, dt tensor.DType) float64
	// genB, if set, draws the second operand.
	genB func(r *rand.Rand, dt tensor.DType, n int) []float64
}

func ewB(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func ewWidth(dt tensor.DType) uint64 { return uint64(dt.Size() * 8) }

func TestElementwiseBinaryReference(t *testing.T) {
	nonZero := func(r *rand.Rand, dt tensor.DType, n int) []float64 {
		v := ewRandom(r, dt, n)
		for i := range v {
			if v[i] == 0 {
				v[i] = 3
			}
		}
		return v
	}
	shifts := func(r *rand.Rand, _ tensor.DType, n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(r.IntN(10))
		}
		return v
	}
	pyMod := func(x, y float64) float64 {
		r := math.Mod(x, y)
		if r != 0 && (r < 0) != (y < 0) {
			r += y
		}
		return r
	}
	intOp := func(f func(a, b int64) int64) func(x, y float64, _ tensor.DType) float64 {
		return func(x, y float64, _ tensor.DType) float64 { return float64(f(int64(x), int64(y))) }
	}
	cases := []ewBinRef{
		{op: "Sub", opset: 14, types: ewNumTypes, ref: func(x, y float64, _ tensor.DType) float64 { return x - y }},
		{op: "Mul", opset: 14, types: ewNumTypes, ref: func(x, y float64, _ tensor.DType) float64 { return x * y }},
		{op: "Div", opset: 14, types: ewNumTypes, genB: nonZero, ref: func(x, y float64, dt tensor.DType) float64 {
			if dt.IsFloat() {
				return x / y
			}
			return math.Trunc(x / y)
		}},
		{op: "Mod", opset: 13, types: ewIntTypes, genB: nonZero, ref: func(x, y float64, _ tensor.DType) float64 { return pyMod(x, y) }},
		{op: "Mod", opset: 13, attrs: []*graph.Attr{graph.IntAttr("fmod", 1)}, types: ewNumTypes, genB: nonZero,
			ref: func(x, y float64, _ tensor.DType) float64 { return math.Mod(x, y) }},
		{op: "BitwiseAnd", opset: 18, types: ewIntTypes, ref: intOp(func(a, b int64) int64 { return a & b })},
		{op: "BitwiseOr", opset: 18, types: ewIntTypes, ref: intOp(func(a, b int64) int64 { return a | b })},
		{op: "BitwiseXor", opset: 18, types: ewIntTypes, ref: intOp(func(a, b int64) int64 { return a ^ b })},
		{op: "BitShift", opset: 11, attrs: []*graph.Attr{graph.StringAttr("direction", "LEFT")}, types: ewUintTypes, genB: shifts,
			ref: func(x, y float64, dt tensor.DType) float64 {
				if uint64(y) >= ewWidth(dt) {
					return 0
				}
				return float64(uint64(x) << uint64(y) & (1<<ewWidth(dt) - 1))
			}},
		{op: "BitShift", opset: 11, attrs: []*graph.Attr{graph.StringAttr("direction", "RIGHT")}, types: ewUintTypes, genB: shifts,
			ref: func(x, y float64, _ tensor.DType) float64 { return float64(uint64(x) >> uint64(y)) }},
		{op: "And", opset: 7, pred: true, types: []tensor.DType{tensor.Bool}, ref: func(x, y float64, _ tensor.DType) float64 { return ewB(x != 0 && y != 0) }},
		{op: "Or", opset: 7, pred: true, types: []tensor.DType{tensor.Bool}, ref: func(x, y float64, _ tensor.DType) float64 { return ewB(x != 0 || y != 0) }},
		{op: "Xor", opset: 7, pred: true, types: []tensor.DType{tensor.Bool}, ref: func(x, y float64, _ tensor.DType) float64 { return ewB((x != 0) != (y != 0)) }},
		{op: "Equal", opset: 19, pred: true, types: append([]tensor.DType{tensor.Bool}, ewNumTypes...), ref: func(x, y float64, _ tensor.DType) float64 { return ewB(x == y) }},
		{op: "Less", opset: 13, pred: true, types: ewNumTypes, ref: func(x, y float64, _ tensor.DType) float64 { return ewB(x < y) }},
		{op: "LessOrEqual", opset: 16, pred: true, types: ewNumTypes, ref: func(x, y float64, _ tensor.DType) float64 { return ewB(x <= y) }},
		{op: "Greater", opset: 13, pred: true, types: ewNumTypes, ref: func(x, y float64, _ tensor.DType) float64 { return ewB(x > y) }},
		{op: "GreaterOrEqual", opset: 16, pred: true, types: ewNumTypes, ref: func(x, y float64, _ tensor.DType) float64 { return ewB(x >= y) }},
		{op: "Max", opset: 13, types: ewNumTypes, ref: func(x, y float64, _ tensor.DType) float64 { return math.Max(x, y) }},
		{op: "Min", opset: 13, types: ewNumTypes, ref: func(x, y float64, _ tensor.DType) float64 { return math.Min(x, y) }},
		{op: "Sum", opset: 13, types: ewFloatTypes, ref: func(x, y float64, _ tensor.DType) float64 { return x + y }},
		{op: "Mean", opset: 13, types: ewFloatTypes, ref: func(x, y float64, _ tensor.DType) float64 { return (x + y) / 2 }},
		{op: "Pow", opset: 15, types: []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16, tensor.Int32, tensor.Int64},
			genB: func(r *rand.Rand, dt tensor.DType, n int) []float64 {
				v := make([]float64, n)
				for i := range v {
					v[i] = float64(r.IntN(6))
				}
				return v
			},
			ref: func(x, y float64, _ tensor.DType) float64 { return math.Pow(x, y) }},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range cases {
		for _, dt := range tc.types {
			for _, sp := range ewShapePairs {
				name := fmt.Sprintf("%s-%d%v/%v/%v,%v", tc.op, tc.opset, tc.attrs, dt, []int(sp.a), []int(sp.b))
				t.Run(name, func(t *testing.T) {
					a := ewTensor(dt, sp.a, ewRandom(r, dt, sp.a.Size()))
					bv := ewRandom(r, dt, sp.b.Size())
					if tc.genB != nil {
						bv = tc.genB(r, dt, sp.b.Size())
					}
					b := ewTensor(dt, sp.b, bv)
					want := ewRefNary(sp.out, []*tensor.Tensor{a, b}, func(x []float64) float64 { return tc.ref(x[0], x[1], dt) })
					odt := dt
					if tc.pred {
						odt = tensor.Bool
					}
					got, err := runOp(t, tc.op, tc.opset, 1, tc.attrs, a, b)
					is.New(t).NoErr(err)
					if err := enginetest.AllClose(got[0], ewTensor(odt, sp.out, want)); err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}

type ewUnaryRef struct {
	op    string
	opset int64
	attrs []*graph.Attr
	types []tensor.DType
	pred  bool
	ref   func(x float64) float64
}

func TestElementwiseUnaryReference(t *testing.T) {
	alpha := func(v float32) []*graph.Attr { return []*graph.Attr{graph.FloatAttr("alpha", v)} }
	signedAndFloats := append(append([]tensor.DType{}, ewSignedInts...), ewFloatTypes...)
	sigmoid := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	softplus := func(x float64) float64 { return math.Log(math.Exp(x) + 1) }
	shrink := func(l, b float64) func(float64) float64 {
		return func(x float64) float64 {
			switch {
			case x < -l:
				return x + b
			case x > l:
				return x - b
			}
			return 0
		}
	}
	const seluA, seluG = 1.67326319217681884765625, 1.05070102214813232421875
	cases := []ewUnaryRef{
		{op: "Abs", opset: 13, types: ewNumTypes, ref: math.Abs},
		{op: "Neg", opset: 13, types: signedAndFloats, ref: func(x float64) float64 { return -x }},
		{op: "Sign", opset: 13, types: ewNumTypes, ref: func(x float64) float64 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return x
		}},
		{op: "Sqrt", opset: 13, types: ewFloatTypes, ref: math.Sqrt},
		{op: "Reciprocal", opset: 13, types: ewFloatTypes, ref: func(x float64) float64 { return 1 / x }},
		{op: "Exp", opset: 13, types: ewFloatTypes, ref: math.Exp},
		{op: "Log", opset: 13, types: ewFloatTypes, ref: math.Log},
		{op: "Floor", opset: 13, types: ewFloatTypes, ref: math.Floor},
		{op: "Ceil", opset: 13, types: ewFloatTypes, ref: math.Ceil},
		{op: "Round", opset: 22, types: ewFloatTypes, ref: math.RoundToEven},
		{op: "Erf", opset: 13, types: ewFloatTypes, ref: math.Erf},
		{op: "Erf", opset: 9, types: ewIntTypes, ref: func(x float64) float64 { return math.Trunc(math.Erf(x)) }},
		{op: "Sigmoid", opset: 13, types: ewFloatTypes, ref: sigmoid},
		{op: "Tanh", opset: 13, types: ewFloatTypes, ref: math.Tanh},
		{op: "Softplus", opset: 22, types: ewFloatTypes, ref: softplus},
		{op: "Softsign", opset: 22, types: ewFloatTypes, ref: func(x float64) float64 { return x / (1 + math.Abs(x)) }},
		{op: "Sin", opset: 22, types: ewFloatTypes, ref: math.Sin},
		{op: "Cos", opset: 22, types: ewFloatTypes, ref: math.Cos},
		{op: "Tan", opset: 22, types: ewFloatTypes, ref: math.Tan},
		{op: "Asin", opset: 22, types: ewFloatTypes, ref: math.Asin},
		{op: "Acos", opset: 22, types: ewFloatTypes, ref: math.Acos},
		{op: "Atan", opset: 22, types: ewFloatTypes, ref: math.Atan},
		{op: "Sinh", opset: 22, types: ewFloatTypes, ref: math.Sinh},
		{op: "Cosh", opset: 22, types: ewFloatTypes, ref: math.Cosh},
		{op: "Asinh", opset: 22, types: ewFloatTypes, ref: math.Asinh},
		{op: "Acosh", opset: 22, types: ewFloatTypes, ref: math.Acosh},
		{op: "Atanh", opset: 22, types: ewFloatTypes, ref: math.Atanh},
		{op: "IsNaN", opset: 20, types: ewFloatTypes, pred: true, ref: func(x float64) float64 { return ewB(math.IsNaN(x)) }},
		{op: "IsInf", opset: 20, types: ewFloatTypes, pred: true, ref: func(x float64) float64 { return ewB(math.IsInf(x, 0)) }},
		{op: "IsInf", opset: 10, attrs: []*graph.Attr{graph.IntAttr("detect_positive", 0)}, types: []tensor.DType{tensor.Float32, tensor.Float64}, pred: true,
			ref: func(x float64) float64 { return ewB(math.IsInf(x, -1)) }},
		{op: "Not", opset: 1, types: []tensor.DType{tensor.Bool}, ref: func(x float64) float64 { return ewB(x == 0) }},
		{op: "BitwiseNot", opset: 18, types: ewIntTypes, ref: func(x float64) float64 { return float64(^int64(x)) }},
		{op: "LeakyRelu", opset: 16, attrs: alpha(0.1), types: ewFloatTypes, ref: func(x float64) float64 { return max(x, 0) + min(x, 0)*float64(float32(0.1)) }},
		{op: "LeakyRelu", opset: 6, types: ewFloatTypes[:3], ref: func(x float64) float64 { return max(x, 0) + min(x, 0)*float64(float32(0.01)) }},
		{op: "Elu", opset: 22, attrs: alpha(0.5), types: ewFloatTypes, ref: func(x float64) float64 {
			if x < 0 {
				return 0.5 * (math.Exp(x) - 1)
			}
			return x
		}},
		{op: "Selu", opset: 22, types: ewFloatTypes, ref: func(x float64) float64 {
			if x <= 0 {
				return seluG * (seluA*math.Exp(x) - seluA)
			}
			return seluG * x
		}},
		{op: "Selu", opset: 1, types: ewFloatTypes[:3], ref: func(x float64) float64 {
			a, g := float64(float32(1.6732)), float64(float32(1.0507))
			if x <= 0 {
				return g * (a*math.Exp(x) - a)
			}
			return g * x
		}},
		{op: "Celu", opset: 12, attrs: alpha(2), types: []tensor.DType{tensor.Float32}, ref: func(x float64) float64 {
			return max(0, x) + min(0, 2*(math.Exp(x/2)-1))
		}},
		{op: "HardSigmoid", opset: 22, attrs: []*graph.Attr{graph.FloatAttr("alpha", 0.25), graph.FloatAttr("beta", 0.375)}, types: ewFloatTypes,
			ref: func(x float64) float64 { return max(0, min(1, 0.25*x+0.375)) }},
		{op: "HardSwish", opset: 22, types: ewFloatTypes, ref: func(x float64) float64 { return x * max(0, min(1, x/6+0.5)) }},
		{op: "ThresholdedRelu", opset: 22, attrs: alpha(0.75), types: ewFloatTypes, ref: func(x float64) float64 {
			if x > 0.75 {
				return x
			}
			return 0
		}},
		{op: "Shrink", opset: 9, attrs: []*graph.Attr{graph.FloatAttr("lambd", 1.5), graph.FloatAttr("bias", 0.5)}, types: ewFloatTypes[:3], ref: shrink(1.5, 0.5)},
		{op: "Shrink", opset: 9, attrs: []*graph.Attr{graph.FloatAttr("lambd", 1.5), graph.FloatAttr("bias", 2)}, types: ewSignedInts, ref: shrink(1.5, 2)},
		{op: "Gelu", opset: 20, types: ewFloatTypes, ref: func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt(2))) }},
		{op: "Gelu", opset: 20, attrs: []*graph.Attr{graph.StringAttr("approximate", "tanh")}, types: ewFloatTypes, ref: func(x float64) float64 {
			return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*math.Pow(x, 3))))
		}},
		{op: "Mish", opset: 22, types: ewFloatTypes, ref: func(x float64) float64 { return x * math.Tanh(softplus(x)) }},
		{op: "Swish", opset: 24, attrs: alpha(0.75), types: ewFloatTypes, ref: func(x float64) float64 { return x * sigmoid(0.75*x) }},
	}
	r := rand.New(rand.NewPCG(3, 4))
	special := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), 0.5, -2.5}
	for _, tc := range cases {
		for _, dt := range tc.types {
			for _, shape := range []tensor.Shape{{3, 7}, {}, {0, 5}, {2, 3, 5, 1}} {
				t.Run(fmt.Sprintf("%s-%d%v/%v/%v", tc.op, tc.opset, tc.attrs, dt, []int(shape)), func(t *testing.T) {
					vals := ewRandom(r, dt, shape.Size())
					if dt.IsFloat() && len(vals) >= len(special) {
						copy(vals, special)
					}
					x := ewTensor(dt, shape, vals)
					want := ewRefNary(shape, []*tensor.Tensor{x}, func(v []float64) float64 { return tc.ref(v[0]) })
					odt := dt
					if tc.pred {
						odt = tensor.Bool
					}
					got, err := runOp(t, tc.op, tc.opset, 1, tc.attrs, x)
					is.New(t).NoErr(err)
					if err := enginetest.AllClose(got[0], ewTensor(odt, shape, want)); err != nil {
						t.Fatalf("%v\ninput %v", err, ewValues(x))
					}
				})
			}
		}
	}
}

func TestElementwiseVariadicReference(t *testing.T) {
	shapes := []tensor.Shape{{3, 1, 5}, {4, 1}, {5}, {}}
	out := tensor.Shape{3, 4, 5}
	cases := []struct {
		op    string
		types []tensor.DType
		ref   func(x []float64) float64
	}{
		{"Max", ewNumTypes, func(x []float64) float64 { return max(x[0], x[1], x[2], x[3]) }},
		{"Min", ewNumTypes, func(x []float64) float64 { return min(x[0], x[1], x[2], x[3]) }},
		{"Sum", ewFloatTypes, func(x []float64) float64 { return x[0] + x[1] + x[2] + x[3] }},
		{"Mean", ewFloatTypes, func(x []float64) float64 { return (x[0] + x[1] + x[2] + x[3]) / 4 }},
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range cases {
		for _, dt := range tc.types {
			t.Run(fmt.Sprintf("%s/%v", tc.op, dt), func(t *testing.T) {
				in := make([]*tensor.Tensor, len(shapes))
				for i, s := range shapes {
					in[i] = ewTensor(dt, s, ewRandom(r, dt, s.Size()))
				}
				got, err := runOp(t, tc.op, 13, 1, nil, in...)
				is.New(t).NoErr(err)
				if err := enginetest.AllClose(got[0], ewTensor(dt, out, ewRefNary(out, in, tc.ref))); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestElementwiseWhereReference(t *testing.T) {
	shapes := []struct{ c, x, y, out tensor.Shape }{
		{tensor.Shape{3, 1, 5}, tensor.Shape{4, 1}, tensor.Shape{5}, tensor.Shape{3, 4, 5}},
		{tensor.Shape{7}, tensor.Shape{7}, tensor.Shape{7}, tensor.Shape{7}},
		{tensor.Shape{}, tensor.Shape{2, 3}, tensor.Shape{3}, tensor.Shape{2, 3}},
		{tensor.Shape{2, 1, 1, 3}, tensor.Shape{1, 5, 1}, tensor.Shape{1, 4, 1, 1}, tensor.Shape{2, 4, 5, 3}},
		{tensor.Shape{0, 1}, tensor.Shape{3}, tensor.Shape{1}, tensor.Shape{0, 3}},
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, dt := range append([]tensor.DType{tensor.Bool}, ewNumTypes...) {
		for _, sh := range shapes {
			t.Run(fmt.Sprintf("%v/%v", dt, []int(sh.out)), func(t *testing.T) {
				c := ewTensor(tensor.Bool, sh.c, ewRandom(r, tensor.Bool, sh.c.Size()))
				x := ewTensor(dt, sh.x, ewRandom(r, dt, sh.x.Size()))
				y := ewTensor(dt, sh.y, ewRandom(r, dt, sh.y.Size()))
				want := ewRefNary(sh.out, []*tensor.Tensor{c, x, y}, func(v []float64) float64 {
					if v[0] != 0 {
						return v[1]
					}
					return v[2]
				})
				got, err := runOp(t, "Where", 16, 1, nil, c, x, y)
				is.New(t).NoErr(err)
				if err := enginetest.AllClose(got[0], ewTensor(dt, sh.out, want)); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
