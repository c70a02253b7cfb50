package ops

import (
	"context"
	"slices"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Kernel computes one node.
//
// in[i] is the node's i-th input, nil where an optional input is omitted;
// inputs are read-only. out has one entry per declared output; on entry
// out[i] is nil or the tensor the slot held after the previous run, whose
// buffer Run may reuse (see Output) but whose contents are garbage. Run sets
// every out[i] the node produces to a tensor it owns: an output never
// aliases an input. Run may be called concurrently on one Kernel.
type Kernel interface {
	Run(ctx context.Context, in []*tensor.Tensor, out []*tensor.Tensor) error
}

// Builder makes the kernel for a node under the schema version that the
// model's opset selects. It decodes and validates attributes once, at load.
type Builder func(n *graph.Node, opset int64) (Kernel, error)

// KernelFunc adapts a function to Kernel, for operators without attributes.
type KernelFunc func(ctx context.Context, in, out []*tensor.Tensor) error

// Run calls f.
func (f KernelFunc) Run(ctx context.Context, in, out []*tensor.Tensor) error { return f(ctx, in, out) }

// Output returns a tensor of the given dtype and shape for an output slot,
// reusing prev and its buffers when they are large enough so steady-state
// runs do not allocate. The contents are garbage. shape is copied, so the
// caller may pass a slice of a stack array. A new allocation is charged to
// ctx's AllocBudget, if any, and fails with fault.TooLarge past it.
func Output(ctx context.Context, prev *tensor.Tensor, dt tensor.DType, shape []int) (*tensor.Tensor, error) {
	n, ok := numElements(shape)
	if !ok {
		// Validate on a copy: its error formats the shape, which would
		// otherwise make every caller's shape buffer escape to the heap.
		_, err := tensor.Shape(slices.Clone(shape)).NumElements()
		return nil, fault.Wrap(fault.TooLarge, err)
	}
	t := prev
	if t == nil {
		t = &tensor.Tensor{}
	}
	t.DType = dt
	t.Shape = append(t.Shape[:0], shape...)
	if dt == tensor.Bytes {
		t.Data = nil
		if cap(t.Strings) < n {
			if err := charge(ctx, int64(n)*sliceHeaderBytes, shape); err != nil {
				return nil, err
			}
			t.Strings = make([][]byte, n)
		}
		t.Strings = t.Strings[:n]
		return t, nil
	}
	t.Strings = nil
	size := n * dt.Size()
	if cap(t.Data) < size {
		if err := charge(ctx, int64(size), shape); err != nil {
			return nil, err
		}
		t.Data = tensor.AlignedBytes(size)
	}
	t.Data = t.Data[:size]
	return t, nil
}

// sliceHeaderBytes is what one BYTES element costs before its contents.
const sliceHeaderBytes = 24

// charge takes n bytes from the context's allocation budget, if it has one.
// It runs only when Output must allocate, so steady-state runs skip the
// context lookup.
func charge(ctx context.Context, n int64, shape []int) error {
	b := budgetFrom(ctx)
	if b == nil || b.take(n) {
		return nil
	}
	return fault.Errorf(fault.TooLarge, "an output of shape %v needs %d bytes, more than the %d left of the host memory quota", slices.Clone(shape), n, b.Left())
}

// numElements is tensor.Shape.NumElements without an error value.
func numElements(shape []int) (int, bool) {
	if len(shape) > tensor.MaxRank {
		return 0, false
	}
	n := 1
	for _, d := range shape {
		if d < 0 || (d != 0 && n > tensor.MaxElements/d) {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// copyInto makes dst a copy of src with the given shape (which must hold as
// many elements), reusing dst's buffers.
func copyInto(ctx context.Context, dst, src *tensor.Tensor, shape []int) (*tensor.Tensor, error) {
	out, err := Output(ctx, dst, src.DType, shape)
	if err != nil {
		return nil, err
	}
	if src.DType != tensor.Bytes {
		copy(out.Data, src.Data)
		return out, nil
	}
	for i, s := range src.Strings {
		out.Strings[i] = append(out.Strings[i][:0], s...)
	}
	return out, nil
}

// Prepacker is a kernel that prepares its constant inputs once per plan,
// such as a convolution packing its filters into the GEMM's panels.
type Prepacker interface {
	// Prepack returns the kernel to run in place of this one, holding
	// what it computed from consts (the node's inputs that are constants,
	// nil elsewhere); a zero Prepared when there is nothing to prepare.
	// shapes[i] is input i's shape where the plan knows it (nil
	// otherwise), -1 for a dimension that is not fixed. sole[i] reports
	// that this node is the only reader of constant i (no other node, not
	// a graph output), so the kernel may take it over (Prepared.Stands).
	// The returned kernel must still accept any inputs.
	Prepack(consts []*tensor.Tensor, shapes [][]int, sole []bool) Prepared
}

// Prepared is what Prepack made.
type Prepared struct {
	Kernel Kernel // nil: nothing prepared
	Bytes  int64  // what Kernel holds besides the constants
	// Stands[i], where not nil, is a tensor of consts[i]'s dtype and shape
	// without data that the plan holds in place of constant i from then
	// on (only where sole[i]): Kernel keeps all it needs of that constant,
	// such as its filters packed, and accepts the stand-in as that input.
	Stands []*tensor.Tensor
}
