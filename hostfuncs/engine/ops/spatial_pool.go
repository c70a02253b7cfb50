package ops

import (
	"context"
	"fmt"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func averagePoolSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("X:T"), Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": ts},
			Attrs: append([]string{"auto_pad", "kernel_shape", "pads", "strides"}, attrs...),
			Build: buildAveragePool,
		}
	}
	return []Schema{
		v(1, floats()),
		v(7, floats(), "count_include_pad"),
		v(10, floats(), "count_include_pad", "ceil_mode"),
		v(11, floats(), "count_include_pad", "ceil_mode"),
		v(19, floats(), "count_include_pad", "ceil_mode", "dilations"),
		v(22, floatsBF16(), "count_include_pad", "ceil_mode", "dilations"),
	}
}

func lpPoolSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("X:T"), Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": ts},
			Attrs: append([]string{"auto_pad", "kernel_shape", "p", "pads", "strides"}, attrs...),
			Build: buildLpPool,
		}
	}
	return []Schema{
		v(1, floats()), // p is a FLOAT here, an INT from opset 2
		v(2, floats()),
		v(11, floats()),
		v(18, floats(), "ceil_mode", "dilations"),
		v(22, floatsBF16(), "ceil_mode", "dilations"),
	}
}

func globalAveragePoolSchemas() []Schema { return globalPoolSchemas(buildGlobalAveragePool) }
func globalMaxPoolSchemas() []Schema     { return globalPoolSchemas(buildGlobalMaxPool) }

func globalPoolSchemas(b Builder) []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("X:T"), Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": ts}, Build: b,
		}
	}
	return []Schema{v(1, floats()), v(22, floatsBF16())}
}

type spatialPoolKind int

const (
	spatialPoolAvg spatialPoolKind = iota
	spatialPoolLp
)

// spatialPool is AveragePool and LpPool: a reduction over each window of the
// input. Padding holds zeros, which add nothing to either reduction; they
// only count in the average's divisor when count_include_pad is set.
type spatialPool struct {
	name     string
	w        window
	kind     spatialPoolKind
	countPad bool
	p        float64
}

func buildAveragePool(n *graph.Node, _ int64) (Kernel, error) {
	w, err := spatialReadPoolWindow(n)
	if err != nil {
		return nil, err
	}
	cip, err := n.AttrInt("count_include_pad", 0)
	if err != nil {
		return nil, err
	}
	if cip != 0 && cip != 1 {
		return nil, fault.Errorf(fault.Invalid, "count_include_pad must be 0 or 1, got %d", cip)
	}
	return spatialPool{name: "AveragePool", w: w, kind: spatialPoolAvg, countPad: cip == 1}, nil
}

func buildLpPool(n *graph.Node, opset int64) (Kernel, error) {
	w, err := spatialReadPoolWindow(n)
	if err != nil {
		return nil, err
	}
	var p float64
	if opset < 2 {
		f, err := n.AttrFloat("p", 2)
		if err != nil {
			return nil, err
		}
		p = float64(f)
	} else {
		i, err := n.AttrInt("p", 2)
		if err != nil {
			return nil, err
		}
		p = float64(i)
	}
	// p ≤ 0 makes the norm undefined (a zero window would divide by zero).
	if !(p > 0) || math.IsInf(p, 0) {
		return nil, fault.Errorf(fault.Invalid, "p must be positive and finite, got %v", p)
	}
	return spatialPool{name: "LpPool", w: w, kind: spatialPoolLp, p: p}, nil
}

func spatialReadPoolWindow(n *graph.Node) (window, error) {
	w, err := readWindow(n)
	if err != nil {
		return w, err
	}
	if w.kernel == nil {
		return w, fault.Errorf(fault.Invalid, "attribute kernel_shape is required")
	}
	return w, nil
}

func (k spatialPool) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	if len(x.Shape) < 3 {
		return fault.Errorf(fault.Invalid, "%s: X %v must have rank 3 or more", k.name, []int(x.Shape))
	}
	geom, err := k.w.resolve(x.Shape[2:], k.w.kernel)
	if err != nil {
		return fmt.Errorf("%s: %w", k.name, err)
	}
	var shapeBuf [tensor.MaxRank]int
	shape := append(append(shapeBuf[:0], x.Shape[:2]...), geom.o[:geom.nd]...)
	y, err := Output(ctx, out[0], x.DType, shape)
	if err != nil {
		return err
	}
	out[0] = y
	p := spatialPoolProblem{g: &geom, planes: x.Shape[0] * x.Shape[1], kind: k.kind, countPad: k.countPad, p: k.p}
	switch x.DType {
	case tensor.Float32:
		spatialPoolTyped(&p, tensor.Values[float32](x), tensor.Values[float32](y))
	case tensor.Float64:
		spatialPoolTyped(&p, tensor.Values[float64](x), tensor.Values[float64](y))
	case tensor.Float16, tensor.BFloat16:
		sc := ScratchFrom(ctx)
		xf, yf := ScratchSlice[float32](sc, x.Len()), ScratchSlice[float32](sc, y.Len())
		widen(xf, x)
		spatialPoolTyped(&p, xf, yf)
		narrow(y, yf)
	default:
		return fault.Errorf(fault.Unsupported, "%s of %s", k.name, x.DType.ONNXName())
	}
	return nil
}

type spatialPoolProblem struct {
	g        *geometry
	planes   int
	kind     spatialPoolKind
	countPad bool
	p        float64
}

