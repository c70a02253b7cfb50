package ops

import (
	"context"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Gather, GatherElements, GatherND, Compress and NonZero: operators that
// select elements by index or by condition.

func shapeGatherSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("data:T", "indices:Tind"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": ts, "Tind": {tensor.Int32, tensor.Int64}},
			Attrs: []string{"axis"}, Build: buildShapeGather,
		}
	}
	return []Schema{v(1, shapeNoBF16()), v(11, shapeNoBF16()), v(13, allTypes())}
}

type shapeGather struct{ axis int64 }

func buildShapeGather(n *graph.Node, _ int64) (Kernel, error) {
	axis, err := n.AttrInt("axis", 0)
	if err != nil {
		return nil, err
	}
	return shapeGather{axis}, nil
}

// shapeIndices reads an INT32 or INT64 index tensor into int64 scratch,
// resolving negative indices against dim and refusing any out of range.
func shapeIndices(sc *Scratch, op string, t *tensor.Tensor, dim int) ([]int64, error) {
	out := ScratchSlice[int64](sc, t.Len())
	bad := func(v int64) error {
		return fault.Errorf(fault.Invalid, "%s: index %d is out of range for an axis of size %d", op, v, dim)
	}
	d := int64(dim)
	switch t.DType {
	case tensor.Int64:
		for i, v := range tensor.Values[int64](t) {
			if v < -d || v >= d {
				return nil, bad(v)
			}
			if v < 0 {
				v += d
			}
			out[i] = v
		}
	case tensor.Int32:
		for i, v32 := range tensor.Values[int32](t) {
			v := int64(v32)
			if v < -d || v >= d {
				return nil, bad(v)
			}
			if v < 0 {
				v += d
			}
			out[i] = v
		}
	default:
		return nil, fault.Errorf(fault.Invalid, "%s: indices must be INT32 or INT64, got %s", op, t.DType.ONNXName())
	}
	return out, nil
}

func (k shapeGather) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, ind := in[0], in[1]
	r := len(x.Shape)
	if r == 0 {
		return fault.Errorf(fault.Invalid, "Gather: data must have rank 1 or more, got a scalar")
	}
	axis, err := shapeAxis("Gather", k.axis, r)
	if err != nil {
		return err
	}
	rank := r - 1 + len(ind.Shape)
	if rank > tensor.MaxRank {
		return fault.Errorf(fault.TooLarge, "Gather: output rank %d exceeds the maximum of %d", rank, tensor.MaxRank)
	}
	idx, err := shapeIndices(ScratchFrom(ctx), "Gather", ind, x.Shape[axis])
	if err != nil {
		return err
	}
	var buf [tensor.MaxRank]int
	shape := append(append(append(buf[:0], x.Shape[:axis]...), ind.Shape...), x.Shape[axis+1:]...)
	y, err := Output(ctx, out[0], x.DType, shape)
	if err != nil {
		return err
	}
	out[0] = y
	outer := tensor.Shape(x.Shape[:axis]).Size()
	inner := tensor.Shape(x.Shape[axis+1:]).Size()
	shapeAxisGather(shapeBufOf(y), shapeBufOf(x),
		[]int{outer, len(idx), inner}, []int{outer, x.Shape[axis], inner},
		[][]int64{nil, idx, nil}, shapeFill{})
	shapeOwnStrings(y)
	return nil
}

func shapeGatherElementsSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("data:T", "indices:Tind"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": ts, "Tind": {tensor.Int32, tensor.Int64}},
			Attrs: []string{"axis"}, Build: buildShapeGatherElements,
		}
	}
	return []Schema{v(11, shapeNoBF16()), v(13, allTypes())}
}

type shapeGatherElements struct{ axis int64 }

func buildShapeGatherElements(n *graph.Node, _ int64) (Kernel, error) {
	axis, err := n.AttrInt("axis", 0)
	if err != nil {
		return nil, err
	}
	return shapeGatherElements{axis}, nil
}

