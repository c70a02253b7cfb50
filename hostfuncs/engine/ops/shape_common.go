package ops

import (
	"context"
	"math"
	"slices"
	"unsafe"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// The shape family moves elements without arithmetic on them, so most of
// its kernels see a tensor as elements of a byte size (or as BYTES
// headers) rather than as numbers: one implementation serves every dtype.

// shapeVariadic declares a variadic parameter: one or more tensors.
func shapeVariadic(name, typ string) []Param {
	return []Param{{Name: name, Type: typ, Variadic: true}}
}

// shapeNoBF16 is the dtype list ONNX calls "all tensor types" before
// bfloat16 joined it at opset 13.
func shapeNoBF16() []tensor.DType {
	return slices.DeleteFunc(allTypes(), func(d tensor.DType) bool { return d == tensor.BFloat16 })
}

// shapeNumeric is every number dtype (no BOOL, no STRING), with bfloat16.
func shapeNumeric() []tensor.DType {
	return cat(floatsBF16(), wideInts(), narrowInts())
}

// shapeNumericNoBF16 is shapeNumeric before bfloat16 was admitted.
func shapeNumericNoBF16() []tensor.DType {
	return cat(floats(), wideInts(), narrowInts())
}

// shapeBuf is a tensor's elements seen without their type: raw bytes of
// size es each, or BYTES headers.
type shapeBuf struct {
	str bool
	es  int
	b   []byte
	s   [][]byte
}

func shapeBufOf(t *tensor.Tensor) shapeBuf {
	if t.DType == tensor.Bytes {
		return shapeBuf{str: true, s: t.Strings}
	}
	return shapeBuf{es: t.DType.Size(), b: t.Data}
}

// copyFrom copies n elements from s at sOff to d at dOff.
func (d shapeBuf) copyFrom(dOff int, s shapeBuf, sOff, n int) {
	if d.str {
		copy(d.s[dOff:dOff+n], s.s[sOff:sOff+n])
		return
	}
	es := d.es
	copy(d.b[dOff*es:(dOff+n)*es], s.b[sOff*es:(sOff+n)*es])
}

// shapeFill is one element's value, for the constant a kernel writes into
// positions no input element maps to.
type shapeFill struct {
	b [8]byte
	s []byte
}

// shapeFillOf takes element i of t as a fill value.
func shapeFillOf(t *tensor.Tensor, i int) shapeFill {
	var f shapeFill
	if t.DType == tensor.Bytes {
		f.s = t.Strings[i]
		return f
	}
	es := t.DType.Size()
	copy(f.b[:es], t.Data[i*es:(i+1)*es])
	return f
}

// fill writes n copies of v from dOff on, doubling the filled span so long
// runs cost a few large copies.
func (d shapeBuf) fill(dOff, n int, v shapeFill) {
	if n <= 0 {
		return
	}
	if d.str {
		for i := range n {
			d.s[dOff+i] = v.s
		}
		return
	}
	es := d.es
	run := d.b[dOff*es : (dOff+n)*es]
	copy(run, v.b[:es])
	for done := es; done < len(run); done *= 2 {
		copy(run[done:], run[:done])
	}
}

// shapeView reinterprets raw element bytes as unsigned integers of the
// element's size, so element moves compile to single loads and stores.
// Tensor data is aligned for its dtype (see tensor.Aligned).
func shapeView[E uint8 | uint16 | uint32 | uint64](b []byte) []E {
	var z E
	n := len(b) / int(unsafe.Sizeof(z))
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*E)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// shapeOwnStrings gives t's BYTES elements storage of their own. Kernels
// move element headers, which leaves them pointing into their inputs; an
// output that shared bytes with a value another kernel rewrites in place
// (copyInto reuses its buffers) would change under its holder. One arena per
// run holds them all, so there is no allocation per element.
func shapeOwnStrings(t *tensor.Tensor) {
	if t == nil || t.DType != tensor.Bytes {
		return
	}
	total := 0
	for _, s := range t.Strings {
		total += len(s)
	}
	arena := make([]byte, total)
	off := 0
	for i, s := range t.Strings {
		n := copy(arena[off:], s)
		t.Strings[i] = arena[off : off+n : off+n]
		off += n
	}
}

// shapeCopyAll makes dst a copy of src's elements under the given shape,
// which must hold as many elements.
func shapeCopyAll(ctx context.Context, dst, src *tensor.Tensor, shape []int) (*tensor.Tensor, error) {
	out, err := Output(ctx, dst, src.DType, shape)
	if err != nil {
		return nil, err
	}
	if out.Len() != src.Len() {
		// Not formatting shape keeps the caller's shape buffer on its stack.
		return nil, fault.Errorf(fault.Internal, "copy of %v into %d elements", src, out.Len())
	}
	if src.DType == tensor.Bytes {
		copy(out.Strings, src.Strings)
		shapeOwnStrings(out)
	} else {
		copy(out.Data, src.Data)
	}
	return out, nil
}

// shapeStrides writes the row-major element strides of shape into dst.
func shapeStrides(dst []int, shape []int) []int {
	dst = dst[:len(shape)]
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		dst[i] = acc
		acc *= shape[i]
	}
	return dst
}

