package ops_test

import (
	"math/rand/v2"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// References for the data-movement operators, written from the spec's
// definitions coordinate by coordinate: each returns the output shape and,
// per output element, the flat index of the input element it copies.

func shRefTranspose(shape, perm []int) ([]int, []int) {
	out := make([]int, len(shape))
	for i, p := range perm {
		out[i] = shape[p]
	}
	var src []int
	ic := make([]int, len(shape))
	shEach(out, func(c []int) {
		for i, p := range perm {
			ic[p] = c[i]
		}
		src = append(src, shFlat(shape, ic))
	})
	return out, src
}

// shRefSliceAxis lists the indices one axis of a Slice takes, following
// the spec's clamping rules.
func shRefSliceAxis(start, end, step int64, n int) []int {
	d := int64(n)
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	var idx []int
	if step > 0 {
		start = max(0, min(start, d))
		end = max(0, min(end, d))
		for i := start; i < end; i += step {
			idx = append(idx, int(i))
		}
	} else {
		start = max(0, min(start, d-1))
		end = max(-1, min(end, d-1))
		for i := start; i > end; i += step {
			idx = append(idx, int(i))
		}
	}
	return idx
}

// shRefSelect gathers along every axis by per-axis index lists (nil: all);
// -1 in a list stands for fill.
func shRefSelect(shape []int, lists [][]int) ([]int, []int) {
	out := make([]int, len(shape))
	for i, l := range lists {
		if l == nil {
			out[i] = shape[i]
		} else {
			out[i] = len(l)
		}
	}
	var src []int
	ic := make([]int, len(shape))
	shEach(out, func(c []int) {
		fill := false
		for i, l := range lists {
			ic[i] = c[i]
			if l != nil {
				ic[i] = l[c[i]]
			}
			fill = fill || ic[i] < 0
		}
		if fill {
			src = append(src, -1)
		} else {
			src = append(src, shFlat(shape, ic))
		}
	})
	return out, src
}

func shRefSlice(shape []int, starts, ends, axes, steps []int64) ([]int, []int) {
	lists := make([][]int, len(shape))
	for i := range starts {
		a := int64(i)
		if axes != nil {
			a = axes[i]
		}
		if a < 0 {
			a += int64(len(shape))
		}
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		lists[a] = shRefSliceAxis(starts[i], ends[i], step, shape[a])
		if lists[a] == nil {
			lists[a] = []int{}
		}
	}
	return shRefSelect(shape, lists)
}

// shRefPadAxis lists the source index of each output position of a padded
// axis: negative pads crop first, then mode fills the new positions.
func shRefPadAxis(n int, b, e int, mode string) []int {
	lo, hi := max(0, -b), n-max(0, -e)
	m := hi - lo
	var idx []int
	for j := -max(0, b); j < m+max(0, e); j++ {
		k := j
		switch {
		case k >= 0 && k < m:
		case mode == "constant":
			idx = append(idx, -1)
			continue
		case mode == "edge":
			k = max(0, min(k, m-1))
		case mode == "wrap":
			for k < 0 {
				k += m
			}
			k %= m
		case m == 1:
			k = 0
		default: // reflect, mirrored step by step
			for k < 0 || k >= m {
				if k < 0 {
					k = -k
				}
				if k >= m {
					k = 2*(m-1) - k
				}
			}
		}
		idx = append(idx, lo+k)
	}
	if idx == nil {
		idx = []int{}
	}
	return idx
}

func shRefPad(shape []int, pads []int, mode string) ([]int, []int) {
	r := len(shape)
	lists := make([][]int, r)
	for i := range r {
		lists[i] = shRefPadAxis(shape[i], pads[i], pads[i+r], mode)
	}
	return shRefSelect(shape, lists)
}

func shRefGather(shape []int, axis int, indShape []int, ind []int64) ([]int, []int) {
	out := append(append(append([]int{}, shape[:axis]...), indShape...), shape[axis+1:]...)
	q := len(indShape)
	var src []int
	ic := make([]int, len(shape))
	shEach(out, func(c []int) {
		copy(ic, c[:axis])
		k := ind[shFlat(indShape, c[axis:axis+q])]
		if k < 0 {
			k += int64(shape[axis])
		}
		ic[axis] = int(k)
		copy(ic[axis+1:], c[axis+q:])
		src = append(src, shFlat(shape, ic))
	})
	return out, src
}

func shRefGatherElements(shape []int, axis int, indShape []int, ind []int64) []int {
	var src []int
	ic := make([]int, len(shape))
	shEach(indShape, func(c []int) {
		copy(ic, c)
		k := ind[shFlat(indShape, c)]
		if k < 0 {
			k += int64(shape[axis])
		}
		ic[axis] = int(k)
		src = append(src, shFlat(shape, ic))
	})
	return src
}

func shRefGatherND(shape []int, indShape []int, ind []int64, b int) ([]int, []int) {
	q := len(indShape)
	k := indShape[q-1]
	out := append(append([]int{}, indShape[:q-1]...), shape[b+k:]...)
	var src []int
	ic := make([]int, len(shape))
	shEach(out, func(c []int) {
		copy(ic, c[:b])
		tuple := shFlat(indShape[:q-1], c[:q-1]) * k
		for j := range k {
			v := ind[tuple+j]
			if v < 0 {
				v += int64(shape[b+j])
			}
			ic[b+j] = int(v)
		}
		copy(ic[b+k:], c[q-1:])
		src = append(src, shFlat(shape, ic))
	})
	return out, src
}

func shRefExpand(shape, target []int) ([]int, []int) {
	r := max(len(shape), len(target))
	pad := func(s []int) []int { return append(make([]int, r-len(s)), s...) }
	a, b := pad(shape), pad(target)
	out := make([]int, r)
	for i := range r {
		if i < r-len(shape) {
			a[i] = 1
		}
		if i < r-len(target) {
			b[i] = 1
		}
		out[i] = max(a[i], b[i])
		if a[i] == 0 || b[i] == 0 {
			out[i] = 0
		}
	}
	var src []int
	ic := make([]int, r)
	shEach(out, func(c []int) {
		for i := range r {
			ic[i] = c[i]
			if a[i] == 1 {
				ic[i] = 0
			}
		}
		src = append(src, shFlat(a, ic))
	})
	return out, src
}

func shRefTile(shape []int, reps []int) ([]int, []int) {
	lists := make([][]int, len(shape))
	for i, d := range shape {
		for j := range d * reps[i] {
			lists[i] = append(lists[i], j%d)
		}
		if lists[i] == nil {
			lists[i] = []int{}
		}
	}
	return shRefSelect(shape, lists)
}

func shRefConcat(shapes [][]int, axis int) ([]int, []int) {
	out := append([]int{}, shapes[0]...)
	out[axis] = 0
	for _, s := range shapes {
		out[axis] += s[axis]
	}
	var src []int
	ic := make([]int, len(out))
	shEach(out, func(c []int) {
		base, at := 0, c[axis]
		for _, s := range shapes {
			if at < s[axis] {
				copy(ic, c)
				ic[axis] = at
				src = append(src, base+shFlat(s, ic))
				return
			}
			at -= s[axis]
			base += shProd(s)
		}
	})
	return out, src
}

func shRefDepthToSpace(shape []int, bs int, crd bool) ([]int, []int) {
	b, c, h, w := shape[0], shape[1], shape[2], shape[3]
	cc := c / (bs * bs)
	out := []int{b, cc, h * bs, w * bs}
	var src []int
	shEach(out, func(o []int) {
		i, j := o[2]%bs, o[3]%bs
		ch := (i*bs+j)*cc + o[1]
		if crd {
			ch = o[1]*bs*bs + i*bs + j
		}
		src = append(src, shFlat(shape, []int{o[0], ch, o[2] / bs, o[3] / bs}))
	})
	return out, src
}

func shRefSpaceToDepth(shape []int, bs int) ([]int, []int) {
	b, c, h, w := shape[0], shape[1], shape[2], shape[3]
	out := []int{b, c * bs * bs, h / bs, w / bs}
	var src []int
	shEach(out, func(o []int) {
		blk, ch := o[1]/c, o[1]%c
		i, j := blk/bs, blk%bs
		src = append(src, shFlat(shape, []int{o[0], ch, o[2]*bs + i, o[3]*bs + j}))
	})
	return out, src
}

func TestShapeTranspose(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var cases []shMove
	add := func(name string, shape []int, perm []int, opset int64) {
		var attrs []*graph.Attr
		p := perm
		if perm == nil {
			p = make([]int, len(shape))
			for i := range p {
				p[i] = len(shape) - 1 - i
			}
		} else {
			attrs = []*graph.Attr{graph.IntsAttr("perm", shToI64(perm)...)}
		}
		out, src := shRefTranspose(shape, p)
		cases = append(cases, shMove{name: name, op: "Transpose", opset: opset, attrs: attrs,
			in: []shIn{shData(shape...)}, shapes: [][]int{out}, src: [][]int{src}})
	}
	add("default 2d", []int{3, 5}, nil, 13)
	add("scalar", []int{}, nil, 13)
	add("empty", []int{3, 0, 2}, []int{2, 0, 1}, 13)
	add("identity", []int{2, 3, 5}, []int{0, 1, 2}, 1)
	add("inner kept", []int{2, 3, 7}, []int{1, 0, 2}, 25)
	for i := range 6 {
		shape := shRandShape(r, 2+r.IntN(4), 5)
		perm := r.Perm(len(shape))
		add("random", shape, perm, 13)
		_ = i
	}
	shCheckMoves(t, cases)
}

func shToI64(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

func TestShapeSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var cases []shMove
	add := func(name string, opset int64, shape []int, starts, ends, axes, steps []int64) {
		out, src := shRefSlice(shape, starts, ends, axes, steps)
		c := shMove{name: name, op: "Slice", opset: opset, shapes: [][]int{out}, src: [][]int{src}}
		if opset < 10 {
			c.attrs = []*graph.Attr{graph.IntsAttr("starts", starts...), graph.IntsAttr("ends", ends...)}
			if axes != nil {
				c.attrs = append(c.attrs, graph.IntsAttr("axes", axes...))
			}
			c.in = []shIn{shData(shape...)}
		} else {
			n := []int{len(starts)}
			c.in = []shIn{shData(shape...), shI64(n, starts...), shI64(n, ends...), {omitted: true}, {omitted: true}}
			if axes != nil {
				c.in[3] = shI64(n, axes...)
			}
			if steps != nil {
				c.in[4] = shI64(n, steps...)
			}
		}
		cases = append(cases, c)
	}
	big, small := int64(1<<62), int64(-1<<62)
	add("attr", 1, []int{4, 6}, []int64{1, 0}, []int64{3, -1}, nil, nil)
	add("attr axes", 1, []int{4, 6}, []int64{-2}, []int64{big}, []int64{1}, nil)
	add("negative steps", 13, []int{5, 7}, []int64{-1, 6}, []int64{small, 0}, []int64{0, -1}, []int64{-1, -2})
	add("clamp ends", 13, []int{5, 7}, []int64{1000, -1000}, []int64{1000, 1000}, nil, nil)
	add("empty result", 13, []int{5, 7}, []int64{3}, []int64{1}, []int64{-2}, nil)
	add("step past end", 13, []int{9}, []int64{2}, []int64{9}, nil, []int64{big})
	add("min step", 13, []int{9}, []int64{4}, []int64{small}, nil, []int64{-1 << 63})
	add("empty input", 13, []int{0, 3}, []int64{0}, []int64{2}, []int64{1}, nil)
	for range 8 {
		shape := shRandShape(r, 1+r.IntN(4), 7)
		perm := r.Perm(len(shape))[:1+r.IntN(len(shape))]
		var starts, ends, axes, steps []int64
		for _, a := range perm {
			d := int64(shape[a])
			starts = append(starts, r.Int64N(2*d+3)-d-1)
			ends = append(ends, r.Int64N(2*d+3)-d-1)
			s := r.Int64N(7) - 3
			if s == 0 {
				s = 1
			}
			steps = append(steps, s)
			if r.IntN(2) == 0 {
				axes = append(axes, int64(a)-int64(len(shape)))
			} else {
				axes = append(axes, int64(a))
			}
		}
		add("random", 13, shape, starts, ends, axes, steps)
	}
	shCheckMoves(t, cases)
}

func TestShapePad(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var cases []shMove
	add := func(name string, opset int64, shape []int, pads []int, mode string, axes []int64, dts []tensor.DType) {
		r := len(shape)
		full := pads
		if axes != nil {
			full = make([]int, 2*r)
			for i, a := range axes {
				if a < 0 {
					a += int64(r)
				}
				full[a], full[int(a)+r] = pads[i], pads[i+len(axes)]
			}
		}
		out, src := shRefPad(shape, full, mode)
		c := shMove{name: name, op: "Pad", opset: opset, shapes: [][]int{out}, src: [][]int{src},
			attrs: []*graph.Attr{graph.StringAttr("mode", mode)}, dtypes: dts}
		switch {
		case opset < 11:
			c.attrs = append(c.attrs, graph.IntsAttr("pads", shToI64(pads)...), graph.FloatAttr("value", 2.5))
			c.fill = 2.5
			c.in = []shIn{shData(shape...)}
		default:
			c.fill = 7
			c.in = []shIn{shData(shape...), shI64([]int{len(pads)}, shToI64(pads)...), {fillVal: true}}
			if axes != nil {
				c.in = append(c.in, shI64([]int{len(axes)}, axes...))
			}
		}
		cases = append(cases, c)
	}
	floats := []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16}
	numeric := []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16, tensor.Int8, tensor.Uint16, tensor.Int64}
	add("v2 constant", 2, []int{3, 4}, []int{0, 2, 1, 0}, "constant", nil, floats)
	add("v2 reflect", 2, []int{3, 4}, []int{2, 3, 2, 3}, "reflect", nil, floats)
	add("v11 edge", 11, []int{3, 4}, []int{1, 5, 2, 0}, "edge", nil, numeric)
	add("constant", 13, []int{2, 3, 5}, []int{0, 1, 2, 1, 0, 3}, "constant", nil, nil)
	add("reflect past size", 13, []int{3, 2}, []int{5, 3, 6, 4}, "reflect", nil, nil)
	add("reflect size 1", 13, []int{1, 3}, []int{2, 0, 1, 0}, "reflect", nil, nil)
	add("negative pads", 13, []int{5, 6}, []int{-1, 2, -2, -3}, "constant", nil, nil)
	add("negative then reflect", 13, []int{6}, []int{-2, 4}, "reflect", nil, nil)
	add("axes", 18, []int{2, 3, 4}, []int{1, 2, 0, 1}, "edge", []int64{-1, 0}, nil)
	add("wrap", 19, []int{3, 2}, []int{2, 1, 1, 5}, "wrap", nil, nil)
	add("empty axis constant", 13, []int{0, 3}, []int{1, 0, 1, 0}, "constant", nil, nil)
	add("scalar", 13, []int{}, []int{}, "constant", nil, nil)
	modes := []string{"constant", "reflect", "edge", "wrap"}
	for range 10 {
		shape := shRandShape(r, 1+r.IntN(3), 6)
		pads := make([]int, 2*len(shape))
		for i := range pads {
			pads[i] = r.IntN(9) - 2
			if d := shape[i%len(shape)]; pads[i] < -d/2 {
				pads[i] = -d / 2
			}
		}
		add("random", 19, shape, pads, modes[r.IntN(4)], nil, nil)
	}
	shCheckMoves(t, cases)
}

