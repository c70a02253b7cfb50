package ops

import (
	"context"
	"fmt"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func maxPoolSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, indices bool, attrs ...string) Schema {
		outs := params("Y:T")
		if indices {
			outs = params("Y:T", "Indices:I?")
		}
		return Schema{
			Since: since, Inputs: params("X:T"), Outputs: outs,
			Types: map[string][]tensor.DType{"T": ts, "I": {tensor.Int64}},
			Attrs: append([]string{"auto_pad", "kernel_shape", "pads", "strides"}, attrs...),
			Build: buildMaxPool,
		}
	}
	v10 := []string{"storage_order", "ceil_mode", "dilations"}
	v12 := cat(floats(), []tensor.DType{tensor.Int8, tensor.Uint8})
	return []Schema{
		v(1, floats(), false),
		v(8, floats(), true, "storage_order"),
		v(10, floats(), true, v10...),
		v(11, floats(), true, v10...),
		v(12, v12, true, v10...),
		v(22, cat(v12, []tensor.DType{tensor.BFloat16}), true, v10...),
	}
}

type maxPool struct {
	w        window
	colMajor bool // storage_order 1: Indices count the first spatial axis fastest
	indices  bool // the node asks for the Indices output
}

func buildMaxPool(n *graph.Node, _ int64) (Kernel, error) {
	w, err := readWindow(n)
	if err != nil {
		return nil, err
	}
	if w.kernel == nil {
		return nil, fault.Errorf(fault.Invalid, "attribute kernel_shape is required")
	}
	so, err := n.AttrInt("storage_order", 0)
	if err != nil {
		return nil, err
	}
	if so != 0 && so != 1 {
		return nil, fault.Errorf(fault.Invalid, "storage_order must be 0 or 1, got %d", so)
	}
	return maxPool{w: w, colMajor: so == 1, indices: len(n.Outputs) > 1 && n.Outputs[1] != ""}, nil
}

func (k maxPool) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	if len(x.Shape) < 3 {
		return fault.Errorf(fault.Invalid, "MaxPool: X %v must have rank 3 or more", []int(x.Shape))
	}
	geom, err := k.w.resolve(x.Shape[2:], k.w.kernel)
	if err != nil {
		return fmt.Errorf("MaxPool: %w", err)
	}
	var shapeBuf [tensor.MaxRank]int
	shape := append(append(shapeBuf[:0], x.Shape[:2]...), geom.o[:geom.nd]...)
	y, err := Output(ctx, out[0], x.DType, shape)
	if err != nil {
		return err
	}
	out[0] = y
	var idx []int64
	if k.indices {
		ind, err := Output(ctx, out[1], tensor.Int64, shape)
		if err != nil {
			return err
		}
		out[1] = ind
		idx = tensor.Values[int64](ind)
	}
	p := poolProblem{g: &geom, planes: x.Shape[0] * x.Shape[1], idx: idx, colMajor: k.colMajor}
	switch x.DType {
	case tensor.Float32:
		if geom.nd == 2 && idx == nil {
			maxPool2DF32(ctx, &geom, p.planes, tensor.Values[float32](x), tensor.Values[float32](y))
			break
		}
		maxPoolTyped(&p, tensor.Values[float32](x), tensor.Values[float32](y), float32(math.Inf(-1)))
	case tensor.Float64:
		maxPoolTyped(&p, tensor.Values[float64](x), tensor.Values[float64](y), math.Inf(-1))
	case tensor.Int8:
		maxPoolTyped(&p, tensor.Values[int8](x), tensor.Values[int8](y), math.MinInt8)
	case tensor.Uint8:
		maxPoolTyped(&p, tensor.Values[uint8](x), tensor.Values[uint8](y), 0)
	case tensor.Float16, tensor.BFloat16:
		sc := ScratchFrom(ctx)
		xf, yf := ScratchSlice[float32](sc, x.Len()), ScratchSlice[float32](sc, y.Len())
		widen(xf, x)
		maxPoolTyped(&p, xf, yf, float32(math.Inf(-1)))
		narrow(y, yf)
	default:
		return fault.Errorf(fault.Unsupported, "MaxPool of %s", x.DType.ONNXName())
	}
	return nil
}