// shapeElementTargets resolves, for each element of an indices tensor of
// GatherElements or ScatterElements, the flat position in data it names:
// its own coordinates with the one along axis replaced by its value.
func shapeElementTargets(sc *Scratch, op string, data tensor.Shape, ind *tensor.Tensor, axis64 int64) ([]int64, error) {
	r := len(data)
	if r == 0 {
		return nil, fault.Errorf(fault.Invalid, "%s: data must have rank 1 or more, got a scalar", op)
	}
	if len(ind.Shape) != r {
		return nil, fault.Errorf(fault.Invalid, "%s: indices have rank %d but data has rank %d", op, len(ind.Shape), r)
	}
	axis, err := shapeAxis(op, axis64, r)
	if err != nil {
		return nil, err
	}
	for i, d := range ind.Shape {
		if i != axis && d > data[i] {
			return nil, fault.Errorf(fault.Invalid, "%s: indices shape %v exceeds data shape %v", op, []int(ind.Shape), []int(data))
		}
	}
	pos, err := shapeIndices(sc, op, ind, data[axis])
	if err != nil {
		return nil, err
	}
	var dstr [tensor.MaxRank]int
	shapeStrides(dstr[:r], data)
	var idx [tensor.MaxRank]int
	for p := range pos {
		base := 0
		for k := range r {
			if k != axis {
				base += idx[k] * dstr[k]
			}
		}
		pos[p] = int64(base) + pos[p]*int64(dstr[axis])
		for k := r - 1; k >= 0; k-- {
			if idx[k]++; idx[k] < ind.Shape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return pos, nil
}

func (k shapeGatherElements) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, ind := in[0], in[1]
	pos, err := shapeElementTargets(ScratchFrom(ctx), "GatherElements", x.Shape, ind, k.axis)
	if err != nil {
		return err
	}
	y, err := Output(ctx, out[0], x.DType, ind.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	shapeGatherPositions(shapeBufOf(y), shapeBufOf(x), pos)
	shapeOwnStrings(y)
	return nil
}

// shapeGatherPositions sets dst[i] = src[pos[i]].
func shapeGatherPositions(dst, src shapeBuf, pos []int64) {
	if dst.str {
		gatherPositionsOf(dst.s, src.s, pos)
		return
	}
	switch dst.es {
	case 1:
		gatherPositionsOf(dst.b, src.b, pos)
	case 2:
		gatherPositionsOf(shapeView[uint16](dst.b), shapeView[uint16](src.b), pos)
	case 4:
		gatherPositionsOf(shapeView[uint32](dst.b), shapeView[uint32](src.b), pos)
	case 8:
		gatherPositionsOf(shapeView[uint64](dst.b), shapeView[uint64](src.b), pos)
	}
}

func gatherPositionsOf[E any](d, s []E, pos []int64) {
	d = d[:len(pos)]
	for i, p := range pos {
		d[i] = s[p]
	}
}

func shapeGatherNDSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("data:T", "indices:I"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": ts, "I": {tensor.Int64}}, Attrs: attrs, Build: buildShapeGatherND,
		}
	}
	return []Schema{v(11, shapeNoBF16()), v(12, shapeNoBF16(), "batch_dims"), v(13, allTypes(), "batch_dims")}
}

type shapeGatherND struct{ batch int64 }

func buildShapeGatherND(n *graph.Node, _ int64) (Kernel, error) {
	b, err := n.AttrInt("batch_dims", 0)
	if err != nil {
		return nil, err
	}
	if b < 0 {
		return nil, fault.Errorf(fault.Invalid, "GatherND: batch_dims must not be negative, got %d", b)
	}
	return shapeGatherND{b}, nil
}