func TestShapeGatherMoves(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var cases []shMove
	for range 8 {
		shape := shRandShape(r, 1+r.IntN(3), 5)
		axis := r.IntN(len(shape))
		indShape := shRandShape(r, r.IntN(3), 4)
		ind := make([]int64, shProd(indShape))
		for i := range ind {
			d := int64(shape[axis])
			ind[i] = r.Int64N(2*d) - d
		}
		out, src := shRefGather(shape, axis, indShape, ind)
		a := int64(axis)
		if r.IntN(2) == 0 {
			a -= int64(len(shape))
		}
		cases = append(cases, shMove{name: "Gather", op: "Gather", opset: 13,
			attrs: []*graph.Attr{graph.IntAttr("axis", a)},
			in:    []shIn{shData(shape...), shI64(indShape, ind...)}, shapes: [][]int{out}, src: [][]int{src}})
		// The same indices as INT32, through GatherElements' shape rules.
		eShape := append([]int{}, shape...)
		for i := range eShape {
			eShape[i] = 1 + r.IntN(shape[i])
		}
		eShape[axis] = 1 + r.IntN(4)
		eInd := make([]int64, shProd(eShape))
		e32 := make([]int32, len(eInd))
		for i := range eInd {
			d := int64(shape[axis])
			eInd[i] = r.Int64N(2*d) - d
			e32[i] = int32(eInd[i])
		}
		cases = append(cases, shMove{name: "GatherElements", op: "GatherElements", opset: 13,
			attrs:  []*graph.Attr{graph.IntAttr("axis", a)},
			in:     []shIn{shData(shape...), shFixed(tensor.MustFrom(tensor.Shape(eShape), e32))},
			shapes: [][]int{eShape}, src: [][]int{shRefGatherElements(shape, axis, eShape, eInd)}})
	}
	// GatherND with and without batch dimensions.
	for _, b := range []int{0, 0, 1, 2} {
		shape := shRandShape(r, b+1+r.IntN(3), 4)
		k := 1 + r.IntN(len(shape)-b)
		indShape := append(append(append([]int{}, shape[:b]...), shRandShape(r, r.IntN(2), 3)...), k)
		ind := make([]int64, shProd(indShape))
		for i := range ind {
			d := int64(shape[b+i%k])
			ind[i] = r.Int64N(2*d) - d
		}
		out, src := shRefGatherND(shape, indShape, ind, b)
		cases = append(cases, shMove{name: "GatherND", op: "GatherND", opset: 13,
			attrs: []*graph.Attr{graph.IntAttr("batch_dims", int64(b))},
			in:    []shIn{shData(shape...), shI64(indShape, ind...)}, shapes: [][]int{out}, src: [][]int{src}})
	}
	// Empty indices and a scalar index.
	out, src := shRefGather([]int{3, 4}, 1, []int{0}, nil)
	cases = append(cases, shMove{name: "Gather empty", op: "Gather", opset: 11, attrs: []*graph.Attr{graph.IntAttr("axis", 1)},
		in: []shIn{shData(3, 4), shI64([]int{0})}, shapes: [][]int{out}, src: [][]int{src}})
	out, src = shRefGather([]int{3, 4}, 0, []int{}, []int64{-1})
	cases = append(cases, shMove{name: "Gather scalar", op: "Gather", opset: 1,
		in: []shIn{shData(3, 4), shI64(nil, -1)}, shapes: [][]int{out}, src: [][]int{src}})
	shCheckMoves(t, cases)
}