type poolProblem struct {
	g        *geometry
	planes   int     // N·C: every (image, channel) plane pools alone
	idx      []int64 // Indices output, or nil
	colMajor bool
}

// maxPoolTyped takes, for each output position, the maximum over the
// window's positions that lie inside the input; padding never wins. Ties go
// to the first position in row-major order; a NaN in the window wins, as in
// numpy's max. A window entirely in padding yields lowest and index -1.
func maxPoolTyped[T int8 | uint8 | float32 | float64](p *poolProblem, x, y []T, lowest T) {
	g := p.g
	nd, last := g.nd, g.nd-1
	inSize, outSize := g.inSize(), g.outSize()
	var inStride [tensor.MaxRank]int
	acc := 1
	for j := last; j >= 0; j-- {
		inStride[j] = acc
		acc *= g.in[j]
	}
	// Per axis: the window's start in the input and the range of kernel
	// offsets that land inside it; k walks that range.
	var o, start, lo, hi, k [tensor.MaxRank]int
	for c := range p.planes {
		xc, yc := x[c*inSize:(c+1)*inSize], y[c*outSize:(c+1)*outSize]
		for pos := range outSize {
			empty := false
			for j := range nd {
				start[j] = o[j]*g.s[j] - g.pb[j]
				lo[j], hi[j] = insideRange(start[j], g.k[j], g.d[j], g.in[j])
				k[j] = lo[j]
				empty = empty || lo[j] >= hi[j]
			}
			best, at := lowest, -1
			for !empty {
				base := 0
				for j := range last {
					base += (start[j] + k[j]*g.d[j]) * inStride[j]
				}
				row, d := xc[base:], g.d[last]
				for i := start[last] + lo[last]*d; i < start[last]+hi[last]*d; i += d {
					if v := row[i]; v > best || at < 0 || (v != v && best == best) {
						best, at = v, base+i
					}
				}
				j := last - 1
				for ; j >= 0; j-- { // next kernel offset of the outer axes
					if k[j]++; k[j] < hi[j] {
						break
					}
					k[j] = lo[j]
				}
				empty = j < 0
			}
			yc[pos] = best
			if p.idx != nil {
				p.idx[c*outSize+pos] = poolIndex(g, at, c*inSize, p.colMajor)
			}
			for j := last; j >= 0; j-- { // next output position
				if o[j]++; o[j] < g.o[j] {
					break
				}
				o[j] = 0
			}
		}
	}
}

// insideRange returns the kernel offsets [lo, hi) whose input position
// start + offset·dilation lies in [0, size).
func insideRange(start, k, d, size int) (lo, hi int) {
	if start < 0 {
		lo = (-start + d - 1) / d
	}
	hi = k
	if start+(k-1)*d >= size {
		hi = 0
		if size-1-start >= 0 {
			hi = (size-1-start)/d + 1
		}
	}
	return min(lo, k), min(hi, k)
}

// poolIndex turns a row-major offset within a plane into the Indices value:
// the plane's offset plus the position, counted column-major if asked.
func poolIndex(g *geometry, at, planeOff int, colMajor bool) int64 {
	if at < 0 {
		return -1
	}
	if !colMajor {
		return int64(planeOff + at)
	}
	// Decompose row-major, recompose with the first spatial axis fastest.
	idx, mul := 0, 1
	var coord [tensor.MaxRank]int
	for j := g.nd - 1; j >= 0; j-- {
		coord[j] = at % g.in[j]
		at /= g.in[j]
	}
	for j := range g.nd {
		idx += coord[j] * mul
		mul *= g.in[j]
	}
	return int64(planeOff + idx)
}