// shapeNDSlices resolves the index tuples of GatherND or ScatterND: for
// each tuple (batch-major), the flat offset in data of the slice it names,
// and the size of those slices. data is [batch..., indexed..., slice...]
// and indices [batch..., tuples..., k].
func shapeNDSlices(sc *Scratch, op string, data tensor.Shape, ind *tensor.Tensor, b int) ([]int64, int, error) {
	r, q := len(data), len(ind.Shape)
	if q < 1 || r < 1 {
		return nil, 0, fault.Errorf(fault.Invalid, "%s: data and indices must have rank 1 or more, got %d and %d", op, r, q)
	}
	if b >= min(q, r) {
		return nil, 0, fault.Errorf(fault.Invalid, "%s: batch_dims %d must be less than both ranks %d and %d", op, b, r, q)
	}
	for i := range b {
		if data[i] != ind.Shape[i] {
			return nil, 0, fault.Errorf(fault.Invalid, "%s: batch dimensions of data %v and indices %v differ", op, []int(data), []int(ind.Shape))
		}
	}
	k := ind.Shape[q-1]
	if k < 1 || k > r-b {
		return nil, 0, fault.Errorf(fault.Invalid, "%s: the last dimension of indices (%d) must be between 1 and %d", op, k, r-b)
	}
	if ind.DType != tensor.Int64 {
		return nil, 0, fault.Errorf(fault.Invalid, "%s: indices must be INT64, got %s", op, ind.DType.ONNXName())
	}
	var dstr [tensor.MaxRank]int
	shapeStrides(dstr[:r], data)
	slice := tensor.Shape(data[b+k:]).Size()
	batch := tensor.Shape(data[:b]).Size()
	batchStride := tensor.Shape(data[b:]).Size()
	iv := tensor.Values[int64](ind)
	n := len(iv) / k
	per := 0 // tuples per batch
	if batch > 0 {
		per = n / batch
	}
	offs := ScratchSlice[int64](sc, n)
	for t := range n {
		off := 0
		if per > 0 {
			off = (t / per) * batchStride
		}
		for j := range k {
			v, d := iv[t*k+j], int64(data[b+j])
			if v < -d || v >= d {
				return nil, 0, fault.Errorf(fault.Invalid, "%s: index %d is out of range for an axis of size %d", op, v, d)
			}
			if v < 0 {
				v += d
			}
			off += int(v) * dstr[b+j]
		}
		offs[t] = int64(off)
	}
	return offs, slice, nil
}

func (k shapeGatherND) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, ind := in[0], in[1]
	b := int(min(k.batch, tensor.MaxRank))
	offs, slice, err := shapeNDSlices(ScratchFrom(ctx), "GatherND", x.Shape, ind, b)
	if err != nil {
		return err
	}
	q := len(ind.Shape)
	kk := ind.Shape[q-1]
	var buf [tensor.MaxRank]int
	shape := append(append(buf[:0], ind.Shape[:q-1]...), x.Shape[b+kk:]...)
	if len(shape) > tensor.MaxRank {
		return fault.Errorf(fault.TooLarge, "GatherND: output rank exceeds the maximum of %d", tensor.MaxRank)
	}
	y, err := Output(ctx, out[0], x.DType, shape)
	if err != nil {
		return err
	}
	out[0] = y
	dst, src := shapeBufOf(y), shapeBufOf(x)
	for t, off := range offs {
		dst.copyFrom(t*slice, src, int(off), slice)
	}
	shapeOwnStrings(y)
	return nil
}