func TestShapeReshapes(t *testing.T) {
	id := func(n int) [][]int { return [][]int{shIota(n)} }
	cases := []shMove{
		{name: "Flatten axis 0", op: "Flatten", opset: 13, attrs: []*graph.Attr{graph.IntAttr("axis", 0)},
			in: []shIn{shData(2, 3, 5)}, shapes: [][]int{{1, 30}}, src: id(30)},
		{name: "Flatten default", op: "Flatten", opset: 13, in: []shIn{shData(2, 3, 5)}, shapes: [][]int{{2, 15}}, src: id(30)},
		{name: "Flatten -3", op: "Flatten", opset: 13, attrs: []*graph.Attr{graph.IntAttr("axis", -3)},
			in: []shIn{shData(2, 3, 5)}, shapes: [][]int{{1, 30}}, src: id(30)},
		{name: "Flatten rank", op: "Flatten", opset: 25, attrs: []*graph.Attr{graph.IntAttr("axis", 3)},
			in: []shIn{shData(2, 3, 5)}, shapes: [][]int{{30, 1}}, src: id(30)},
		{name: "Flatten scalar", op: "Flatten", opset: 13, attrs: []*graph.Attr{graph.IntAttr("axis", 0)},
			in: []shIn{shData()}, shapes: [][]int{{1, 1}}, src: id(1)},
		{name: "Squeeze all", op: "Squeeze", opset: 13, in: []shIn{shData(1, 3, 1, 5)}, shapes: [][]int{{3, 5}}, src: id(15)},
		{name: "Squeeze input axes", op: "Squeeze", opset: 13, in: []shIn{shData(1, 3, 1, 5), shI64([]int{1}, -2)},
			shapes: [][]int{{1, 3, 5}}, src: id(15)},
		{name: "Squeeze attr axes", op: "Squeeze", opset: 11, attrs: []*graph.Attr{graph.IntsAttr("axes", 0, -2)},
			in: []shIn{shData(1, 3, 1, 5)}, shapes: [][]int{{3, 5}}, src: id(15)},
		{name: "Unsqueeze attr", op: "Unsqueeze", opset: 1, attrs: []*graph.Attr{graph.IntsAttr("axes", 0, 4)},
			in: []shIn{shData(3, 4, 5)}, shapes: [][]int{{1, 3, 4, 5, 1}}, src: id(60)},
		{name: "Unsqueeze unsorted negative", op: "Unsqueeze", opset: 13, in: []shIn{shData(3, 5), shI64([]int{3}, -1, 0, 2)},
			shapes: [][]int{{1, 3, 1, 5, 1}}, src: id(15)},
		{name: "Unsqueeze scalar", op: "Unsqueeze", opset: 21, in: []shIn{shData(), shI64([]int{1}, 0)},
			shapes: [][]int{{1}}, src: id(1)},
		{name: "Unsqueeze empty", op: "Unsqueeze", opset: 13, in: []shIn{shData(0, 2), shI64([]int{1}, 1)},
			shapes: [][]int{{0, 1, 2}}, src: [][]int{{}}},
	}
	shCheckMoves(t, cases)
}

func TestShapeConcatSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	var cases []shMove
	for range 6 {
		base := shRandShape(r, 1+r.IntN(3), 5)
		axis := r.IntN(len(base))
		var shapes [][]int
		var in []shIn
		for range 1 + r.IntN(4) {
			s := append([]int{}, base...)
			s[axis] = r.IntN(4) // 0 included
			shapes = append(shapes, s)
			in = append(in, shData(s...))
		}
		out, src := shRefConcat(shapes, axis)
		cases = append(cases, shMove{name: "Concat", op: "Concat", opset: 13,
			attrs: []*graph.Attr{graph.IntAttr("axis", int64(axis-len(base)))}, in: in,
			shapes: [][]int{out}, src: [][]int{src}})
		// Split the result back along the same axis.
		split := make([]int64, len(shapes))
		var srcs [][]int
		for i, s := range shapes {
			split[i] = int64(s[axis])
			at := 0
			for _, p := range shapes[:i] {
				at += p[axis]
			}
			lists := make([][]int, len(out))
			for j := range s[axis] {
				lists[axis] = append(lists[axis], at+j)
			}
			if lists[axis] == nil {
				lists[axis] = []int{}
			}
			_, sp := shRefSelect(out, lists)
			srcs = append(srcs, sp)
		}
		cases = append(cases, shMove{name: "Split input", op: "Split", opset: 13,
			attrs: []*graph.Attr{graph.IntAttr("axis", int64(axis))},
			in:    []shIn{shData(out...), shI64([]int{len(split)}, split...)}, shapes: shapes, src: srcs})
		cases = append(cases, shMove{name: "Split attr", op: "Split", opset: 11,
			attrs: []*graph.Attr{graph.IntAttr("axis", int64(axis)), graph.IntsAttr("split", split...)},
			in:    []shIn{shData(out...)}, shapes: shapes, src: srcs})
	}
	// Equal and uneven splits of 7 along axis 1.
	even := func(opset int64, n int, attrs ...*graph.Attr) shMove {
		c := shMove{name: "Split equal", op: "Split", opset: opset, attrs: attrs, in: []shIn{shData(2, 6)}}
		for i := range n {
			lists := [][]int{nil, {}}
			for j := range 6 / n {
				lists[1] = append(lists[1], i*(6/n)+j)
			}
			s, src := shRefSelect([]int{2, 6}, lists)
			c.shapes, c.src = append(c.shapes, s), append(c.src, src)
		}
		return c
	}
	cases = append(cases, even(2, 3, graph.IntAttr("axis", 1)), even(18, 2, graph.IntAttr("axis", -1)))
	uneven := shMove{name: "Split num_outputs", op: "Split", opset: 18,
		attrs: []*graph.Attr{graph.IntAttr("num_outputs", 3)}, in: []shIn{shData(7, 2)}}
	for _, part := range [][2]int{{0, 3}, {3, 3}, {6, 1}} {
		lists := [][]int{{}, nil}
		for j := range part[1] {
			lists[0] = append(lists[0], part[0]+j)
		}
		s, src := shRefSelect([]int{7, 2}, lists)
		uneven.shapes, uneven.src = append(uneven.shapes, s), append(uneven.src, src)
	}
	cases = append(cases, uneven)
	shCheckMoves(t, cases)
}