// shapeStridedCopy fills dst, row-major over shape, from src where output
// coordinate c reads src[off + Σ c[i]·strides[i]]. Strides may be zero
// (broadcast) or negative (reversed slices).
func shapeStridedCopy(dst, src shapeBuf, shape, strides []int, off int) {
	var dims, strs [tensor.MaxRank]int
	r := 0
	for i, d := range shape {
		if d == 0 {
			return
		}
		if d == 1 {
			continue
		}
		// Merge with the previous dimension when the two walk src as one.
		if r > 0 && strs[r-1] == strides[i]*d {
			dims[r-1] *= d
			strs[r-1] = strides[i]
			continue
		}
		dims[r], strs[r] = d, strides[i]
		r++
	}
	if r == 0 {
		dst.copyFrom(0, src, off, 1)
		return
	}
	inner, istr := dims[r-1], strs[r-1]
	var idx [tensor.MaxRank]int
	base, o := off, 0
	for {
		shapeStridedRow(dst, o, src, base, istr, inner)
		o += inner
		// Advance the odometer over the outer dimensions.
		k := r - 2
		for ; k >= 0; k-- {
			idx[k]++
			base += strs[k]
			if idx[k] < dims[k] {
				break
			}
			base -= strs[k] * dims[k]
			idx[k] = 0
		}
		if k < 0 {
			return
		}
	}
}

// shapeStridedRow copies n elements from src (start sOff, step stride) to
// consecutive dst positions from dOff.
func shapeStridedRow(dst shapeBuf, dOff int, src shapeBuf, sOff, stride, n int) {
	if stride == 1 {
		dst.copyFrom(dOff, src, sOff, n)
		return
	}
	if dst.str {
		stridedRowOf(dst.s[dOff:dOff+n], src.s, sOff, stride)
		return
	}
	switch dst.es {
	case 1:
		stridedRowOf(dst.b[dOff:dOff+n], src.b, sOff, stride)
	case 2:
		stridedRowOf(shapeView[uint16](dst.b)[dOff:dOff+n], shapeView[uint16](src.b), sOff, stride)
	case 4:
		stridedRowOf(shapeView[uint32](dst.b)[dOff:dOff+n], shapeView[uint32](src.b), sOff, stride)
	case 8:
		stridedRowOf(shapeView[uint64](dst.b)[dOff:dOff+n], shapeView[uint64](src.b), sOff, stride)
	}
}

func stridedRowOf[E any](d, s []E, off, stride int) {
	for j := range d {
		d[j] = s[off]
		off += stride
	}
}

// shapeAxisGather fills dst, row-major over outShape, from src (row-major
// over srcShape, of the same rank): output coordinate c reads the source
// element whose coordinate along axis k is maps[k][c[k]], or writes fill
// where any of them is negative. A nil map is the identity. This one
// primitive is slicing, padding, tiling, broadcasting and gathering along
// an axis, each a choice of per-axis maps.
func shapeAxisGather(dst, src shapeBuf, outShape, srcShape []int, maps [][]int64, fill shapeFill) {
	r := len(outShape)
	for _, d := range outShape {
		if d == 0 {
			return
		}
	}
	if r == 0 {
		dst.copyFrom(0, src, 0, 1)
		return
	}
	var sstr [tensor.MaxRank]int
	shapeStrides(sstr[:r], srcShape)
	coord := func(k, c int) int64 {
		if maps[k] == nil {
			return int64(c)
		}
		return maps[k][c]
	}
	inner := outShape[r-1]
	imap := maps[r-1]
	var idx [tensor.MaxRank]int
	o := 0
	for {
		base, filled := 0, false
		for k := range r - 1 {
			c := coord(k, idx[k])
			if c < 0 {
				filled = true
				break
			}
			base += int(c) * sstr[k]
		}
		switch {
		case filled:
			dst.fill(o, inner, fill)
		case imap == nil:
			dst.copyFrom(o, src, base, inner)
		default:
			// Copy maximal runs of consecutive source positions at once.
			for j := 0; j < inner; {
				c := imap[j]
				n := 1
				if c < 0 {
					for j+n < inner && imap[j+n] < 0 {
						n++
					}
					dst.fill(o+j, n, fill)
				} else {
					for j+n < inner && imap[j+n] == c+int64(n) {
						n++
					}
					dst.copyFrom(o+j, src, base+int(c), n)
				}
				j += n
			}
		}
		o += inner
		k := r - 2
		for ; k >= 0; k-- {
			idx[k]++
			if idx[k] < outShape[k] {
				break
			}
			idx[k] = 0
		}
		if k < 0 {
			return
		}
	}
}

