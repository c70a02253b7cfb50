package ops

import (
	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// autoPad is the auto_pad attribute of convolution and pooling.
type autoPad int

const (
	padNotSet autoPad = iota
	padSameUpper
	padSameLower
	padValid
)

// window holds the sliding-window attributes Conv and MaxPool share,
// validated at load. Nil slices mean "not given": defaults (stride and
// dilation 1, no padding) apply once the spatial rank is known at run time.
type window struct {
	autoPad   autoPad
	kernel    []int // nil for Conv without kernel_shape: taken from W
	strides   []int
	dilations []int
	pads      []int // begins then ends
	ceil      bool
}

// readWindow decodes and validates the window attributes a node sets; the
// schema has already rejected attributes its version lacks.
func readWindow(n *graph.Node) (window, error) {
	var w window
	ap, err := n.AttrString("auto_pad", "NOTSET")
	if err != nil {
		return w, err
	}
	switch ap {
	case "NOTSET":
	case "SAME_UPPER":
		w.autoPad = padSameUpper
	case "SAME_LOWER":
		w.autoPad = padSameLower
	case "VALID":
		w.autoPad = padValid
	default:
		return w, fault.Errorf(fault.Invalid, "auto_pad %q is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", ap)
	}
	ceil, err := n.AttrInt("ceil_mode", 0)
	if err != nil {
		return w, err
	}
	if ceil != 0 && ceil != 1 {
		return w, fault.Errorf(fault.Invalid, "ceil_mode must be 0 or 1, got %d", ceil)
	}
	w.ceil = ceil == 1
	if w.kernel, err = intsAtLeast(n, "kernel_shape", 1); err != nil {
		return w, err
	}
	if w.strides, err = intsAtLeast(n, "strides", 1); err != nil {
		return w, err
	}
	if w.dilations, err = intsAtLeast(n, "dilations", 1); err != nil {
		return w, err
	}
	if w.pads, err = intsAtLeast(n, "pads", 0); err != nil {
		return w, err
	}
	if len(w.pads)%2 != 0 {
		return w, fault.Errorf(fault.Invalid, "pads has %d values; it needs a begin and an end per spatial axis", len(w.pads))
	}
	if w.autoPad != padNotSet {
		for _, p := range w.pads {
			if p != 0 {
				return w, fault.Errorf(fault.Invalid, "pads cannot be used together with auto_pad %s", ap)
			}
		}
		w.pads = nil
	}
	// Every list given must agree on the number of spatial axes.
	rank := -1
	for _, a := range w.axes() {
		if a.n == 0 {
			continue
		}
		if rank >= 0 && a.n != rank {
			return w, fault.Errorf(fault.Invalid, "%s has %d spatial axes, other attributes have %d", a.name, a.n, rank)
		}
		rank = a.n
	}
	return w, nil
}

type axisCount struct {
	name string
	n    int
}

// axes says how many spatial axes each list attribute describes; 0 where
// the attribute is not given.
func (w *window) axes() [4]axisCount {
	return [4]axisCount{{"kernel_shape", len(w.kernel)}, {"strides", len(w.strides)}, {"dilations", len(w.dilations)}, {"pads", len(w.pads) / 2}}
}

// intsAtLeast reads an INTS attribute whose values must be at least lo,
// converting to int. Lists are per spatial axis (pads: two per axis), so
// none can be longer than twice the maximum rank.
func intsAtLeast(n *graph.Node, name string, lo int64) ([]int, error) {
	vs, err := n.AttrInts(name, nil)
	if err != nil || len(vs) == 0 {
		return nil, err
	}
	if len(vs) > 2*tensor.MaxRank {
		return nil, fault.Errorf(fault.Invalid, "%s has %d values, too many for any rank", name, len(vs))
	}
	out := make([]int, len(vs))
	for i, v := range vs {
		if v < lo || v > tensor.MaxElements {
			return nil, fault.Errorf(fault.Invalid, "%s[%d] is %d; it must be at least %d", name, i, v, lo)
		}
		out[i] = int(v)
	}
	return out, nil
}

// geometry is a window resolved against one input's spatial shape.
type geometry struct {
	nd                     int
	in, k, s, d, pb, pe, o [tensor.MaxRank]int
}

// inSize and outSize are the spatial element counts.
func (g *geometry) inSize() int  { return prod(g.in[:g.nd]) }
func (g *geometry) outSize() int { return prod(g.o[:g.nd]) }
func (g *geometry) kSize() int   { return prod(g.k[:g.nd]) }

func prod(s []int) int {
	p := 1
	for _, v := range s {
		p *= v
	}
	return p
}

// resolve computes the padding and output size of every spatial axis for an
// input of spatial shape in and a kernel of spatial shape k.
func (w *window) resolve(in, k []int) (geometry, error) {
	var g geometry
	nd := len(in)
	g.nd = nd
	for _, a := range w.axes() {
		if a.n != 0 && a.n != nd {
			return g, fault.Errorf(fault.Invalid, "%s has %d spatial axes, the input has %d", a.name, a.n, nd)
		}
	}
	for i := range nd {
		g.in[i], g.k[i], g.s[i], g.d[i] = in[i], k[i], 1, 1
		if w.strides != nil {
			g.s[i] = w.strides[i]
		}
		if w.dilations != nil {
			g.d[i] = w.dilations[i]
		}
		if w.pads != nil {
			g.pb[i], g.pe[i] = w.pads[i], w.pads[i+nd]
		}
		s := g.s[i]
		extent := (k[i]-1)*g.d[i] + 1 // span of the dilated kernel
		switch w.autoPad {
		case padSameUpper, padSameLower:
			g.o[i] = (in[i] + s - 1) / s
			total := max(0, (g.o[i]-1)*s+extent-in[i])
			small, big := total/2, total-total/2
			g.pb[i], g.pe[i] = small, big // odd padding goes at the end...
			if w.autoPad == padSameLower {
				g.pb[i], g.pe[i] = big, small // ...or at the beginning
			}
		default: // NOTSET uses pads; VALID has none
			span := in[i] + g.pb[i] + g.pe[i] - extent
			if span < 0 {
				return g, fault.Errorf(fault.Invalid, "spatial axis %d: input size %d with padding %d+%d is smaller than the kernel extent %d", i, in[i], g.pb[i], g.pe[i], extent)
			}
			g.o[i] = span/s + 1
			if w.ceil {
				g.o[i] = (span+s-1)/s + 1
				// A window may not start in the end padding.
				if (g.o[i]-1)*s >= in[i]+g.pb[i] {
					g.o[i]--
				}
			}
		}
	}
	return g, nil
}
