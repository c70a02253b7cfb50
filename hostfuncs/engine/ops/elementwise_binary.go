package ops

import (
	"bytes"
	"cmp"
	"context"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// ewOp names the operation a binary loop applies.
type ewOp uint8

const (
	ewAdd ewOp = iota
	ewSub
	ewMul
	ewDiv
	ewMax
	ewMin
	ewPRelu
	ewFirst // the first operand; starts the fold of the variadic operators
	ewMod   // remainder with the divisor's sign (Python's %); integers
	ewFmod  // remainder with the dividend's sign (C's fmod)
	ewBitAnd
	ewBitOr
	ewBitXor
	ewShl
	ewShr
	ewAnd // logical, on booleans
	ewOr
	ewXor
	ewEqual // comparisons, to booleans
	ewLess
	ewLessEq
	ewGreater
	ewGreaterEq
)

// predicate reports whether op yields booleans.
func (op ewOp) predicate() bool { return op >= ewAnd }

// accepts checks that op is defined on dt, so a kernel called with a dtype
// its schema would have refused errs rather than computing garbage.
func (op ewOp) accepts(name string, dt tensor.DType) error {
	ok := false
	switch op {
	case ewAnd, ewOr, ewXor:
		ok = dt == tensor.Bool
	case ewEqual:
		ok = dt == tensor.Bool || dt == tensor.Bytes || ewIsNumeric(dt)
	case ewBitAnd, ewBitOr, ewBitXor:
		ok = ewIsInt(dt)
	case ewShl, ewShr:
		ok = ewIsUint(dt)
	case ewMod:
		if dt.IsFloat() {
			return fault.Errorf(fault.Invalid, "%s of %s needs fmod=1: with fmod=0 the operator is defined on integers only", name, dt.ONNXName())
		}
		ok = ewIsInt(dt)
	default:
		ok = ewIsNumeric(dt)
	}
	if !ok {
		return fault.Errorf(fault.Unsupported, "%s of %s", name, dt.ONNXName())
	}
	return nil
}

func ewIsUint(dt tensor.DType) bool {
	return dt == tensor.Uint8 || dt == tensor.Uint16 || dt == tensor.Uint32 || dt == tensor.Uint64
}

func ewIsInt(dt tensor.DType) bool {
	return ewIsUint(dt) || dt == tensor.Int8 || dt == tensor.Int16 || dt == tensor.Int32 || dt == tensor.Int64
}

func ewIsNumeric(dt tensor.DType) bool { return ewIsInt(dt) || dt.IsFloat() }

// ewArith holds the loops every numeric type shares.
func ewArith[T ewNum](op ewOp, o, a, b []T, sa, sb int) {
	switch op {
	case ewAdd:
		ewZip(o, a, b, sa, sb, func(x, y T) T { return x + y })
	case ewSub:
		ewZip(o, a, b, sa, sb, func(x, y T) T { return x - y })
	case ewMul:
		ewZip(o, a, b, sa, sb, func(x, y T) T { return x * y })
	case ewMax: // NaN wins, as in numpy.maximum
		ewZip(o, a, b, sa, sb, func(x, y T) T { return max(x, y) })
	case ewMin:
		ewZip(o, a, b, sa, sb, func(x, y T) T { return min(x, y) })
	case ewPRelu:
		ewZip(o, a, b, sa, sb, func(x, y T) T {
			if x < 0 {
				return x * y
			}
			return x
		})
	case ewFirst:
		ewZip(o, a, b, sa, sb, func(x, _ T) T { return x })
	}
}

// ewIntArith adds the integer-only operations. Division and remainder by
// zero give 0 (numpy's result) instead of a run-time panic.
func ewIntArith[T ewInt](op ewOp, o, a, b []T, sa, sb int) {
	switch op {
	case ewDiv: // truncates toward zero, as C and the spec do
		ewZip(o, a, b, sa, sb, func(x, y T) T {
			if y == 0 {
				return 0
			}
			return x / y
		})
	case ewMod:
		ewZip(o, a, b, sa, sb, func(x, y T) T {
			if y == 0 {
				return 0
			}
			r := x % y
			if r != 0 && (r < 0) != (y < 0) {
				r += y
			}
			return r
		})
	case ewFmod:
		ewZip(o, a, b, sa, sb, func(x, y T) T {
			if y == 0 {
				return 0
			}
			return x % y
		})
	case ewBitAnd:
		ewZip(o, a, b, sa, sb, func(x, y T) T { return x & y })
	case ewBitOr:
		ewZip(o, a, b, sa, sb, func(x, y T) T { return x | y })
	case ewBitXor:
		ewZip(o, a, b, sa, sb, func(x, y T) T { return x ^ y })
	case ewShl: // shifting by the width or more gives 0, as numpy does
		ewZip(o, a, b, sa, sb, func(x, y T) T {
			if y < 0 {
				return 0
			}
			return x << y
		})
	case ewShr:
		ewZip(o, a, b, sa, sb, func(x, y T) T {
			if y < 0 {
				return 0
			}
			return x >> y
		})
	default:
		ewArith(op, o, a, b, sa, sb)
	}
}

// ewFloatArith adds the float-only operations.
func ewFloatArith[T ewFloat](op ewOp, o, a, b []T, sa, sb int) {
	switch op {
	case ewDiv:
		ewZip(o, a, b, sa, sb, func(x, y T) T { return x / y })
	case ewFmod: // exact, so computing in float64 rounds nothing
		ewZip(o, a, b, sa, sb, func(x, y T) T { return T(math.Mod(float64(x), float64(y))) })
	default:
		ewArith(op, o, a, b, sa, sb)
	}
}

func ewCompare[T cmp.Ordered](op ewOp, o []bool, a, b []T, sa, sb int) {
	switch op {
	case ewEqual:
		ewZip(o, a, b, sa, sb, func(x, y T) bool { return x == y })
	case ewLess:
		ewZip(o, a, b, sa, sb, func(x, y T) bool { return x < y })
	case ewLessEq:
		ewZip(o, a, b, sa, sb, func(x, y T) bool { return x <= y })
	case ewGreater:
		ewZip(o, a, b, sa, sb, func(x, y T) bool { return x > y })
	case ewGreaterEq:
		ewZip(o, a, b, sa, sb, func(x, y T) bool { return x >= y })
	}
}

func ewLogic(op ewOp, o, a, b []bool, sa, sb int) {
	switch op {
	case ewAnd:
		ewZip(o, a, b, sa, sb, func(x, y bool) bool { return x && y })
	case ewOr:
		ewZip(o, a, b, sa, sb, func(x, y bool) bool { return x || y })
	case ewXor:
		ewZip(o, a, b, sa, sb, func(x, y bool) bool { return x != y })
	case ewEqual:
		ewZip(o, a, b, sa, sb, func(x, y bool) bool { return x == y })
	}
}

// ewArithRun computes c = a op b for a numeric op; c has a's dtype.
func ewArithRun(ctx context.Context, bc *kernels.Broadcast, op ewOp, c, a, b *tensor.Tensor) error {
	switch a.DType {
	case tensor.Int8:
		ewBin(bc, op, c, a, b, ewIntArith[int8])
	case tensor.Int16:
		ewBin(bc, op, c, a, b, ewIntArith[int16])
	case tensor.Int32:
		ewBin(bc, op, c, a, b, ewIntArith[int32])
	case tensor.Int64:
		ewBin(bc, op, c, a, b, ewIntArith[int64])
	case tensor.Uint8:
		ewBin(bc, op, c, a, b, ewIntArith[uint8])
	case tensor.Uint16:
		ewBin(bc, op, c, a, b, ewIntArith[uint16])
	case tensor.Uint32:
		ewBin(bc, op, c, a, b, ewIntArith[uint32])
	case tensor.Uint64:
		ewBin(bc, op, c, a, b, ewIntArith[uint64])
	case tensor.Float32:
		if vop, ok := ewBinaryVec(op); ok {
			ewF32Binary(ctx, vop, bc, tensor.Values[float32](c), tensor.Values[float32](a), tensor.Values[float32](b))
			break
		}
		ewBin(bc, op, c, a, b, ewFloatArith[float32])
	case tensor.Float64:
		ewBin(bc, op, c, a, b, ewFloatArith[float64])
	case tensor.Float16, tensor.BFloat16:
		s := ScratchFrom(ctx)
		af, bf := ewWiden(s, a), ewWiden(s, b)
		cf := ScratchSlice[float32](s, c.Len())
		if vop, ok := ewBinaryVec(op); ok {
			ewF32Binary(ctx, vop, bc, cf, af, bf)
		} else {
			ewDrive(bc, op, cf, af, bf, ewFloatArith[float32])
		}
		narrow(c, cf)
	default:
		return fault.Errorf(fault.Unsupported, "elementwise arithmetic on %s", a.DType.ONNXName())
	}
	return nil
}

// ewPredicateRun computes c = a op b for an op that yields booleans.
func ewPredicateRun(ctx context.Context, bc *kernels.Broadcast, op ewOp, c, a, b *tensor.Tensor) error {
	switch a.DType {
	case tensor.Bool:
		ewBin(bc, op, c, a, b, ewLogic)
	case tensor.Bytes:
		o := tensor.Values[bool](c)
		n := bc.Inner()
		sa, sb := bc.Steps()
		for r := bc.Runs(); r.Next(); {
			ewZip(o[r.Out:r.Out+n], a.Strings[r.A:], b.Strings[r.B:], sa, sb, bytes.Equal)
		}
	case tensor.Int8:
		ewBin(bc, op, c, a, b, ewCompare[int8])
	case tensor.Int16:
		ewBin(bc, op, c, a, b, ewCompare[int16])
	case tensor.Int32:
		ewBin(bc, op, c, a, b, ewCompare[int32])
	case tensor.Int64:
		ewBin(bc, op, c, a, b, ewCompare[int64])
	case tensor.Uint8:
		ewBin(bc, op, c, a, b, ewCompare[uint8])
	case tensor.Uint16:
		ewBin(bc, op, c, a, b, ewCompare[uint16])
	case tensor.Uint32:
		ewBin(bc, op, c, a, b, ewCompare[uint32])
	case tensor.Uint64:
		ewBin(bc, op, c, a, b, ewCompare[uint64])
	case tensor.Float32:
		ewBin(bc, op, c, a, b, ewCompare[float32])
	case tensor.Float64:
		ewBin(bc, op, c, a, b, ewCompare[float64])
	case tensor.Float16, tensor.BFloat16: // widening is exact, so comparisons are too
		s := ScratchFrom(ctx)
		ewDrive(bc, op, tensor.Values[bool](c), ewWiden(s, a), ewWiden(s, b), ewCompare[float32])
	default:
		return fault.Errorf(fault.Unsupported, "elementwise comparison of %s", a.DType.ONNXName())
	}
	return nil
}

// ewBinary is the kernel of the broadcasting binary operators.
type ewBinary struct {
	name   string
	op     ewOp
	legacy ewLegacy
}

func (k *ewBinary) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	a, b := in[0], in[1]
	if a.DType != b.DType {
		return fault.Errorf(fault.Invalid, "%s: operands are %s and %s", k.name, a.DType.ONNXName(), b.DType.ONNXName())
	}
	if err := k.op.accepts(k.name, a.DType); err != nil {
		return err
	}
	var shapeBuf, bBuf [tensor.MaxRank]int
	outShape, bShape, err := k.legacy.shapes(k.name, shapeBuf[:0], bBuf[:0], a.Shape, b.Shape)
	if err != nil {
		return err
	}
	bc, err := kernels.NewBroadcast(outShape, a.Shape, bShape)
	if err != nil {
		return fault.Errorf(fault.Invalid, "%s: %w", k.name, err)
	}
	dt := a.DType
	if k.op.predicate() {
		dt = tensor.Bool
	}
	c, err := Output(ctx, out[0], dt, outShape)
	if err != nil {
		return err
	}
	out[0] = c
	if k.op.predicate() {
		return ewPredicateRun(ctx, &bc, k.op, c, a, b)
	}
	return ewArithRun(ctx, &bc, k.op, c, a, b)
}