func TestShapeExpandTile(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var cases []shMove
	addExpand := func(shape, target []int) {
		out, src := shRefExpand(shape, target)
		cases = append(cases, shMove{name: "Expand", op: "Expand", opset: 13,
			in: []shIn{shData(shape...), shI64([]int{len(target)}, shToI64(target)...)}, shapes: [][]int{out}, src: [][]int{src}})
	}
	addExpand([]int{3, 1}, []int{2, 1, 6})
	addExpand([]int{1, 5}, []int{3, 1})
	addExpand([]int{}, []int{2, 3})
	addExpand([]int{1, 3}, []int{0, 3})
	addExpand([]int{2, 3}, []int{})
	for range 5 {
		shape := shRandShape(r, 1+r.IntN(3), 4)
		target := append(shRandShape(r, r.IntN(2), 3), shape...)
		for i := range shape {
			j := i + len(target) - len(shape)
			switch r.IntN(3) {
			case 0:
				shape[i] = 1
			case 1:
				target[j] = 1
			}
		}
		addExpand(shape, target)
	}
	addTile := func(shape, reps []int, opset int64) {
		out, src := shRefTile(shape, reps)
		cases = append(cases, shMove{name: "Tile", op: "Tile", opset: opset,
			in: []shIn{shData(shape...), shI64([]int{len(reps)}, shToI64(reps)...)}, shapes: [][]int{out}, src: [][]int{src}})
	}
	addTile([]int{2, 3}, []int{1, 2}, 6)
	addTile([]int{2, 3}, []int{0, 2}, 13)
	addTile([]int{}, []int{}, 13)
	for range 5 {
		shape := shRandShape(r, 1+r.IntN(3), 4)
		reps := shRandShape(r, len(shape), 3)
		addTile(shape, reps, 13)
	}
	// Tile-1 repeats along one axis, its counts given as floats.
	out, src := shRefTile([]int{2, 3}, []int{1, 3})
	cases = append(cases, shMove{name: "Tile-1", op: "Tile", opset: 1,
		in:     []shIn{shData(2, 3), shFixed(tensor.MustFrom(nil, []float32{3})), shFixed(tensor.MustFrom(nil, []float32{1}))},
		shapes: [][]int{out}, src: [][]int{src}, dtypes: []tensor.DType{tensor.Float32}})
	shCheckMoves(t, cases)
}

