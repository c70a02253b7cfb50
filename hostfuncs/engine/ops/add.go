package ops

import (
	"context"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func addSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("A:T", "B:T"), Outputs: params("C:T"),
			Types: map[string][]tensor.DType{"T": ts}, Attrs: attrs, Build: buildAdd,
		}
	}
	v6 := cat(floats(), wideInts())
	return []Schema{
		v(1, floats(), "axis", "broadcast", "consumed_inputs"),
		v(6, v6, "axis", "broadcast"),
		v(7, v6),
		v(13, cat(v6, []tensor.DType{tensor.BFloat16})),
		v(14, cat(v6, []tensor.DType{tensor.BFloat16}, narrowInts())),
	}
}

// add is the Add kernel. Before opset 7, Add broadcast only B onto A and
// only when asked (legacy broadcasting); from 7 on, both operands broadcast
// the numpy way.
type add struct {
	legacy    bool
	broadcast bool // legacy: B may be smaller than A
	axis      int64
	hasAxis   bool
}

func buildAdd(n *graph.Node, opset int64) (Kernel, error) {
	k := add{legacy: opset < 7}
	if !k.legacy {
		return k, nil
	}
	b, err := n.AttrInt("broadcast", 0)
	if err != nil {
		return nil, err
	}
	if b != 0 && b != 1 {
		return nil, fault.Errorf(fault.Invalid, "broadcast must be 0 or 1, got %d", b)
	}
	k.broadcast = b == 1
	k.hasAxis = n.HasAttr("axis")
	if k.axis, err = n.AttrInt("axis", 0); err != nil {
		return nil, err
	}
	return k, nil
}

func (k add) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	a, b := in[0], in[1]
	if a.DType != b.DType {
		return fault.Errorf(fault.Invalid, "Add: operands are %s and %s", a.DType.ONNXName(), b.DType.ONNXName())
	}
	var shapeBuf, bBuf [tensor.MaxRank]int
	bShape := []int(b.Shape)
	var outShape []int
	var err error
	if k.legacy {
		if bShape, err = k.legacyShape(bBuf[:0], a.Shape, b.Shape); err != nil {
			return err
		}
		outShape = a.Shape
	} else if outShape, err = kernels.BroadcastShape(shapeBuf[:0], a.Shape, b.Shape); err != nil {
		return fault.Errorf(fault.Invalid, "Add: %w", err)
	}
	bc, err := kernels.NewBroadcast(outShape, a.Shape, bShape)
	if err != nil {
		return fault.Errorf(fault.Invalid, "Add: %w", err)
	}
	c, err := Output(ctx, out[0], a.DType, outShape)
	if err != nil {
		return err
	}
	out[0] = c
	switch a.DType {
	case tensor.Float32:
		ewF32Binary(ctx, kernels.Add, &bc, tensor.Values[float32](c), tensor.Values[float32](a), tensor.Values[float32](b))
	case tensor.Float64:
		addTyped(&bc, tensor.Values[float64](c), tensor.Values[float64](a), tensor.Values[float64](b))
	case tensor.Int8:
		addTyped(&bc, tensor.Values[int8](c), tensor.Values[int8](a), tensor.Values[int8](b))
	case tensor.Int16:
		addTyped(&bc, tensor.Values[int16](c), tensor.Values[int16](a), tensor.Values[int16](b))
	case tensor.Int32:
		addTyped(&bc, tensor.Values[int32](c), tensor.Values[int32](a), tensor.Values[int32](b))
	case tensor.Int64:
		addTyped(&bc, tensor.Values[int64](c), tensor.Values[int64](a), tensor.Values[int64](b))
	case tensor.Uint8:
		addTyped(&bc, tensor.Values[uint8](c), tensor.Values[uint8](a), tensor.Values[uint8](b))
	case tensor.Uint16:
		addTyped(&bc, tensor.Values[uint16](c), tensor.Values[uint16](a), tensor.Values[uint16](b))
	case tensor.Uint32:
		addTyped(&bc, tensor.Values[uint32](c), tensor.Values[uint32](a), tensor.Values[uint32](b))
	case tensor.Uint64:
		addTyped(&bc, tensor.Values[uint64](c), tensor.Values[uint64](a), tensor.Values[uint64](b))
	case tensor.Float16:
		addHalf(&bc, tensor.Values[tensor.F16](c), tensor.Values[tensor.F16](a), tensor.Values[tensor.F16](b), tensor.F16From)
	case tensor.BFloat16:
		addHalf(&bc, tensor.Values[tensor.BF16](c), tensor.Values[tensor.BF16](a), tensor.Values[tensor.BF16](b), tensor.BF16From)
	default:
		return fault.Errorf(fault.Unsupported, "Add of %s", a.DType.ONNXName())
	}
	return nil
}

// legacyShape places B's dimensions within A's rank the pre-opset-7 way:
// without broadcast the shapes must match; with it, B's shape is a
// contiguous run of A's dimensions (ending at A's last unless axis says
// where it starts), where B may also have size 1.
func (k add) legacyShape(dst []int, a, b tensor.Shape) ([]int, error) {
	if !k.broadcast {
		if !a.Equal(b) {
			return nil, fault.Errorf(fault.Invalid, "Add: shapes %v and %v differ and broadcast is not set", []int(a), []int(b))
		}
		return b, nil
	}
	start := int64(len(a) - len(b))
	if k.hasAxis {
		start = k.axis
		if start < 0 {
			start += int64(len(a))
		}
	}
	if len(b) > len(a) || start < 0 || start+int64(len(b)) > int64(len(a)) {
		return nil, fault.Errorf(fault.Invalid, "Add: B's shape %v does not fit into A's %v at axis %d", []int(b), []int(a), start)
	}
	for i := range a {
		d := 1
		if j := i - int(start); j >= 0 && j < len(b) {
			d = b[j]
			if d != a[i] && d != 1 {
				return nil, fault.Errorf(fault.Invalid, "Add: B's shape %v does not match A's %v at axis %d", []int(b), []int(a), start)
			}
		}
		dst = append(dst, d)
	}
	return dst, nil
}

type addable interface {
	int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64
}

// addTyped adds run by run, with a loop for each way the operands step
// along a run so the common cases compile to tight loops. Integers wrap
// on overflow, as in numpy.
func addTyped[T addable](bc *kernels.Broadcast, c, a, b []T) {
	n := bc.Inner()
	sa, sb := bc.Steps()
	for r := bc.Runs(); r.Next(); {
		o := c[r.Out : r.Out+n]
		switch {
		case sa == 1 && sb == 1:
			x, y := a[r.A:r.A+n], b[r.B:r.B+n]
			for i := range o {
				o[i] = x[i] + y[i]
			}
		case sa == 1:
			x, y := a[r.A:r.A+n], b[r.B]
			for i := range o {
				o[i] = x[i] + y
			}
		case sb == 1:
			x, y := a[r.A], b[r.B:r.B+n]
			for i := range o {
				o[i] = x + y[i]
			}
		default:
			v := a[r.A] + b[r.B]
			for i := range o {
				o[i] = v
			}
		}
	}
}

// addHalf adds 16-bit floats in float32 and rounds the sum back, as numpy
// computes half-precision arithmetic.
func addHalf[T interface{ Float32() float32 }](bc *kernels.Broadcast, c, a, b []T, round func(float32) T) {
	n := bc.Inner()
	sa, sb := bc.Steps()
	for r := bc.Runs(); r.Next(); {
		o := c[r.Out : r.Out+n]
		for i := range o {
			o[i] = round(a[r.A+i*sa].Float32() + b[r.B+i*sb].Float32())
		}
	}
}