// ewVersion is one version of an operator: where it starts, the dtypes of
// its main type variable and the attributes it defines.
type ewVersion struct {
	since int64
	types []tensor.DType
	attrs []string
}

func ewV(since int64, types []tensor.DType, attrs ...string) ewVersion {
	return ewVersion{since, types, attrs}
}

// ewBinarySchemas makes the schemas of a binary operator A, B -> C. A
// predicate's output is boolean.
func ewBinarySchemas(build Builder, predicate bool, vs ...ewVersion) []Schema {
	out := make([]Schema, len(vs))
	for i, v := range vs {
		s := Schema{Since: v.since, Inputs: params("A:T", "B:T"), Outputs: params("C:T"), Attrs: v.attrs, Build: build,
			Types: map[string][]tensor.DType{"T": v.types}}
		if predicate {
			s.Outputs = params("C:T1")
			s.Types["T1"] = ewBools()
		}
		out[i] = s
	}
	return out
}

// ewBuildBinary builds a binary operator, which broadcasts the legacy way
// (ewLegacy) before opset 7 and the numpy way from then on.
func ewBuildBinary(name string, op ewOp) Builder {
	return func(n *graph.Node, opset int64) (Kernel, error) {
		l, err := ewLegacyFrom(n, opset, 7)
		if err != nil {
			return nil, err
		}
		return &ewBinary{name: name, op: op, legacy: l}, nil
	}
}

