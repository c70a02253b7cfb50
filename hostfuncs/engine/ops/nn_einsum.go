package ops

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// einsumMaxInputs bounds the operands of one equation, which bounds the
// work of planning its contraction.
const einsumMaxInputs = 64

func einsumSchemas() []Schema {
	return []Schema{{
		Since: 12, Inputs: params("Inputs:T..."), Outputs: params("Output:T"),
		Types: map[string][]tensor.DType{"T": cat(
			[]tensor.DType{tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64},
			[]tensor.DType{tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64},
			floats())},
		Attrs: []string{"equation"}, Build: buildEinsum,
	}}
}

// einEllipsis marks where a term's ellipsis sits in its label list.
const einEllipsis = -1

// einMaxLabels bounds the distinct labels of an equation: 52 letters and
// the ellipsis's dimensions.
const einMaxLabels = 52 + tensor.MaxRank

// einTerm is one subscript of an equation: letter label ids in order, with
// at most one einEllipsis.
type einTerm struct {
	labels  []int
	letters int // labels that are letters
	ell     bool
}

// einsum holds a parsed equation. Letter labels are numbered from 0;
// ellipsis dimensions get the ids after them at run time, once the ranks
// say how many there are.
type einsum struct {
	inputs   []einTerm
	out      einTerm
	explicit bool
	nLetters int
}

func buildEinsum(n *graph.Node, _ int64) (Kernel, error) {
	if !n.HasAttr("equation") {
		return nil, fault.Errorf(fault.Invalid, "Einsum: attribute equation is required")
	}
	eq, err := n.AttrString("equation", "")
	if err != nil {
		return nil, err
	}
	k, err := parseEinsum(eq)
	if err != nil {
		return nil, err
	}
	if len(k.inputs) != len(n.Inputs) {
		return nil, fault.Errorf(fault.Invalid, "Einsum: equation %q has %d operands, node has %d inputs", eq, len(k.inputs), len(n.Inputs))
	}
	return k, nil
}

func parseEinsum(eq string) (*einsum, error) {
	fail := func(why string) error {
		return fault.Errorf(fault.Invalid, "Einsum: equation %q: %s", eq, why)
	}
	s := strings.ReplaceAll(eq, " ", "")
	lhs, rhs, explicit := strings.Cut(s, "->")
	if strings.Contains(rhs, "->") {
		return nil, fail("more than one ->")
	}
	k := &einsum{explicit: explicit}
	ids := map[byte]int{}
	count := map[int]int{}
	parse := func(t string, output bool) (einTerm, error) {
		var term einTerm
		for i := 0; i < len(t); i++ {
			c := t[i]
			switch {
			case c == '.':
				if term.ell || !strings.HasPrefix(t[i:], "...") {
					return term, fail("a term has a malformed or second ellipsis")
				}
				term.ell = true
				term.labels = append(term.labels, einEllipsis)
				i += 2
			case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
				id, ok := ids[c]
				if output {
					if !ok {
						return term, fail(fmt.Sprintf("output label %q is in no input", c))
					}
					if slices.Contains(term.labels, id) {
						return term, fail(fmt.Sprintf("output label %q is repeated", c))
					}
				} else {
					if !ok {
						id = len(ids)
						ids[c] = id
					}
					count[id]++
				}
				term.labels = append(term.labels, id)
				term.letters++
			default:
				return term, fail(fmt.Sprintf("unexpected character %q", c))
			}
		}
		if len(term.labels) > tensor.MaxRank+1 {
			return term, fail("a term has too many subscripts")
		}
		return term, nil
	}
	for t := range strings.SplitSeq(lhs, ",") {
		term, err := parse(t, false)
		if err != nil {
			return nil, err
		}
		k.inputs = append(k.inputs, term)
	}
	if len(k.inputs) > einsumMaxInputs {
		return nil, fail("too many operands")
	}
	k.nLetters = len(ids)
	if explicit {
		out, err := parse(rhs, true)
		if err != nil {
			return nil, err
		}
		k.out = out
		return k, nil
	}
	// Implicit output: the ellipsis first, then the letters used exactly
	// once, in alphabetical order.
	anyEll := false
	for _, t := range k.inputs {
		anyEll = anyEll || t.ell
	}
	if anyEll {
		k.out.labels = append(k.out.labels, einEllipsis)
		k.out.ell = true
	}
	letters := make([]byte, 0, len(ids))
	for c, id := range ids {
		if count[id] == 1 {
			letters = append(letters, c)
		}
	}
	slices.Sort(letters)
	for _, c := range letters {
		k.out.labels = append(k.out.labels, ids[c])
		k.out.letters++
	}
	return k, nil
}