func shapeCompressSchemas() []Schema {
	v := func(since int64) Schema {
		return Schema{
			Since: since, Inputs: params("input:T", "condition:T1"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": shapeNoBF16(), "T1": {tensor.Bool}},
			Attrs: []string{"axis"}, Build: buildShapeCompress,
		}
	}
	return []Schema{v(9), v(11)}
}

type shapeCompress struct {
	axis    int64
	hasAxis bool
}

func buildShapeCompress(n *graph.Node, opset int64) (Kernel, error) {
	k := shapeCompress{hasAxis: n.HasAttr("axis")}
	var err error
	if k.axis, err = n.AttrInt("axis", 0); err != nil {
		return nil, err
	}
	if k.axis < 0 && opset < 11 {
		return nil, fault.Errorf(fault.Invalid, "Compress: axis %d must not be negative before opset 11", k.axis)
	}
	return k, nil
}

func (k shapeCompress) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, cond := in[0], in[1]
	if cond.DType != tensor.Bool || len(cond.Shape) != 1 {
		return fault.Errorf(fault.Invalid, "Compress: condition must be a 1-D BOOL tensor, got %v", cond)
	}
	// Without an axis the input is flattened.
	var vbuf [3]int
	view := append(vbuf[:0], 1, x.Shape.Size(), 1)
	axis := 0
	if k.hasAxis {
		var err error
		if axis, err = shapeAxis("Compress", k.axis, len(x.Shape)); err != nil {
			return err
		}
		view = append(vbuf[:0], tensor.Shape(x.Shape[:axis]).Size(), x.Shape[axis], tensor.Shape(x.Shape[axis+1:]).Size())
	}
	c := cond.Data[:min(len(cond.Data), view[1])] // entries past the axis are ignored
	n := 0
	for _, v := range c {
		if v != 0 {
			n++
		}
	}
	sel := ScratchSlice[int64](ScratchFrom(ctx), n)
	n = 0
	for i, v := range c {
		if v != 0 {
			sel[n] = int64(i)
			n++
		}
	}
	var buf [tensor.MaxRank]int
	shape := []int{n}
	if k.hasAxis {
		shape = append(buf[:0], x.Shape...)
		shape[axis] = n
	}
	y, err := Output(ctx, out[0], x.DType, shape)
	if err != nil {
		return err
	}
	out[0] = y
	shapeAxisGather(shapeBufOf(y), shapeBufOf(x), []int{view[0], n, view[2]}, view, [][]int64{nil, sel, nil}, shapeFill{})
	shapeOwnStrings(y)
	return nil
}

func shapeNonZeroSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("X:T"), Outputs: params("Y:I"),
			Types: map[string][]tensor.DType{"T": ts, "I": {tensor.Int64}}, Build: buildShapeNonZero,
		}
	}
	return []Schema{v(9, shapeNoBF16()), v(13, allTypes())}
}

func buildShapeNonZero(*graph.Node, int64) (Kernel, error) { return KernelFunc(shapeNonZero), nil }

// shapeNonZero lists the coordinates of the elements that are not zero:
// for floats, not ±0 (NaN counts); for strings, not empty.
func shapeNonZero(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	nz := ScratchSlice[uint8](ScratchFrom(ctx), x.Len())
	switch x.DType {
	case tensor.Bytes:
		for i, s := range x.Strings {
			nz[i] = shapeB2U(len(s) != 0)
		}
	case tensor.Float32:
		nonZeroOf(nz, shapeView[uint32](x.Data), 0x7fffffff)
	case tensor.Float64:
		nonZeroOf(nz, shapeView[uint64](x.Data), 0x7fffffffffffffff)
	case tensor.Float16, tensor.BFloat16:
		nonZeroOf(nz, shapeView[uint16](x.Data), 0x7fff)
	default:
		switch x.DType.Size() {
		case 1:
			nonZeroOf(nz, x.Data, 0xff)
		case 2:
			nonZeroOf(nz, shapeView[uint16](x.Data), 0xffff)
		case 4:
			nonZeroOf(nz, shapeView[uint32](x.Data), 0xffffffff)
		case 8:
			nonZeroOf(nz, shapeView[uint64](x.Data), 0xffffffffffffffff)
		default:
			return fault.Errorf(fault.Unsupported, "NonZero of %s", x.DType.ONNXName())
		}
	}
	n := 0
	for _, v := range nz {
		n += int(v)
	}
	r := len(x.Shape)
	y, err := Output(ctx, out[0], tensor.Int64, []int{r, n})
	if err != nil {
		return err
	}
	out[0] = y
	v := tensor.Values[int64](y)
	var idx [tensor.MaxRank]int
	j := 0
	for _, z := range nz {
		if z != 0 {
			for k := range r {
				v[k*n+j] = int64(idx[k])
			}
			j++
		}
		for k := r - 1; k >= 0; k-- {
			if idx[k]++; idx[k] < x.Shape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return nil
}

// nonZeroOf marks elements whose bits under mask are not all zero; the
// mask drops a float's sign bit so -0 counts as zero.
func nonZeroOf[E uint8 | uint16 | uint32 | uint64](nz []uint8, x []E, mask E) {
	for i, v := range x {
		nz[i] = shapeB2U(v&mask != 0)
	}
}

func shapeB2U(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