// ewArithSchemas are the versions of Sub, Mul and Div, which are Add's.
func ewArithSchemas(name string, op ewOp) []Schema {
	v6 := cat(floats(), wideInts())
	return ewBinarySchemas(ewBuildBinary(name, op), false,
		ewV(1, floats(), "axis", "broadcast", "consumed_inputs"),
		ewV(6, v6, "axis", "broadcast"),
		ewV(7, v6),
		ewV(13, cat(v6, ewBF16())),
		ewV(14, cat(v6, ewBF16(), narrowInts())),
	)
}

func ewLogicSchemas(name string, op ewOp) []Schema {
	return ewBinarySchemas(ewBuildBinary(name, op), true,
		ewV(1, ewBools(), "axis", "broadcast"),
		ewV(7, ewBools()),
	)
}

func ewEqualSchemas() []Schema {
	v1 := []tensor.DType{tensor.Bool, tensor.Int32, tensor.Int64}
	v11 := cat(ewBools(), ewNumeric())
	return ewBinarySchemas(ewBuildBinary("Equal", ewEqual), true,
		ewV(1, v1, "axis", "broadcast"),
		ewV(7, v1),
		ewV(11, v11),
		ewV(13, cat(v11, ewBF16())),
		ewV(19, cat(v11, ewBF16(), []tensor.DType{tensor.Bytes})),
	)
}