// einView is an operand seen through its labels: one entry per distinct
// label, with the label's size and the operand's element stride along it
// (a sum of strides for a repeated label, which reads a diagonal; 0 where
// a size-1 dimension broadcasts).
type einView[T any] struct {
	data    []T
	labels  []int
	strides []int
}

// einsumPlan is an equation resolved against operand shapes.
type einsumPlan struct {
	sizes  []int   // per label id
	labels [][]int // per input: label id of each dimension
	out    []int   // output label ids in order
}

func (k *einsum) plan(in []*tensor.Tensor) (*einsumPlan, error) {
	// The ellipsis covers, per operand, the dimensions its letters do not;
	// operands' ellipses align at the right and broadcast.
	ellRank := 0
	for i, t := range k.inputs {
		x := in[i]
		if x == nil {
			return nil, fault.Errorf(fault.Invalid, "Einsum: operand %d is missing", i)
		}
		r := len(x.Shape)
		if !t.ell && r != t.letters || t.ell && r < t.letters {
			return nil, fault.Errorf(fault.Invalid, "Einsum: operand %d has shape %v, which does not fit its subscripts", i, []int(x.Shape))
		}
		if t.ell {
			ellRank = max(ellRank, r-t.letters)
		}
	}
	p := &einsumPlan{sizes: make([]int, k.nLetters+ellRank)}
	for i := range p.sizes {
		p.sizes[i] = -1
	}
	for i, t := range k.inputs {
		x := in[i]
		var ls []int
		for _, l := range t.labels {
			if l != einEllipsis {
				ls = append(ls, l)
				continue
			}
			n := len(x.Shape) - t.letters
			for e := range n {
				ls = append(ls, k.nLetters+ellRank-n+e)
			}
		}
		for d, l := range ls {
			size := x.Shape[d]
			switch prev := p.sizes[l]; {
			case prev < 0 || prev == 1 && l >= k.nLetters:
				p.sizes[l] = size
			case prev == size || size == 1 && l >= k.nLetters:
			default:
				return nil, fault.Errorf(fault.Invalid, "Einsum: operand %d has size %d for a subscript that is %d elsewhere", i, size, prev)
			}
		}
		p.labels = append(p.labels, ls)
	}
	for _, l := range k.out.labels {
		if l != einEllipsis {
			p.out = append(p.out, l)
			continue
		}
		for e := range ellRank {
			p.out = append(p.out, k.nLetters+e)
		}
	}
	if len(p.out) > tensor.MaxRank {
		return nil, fault.Errorf(fault.Invalid, "Einsum: the output has rank %d", len(p.out))
	}
	return p, nil
}

func (k *einsum) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	p, err := k.plan(in)
	if err != nil {
		return err
	}
	dt := in[0].DType
	for _, x := range in[1:] {
		if x.DType != dt {
			return fault.Errorf(fault.Invalid, "Einsum: operands are %s and %s", dt.ONNXName(), x.DType.ONNXName())
		}
	}
	var shapeBuf [tensor.MaxRank]int
	shape := shapeBuf[:0]
	for _, l := range p.out {
		shape = append(shape, p.sizes[l])
	}
	y, err := Output(ctx, out[0], dt, shape)
	if err != nil {
		return err
	}
	out[0] = y
	sc := ScratchFrom(ctx)
	switch dt {
	case tensor.Float32:
		return einsumRun(ctx, sc, p, in, tensor.Values[float32](y), tensor.Values[float32], einGemmFloat[float32])
	case tensor.Float64:
		return einsumRun(ctx, sc, p, in, tensor.Values[float64](y), tensor.Values[float64], einGemmFloat[float64])
	case tensor.Float16:
		yf := ScratchSlice[float32](sc, y.Len())
		widened := func(t *tensor.Tensor) []float32 { return nnFloats[float32](sc, t) }
		if err := einsumRun(ctx, sc, p, in, yf, widened, einGemmFloat[float32]); err != nil {
			return err
		}
		nnStore(y, yf)
		return nil
	case tensor.Int8:
		return einsumRun(ctx, sc, p, in, tensor.Values[int8](y), tensor.Values[int8], einGemmInt[int8])
	case tensor.Int16:
		return einsumRun(ctx, sc, p, in, tensor.Values[int16](y), tensor.Values[int16], einGemmInt[int16])
	case tensor.Int32:
		return einsumRun(ctx, sc, p, in, tensor.Values[int32](y), tensor.Values[int32], einGemmInt[int32])
	case tensor.Int64:
		return einsumRun(ctx, sc, p, in, tensor.Values[int64](y), tensor.Values[int64], einGemmInt[int64])
	case tensor.Uint8:
		return einsumRun(ctx, sc, p, in, tensor.Values[uint8](y), tensor.Values[uint8], einGemmInt[uint8])
	case tensor.Uint16:
		return einsumRun(ctx, sc, p, in, tensor.Values[uint16](y), tensor.Values[uint16], einGemmInt[uint16])
	case tensor.Uint32:
		return einsumRun(ctx, sc, p, in, tensor.Values[uint32](y), tensor.Values[uint32], einGemmInt[uint32])
	case tensor.Uint64:
		return einsumRun(ctx, sc, p, in, tensor.Values[uint64](y), tensor.Values[uint64], einGemmInt[uint64])
	}
	return fault.Errorf(fault.Unsupported, "Einsum of %s", dt.ONNXName())
}

