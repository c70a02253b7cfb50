package ops

import (
	"context"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// ewUOp names the function a unary kernel applies.
type ewUOp uint8

const (
	// Defined on integers as well as floats.
	ewUAbs ewUOp = iota
	ewUNeg
	ewUSign
	ewUErf
	ewUShrink
	ewUBitNot // integers only
	// Floats only.
	ewUSqrt
	ewUReciprocal
	ewUExp
	ewULog
	ewUFloor
	ewUCeil
	ewURound
	ewUSigmoid
	ewUTanh
	ewUSoftplus
	ewUSoftsign
	ewUSin
	ewUCos
	ewUTan
	ewUAsin
	ewUAcos
	ewUAtan
	ewUSinh
	ewUCosh
	ewUAsinh
	ewUAcosh
	ewUAtanh
	ewULeakyRelu
	ewUElu
	ewUSelu
	ewUCelu
	ewUHardSigmoid
	ewUHardSwish
	ewUThresholdedRelu
	ewUGelu
	ewUGeluTanh
	ewUMish
	ewUSwish
	// Floats to booleans.
	ewUIsNaN
	ewUIsInf
	// Booleans.
	ewUNot
)

// ewUnary is the kernel of the unary operators. alpha, beta and gamma are
// the operator's parameters (Shrink: lambd and bias); detNeg and detPos
// are IsInf's.
type ewUnary struct {
	name               string
	op                 ewUOp
	alpha, beta, gamma float64
	detNeg, detPos     bool
}

func (k *ewUnary) accepts(dt tensor.DType) bool {
	switch {
	case k.op == ewUNot:
		return dt == tensor.Bool
	case k.op == ewUBitNot:
		return ewIsInt(dt)
	case k.op < ewUBitNot:
		return ewIsNumeric(dt)
	}
	return dt.IsFloat()
}

func (k *ewUnary) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	if !k.accepts(x.DType) {
		return fault.Errorf(fault.Unsupported, "%s of %s", k.name, x.DType.ONNXName())
	}
	dt := x.DType
	if k.op == ewUIsNaN || k.op == ewUIsInf {
		dt = tensor.Bool
	}
	y, err := Output(ctx, out[0], dt, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	if dt == tensor.Bool {
		o := tensor.Values[bool](y)
		switch x.DType {
		case tensor.Bool:
			ewMap(o, tensor.Values[bool](x), func(v bool) bool { return !v })
		case tensor.Float32:
			ewFloatTest(k, o, tensor.Values[float32](x))
		case tensor.Float64:
			ewFloatTest(k, o, tensor.Values[float64](x))
		default: // widening keeps NaN and infinities
			ewFloatTest(k, o, ewWiden(ScratchFrom(ctx), x))
		}
		return nil
	}
	vop, vec := ewUnaryVec(k.op)
	switch x.DType {
	case tensor.Float32:
		if vec {
			ewF32Unary(ctx, vop, tensor.Values[float32](y), tensor.Values[float32](x))
			break
		}
		ewFloatUnary(k, tensor.Values[float32](y), tensor.Values[float32](x))
	case tensor.Float64:
		ewFloatUnary(k, tensor.Values[float64](y), tensor.Values[float64](x))
	case tensor.Float16, tensor.BFloat16:
		f := ewWiden(ScratchFrom(ctx), x)
		if vec {
			ewF32Unary(ctx, vop, f, f)
		} else {
			ewFloatUnary(k, f, f)
		}
		narrow(y, f)
	case tensor.Int8:
		ewIntUnary(k, tensor.Values[int8](y), tensor.Values[int8](x))
	case tensor.Int16:
		ewIntUnary(k, tensor.Values[int16](y), tensor.Values[int16](x))
	case tensor.Int32:
		ewIntUnary(k, tensor.Values[int32](y), tensor.Values[int32](x))
	case tensor.Int64:
		ewIntUnary(k, tensor.Values[int64](y), tensor.Values[int64](x))
	case tensor.Uint8:
		ewIntUnary(k, tensor.Values[uint8](y), tensor.Values[uint8](x))
	case tensor.Uint16:
		ewIntUnary(k, tensor.Values[uint16](y), tensor.Values[uint16](x))
	case tensor.Uint32:
		ewIntUnary(k, tensor.Values[uint32](y), tensor.Values[uint32](x))
	case tensor.Uint64:
		ewIntUnary(k, tensor.Values[uint64](y), tensor.Values[uint64](x))
	}
	return nil
}

func ewFloatTest[T ewFloat](k *ewUnary, o []bool, x []T) {
	if k.op == ewUIsNaN {
		ewMap(o, x, func(v T) bool { return v != v })
		return
	}
	neg, pos := k.detNeg, k.detPos
	ewMap(o, x, func(v T) bool { return (pos && math.IsInf(float64(v), 1)) || (neg && math.IsInf(float64(v), -1)) })
}

// ewIntUnary computes the operators defined on integers; those through
// float64 (Erf, Shrink) convert back saturating.
func ewIntUnary[T ewInt](k *ewUnary, o, x []T) {
	switch k.op {
	case ewUAbs: // the most negative value wraps to itself, as in numpy
		ewMap(o, x, func(v T) T {
			if v < 0 {
				return -v
			}
			return v
		})
	case ewUNeg:
		ewMap(o, x, func(v T) T { return -v })
	case ewUSign:
		ewMap(o, x, func(v T) T {
			var one T = 1
			switch {
			case v > 0:
				return one
			case v < 0:
				return -one
			}
			return 0
		})
	case ewUErf:
		ewMap(o, x, func(v T) T { return ewFromFloat[T](math.Erf(float64(v))) })
	case ewUShrink:
		l, b := k.alpha, k.beta
		ewMap(o, x, func(v T) T { return ewFromFloat[T](ewShrink(float64(v), l, b)) })
	case ewUBitNot:
		ewMap(o, x, func(v T) T { return ^v })
	}
}

// ewFloatUnary computes in float64, so a float32 result is rounded once.
func ewFloatUnary[T ewFloat](k *ewUnary, o, x []T) {
	a, b, g := k.alpha, k.beta, k.gamma
	switch k.op {
	case ewUAbs:
		ewMap(o, x, func(v T) T { return T(math.Abs(float64(v))) })
	case ewUNeg:
		ewMap(o, x, func(v T) T { return -v })
	case ewUSign: // NaN stays NaN
		ewMap(o, x, func(v T) T {
			switch {
			case v > 0:
				return 1
			case v < 0:
				return -1
			}
			return v
		})
	case ewUErf:
		ewMath(o, x, math.Erf)
	case ewUShrink:
		ewMap(o, x, func(v T) T { return T(ewShrink(float64(v), a, b)) })
	case ewUSqrt:
		ewMath(o, x, math.Sqrt)
	case ewUReciprocal:
		ewMap(o, x, func(v T) T { return T(1 / float64(v)) })
	case ewUExp:
		ewMath(o, x, math.Exp)
	case ewULog:
		ewMath(o, x, math.Log)
	case ewUFloor:
		ewMath(o, x, math.Floor)
	case ewUCeil:
		ewMath(o, x, math.Ceil)
	case ewURound:
		ewMath(o, x, math.RoundToEven)
	case ewUSigmoid:
		ewMath(o, x, ewSigmoid)
	case ewUTanh:
		ewMath(o, x, math.Tanh)
	case ewUSoftplus:
		ewMath(o, x, ewSoftplus)
	case ewUSoftsign:
		ewMath(o, x, func(v float64) float64 { return v / (1 + math.Abs(v)) })
	case ewUSin:
		ewMath(o, x, math.Sin)
	case ewUCos:
		ewMath(o, x, math.Cos)
	case ewUTan:
		ewMath(o, x, math.Tan)
	case ewUAsin:
		ewMath(o, x, math.Asin)
	case ewUAcos:
		ewMath(o, x, math.Acos)
	case ewUAtan:
		ewMath(o, x, math.Atan)
	case ewUSinh:
		ewMath(o, x, math.Sinh)
	case ewUCosh:
		ewMath(o, x, math.Cosh)
	case ewUAsinh:
		ewMath(o, x, math.Asinh)
	case ewUAcosh:
		ewMath(o, x, math.Acosh)
	case ewUAtanh:
		ewMath(o, x, math.Atanh)
	case ewULeakyRelu:
		ewMath(o, x, func(v float64) float64 {
			if v < 0 {
				return a * v
			}
			return v
		})
	case ewUElu:
		ewMath(o, x, func(v float64) float64 {
			if v < 0 {
				return a * math.Expm1(v)
			}
			return v
		})
	case ewUSelu:
		ewMath(o, x, func(v float64) float64 {
			if v > 0 {
				return g * v
			}
			return g * a * math.Expm1(v)
		})
	case ewUCelu:
		ewMath(o, x, func(v float64) float64 { return max(0, v) + min(0, a*math.Expm1(v/a)) })
	case ewUHardSigmoid:
		ewMath(o, x, func(v float64) float64 { return max(0, min(1, a*v+b)) })
	case ewUHardSwish:
		ewMath(o, x, func(v float64) float64 { return v * max(0, min(1, v/6+0.5)) })
	case ewUThresholdedRelu:
		ewMath(o, x, func(v float64) float64 {
			if v > a {
				return v
			}
			return 0
		})
	case ewUGelu:
		ewMath(o, x, func(v float64) float64 { return 0.5 * v * (1 + math.Erf(v/math.Sqrt2)) })
	case ewUGeluTanh:
		c := math.Sqrt(2 / math.Pi)
		ewMath(o, x, func(v float64) float64 { return 0.5 * v * (1 + math.Tanh(c*(v+0.044715*v*v*v))) })
	case ewUMish:
		ewMath(o, x, func(v float64) float64 { return v * math.Tanh(ewSoftplus(v)) })
	case ewUSwish:
		ewMath(o, x, func(v float64) float64 { return v * ewSigmoid(a*v) })
	}
}

// ewMath applies a float64 function to floats.
func ewMath[T ewFloat](o, x []T, f func(float64) float64) {
	ewMap(o, x, func(v T) T { return T(f(float64(v))) })
}

// ewSigmoid never overflows: exp is only taken of a non-positive value.
func ewSigmoid(v float64) float64 {
	if v >= 0 {
		return 1 / (1 + math.Exp(-v))
	}
	e := math.Exp(v)
	return e / (1 + e)
}

// ewSoftplus is ln(1+e^v) without overflow for large v.
func ewSoftplus(v float64) float64 {
	if v > 0 {
		return v + math.Log1p(math.Exp(-v))
	}
	return math.Log1p(math.Exp(v))
}

func ewShrink(v, lambd, bias float64) float64 {
	switch {
	case v < -lambd:
		return v + bias
	case v > lambd:
		return v - bias
	}
	return 0
}

// ewUnarySchemas makes the versions of a unary operator X -> Y.
func ewUnarySchemas(build Builder, vs ...ewVersion) []Schema {
	out := make([]Schema, len(vs))
	for i, v := range vs {
		out[i] = Schema{Since: v.since, Inputs: params("X:T"), Outputs: params("Y:T"), Attrs: v.attrs, Build: build,
			Types: map[string][]tensor.DType{"T": v.types}}
	}
	return out
}

// ewPlain builds a unary operator without attributes.
func ewPlain(name string, op ewUOp) Builder {
	k := &ewUnary{name: name, op: op}
	return func(*graph.Node, int64) (Kernel, error) { return k, nil }
}

// ewMathSchemas are the versions of the float functions that date from
// opset 1 (Exp, Log, Sqrt...): consumed_inputs dropped at 6, bfloat16 added
// at 13.
func ewMathSchemas(name string, op ewUOp) []Schema {
	return ewUnarySchemas(ewPlain(name, op),
		ewV(1, floats(), "consumed_inputs"),
		ewV(6, floats()),
		ewV(13, floatsBF16()),
	)
}

// ewTrigSchemas are the versions of the functions added at since (7 or 9)
// that gained bfloat16 at 22.
func ewTrigSchemas(name string, op ewUOp, since int64) []Schema {
	return ewUnarySchemas(ewPlain(name, op), ewV(since, floats()), ewV(22, floatsBF16()))
}

func ewAbsSchemas() []Schema {
	return ewUnarySchemas(ewPlain("Abs", ewUAbs),
		ewV(1, floats(), "consumed_inputs"),
		ewV(6, ewNumeric()),
		ewV(13, cat(ewNumeric(), ewBF16())),
	)
}

func ewNegSchemas() []Schema {
	signed := cat(floats(), []tensor.DType{tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64})
	return ewUnarySchemas(ewPlain("Neg", ewUNeg),
		ewV(1, floats(), "consumed_inputs"),
		ewV(6, signed),
		ewV(13, cat(signed, ewBF16())),
	)
}

func ewSignSchemas() []Schema {
	return ewUnarySchemas(ewPlain("Sign", ewUSign), ewV(9, ewNumeric()), ewV(13, cat(ewNumeric(), ewBF16())))
}

// Erf-9 admits every numeric type; the Erf-13 of this release, floats only.
func ewErfSchemas() []Schema {
	return ewUnarySchemas(ewPlain("Erf", ewUErf), ewV(9, ewNumeric()), ewV(13, floatsBF16()))
}

func ewRoundSchemas() []Schema {
	return ewUnarySchemas(ewPlain("Round", ewURound), ewV(11, floats()), ewV(22, floatsBF16()))
}

func ewNotSchemas() []Schema {
	return ewUnarySchemas(ewPlain("Not", ewUNot), ewV(1, ewBools()))
}

func ewBitwiseNotSchemas() []Schema {
	return ewUnarySchemas(ewPlain("BitwiseNot", ewUBitNot), ewV(18, ewInts()))
}

// ewTestSchemas makes the versions of IsNaN and IsInf (T1 -> bool T2).
// Their opset-20 versions add 8-bit floats, which the engine cannot hold.
func ewTestSchemas(build Builder, vs ...ewVersion) []Schema {
	out := make([]Schema, len(vs))
	for i, v := range vs {
		out[i] = Schema{Since: v.since, Inputs: params("X:T1"), Outputs: params("Y:T2"), Attrs: v.attrs, Build: build,
			Types: map[string][]tensor.DType{"T1": v.types, "T2": ewBools()}}
	}
	return out
}

func ewIsNaNSchemas() []Schema {
	return ewTestSchemas(ewPlain("IsNaN", ewUIsNaN), ewV(9, floats()), ewV(13, floatsBF16()), ewV(20, floatsBF16()))
}

func ewIsInfSchemas() []Schema {
	build := func(n *graph.Node, _ int64) (Kernel, error) {
		neg, err := n.AttrInt("detect_negative", 1)
		if err != nil {
			return nil, err
		}
		pos, err := n.AttrInt("detect_positive", 1)
		if err != nil {
			return nil, err
		}
		return &ewUnary{name: "IsInf", op: ewUIsInf, detNeg: neg != 0, detPos: pos != 0}, nil
	}
	attrs := []string{"detect_negative", "detect_positive"}
	return ewTestSchemas(build,
		ewV(10, []tensor.DType{tensor.Float32, tensor.Float64}, attrs...),
		ewV(20, floatsBF16(), attrs...),
	)
}
