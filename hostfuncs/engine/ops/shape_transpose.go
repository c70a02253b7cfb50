package ops

import (
	"context"
	"slices"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func shapeTransposeSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("data:T"), Outputs: params("transposed:T"),
			Types: map[string][]tensor.DType{"T": ts}, Attrs: []string{"perm"}, Build: buildShapeTranspose,
		}
	}
	all := allTypes()
	return []Schema{v(1, shapeNoBF16()), v(13, all), v(21, all), v(23, all), v(24, all), v(25, all)}
}

type shapeTranspose struct{ perm []int64 } // nil: reverse the axes

func buildShapeTranspose(n *graph.Node, _ int64) (Kernel, error) {
	perm, _, err := shapeAxesAttr(n, "perm")
	if err != nil {
		return nil, err
	}
	if perm != nil {
		seen := make([]bool, len(perm))
		for _, p := range perm {
			if p < 0 || p >= int64(len(perm)) || seen[p] {
				return nil, fault.Errorf(fault.Invalid, "Transpose: perm %v is not a permutation of 0..%d", perm, len(perm)-1)
			}
			seen[p] = true
		}
	}
	return shapeTranspose{perm}, nil
}

func (k shapeTranspose) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	r := len(x.Shape)
	var perm [tensor.MaxRank]int
	if k.perm == nil {
		for i := range r {
			perm[i] = r - 1 - i
		}
	} else {
		if len(k.perm) != r {
			return fault.Errorf(fault.Invalid, "Transpose: perm %v does not match input rank %d", slices.Clone(k.perm), r)
		}
		for i, p := range k.perm {
			perm[i] = int(p)
		}
	}
	var err error
	out[0], err = shapePermute(ctx, out[0], x, x.Shape, perm[:r])
	return err
}

// shapePermute writes x, viewed with the given shape (as many elements),
// with its axes permuted: output axis i is view axis perm[i]. The output
// keeps the permuted view shape.
func shapePermute(ctx context.Context, prev, x *tensor.Tensor, view []int, perm []int) (*tensor.Tensor, error) {
	r := len(view)
	var shape, strides, pstr [tensor.MaxRank]int
	shapeStrides(strides[:r], view)
	for i, p := range perm {
		shape[i] = view[p]
		pstr[i] = strides[p]
	}
	y, err := Output(ctx, prev, x.DType, shape[:r])
	if err != nil {
		return nil, err
	}
	shapeStridedCopy(shapeBufOf(y), shapeBufOf(x), shape[:r], pstr[:r], 0)
	shapeOwnStrings(y)
	return y, nil
}

func shapeDepthToSpaceSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("input:T"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": ts}, Attrs: attrs, Build: buildShapeDepthToSpace,
		}
	}
	return []Schema{
		v(1, shapeNoBF16(), "blocksize"),
		v(11, shapeNoBF16(), "blocksize", "mode"),
		v(13, allTypes(), "blocksize", "mode"),
	}
}

func shapeSpaceToDepthSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("input:T"), Outputs: params("output:T"),
			Types: map[string][]tensor.DType{"T": ts}, Attrs: []string{"blocksize"}, Build: buildShapeSpaceToDepth,
		}
	}
	return []Schema{v(1, shapeNoBF16()), v(13, allTypes())}
}

type shapeDepthSpace struct {
	bs       int
	crd      bool // DepthToSpace's CRD mode
	toDepth  bool // SpaceToDepth
	opString string
}

func shapeBlocksize(n *graph.Node, op string) (int, error) {
	if !n.HasAttr("blocksize") {
		return 0, fault.Errorf(fault.Invalid, "%s: attribute blocksize is required", op)
	}
	bs, err := n.AttrInt("blocksize", 0)
	if err != nil {
		return 0, err
	}
	if bs < 1 || bs > 1<<15 {
		return 0, fault.Errorf(fault.Invalid, "%s: blocksize must be between 1 and %d, got %d", op, 1<<15, bs)
	}
	return int(bs), nil
}

func buildShapeDepthToSpace(n *graph.Node, _ int64) (Kernel, error) {
	bs, err := shapeBlocksize(n, "DepthToSpace")
	if err != nil {
		return nil, err
	}
	mode, err := n.AttrString("mode", "DCR")
	if err != nil {
		return nil, err
	}
	if mode != "DCR" && mode != "CRD" {
		return nil, fault.Errorf(fault.Invalid, "DepthToSpace: mode must be DCR or CRD, got %q", mode)
	}
	return shapeDepthSpace{bs: bs, crd: mode == "CRD", opString: "DepthToSpace"}, nil
}

func buildShapeSpaceToDepth(n *graph.Node, _ int64) (Kernel, error) {
	bs, err := shapeBlocksize(n, "SpaceToDepth")
	if err != nil {
		return nil, err
	}
	return shapeDepthSpace{bs: bs, toDepth: true, opString: "SpaceToDepth"}, nil
}

func (k shapeDepthSpace) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	if len(x.Shape) != 4 {
		return fault.Errorf(fault.Invalid, "%s: input must be 4-D [N,C,H,W], got shape %v", k.opString, []int(x.Shape))
	}
	b, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	bs := k.bs
	var view, perm []int
	var final [4]int
	switch {
	case k.toDepth:
		if h%bs != 0 || w%bs != 0 {
			return fault.Errorf(fault.Invalid, "SpaceToDepth: H and W of %v must be multiples of blocksize %d", []int(x.Shape), bs)
		}
		view = []int{b, c, h / bs, bs, w / bs, bs}
		perm = []int{0, 3, 5, 1, 2, 4}
		final = [4]int{b, c * bs * bs, h / bs, w / bs}
	case c%(bs*bs) != 0:
		return fault.Errorf(fault.Invalid, "DepthToSpace: C of %v must be a multiple of blocksize² = %d", []int(x.Shape), bs*bs)
	case k.crd:
		view = []int{b, c / (bs * bs), bs, bs, h, w}
		perm = []int{0, 1, 4, 2, 5, 3}
		final = [4]int{b, c / (bs * bs), h * bs, w * bs}
	default:
		view = []int{b, bs, bs, c / (bs * bs), h, w}
		perm = []int{0, 3, 4, 1, 5, 2}
		final = [4]int{b, c / (bs * bs), h * bs, w * bs}
	}
	if _, ok := numElements(final[:]); !ok {
		return fault.Errorf(fault.TooLarge, "%s: output shape %v is too large", k.opString, final)
	}
	y, err := shapePermute(ctx, out[0], x, view, perm)
	if err != nil {
		return err
	}
	y.Shape = append(y.Shape[:0], final[:]...)
	out[0] = y
	return nil
}