func TestShapeDepthSpace(t *testing.T) {
	var cases []shMove
	for _, bs := range []int{1, 2, 3} {
		shape := []int{2, 2 * bs * bs, 3, 5}
		out, src := shRefDepthToSpace(shape, bs, false)
		cases = append(cases, shMove{name: "DepthToSpace DCR", op: "DepthToSpace", opset: 13,
			attrs: []*graph.Attr{graph.IntAttr("blocksize", int64(bs))},
			in:    []shIn{shData(shape...)}, shapes: [][]int{out}, src: [][]int{src}})
		out, src = shRefDepthToSpace(shape, bs, true)
		cases = append(cases, shMove{name: "DepthToSpace CRD", op: "DepthToSpace", opset: 11,
			attrs: []*graph.Attr{graph.IntAttr("blocksize", int64(bs)), graph.StringAttr("mode", "CRD")},
			in:    []shIn{shData(shape...)}, shapes: [][]int{out}, src: [][]int{src}})
		shape = []int{2, 3, 2 * bs, 3 * bs}
		out, src = shRefSpaceToDepth(shape, bs)
		cases = append(cases, shMove{name: "SpaceToDepth", op: "SpaceToDepth", opset: 13,
			attrs: []*graph.Attr{graph.IntAttr("blocksize", int64(bs))},
			in:    []shIn{shData(shape...)}, shapes: [][]int{out}, src: [][]int{src}})
	}
	shCheckMoves(t, cases)
}