// spatialPoolTyped reduces every window in float64. The average divides by
// the window positions inside the input, or with count_include_pad by those
// inside the padded input: a ceil_mode window that overhangs the end padding
// still does not count the overhang. A window with nothing to average gives
// NaN (0/0), as the reference's mean of an empty set does.
func spatialPoolTyped[T float32 | float64](p *spatialPoolProblem, x, y []T) {
	g := p.g
	nd, last := g.nd, g.nd-1
	inSize, outSize := g.inSize(), g.outSize()
	var inStride [tensor.MaxRank]int
	acc := 1
	for j := last; j >= 0; j-- {
		inStride[j] = acc
		acc *= g.in[j]
	}
	lp, inv := p.kind == spatialPoolLp, 1/p.p
	var o, start, lo, hi, k [tensor.MaxRank]int
	for c := range p.planes {
		xc, yc := x[c*inSize:(c+1)*inSize], y[c*outSize:(c+1)*outSize]
		for pos := range outSize {
			empty := false
			count, padCount := 1, 1
			for j := range nd {
				start[j] = o[j]*g.s[j] - g.pb[j]
				lo[j], hi[j] = insideRange(start[j], g.k[j], g.d[j], g.in[j])
				k[j] = lo[j]
				empty = empty || lo[j] >= hi[j]
				count *= max(0, hi[j]-lo[j])
				plo, phi := insideRange(o[j]*g.s[j], g.k[j], g.d[j], g.in[j]+g.pb[j]+g.pe[j])
				padCount *= max(0, phi-plo)
			}
			sum := 0.0
			for !empty {
				base := 0
				for j := range last {
					base += (start[j] + k[j]*g.d[j]) * inStride[j]
				}
				row, d := xc[base:], g.d[last]
				i0, i1 := start[last]+lo[last]*d, start[last]+hi[last]*d
				switch {
				case !lp:
					for i := i0; i < i1; i += d {
						sum += float64(row[i])
					}
				case p.p == 1:
					for i := i0; i < i1; i += d {
						sum += math.Abs(float64(row[i]))
					}
				case p.p == 2:
					for i := i0; i < i1; i += d {
						v := float64(row[i])
						sum += v * v
					}
				default:
					for i := i0; i < i1; i += d {
						sum += math.Pow(math.Abs(float64(row[i])), p.p)
					}
				}
				j := last - 1
				for ; j >= 0; j-- {
					if k[j]++; k[j] < hi[j] {
						break
					}
					k[j] = lo[j]
				}
				empty = j < 0
			}
			var v float64
			switch {
			case lp && p.p == 1:
				v = sum
			case lp && p.p == 2:
				v = math.Sqrt(sum)
			case lp:
				v = math.Pow(sum, inv)
			case p.countPad:
				v = sum / float64(padCount)
			default:
				v = sum / float64(count)
			}
			yc[pos] = T(v)
			for j := last; j >= 0; j-- {
				if o[j]++; o[j] < g.o[j] {
					break
				}
				o[j] = 0
			}
		}
	}
}

type globalPool struct{ max bool }

func buildGlobalAveragePool(*graph.Node, int64) (Kernel, error) { return globalPool{}, nil }
func buildGlobalMaxPool(*graph.Node, int64) (Kernel, error)     { return globalPool{max: true}, nil }

func (k globalPool) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	name := "GlobalAveragePool"
	if k.max {
		name = "GlobalMaxPool"
	}
	if len(x.Shape) < 2 {
		return fault.Errorf(fault.Invalid, "%s: X %v must have rank 2 or more", name, []int(x.Shape))
	}
	var shapeBuf [tensor.MaxRank]int
	shape := append(shapeBuf[:0], x.Shape[:2]...)
	for range len(x.Shape) - 2 {
		shape = append(shape, 1)
	}
	y, err := Output(ctx, out[0], x.DType, shape)
	if err != nil {
		return err
	}
	out[0] = y
	planes := x.Shape[0] * x.Shape[1]
	size := 1
	for _, d := range x.Shape[2:] {
		size *= d
	}
	switch x.DType {
	case tensor.Float32:
		spatialGlobalPool(tensor.Values[float32](x), tensor.Values[float32](y), planes, size, k.max)
	case tensor.Float64:
		spatialGlobalPool(tensor.Values[float64](x), tensor.Values[float64](y), planes, size, k.max)
	case tensor.Float16, tensor.BFloat16:
		sc := ScratchFrom(ctx)
		xf, yf := ScratchSlice[float32](sc, x.Len()), ScratchSlice[float32](sc, y.Len())
		widen(xf, x)
		spatialGlobalPool(xf, yf, planes, size, k.max)
		narrow(y, yf)
	default:
		return fault.Errorf(fault.Unsupported, "%s of %s", name, x.DType.ONNXName())
	}
	return nil
}

// spatialGlobalPool reduces each plane to its mean (summed in float64) or
// its maximum, where a NaN wins as in numpy. An empty plane gives NaN for
// the mean and -Inf for the maximum.
func spatialGlobalPool[T float32 | float64](x, y []T, planes, size int, isMax bool) {
	for c := range planes {
		xc := x[c*size : (c+1)*size]
		if isMax {
			best := T(math.Inf(-1))
			for _, v := range xc {
				if v > best || v != v {
					best = v
					if v != v {
						break
					}
				}
			}
			y[c] = best
			continue
		}
		sum := 0.0
		for _, v := range xc {
			sum += float64(v)
		}
		y[c] = T(sum / float64(size))
	}
}