type einNum interface{ nnInt | float32 | float64 }

// einsumRun contracts the operands left to right, two at a time, each
// pair as a batched matrix product; labels no later operand or the output
// needs are summed as early as possible.
func einsumRun[T einNum](ctx context.Context, sc *Scratch, p *einsumPlan, in []*tensor.Tensor, y []T,
	vals func(*tensor.Tensor) []T, mul func(m, n, k int, a, b, c []T)) error {
	views := make([]einView[T], len(in))
	for i, x := range in {
		views[i] = einViewOf(vals(x), x.Shape, p.labels[i], p.sizes)
	}
	cur := views[0]
	for i := 1; i < len(views); i++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("Einsum: %w", err)
		}
		keep := func(l int) bool {
			if slices.Contains(p.out, l) {
				return true
			}
			for _, v := range views[i+1:] {
				if slices.Contains(v.labels, l) {
					return true
				}
			}
			return false
		}
		var err error
		if cur, err = einContract(sc, cur, views[i], p.sizes, keep, mul); err != nil {
			return err
		}
	}
	// Whatever the output does not name is summed; the rest is laid out in
	// output order.
	var summed []int
	for _, l := range cur.labels {
		if !slices.Contains(p.out, l) {
			summed = append(summed, l)
		}
	}
	einGather(y, cur, p.out, summed, p.sizes)
	return nil
}

// einViewOf describes an operand by its distinct labels.
func einViewOf[T any](data []T, shape []int, labels, sizes []int) einView[T] {
	v := einView[T]{data: data}
	stride := 1
	strides := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		strides[d] = stride
		stride *= shape[d]
	}
	for d, l := range labels {
		s := strides[d]
		if shape[d] == 1 && sizes[l] != 1 {
			s = 0 // broadcast
		}
		if j := slices.Index(v.labels, l); j >= 0 {
			v.strides[j] += s // repeated label: walk the diagonal
			continue
		}
		v.labels = append(v.labels, l)
		v.strides = append(v.strides, s)
	}
	return v
}

// einContract multiplies two operands, summing the labels they share that
// keep rejects and keeping the rest: shared kept labels are the batch,
// kept labels of one operand the rows or columns.
func einContract[T einNum](sc *Scratch, a, b einView[T], sizes []int, keep func(int) bool, mul func(m, n, k int, a, b, c []T)) (einView[T], error) {
	var batch, con, aKeep, bKeep, aSum, bSum []int
	for _, l := range a.labels {
		switch inB := slices.Contains(b.labels, l); {
		case inB && keep(l):
			batch = append(batch, l)
		case inB:
			con = append(con, l)
		case keep(l):
			aKeep = append(aKeep, l)
		default:
			aSum = append(aSum, l)
		}
	}
	for _, l := range b.labels {
		switch {
		case slices.Contains(a.labels, l):
		case keep(l):
			bKeep = append(bKeep, l)
		default:
			bSum = append(bSum, l)
		}
	}
	// The operands' layouts and the product are bounded like any tensor:
	// labels that later operands need can multiply past every input's size.
	for _, ls := range [][]int{slices.Concat(batch, aKeep, con), slices.Concat(batch, con, bKeep), slices.Concat(batch, aKeep, bKeep)} {
		n := 1
		for _, l := range ls {
			if d := sizes[l]; d != 0 && n > tensor.MaxElements/d {
				return einView[T]{}, fault.Errorf(fault.TooLarge, "Einsum: an intermediate product has more than %d elements", tensor.MaxElements)
			}
			n *= sizes[l]
		}
	}
	size := func(ls []int) int {
		n := 1
		for _, l := range ls {
			n *= sizes[l]
		}
		return n
	}
	nb, m, n, k := size(batch), size(aKeep), size(bKeep), size(con)
	aOrder := slices.Concat(batch, aKeep, con)
	bOrder := slices.Concat(batch, con, bKeep)
	ad := einLayout(sc, a, aOrder, aSum, sizes, nb*m*k)
	bd := einLayout(sc, b, bOrder, bSum, sizes, nb*k*n)
	c := ScratchSlice[T](sc, nb*m*n)
	for i := range nb {
		mul(m, n, k, ad[i*m*k:(i+1)*m*k], bd[i*k*n:(i+1)*k*n], c[i*m*n:(i+1)*m*n])
	}
	labels := slices.Concat(batch, aKeep, bKeep)
	return einView[T]{data: c, labels: labels, strides: einContiguous(labels, sizes)}, nil
}