func TestShapeSelections(t *testing.T) {
	var cases []shMove
	// Compress with and without an axis; the condition may be shorter.
	cond := tensor.MustFrom(tensor.Shape{4}, []bool{false, true, true, false})
	_, src := shRefSelect([]int{3, 5}, [][]int{nil, {1, 2}})
	cases = append(cases, shMove{name: "Compress axis", op: "Compress", opset: 11,
		attrs: []*graph.Attr{graph.IntAttr("axis", -1)},
		in:    []shIn{shData(3, 5), shFixed(cond)}, shapes: [][]int{{3, 2}}, src: [][]int{src},
		dtypes: []tensor.DType{tensor.Float32, tensor.Bytes, tensor.Bool, tensor.Int16}})
	cases = append(cases, shMove{name: "Compress flat", op: "Compress", opset: 9,
		in: []shIn{shData(3, 5), shFixed(cond)}, shapes: [][]int{{2}}, src: [][]int{{1, 2}},
		dtypes: []tensor.DType{tensor.Float32, tensor.Bytes, tensor.Uint64}})
	// ReverseSequence, both axis orders.
	seq := func(timeAxis int, shape []int, lens []int64) shMove {
		var src []int
		shEach(shape, func(c []int) {
			b, tt := c[1-timeAxis], c[timeAxis]
			ic := append([]int{}, c...)
			if int64(tt) < lens[b] {
				ic[timeAxis] = int(lens[b]) - 1 - tt
			}
			src = append(src, shFlat(shape, ic))
		})
		return shMove{name: "ReverseSequence", op: "ReverseSequence", opset: 10,
			attrs: []*graph.Attr{graph.IntAttr("time_axis", int64(timeAxis)), graph.IntAttr("batch_axis", int64(1-timeAxis))},
			in:    []shIn{shData(shape...), shI64([]int{len(lens)}, lens...)}, shapes: [][]int{shape}, src: [][]int{src},
			dtypes: []tensor.DType{tensor.Float32, tensor.Bytes, tensor.Float16, tensor.Int64}}
	}
	cases = append(cases, seq(0, []int{5, 3, 2}, []int64{5, 0, 3}), seq(1, []int{4, 5}, []int64{1, 2, 5, 4}))
	// CenterCropPad: crop one axis, pad another.
	crop := func(shape []int, target []int64, axes []int64) shMove {
		r := len(shape)
		pads := make([]int, 2*r)
		for i, s := range target {
			a := i
			if axes != nil {
				a = int(axes[i])
				if a < 0 {
					a += r
				}
			}
			diff := int(s) - shape[a]
			if diff < 0 {
				pads[a] = -((-diff) / 2)
			} else {
				pads[a] = diff / 2
			}
			pads[a+r] = diff - pads[a]
		}
		out, src := shRefPad(shape, pads, "constant")
		c := shMove{name: "CenterCropPad", op: "CenterCropPad", opset: 18,
			in: []shIn{shData(shape...), shI64([]int{len(target)}, target...)}, shapes: [][]int{out}, src: [][]int{src}}
		if axes != nil {
			c.attrs = []*graph.Attr{graph.IntsAttr("axes", axes...)}
		}
		return c
	}
	cases = append(cases, crop([]int{7, 4, 3}, []int64{4, 7, 3}, nil), crop([]int{5, 6, 2}, []int64{3, 9}, []int64{-3, 1}))
	// Trilu keeps a band and zeroes the rest.
	tri := func(upper bool, k int64, shape []int) shMove {
		var src []int
		shEach(shape, func(c []int) {
			i, j := int64(c[len(c)-2]), int64(c[len(c)-1])
			if (upper && j-i >= k) || (!upper && j-i <= k) {
				src = append(src, shFlat(shape, c))
			} else {
				src = append(src, -1)
			}
		})
		u := int64(0)
		if upper {
			u = 1
		}
		return shMove{name: "Trilu", op: "Trilu", opset: 14, attrs: []*graph.Attr{graph.IntAttr("upper", u)},
			in: []shIn{shData(shape...), shI64(nil, k)}, shapes: [][]int{shape}, src: [][]int{src}}
	}
	for _, k := range []int64{0, 1, -2, 9, -9, 1 << 62, -1 << 62} {
		cases = append(cases, tri(true, k, []int{2, 3, 5}), tri(false, k, []int{4, 3}))
	}
	// OneHot copies the off and on values.
	oneHot := func(axis int64, indShape []int, ind []int64, depth int) shMove {
		r := len(indShape)
		a := int(axis)
		if a < 0 {
			a += r + 1
		}
		out := append(append(append([]int{}, indShape[:a]...), depth), indShape[a:]...)
		var src []int
		shEach(out, func(c []int) {
			ic := append(append([]int{}, c[:a]...), c[a+1:]...)
			v := ind[shFlat(indShape, ic)]
			if v < 0 {
				v += int64(depth)
			}
			if v == int64(c[a]) {
				src = append(src, 1)
			} else {
				src = append(src, 0)
			}
		})
		return shMove{name: "OneHot", op: "OneHot", opset: 11, attrs: []*graph.Attr{graph.IntAttr("axis", axis)},
			in:     []shIn{shI64(indShape, ind...), shFixed(tensor.MustFrom(nil, []float32{float32(depth)})), shData(2)},
			shapes: [][]int{out}, src: [][]int{src},
			dtypes: []tensor.DType{tensor.Float32, tensor.Bytes, tensor.Int32, tensor.Bool, tensor.Float16}}
	}
	cases = append(cases, oneHot(-1, []int{2, 3}, []int64{0, 4, -1, 2, 7, -6}, 5), oneHot(0, []int{3}, []int64{1, 2, -3}, 3))
	shCheckMoves(t, cases)
}