// shapeAxis resolves a possibly negative axis against rank r; allowed is
// the count of valid positions (r for an existing axis, r+1 for an
// insertion point).
func shapeAxis(op string, axis int64, allowed int) (int, error) {
	a := axis
	if a < 0 {
		a += int64(allowed)
	}
	if a < 0 || a >= int64(allowed) {
		return 0, fault.Errorf(fault.Invalid, "%s: axis %d is out of range for rank %d", op, axis, max(allowed, 0))
	}
	return int(a), nil
}

// shapeIndexList reads a rank-0 or rank-1 INT32 or INT64 tensor of small
// integers (axes, starts, pads...). INT64 is viewed in place; INT32 is
// widened into scratch.
func shapeIndexList(sc *Scratch, op, what string, t *tensor.Tensor) ([]int64, error) {
	if len(t.Shape) > 1 {
		return nil, fault.Errorf(fault.Invalid, "%s: %s must be a 1-D tensor, got shape %v", op, what, []int(t.Shape))
	}
	switch t.DType {
	case tensor.Int64:
		return tensor.Values[int64](t), nil
	case tensor.Int32:
		v := tensor.Values[int32](t)
		out := ScratchSlice[int64](sc, len(v))
		for i, x := range v {
			out[i] = int64(x)
		}
		return out, nil
	}
	return nil, fault.Errorf(fault.Invalid, "%s: %s must be INT32 or INT64, got %s", op, what, t.DType.ONNXName())
}

// shapeScalarInt reads a one-element integer tensor of any integer dtype.
func shapeScalarInt(op, what string, t *tensor.Tensor) (int64, error) {
	if t.Len() != 1 || len(t.Shape) > 1 {
		return 0, fault.Errorf(fault.Invalid, "%s: %s must hold a single value, got shape %v", op, what, []int(t.Shape))
	}
	switch t.DType {
	case tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64,
		tensor.Uint8, tensor.Uint16, tensor.Uint32:
		return int64(t.Float64At(0)), nil
	case tensor.Uint64:
		v := tensor.Values[uint64](t)[0]
		if v > math.MaxInt64 {
			return math.MaxInt64, nil
		}
		return int64(v), nil
	}
	return 0, fault.Errorf(fault.Invalid, "%s: %s must be an integer, got %s", op, what, t.DType.ONNXName())
}

// shapeAxesAttr reads an optional list-of-ints attribute, keeping nil when
// it is absent and an empty list when it is given empty.
func shapeAxesAttr(n *graph.Node, name string) ([]int64, bool, error) {
	if !n.HasAttr(name) {
		return nil, false, nil
	}
	v, err := n.AttrInts(name, nil)
	if err != nil {
		return nil, false, err
	}
	return append([]int64{}, v...), true, nil
}

// shapeDims converts int64 dimension sizes, refusing negative ones and any
// product over the element limit.
func shapeDims(dst []int, op string, dims []int64) ([]int, error) {
	if len(dims) > tensor.MaxRank {
		return nil, fault.Errorf(fault.TooLarge, "%s: rank %d exceeds the maximum of %d", op, len(dims), tensor.MaxRank)
	}
	dst = dst[:0]
	for _, d := range dims {
		if d < 0 {
			return nil, fault.Errorf(fault.Invalid, "%s: negative dimension %d in %v", op, d, dims)
		}
		if d > tensor.MaxElements {
			return nil, fault.Errorf(fault.TooLarge, "%s: dimension %d exceeds the maximum of %d elements", op, d, tensor.MaxElements)
		}
		dst = append(dst, int(d))
	}
	if _, ok := numElements(dst); !ok {
		return nil, fault.Errorf(fault.TooLarge, "%s: shape %v has more than %d elements", op, dims, tensor.MaxElements)
	}
	return dst, nil
}

// shapeBoolAttr reads a 0/1 integer attribute.
func shapeBoolAttr(n *graph.Node, name string, def bool) (bool, error) {
	d := int64(0)
	if def {
		d = 1
	}
	v, err := n.AttrInt(name, d)
	if err != nil {
		return false, err
	}
	if v != 0 && v != 1 {
		return false, fault.Errorf(fault.Invalid, "attribute %s must be 0 or 1, got %d", name, v)
	}
	return v == 1, nil
}