// einLayout returns v's data laid out contiguously in the given label
// order with the summed labels reduced, reusing v's storage when it
// already is laid out so.
func einLayout[T einNum](sc *Scratch, v einView[T], order, summed, sizes []int, n int) []T {
	if len(summed) == 0 && len(order) == len(v.labels) {
		want := einContiguous(order, sizes)
		same := true
		for i, l := range order {
			j := slices.Index(v.labels, l)
			same = same && (v.strides[j] == want[i] || sizes[l] == 1)
		}
		if same && len(v.data) >= n {
			return v.data[:n]
		}
	}
	dst := ScratchSlice[T](sc, n)
	einGather(dst, v, order, summed, sizes)
	return dst
}

// einContiguous is the row-major strides of labels' sizes.
func einContiguous(labels, sizes []int) []int {
	s := make([]int, len(labels))
	acc := 1
	for i := len(labels) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= sizes[labels[i]]
	}
	return s
}

// einGather writes dst[index over order] = Σ over summed of v at that
// index. Every label of v is in order or summed; a label of order that v
// lacks has size 1 (or v broadcasts along it).
func einGather[T einNum](dst []T, v einView[T], order, summed, sizes []int) {
	strideOf := func(l int) int {
		if j := slices.Index(v.labels, l); j >= 0 {
			return v.strides[j]
		}
		return 0
	}
	var kd, ks, sd, ss [einMaxLabels]int
	nk, ns := len(order), len(summed)
	total, inner := 1, 1
	for i, l := range order {
		kd[i], ks[i] = sizes[l], strideOf(l)
		total *= kd[i]
	}
	for i, l := range summed {
		sd[i], ss[i] = sizes[l], strideOf(l)
		inner *= sd[i]
	}
	if total == 0 {
		return
	}
	// Walk the output with an odometer over the kept labels, the last of
	// which moves fastest.
	var idx [einMaxLabels]int
	off := 0
	last, lastStride := 1, 0
	if nk > 0 {
		last, lastStride = kd[nk-1], ks[nk-1]
	}
	for o := 0; o < total; o += last {
		row := dst[o : o+last]
		if ns == 0 {
			for j := range row {
				row[j] = v.data[off+j*lastStride]
			}
		} else {
			for j := range row {
				row[j] = einSum(v.data, off+j*lastStride, sd[:ns], ss[:ns], inner)
			}
		}
		for d := nk - 2; d >= 0; d-- {
			off += ks[d]
			if idx[d]++; idx[d] < kd[d] {
				break
			}
			off -= ks[d] * kd[d]
			idx[d] = 0
		}
	}
}

// einSum adds the n elements of data at off plus every combination of
// the summed labels' strides.
func einSum[T einNum](data []T, off int, dims, strides []int, n int) T {
	var s T
	if n == 0 {
		return s
	}
	var idx [einMaxLabels]int
	last := len(dims) - 1
	for done := 0; done < n; done += dims[last] {
		st := strides[last]
		for j := range dims[last] {
			s += data[off+j*st]
		}
		for d := last - 1; d >= 0; d-- {
			off += strides[d]
			if idx[d]++; idx[d] < dims[d] {
				break
			}
			off -= strides[d] * dims[d]
			idx[d] = 0
		}
	}
	return s
}

func einGemmFloat[T kernels.Float](m, n, k int, a, b, c []T) {
	kernels.Gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
}

// einGemmInt multiplies integer matrices exactly, wrapping on overflow.
func einGemmInt[T nnInt](m, n, k int, a, b, c []T) {
	clear(c[:m*n])
	for i := range m {
		row := c[i*n : (i+1)*n]
		for q, av := range a[i*k : (i+1)*k] {
			if av == 0 {
				continue
			}
			for j, bv := range b[q*n : (q+1)*n] {
				row[j] += av * bv
			}
		}
	}
}
