package ops

import (
	"context"
	"fmt"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// spatialNumeric is every dtype with arithmetic: the floats and integers.
func spatialNumeric() []tensor.DType { return cat(floatsBF16(), wideInts(), narrowInts()) }

func col2ImSchemas() []Schema {
	return []Schema{{
		Since: 18, Inputs: params("input:T", "image_shape:I", "block_shape:I"), Outputs: params("output:T"),
		// The spec also lists strings and complex numbers, which have no
		// sum the engine could form; bool adds as logical or, as in numpy.
		Types: map[string][]tensor.DType{"T": append(spatialNumeric(), tensor.Bool), "I": {tensor.Int64}},
		Attrs: []string{"dilations", "pads", "strides"},
		Build: buildCol2Im,
	}}
}

type col2Im struct{ w window }

func buildCol2Im(n *graph.Node, _ int64) (Kernel, error) {
	w, err := readWindow(n)
	if err != nil {
		return nil, err
	}
	return col2Im{w: w}, nil
}

func (k col2Im) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	g, c, err := k.resolve(x, in[1], in[2])
	if err != nil {
		return fmt.Errorf("Col2Im: %w", err)
	}
	var shapeBuf [tensor.MaxRank]int
	shape := append(shapeBuf[:0], x.Shape[0], c)
	shape = append(shape, g.img[:g.nd]...)
	y, err := Output(ctx, out[0], x.DType, shape)
	if err != nil {
		return err
	}
	out[0] = y
	switch x.DType {
	case tensor.Float32:
		col2ImTyped(tensor.Values[float32](x), tensor.Values[float32](y), &g, x.Shape[0], c)
	case tensor.Float64:
		col2ImTyped(tensor.Values[float64](x), tensor.Values[float64](y), &g, x.Shape[0], c)
	case tensor.Int8:
		col2ImTyped(tensor.Values[int8](x), tensor.Values[int8](y), &g, x.Shape[0], c)
	case tensor.Int16:
		col2ImTyped(tensor.Values[int16](x), tensor.Values[int16](y), &g, x.Shape[0], c)
	case tensor.Int32:
		col2ImTyped(tensor.Values[int32](x), tensor.Values[int32](y), &g, x.Shape[0], c)
	case tensor.Int64:
		col2ImTyped(tensor.Values[int64](x), tensor.Values[int64](y), &g, x.Shape[0], c)
	case tensor.Uint8:
		col2ImTyped(tensor.Values[uint8](x), tensor.Values[uint8](y), &g, x.Shape[0], c)
	case tensor.Uint16:
		col2ImTyped(tensor.Values[uint16](x), tensor.Values[uint16](y), &g, x.Shape[0], c)
	case tensor.Uint32:
		col2ImTyped(tensor.Values[uint32](x), tensor.Values[uint32](y), &g, x.Shape[0], c)
	case tensor.Uint64:
		col2ImTyped(tensor.Values[uint64](x), tensor.Values[uint64](y), &g, x.Shape[0], c)
	case tensor.Bool:
		// Adding 0/1 bytes counts the true contributions; any count above
		// zero is true. uint8 would wrap at 256, so count in int32.
		sc := ScratchFrom(ctx)
		xi, yi := ScratchSlice[int32](sc, x.Len()), ScratchSlice[int32](sc, y.Len())
		for i, v := range x.Data {
			xi[i] = int32(v & 1)
		}
		col2ImTyped(xi, yi, &g, x.Shape[0], c)
		for i, v := range yi {
			y.Data[i] = 0
			if v != 0 {
				y.Data[i] = 1
			}
		}
	case tensor.Float16, tensor.BFloat16:
		sc := ScratchFrom(ctx)
		xf, yf := ScratchSlice[float32](sc, x.Len()), ScratchSlice[float32](sc, y.Len())
		widen(xf, x)
		col2ImTyped(xf, yf, &g, x.Shape[0], c)
		narrow(y, yf)
	default:
		return fault.Errorf(fault.Unsupported, "Col2Im of %s", x.DType.ONNXName())
	}
	return nil
}

