package ops

import (
	"unsafe"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// The elementwise family computes every operator through a few drivers: a
// broadcasting binary driver (ewBinary and its typed loops), a unary driver
// (ewUnary), and the variadic, Where, Clip and Pow kernels built on the same
// loops. Each operator is an op code; the typed loop functions switch on it
// once per run and hand a function literal to ewZip or ewMap, which the
// compiler inlines, so the per-element work is a tight loop with no
// indirect call.

type ewInt interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

type ewFloat interface{ ~float32 | ~float64 }

type ewNum interface{ ewInt | ewFloat }

// ewZip applies f along one broadcast run: sa and sb are 1 where the
// operand spans the run and 0 where one of its elements repeats.
func ewZip[A, B, O any](o []O, a []A, b []B, sa, sb int, f func(A, B) O) {
	for i := range o {
		o[i] = f(a[i*sa], b[i*sb])
	}
}

// ewMap applies f to every element of x. o may be x itself.
func ewMap[T, O any](o []O, x []T, f func(T) O) {
	o = o[:len(x)]
	for i, v := range x {
		o[i] = f(v)
	}
}

// ewRunLoop is the signature of the typed loops the binary driver calls
// once per broadcast run.
type ewRunLoop[A, B, O any] func(op ewOp, o []O, a []A, b []B, sa, sb int)

// ewDrive walks the runs of bc, handing each to run.
func ewDrive[A, B, O any](bc *kernels.Broadcast, op ewOp, o []O, a []A, b []B, run ewRunLoop[A, B, O]) {
	n := bc.Inner()
	sa, sb := bc.Steps()
	for r := bc.Runs(); r.Next(); {
		run(op, o[r.Out:r.Out+n], a[r.A:], b[r.B:], sa, sb)
	}
}

// ewBin runs a binary op on tensors whose element types are T (inputs) and
// O (output).
func ewBin[T, O tensor.Elem](bc *kernels.Broadcast, op ewOp, c, a, b *tensor.Tensor, run ewRunLoop[T, T, O]) {
	ewDrive(bc, op, tensor.Values[O](c), tensor.Values[T](a), tensor.Values[T](b), run)
}

// ewWiden returns the values of a 16-bit float tensor as float32 in scratch
// memory: the family computes 16-bit floats in float32 and rounds once.
func ewWiden(s *Scratch, t *tensor.Tensor) []float32 {
	f := ScratchSlice[float32](s, t.Len())
	widen(f, t)
	return f
}

// ewFromFloat converts f to an integer type, saturating out-of-range values
// and mapping NaN to 0, where a plain conversion's result would depend on
// the platform.
func ewFromFloat[T ewInt](f float64) T {
	var zero T
	bits := unsafe.Sizeof(zero) * 8
	lo, hi := zero, ^zero
	if hi < zero { // signed
		hi = T(1)<<(bits-1) - 1
		lo = -hi - 1
	}
	switch {
	case f != f:
		return 0
	case f <= float64(lo):
		return lo
	case f >= float64(hi):
		return hi
	}
	return T(f)
}

// ewLegacy is the broadcasting of the binary operators before opset 7:
// without broadcast=1 the shapes must match; with it, B's shape is a
// contiguous run of A's dimensions (ending at A's last unless axis says
// where it starts), where B may also have size 1.
type ewLegacy struct {
	on        bool
	broadcast bool
	hasAxis   bool
	axis      int64
}

// ewLegacyFrom reads the legacy broadcasting attributes of an operator whose
// numpy-style broadcasting starts at opset since.
func ewLegacyFrom(n *graph.Node, opset, since int64) (ewLegacy, error) {
	l := ewLegacy{on: opset < since}
	if !l.on {
		return l, nil
	}
	b, err := n.AttrInt("broadcast", 0)
	if err != nil {
		return l, err
	}
	if b != 0 && b != 1 {
		return l, fault.Errorf(fault.Invalid, "broadcast must be 0 or 1, got %d", b)
	}
	l.broadcast = b == 1
	l.hasAxis = n.HasAttr("axis")
	l.axis, err = n.AttrInt("axis", 0)
	return l, err
}

// shapes returns the output shape and the shape to broadcast B with. dst
// and bBuf are buffers for them.
func (l ewLegacy) shapes(op string, dst, bBuf []int, a, b tensor.Shape) (out, bShape []int, err error) {
	if !l.on {
		out, err = kernels.BroadcastShape(dst, a, b)
		if err != nil {
			return nil, nil, fault.Errorf(fault.Invalid, "%s: %w", op, err)
		}
		return out, b, nil
	}
	if !l.broadcast {
		if !a.Equal(b) {
			return nil, nil, fault.Errorf(fault.Invalid, "%s: shapes %v and %v differ and broadcast is not set", op, []int(a), []int(b))
		}
		return a, b, nil
	}
	start := int64(len(a) - len(b))
	if l.hasAxis {
		start = l.axis
		if start < 0 {
			start += int64(len(a))
		}
	}
	if len(b) > len(a) || start < 0 || start+int64(len(b)) > int64(len(a)) {
		return nil, nil, fault.Errorf(fault.Invalid, "%s: B's shape %v does not fit into A's %v at axis %d", op, []int(b), []int(a), start)
	}
	for i := range a {
		d := 1
		if j := i - int(start); j >= 0 && j < len(b) {
			d = b[j]
			if d != a[i] && d != 1 {
				return nil, nil, fault.Errorf(fault.Invalid, "%s: B's shape %v does not match A's %v at axis %d", op, []int(b), []int(a), start)
			}
		}
		bBuf = append(bBuf, d)
	}
	return a, bBuf, nil
}

// ewVariadic returns the parameter list of a variadic input: one or more
// tensors. The builders reject omitted entries.
func ewVariadic(name, typ string) []Param {
	return []Param{{Name: name, Type: typ, Variadic: true}}
}

// ewNumeric is ONNX's "all numeric tensors" without bfloat16.
func ewNumeric() []tensor.DType { return cat(floats(), wideInts(), narrowInts()) }

// ewInts is every integer type.
func ewInts() []tensor.DType { return cat(wideInts(), narrowInts()) }

func ewUints() []tensor.DType {
	return []tensor.DType{tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64}
}

func ewBools() []tensor.DType { return []tensor.DType{tensor.Bool} }

func ewBF16() []tensor.DType { return []tensor.DType{tensor.BFloat16} }

// ewWithout returns ds less the dtypes in drop.
func ewWithout(ds []tensor.DType, drop ...tensor.DType) []tensor.DType {
	out := make([]tensor.DType, 0, len(ds))
	for _, d := range ds {
		keep := true
		for _, x := range drop {
			keep = keep && d != x
		}
		if keep {
			out = append(out, d)
		}
	}
	return out
}