// ewOrderSchemas are the versions of Less and Greater.
func ewOrderSchemas(name string, op ewOp) []Schema {
	return ewBinarySchemas(ewBuildBinary(name, op), true,
		ewV(1, floats(), "axis", "broadcast"),
		ewV(7, floats()),
		ewV(9, ewNumeric()),
		ewV(13, cat(ewNumeric(), ewBF16())),
	)
}

// ewOrderEqSchemas are the versions of LessOrEqual and GreaterOrEqual.
func ewOrderEqSchemas(name string, op ewOp) []Schema {
	return ewBinarySchemas(ewBuildBinary(name, op), true,
		ewV(12, ewNumeric()),
		ewV(16, cat(ewNumeric(), ewBF16())),
	)
}

func ewBitwiseSchemas(name string, op ewOp) []Schema {
	return ewBinarySchemas(ewBuildBinary(name, op), false, ewV(18, ewInts()))
}

func ewModSchemas() []Schema {
	build := func(n *graph.Node, _ int64) (Kernel, error) {
		f, err := n.AttrInt("fmod", 0)
		if err != nil {
			return nil, err
		}
		switch f {
		case 0:
			return &ewBinary{name: "Mod", op: ewMod}, nil
		case 1:
			return &ewBinary{name: "Mod", op: ewFmod}, nil
		}
		return nil, fault.Errorf(fault.Invalid, "fmod must be 0 or 1, got %d", f)
	}
	return ewBinarySchemas(build, false,
		ewV(10, ewNumeric(), "fmod"),
		ewV(13, cat(ewNumeric(), ewBF16()), "fmod"),
	)
}

func ewBitShiftSchemas() []Schema {
	build := func(n *graph.Node, _ int64) (Kernel, error) {
		if !n.HasAttr("direction") {
			return nil, fault.Errorf(fault.Invalid, "BitShift needs the direction attribute")
		}
		d, err := n.AttrString("direction", "")
		if err != nil {
			return nil, err
		}
		switch d {
		case "LEFT":
			return &ewBinary{name: "BitShift", op: ewShl}, nil
		case "RIGHT":
			return &ewBinary{name: "BitShift", op: ewShr}, nil
		}
		return nil, fault.Errorf(fault.Invalid, `direction must be "LEFT" or "RIGHT", got %q`, d)
	}
	s := ewBinarySchemas(build, false, ewV(11, ewUints(), "direction"))
	s[0].Inputs, s[0].Outputs = params("X:T", "Y:T"), params("Z:T")
	return s
}