// resolve checks the operands and returns the scatter geometry and the
// image's channel count. The blocks form the grid a convolution of the
// padded image with the dilated block would produce.
func (k col2Im) resolve(x, imgT, blockT *tensor.Tensor) (spatialScatterGeom, int, error) {
	var g spatialScatterGeom
	if imgT.DType != tensor.Int64 || blockT.DType != tensor.Int64 {
		return g, 0, fault.Errorf(fault.Invalid, "image_shape and block_shape must be int64")
	}
	if len(imgT.Shape) != 1 || len(blockT.Shape) != 1 || imgT.Len() != blockT.Len() || imgT.Len() == 0 {
		return g, 0, fault.Errorf(fault.Invalid, "image_shape %v and block_shape %v must be 1-D of the same, non-zero length", []int(imgT.Shape), []int(blockT.Shape))
	}
	nd := imgT.Len()
	if nd > tensor.MaxRank-2 {
		return g, 0, fault.Errorf(fault.Invalid, "image_shape has %d axes, more than a tensor can hold", nd)
	}
	if len(x.Shape) != 3 {
		return g, 0, fault.Errorf(fault.Invalid, "input %v must have rank 3", []int(x.Shape))
	}
	for _, a := range k.w.axes() {
		if a.n != 0 && a.n != nd {
			return g, 0, fault.Errorf(fault.Invalid, "%s has %d spatial axes, image_shape has %d", a.name, a.n, nd)
		}
	}
	g.nd = nd
	imgs, blocks := tensor.Values[int64](imgT), tensor.Values[int64](blockT)
	blocksTotal, kSize := 1, 1
	for i := range nd {
		if imgs[i] < 0 || imgs[i] > tensor.MaxElements || blocks[i] < 1 || blocks[i] > tensor.MaxElements {
			return g, 0, fault.Errorf(fault.Invalid, "image_shape %v and block_shape %v must hold sizes (blocks at least 1)", imgs, blocks)
		}
		g.img[i], g.k[i], g.s[i], g.d[i] = int(imgs[i]), int(blocks[i]), 1, 1
		if k.w.strides != nil {
			g.s[i] = k.w.strides[i]
		}
		if k.w.dilations != nil {
			g.d[i] = k.w.dilations[i]
		}
		pe := 0
		if k.w.pads != nil {
			g.pb[i], pe = k.w.pads[i], k.w.pads[i+nd]
		}
		span := g.img[i] + g.pb[i] + pe - (g.k[i]-1)*g.d[i] - 1
		if span >= 0 {
			g.grid[i] = span/g.s[i] + 1
		}
		blocksTotal = spatialMulCapped(blocksTotal, g.grid[i])
		kSize = spatialMulCapped(kSize, g.k[i])
	}
	if kSize > tensor.MaxElements || x.Shape[1]%kSize != 0 {
		return g, 0, fault.Errorf(fault.Invalid, "input %v: dimension 1 is not a multiple of the block size %d", []int(x.Shape), kSize)
	}
	if x.Shape[2] != blocksTotal {
		return g, 0, fault.Errorf(fault.Invalid, "input %v has %d blocks; image_shape %v with block_shape %v makes %d", []int(x.Shape), x.Shape[2], imgs, blocks, blocksTotal)
	}
	return g, x.Shape[1] / kSize, nil
}

func col2ImTyped[T spatialNum](x, y []T, g *spatialScatterGeom, n, c int) {
	clear(y)
	inPlane, outPlane, l := c*g.kSize()*g.gridSize(), c*g.imgSize(), g.gridSize()
	for i := range n {
		spatialScatter(y[i*outPlane:(i+1)*outPlane], x[i*inPlane:(i+1)*inPlane], l, g, c, 0, l)
	}
}

// spatialMulCapped multiplies non-negative sizes, saturating just above
// MaxElements so products of many axes cannot overflow.
func spatialMulCapped(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > (tensor.MaxElements+1)/b {
		return tensor.MaxElements + 1
	}
	return a * b
}
