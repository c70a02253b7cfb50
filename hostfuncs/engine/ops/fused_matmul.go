package ops

import (
	"context"
	"fmt"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// fusedMatMul is FusedDomain's FusedMatMul: MatMul(A, B) + Bias, then the
// activation, what fusion makes of MatMul → Add(bias) → Relu or Gelu (a
// Linear layer). A bias of the result's last dimension (any leading
// dimensions of size one) is added row by row together with the
// activation, in one pass over the result while it is in cache; any other
// bias takes Add's general broadcasting.
type fusedMatMul struct{ act activation }

func buildFusedMatMul(n *graph.Node, _ int64) (Kernel, error) {
	act, err := readActivation(n)
	if err != nil {
		return nil, err
	}
	return fusedMatMul{act: act}, nil
}

func (k fusedMatMul) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	var bias *tensor.Tensor
	if len(in) > 2 {
		bias = in[2]
	}
	if err := matmul(ctx, in[:2], out); err != nil {
		return fmt.Errorf("FusedMatMul: %w", err)
	}
	return biasActivation(ctx, "FusedMatMul", out, bias, k.act)
}

// rowBias reports whether adding b to y is adding the same row of y's
// last dimension to every row: b has y's last dimension and no other
// dimension larger than one, nor more dimensions than y.
func rowBias(y, b *tensor.Tensor) bool {
	r := len(y.Shape)
	if r == 0 || len(b.Shape) > r || len(b.Shape) == 0 || b.Shape[len(b.Shape)-1] != y.Shape[r-1] {
		return false
	}
	return b.Len() == y.Shape[r-1]
}

// biasActivation adds bias (nil: none) to out[0] and applies act in place,
// through Add's general broadcasting when the bias is not a row.
func biasActivation(ctx context.Context, name string, out []*tensor.Tensor, bias *tensor.Tensor, act activation) error {
	y := out[0]
	var bs []float32
	if bias != nil {
		if !rowBias(y, bias) {
			r, err := addBroadcast(ctx, y, bias)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			out[0], y = r, r
		} else {
			bs = tensor.Values[float32](bias)
		}
	}
	ys := tensor.Values[float32](y)
	n := len(ys)
	if bs != nil {
		n = len(bs)
	}
	fusedEpilogue(ctx, ys, max(n, 1), bs, nil, act)
	return nil
}

// fusedGemm is FusedDomain's FusedGemm: Gemm with its activation applied
// to the result in place (Gemm → Relu).
type fusedGemm struct {
	gemm Kernel
	act  activation
}

func buildFusedGemm(n *graph.Node, opset int64) (Kernel, error) {
	g, err := buildGemm(n, 13)
	if err != nil {
		return nil, err
	}
	act, err := readActivation(n)
	if err != nil {
		return nil, err
	}
	return fusedGemm{gemm: g, act: act}, nil
}

func (k fusedGemm) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	if err := k.gemm.Run(ctx, in, out); err != nil {
		return fmt.Errorf("FusedGemm: %w", err)
	}
	return biasActivation(ctx, "FusedGemm", out, nil, k.act)
}
