package ops

import (
	"context"
	"fmt"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// fusedConv is FusedDomain's FusedConv: Conv(X, W, B), plus Z when given
// (a residual of Y's shape), then the activation: what fusion makes of
// Conv → Add(bias) → Add(residual) → Relu. The convolution stores its
// bias as it writes Y; the residual and the activation are one pass over
// Y in place, a cache-sized chunk at a time.
type fusedConv struct {
	conv Kernel
	act  activation
}

func buildFusedConv(n *graph.Node, opset int64) (Kernel, error) {
	c, err := buildConv(n, opset)
	if err != nil {
		return nil, err
	}
	act, err := readActivation(n)
	if err != nil {
		return nil, err
	}
	return fusedConv{conv: c, act: act}, nil
}

func (k fusedConv) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	var z *tensor.Tensor
	if len(in) > 3 {
		z, in = in[3], in[:3]
	}
	if err := k.conv.Run(ctx, in, out); err != nil {
		return fmt.Errorf("FusedConv: %w", err)
	}
	y := out[0]
	if z != nil && !z.Shape.Equal(y.Shape) {
		// A residual that broadcasts: Add's general case, whose result
		// may be larger than Y.
		r, err := addBroadcast(ctx, y, z)
		if err != nil {
			return fmt.Errorf("FusedConv: %w", err)
		}
		out[0], y, z = r, r, nil
	}
	ys := tensor.Values[float32](y)
	var zs []float32
	if z != nil {
		zs = tensor.Values[float32](z)
	}
	fusedEpilogue(ctx, ys, max(len(ys), 1), nil, zs, k.act)
	return nil
}

// Prepack prepares the convolution's constant filters (see conv.Prepack).
func (k fusedConv) Prepack(consts []*tensor.Tensor, shapes [][]int, sole []bool) Prepared {
	pc, ok := k.conv.(Prepacker)
	if !ok {
		return Prepared{}
	}
	pr := pc.Prepack(consts, shapes, sole)
	if pr.Kernel == nil {
		return Prepared{}
	}
	pr.Kernel = fusedConv{conv: pr.Kernel, act: k.act}
	return pr
}
