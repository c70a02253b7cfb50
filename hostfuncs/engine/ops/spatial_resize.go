package ops

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// spatialAllTypesNoBF16 is "all tensor types" before bfloat16 joined them.
func spatialAllTypesNoBF16() []tensor.DType {
	return slices.DeleteFunc(allTypes(), func(d tensor.DType) bool { return d == tensor.BFloat16 })
}

func resizeSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, inputs []Param, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: inputs, Outputs: params("Y:T1"),
			Types: map[string][]tensor.DType{"T1": ts, "T2": floats(), "TS": {tensor.Float32}, "TI": {tensor.Int64}},
			Attrs: attrs, Build: buildResize,
		}
	}
	v11 := []string{"coordinate_transformation_mode", "cubic_coeff_a", "exclude_outside", "extrapolation_value", "mode", "nearest_mode"}
	v18 := append(slices.Clone(v11), "antialias", "axes", "keep_aspect_ratio_policy")
	optional := params("X:T1", "roi:T2?", "scales:TS?", "sizes:TI?")
	return []Schema{
		v(10, spatialAllTypesNoBF16(), params("X:T1", "scales:TS"), "mode"),
		v(11, spatialAllTypesNoBF16(), params("X:T1", "roi:T2", "scales:TS", "sizes:TI?"), v11...),
		v(13, allTypes(), optional, v11...),
		v(18, allTypes(), optional, v18...),
		v(19, allTypes(), optional, v18...),
	}
}

func upsampleSchemas() []Schema {
	v := func(since int64, inputs []Param, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: inputs, Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": spatialAllTypesNoBF16(), "TS": {tensor.Float32}},
			Attrs: attrs, Build: buildUpsample,
		}
	}
	return []Schema{
		v(7, params("X:T"), "mode", "scales"),
		v(9, params("X:T", "scales:TS"), "mode"),
		v(10, params("X:T", "scales:TS"), "mode"), // deprecated: refused at build
	}
}

type resizeMode int

const (
	resizeNearest resizeMode = iota
	resizeLinear
	resizeCubic
)

type resizeCoord int

const (
	resizeHalfPixel resizeCoord = iota
	resizeHalfPixelSymmetric
	resizePytorchHalfPixel
	resizeAlignCorners
	resizeAsymmetric
	resizeTFCropAndResize
	resizeTFHalfPixelForNN
)

type resizeRound int

const (
	resizeRoundPreferFloor resizeRound = iota
	resizeRoundPreferCeil
	resizeFloor
	resizeCeil
	// resizeSimple is the rounding of Resize-10 and Upsample, which name
	// none: truncation when upsampling, ceiling when downsampling, as
	// onnxruntime implements them.
	resizeSimple
)

type resizePolicy int

const (
	resizeStretch resizePolicy = iota
	resizeNotLarger
	resizeNotSmaller
)

// resize is Resize and Upsample. Inputs are found by index: -1 where the
// version has no such input.
type resize struct {
	name                     string
	mode                     resizeMode
	coord                    resizeCoord
	round                    resizeRound
	cubicA                   float64
	excludeOutside           bool
	extrapolation            float64
	antialias                bool
	axes                     []int64 // nil: every axis
	policy                   resizePolicy
	scalesAttr               []float32 // Upsample-7
	roiIn, scalesIn, sizesIn int
}

func buildResize(n *graph.Node, opset int64) (Kernel, error) {
	k := resize{name: "Resize", roiIn: -1, scalesIn: 1, sizesIn: -1, cubicA: -0.75}
	if err := k.readMode(n, opset >= 11); err != nil {
		return nil, err
	}
	if opset < 11 {
		k.coord, k.round = resizeAsymmetric, resizeSimple
		return k, nil
	}
	k.roiIn, k.scalesIn, k.sizesIn = 1, 2, 3
	ct, err := n.AttrString("coordinate_transformation_mode", "half_pixel")
	if err != nil {
		return nil, err
	}
	coords := map[string]resizeCoord{
		"half_pixel": resizeHalfPixel, "pytorch_half_pixel": resizePytorchHalfPixel, "align_corners": resizeAlignCorners,
		"asymmetric": resizeAsymmetric, "tf_crop_and_resize": resizeTFCropAndResize,
	}
	if opset < 13 {
		coords["tf_half_pixel_for_nn"] = resizeTFHalfPixelForNN
	}
	if opset >= 19 {
		coords["half_pixel_symmetric"] = resizeHalfPixelSymmetric
	}
	var ok bool
	if k.coord, ok = coords[ct]; !ok {
		return nil, fault.Errorf(fault.Invalid, "coordinate_transformation_mode %q is not defined in opset %d", ct, opset)
	}
	nm, err := n.AttrString("nearest_mode", "round_prefer_floor")
	if err != nil {
		return nil, err
	}
	rounds := map[string]resizeRound{"round_prefer_floor": resizeRoundPreferFloor, "round_prefer_ceil": resizeRoundPreferCeil, "floor": resizeFloor, "ceil": resizeCeil}
	if k.round, ok = rounds[nm]; !ok {
		return nil, fault.Errorf(fault.Invalid, "nearest_mode %q is not one of round_prefer_floor, round_prefer_ceil, floor, ceil", nm)
	}
	a, err := n.AttrFloat("cubic_coeff_a", -0.75)
	if err != nil {
		return nil, err
	}
	k.cubicA = float64(a)
	if k.excludeOutside, err = spatialAttrBool(n, "exclude_outside"); err != nil {
		return nil, err
	}
	ev, err := n.AttrFloat("extrapolation_value", 0)
	if err != nil {
		return nil, err
	}
	k.extrapolation = float64(ev)
	if k.antialias, err = spatialAttrBool(n, "antialias"); err != nil {
		return nil, err
	}
	if k.axes, err = n.AttrInts("axes", nil); err != nil {
		return nil, err
	}
	if len(k.axes) > tensor.MaxRank {
		return nil, fault.Errorf(fault.Invalid, "axes has %d values, more than any rank", len(k.axes))
	}
	pol, err := n.AttrString("keep_aspect_ratio_policy", "stretch")
	if err != nil {
		return nil, err
	}
	policies := map[string]resizePolicy{"stretch": resizeStretch, "not_larger": resizeNotLarger, "not_smaller": resizeNotSmaller}
	if k.policy, ok = policies[pol]; !ok {
		return nil, fault.Errorf(fault.Invalid, "keep_aspect_ratio_policy %q is not one of stretch, not_larger, not_smaller", pol)
	}
	return k, nil
}

func buildUpsample(n *graph.Node, opset int64) (Kernel, error) {
	if opset >= 10 {
		return nil, fault.Errorf(fault.Invalid, "Upsample is deprecated from opset 10; use Resize")
	}
	k := resize{name: "Upsample", coord: resizeAsymmetric, round: resizeSimple, roiIn: -1, scalesIn: 1, sizesIn: -1}
	if err := k.readMode(n, false); err != nil {
		return nil, err
	}
	if opset < 9 {
		k.scalesIn = -1
		s, err := n.AttrFloats("scales", nil)
		if err != nil {
			return nil, err
		}
		if s == nil {
			return nil, fault.Errorf(fault.Invalid, "attribute scales is required")
		}
		k.scalesAttr = s
	}
	return k, nil
}

func (k *resize) readMode(n *graph.Node, cubic bool) error {
	m, err := n.AttrString("mode", "nearest")
	if err != nil {
		return err
	}
	switch {
	case m == "nearest":
		k.mode = resizeNearest
	case m == "linear":
		k.mode = resizeLinear
	case m == "cubic" && cubic:
		k.mode = resizeCubic
	default:
		return fault.Errorf(fault.Invalid, "mode %q is not defined in this opset", m)
	}
	return nil
}

// spatialAttrBool reads an INT attribute that must be 0 or 1.
func spatialAttrBool(n *graph.Node, name string) (bool, error) {
	v, err := n.AttrInt(name, 0)
	if err != nil {
		return false, err
	}
	if v != 0 && v != 1 {
		return false, fault.Errorf(fault.Invalid, "%s must be 0 or 1, got %d", name, v)
	}
	return v == 1, nil
}

// resizePlan is a Resize resolved against one input: per axis, the output
// size, the scale its coordinates transform by and the crop region.
type resizePlan struct {
	rank       int
	in, out    [tensor.MaxRank]int
	scale      [tensor.MaxRank]float64
	roiStart   [tensor.MaxRank]float64
	roiEnd     [tensor.MaxRank]float64
	anyExtrap  bool
	outSize    int
	inStride   [tensor.MaxRank]int
	nearestIdx [tensor.MaxRank][]int64 // nearest mode: the source of each output index
	taps       [tensor.MaxRank]int     // linear and cubic: taps per output index
	tapIdx     [tensor.MaxRank][]int64
	tapW       [tensor.MaxRank][]float64
	extrap     [tensor.MaxRank][]bool // tf_crop_and_resize: the output index samples outside
}

func (k resize) input(in []*tensor.Tensor, i int) *tensor.Tensor {
	if i < 0 || i >= len(in) || in[i] == nil || in[i].Len() == 0 {
		return nil // an empty roi, scales or sizes stands for an absent one
	}
	return in[i]
}

// plan resolves sizes, scales and the crop region from the inputs, the way
// the spec's reference does: scales give floor(scale·in) elements; sizes
// give scale = out/in, or under a keep_aspect_ratio_policy one common scale
// and out = round_half_up(scale·in); axes not listed keep scale 1.
func (k resize) plan(p *resizePlan, x *tensor.Tensor, in []*tensor.Tensor) error {
	p.rank = len(x.Shape)
	r := p.rank
	for i := range r {
		p.in[i], p.out[i], p.scale[i], p.roiStart[i], p.roiEnd[i] = x.Shape[i], x.Shape[i], 1, 0, 1
	}
	var axesBuf [tensor.MaxRank]int
	axes := axesBuf[:0]
	if k.axes == nil {
		for i := range r {
			axes = append(axes, i)
		}
	} else {
		for _, a := range k.axes {
			if a < -int64(r) || a >= int64(r) {
				return fault.Errorf(fault.Invalid, "axis %d is out of range for rank %d", a, r)
			}
			if a < 0 {
				a += int64(r)
			}
			if slices.Contains(axes, int(a)) {
				return fault.Errorf(fault.Invalid, "axis %d is repeated in axes %v", a, k.axes)
			}
			axes = append(axes, int(a))
		}
	}
	na := len(axes)
	if roi := k.input(in, k.roiIn); roi != nil && k.coord == resizeTFCropAndResize {
		if !roi.DType.IsFloat() || len(roi.Shape) != 1 || roi.Len() != 2*na {
			return fault.Errorf(fault.Invalid, "roi %v must be 1-D with 2×%d values", []int(roi.Shape), na)
		}
		for i, a := range axes {
			p.roiStart[a], p.roiEnd[a] = roi.Float64At(i), roi.Float64At(na+i)
		}
	}
	scales, sizes := k.input(in, k.scalesIn), k.input(in, k.sizesIn)
	switch {
	case scales != nil && sizes != nil:
		return fault.Errorf(fault.Invalid, "only one of scales and sizes may be given")
	case k.scalesAttr != nil || scales != nil:
		var vs []float32
		if scales != nil {
			if scales.DType != tensor.Float32 || len(scales.Shape) != 1 {
				return fault.Errorf(fault.Invalid, "scales %v must be 1-D", []int(scales.Shape))
			}
			vs = tensor.Values[float32](scales)
		} else {
			vs = k.scalesAttr
		}
		if len(vs) != na {
			return fault.Errorf(fault.Invalid, "scales has %d values for %d axes", len(vs), na)
		}
		for i, a := range axes {
			s := float64(vs[i])
			if !(s > 0) || math.IsInf(s, 0) {
				return fault.Errorf(fault.Invalid, "scales[%d] is %v; scales must be positive and finite", i, vs[i])
			}
			o := math.Floor(s * float64(p.in[a]))
			if o > tensor.MaxElements {
				return fault.Errorf(fault.TooLarge, "scales %v make axis %d of size %v", vs, a, o)
			}
			p.scale[a], p.out[a] = s, int(o)
		}
	case sizes != nil:
		if sizes.DType != tensor.Int64 || len(sizes.Shape) != 1 || sizes.Len() != na {
			return fault.Errorf(fault.Invalid, "sizes %v must be 1-D with %d values", []int(sizes.Shape), na)
		}
		vs := tensor.Values[int64](sizes)
		for i, a := range axes {
			if vs[i] < 0 || vs[i] > tensor.MaxElements {
				return fault.Errorf(fault.Invalid, "sizes[%d] is %d", i, vs[i])
			}
			if p.in[a] == 0 && vs[i] != 0 {
				return fault.Errorf(fault.Invalid, "axis %d is empty and cannot be resized to %d", a, vs[i])
			}
			p.out[a] = int(vs[i])
			if p.in[a] != 0 {
				p.scale[a] = float64(vs[i]) / float64(p.in[a])
			}
		}
		if k.policy != resizeStretch && na > 0 {
			s := p.scale[axes[0]]
			for _, a := range axes[1:] {
				if k.policy == resizeNotLarger {
					s = min(s, p.scale[a])
				} else {
					s = max(s, p.scale[a])
				}
			}
			for _, a := range axes {
				o := math.Floor(s*float64(p.in[a]) + 0.5)
				if o > tensor.MaxElements {
					return fault.Errorf(fault.TooLarge, "sizes %v make axis %d of size %v", vs, a, o)
				}
				p.scale[a], p.out[a] = s, int(o)
			}
		}
	case na > 0:
		return fault.Errorf(fault.Invalid, "one of scales and sizes must be given")
	}
	for a := range r {
		if p.in[a] == 0 && p.out[a] != 0 {
			return fault.Errorf(fault.Invalid, "axis %d is empty and cannot be resized to %d", a, p.out[a])
		}
		if p.out[a] != 0 && !(p.scale[a] > 0) {
			return fault.Errorf(fault.Invalid, "axis %d needs a positive scale", a)
		}
	}
	acc := 1
	for j := r - 1; j >= 0; j-- {
		p.inStride[j] = acc
		acc *= p.in[j]
	}
	return nil
}

// original maps output index x of an axis to a coordinate in the input, as
// the spec's reference does. The output length in the formulas is the
// exact scale·in, not the integer size, which differs when scales do not
// divide the input evenly.
func (k resize) original(p *resizePlan, a, x int) float64 {
	in, scale := float64(p.in[a]), p.scale[a]
	outW, xf := scale*in, float64(x)
	switch k.coord {
	case resizeAlignCorners:
		if outW == 1 {
			return 0
		}
		return xf * (in - 1) / (outW - 1)
	case resizeAsymmetric:
		return xf / scale
	case resizeTFCropAndResize:
		start, end := p.roiStart[a], p.roiEnd[a]
		var v float64
		if outW == 1 {
			v = (end - start) * (in - 1) / 2
		} else {
			v = xf * (end - start) * (in - 1) / (outW - 1)
		}
		return v + start*(in-1)
	case resizePytorchHalfPixel:
		if outW == 1 {
			return -0.5
		}
		return (xf+0.5)/scale - 0.5
	case resizeHalfPixelSymmetric:
		adjustment := float64(p.out[a]) / outW
		offset := in / 2 * (1 - adjustment)
		return offset + (xf+0.5)/scale - 0.5
	case resizeTFHalfPixelForNN:
		return (xf + 0.5) / scale
	}
	return (xf+0.5)/scale - 0.5 // half_pixel
}

// resizeFloorInt is floor(v) as an int, with v held to a range where every
// later index computation stays exact and cannot overflow (NaN goes to 0).
func resizeFloorInt(v float64) (int, float64) {
	const lim = 1 << 40
	switch {
	case v != v:
		v = 0
	case v < -lim:
		v = -lim
	case v > lim:
		v = lim
	}
	f := math.Floor(v)
	return int(f), v
}

// tables fills, for each axis, the input indices and weights that make
// each output index; indices are clamped into the input, which is the
// reference's edge padding.
func (k resize) tables(sc *Scratch, p *resizePlan) error {
	for a := range p.rank {
		out, in := p.out[a], p.in[a]
		if out == 0 {
			continue
		}
		if k.coord == resizeTFCropAndResize {
			p.extrap[a] = ScratchSlice[bool](sc, out)
		}
		if k.mode == resizeNearest {
			idx := ScratchSlice[int64](sc, out)
			for x := range out {
				xo := k.original(p, a, x)
				if p.extrap[a] != nil {
					p.extrap[a][x] = xo < 0 || xo > float64(in-1)
					p.anyExtrap = p.anyExtrap || p.extrap[a][x]
				}
				idx[x] = int64(k.nearest(xo, p.scale[a] < 1, in))
			}
			p.nearestIdx[a] = idx
			continue
		}
		n := k.tapCount(p.scale[a])
		if n < 0 || n > tensor.MaxElements/out {
			return fault.Errorf(fault.TooLarge, "resizing axis %d from %d to %d needs too many taps", a, in, out)
		}
		p.taps[a] = n
		idx, w := ScratchSlice[int64](sc, out*n), ScratchSlice[float64](sc, out*n)
		for x := range out {
			xo := k.original(p, a, x)
			if p.extrap[a] != nil {
				p.extrap[a][x] = xo < 0 || xo > float64(in-1)
				p.anyExtrap = p.anyExtrap || p.extrap[a][x]
			}
			k.taps(xo, p.scale[a], in, idx[x*n:(x+1)*n], w[x*n:(x+1)*n])
		}
		p.tapIdx[a], p.tapW[a] = idx, w
	}
	return nil
}

// nearest picks the input index for coordinate xo. A whole coordinate is
// its own index in every mode.
func (k resize) nearest(xo float64, down bool, in int) int {
	fl, xo := resizeFloorInt(xo)
	i := fl
	if frac := xo - float64(fl); frac != 0 {
		switch k.round {
		case resizeRoundPreferFloor:
			if frac > 0.5 {
				i++
			}
		case resizeRoundPreferCeil:
			if frac >= 0.5 {
				i++
			}
		case resizeCeil:
			i++
		case resizeSimple:
			if down {
				i++ // ceiling
			} else if xo < 0 {
				i++ // truncation toward zero
			}
		}
	}
	return min(max(i, 0), in-1)
}

// tapCount is the number of input samples each output index weighs: two
// for linear, four for cubic, and with antialias as many as the filter
// stretched by 1/scale covers.
func (k resize) tapCount(scale float64) int {
	if !k.antialias || scale >= 1 {
		if k.mode == resizeCubic {
			return 4
		}
		return 2
	}
	support := 1.0
	if k.mode == resizeCubic {
		support = 2
	}
	start := math.Floor(-support/scale) + 1
	if start < -tensor.MaxElements {
		return -1
	}
	return 2 - 2*int(start)
}

// taps writes the indices and weights of coordinate xo. As in the spec's
// reference, the samples are the n nearest to xo (ties to the lower) in the
// edge-padded input; the weights depend on ratio, xo's distance past the
// sample below it, in (0, 1].
func (k resize) taps(xo, scale float64, in int, idx []int64, w []float64) {
	fl, xo := resizeFloorInt(xo)
	base, ratio := fl, xo-float64(fl)
	if ratio == 0 {
		base, ratio = fl-1, 1
	}
	n := len(w)
	half := n / 2
	first := base - half + 1
	// The reference pads by n/2 on each side, so the window stays within
	// [-n/2, in+n/2).
	first = min(max(first, -half), in+half-n)
	s := min(scale, 1)
	a := k.cubicA
	switch {
	case k.mode == resizeLinear && n == 2 && (!k.antialias || s == 1):
		w[0], w[1] = 1-ratio, ratio
	case k.mode == resizeCubic && n == 4 && !k.antialias:
		r1, r2 := ratio+1, 1-ratio
		w[0] = ((a*r1-5*a)*r1+8*a)*r1 - 4*a
		w[1] = ((a+2)*ratio-(a+3))*ratio*ratio + 1
		w[2] = ((a+2)*r2-(a+3))*r2*r2 + 1
		r3 := r2 + 1
		w[3] = ((a*r3-5*a)*r3+8*a)*r3 - 4*a
	default:
		start := float64(1 - half)
		sum := 0.0
		for j := range n {
			v := s * (start + float64(j) - ratio)
			if k.mode == resizeLinear {
				w[j] = max(0, min(1, 1-math.Abs(v)))
			} else {
				w[j] = resizeCubicKernel(v, a)
			}
			sum += w[j]
		}
		for j := range w {
			w[j] /= sum
		}
	}
	if k.excludeOutside {
		sum := 0.0
		for j := range n {
			if i := first + j; i < 0 || i >= in {
				w[j] = 0
			}
			sum += w[j]
		}
		for j := range w {
			w[j] /= sum
		}
	}
	for j := range n {
		idx[j] = int64(min(max(first+j, 0), in-1))
	}
}

// resizeCubicKernel is Keys' cubic convolution kernel with parameter a.
func resizeCubicKernel(x, a float64) float64 {
	x = math.Abs(x)
	x2, x3 := x*x, x*x*x
	switch {
	case x <= 1:
		return (a+2)*x3 - (a+3)*x2 + 1
	case x < 2:
		return a*x3 - 5*a*x2 + 8*a*x - 4*a
	}
	return 0
}

func (k resize) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	var plan resizePlan
	p := &plan
	if err := k.plan(p, x, in); err != nil {
		return fmt.Errorf("%s: %w", k.name, err)
	}
	y, err := Output(ctx, out[0], x.DType, p.out[:p.rank])
	if err != nil {
		return err
	}
	out[0] = y
	p.outSize = y.Len()
	if p.outSize == 0 {
		return nil
	}
	if p.rank == 0 {
		_, err := copyInto(ctx, y, x, nil)
		return err
	}
	sc := ScratchFrom(ctx)
	if err := k.tables(sc, p); err != nil {
		return fmt.Errorf("%s: %w", k.name, err)
	}
	if k.mode == resizeNearest {
		return k.runNearest(sc, p, x, y)
	}
	if x.DType == tensor.Bool || x.DType == tensor.Bytes {
		return fault.Errorf(fault.Unsupported, "%s: %s interpolation of %s", k.name, []string{"", "linear", "cubic"}[k.mode], x.DType.ONNXName())
	}
	return k.runInterpolate(sc, p, x, y)
}

func (k resize) runNearest(sc *Scratch, p *resizePlan, x, y *tensor.Tensor) error {
	switch x.DType {
	case tensor.Float32:
		resizeGather(p, tensor.Values[float32](x), tensor.Values[float32](y), float32(k.extrapolation))
	case tensor.Float64:
		resizeGather(p, tensor.Values[float64](x), tensor.Values[float64](y), k.extrapolation)
	case tensor.Float16:
		resizeGather(p, tensor.Values[tensor.F16](x), tensor.Values[tensor.F16](y), tensor.F16From(float32(k.extrapolation)))
	case tensor.BFloat16:
		resizeGather(p, tensor.Values[tensor.BF16](x), tensor.Values[tensor.BF16](y), tensor.BF16From(float32(k.extrapolation)))
	case tensor.Int8:
		resizeGather(p, tensor.Values[int8](x), tensor.Values[int8](y), spatialToInt[int8](k.extrapolation))
	case tensor.Int16:
		resizeGather(p, tensor.Values[int16](x), tensor.Values[int16](y), spatialToInt[int16](k.extrapolation))
	case tensor.Int32:
		resizeGather(p, tensor.Values[int32](x), tensor.Values[int32](y), spatialToInt[int32](k.extrapolation))
	case tensor.Int64:
		resizeGather(p, tensor.Values[int64](x), tensor.Values[int64](y), spatialToInt[int64](k.extrapolation))
	case tensor.Uint8:
		resizeGather(p, tensor.Values[uint8](x), tensor.Values[uint8](y), spatialToInt[uint8](k.extrapolation))
	case tensor.Uint16:
		resizeGather(p, tensor.Values[uint16](x), tensor.Values[uint16](y), spatialToInt[uint16](k.extrapolation))
	case tensor.Uint32:
		resizeGather(p, tensor.Values[uint32](x), tensor.Values[uint32](y), spatialToInt[uint32](k.extrapolation))
	case tensor.Uint64:
		resizeGather(p, tensor.Values[uint64](x), tensor.Values[uint64](y), spatialToInt[uint64](k.extrapolation))
	case tensor.Bool:
		resizeGather(p, x.Data, y.Data, spatialBoolByte(k.extrapolation != 0))
	case tensor.Bytes:
		if p.anyExtrap {
			return fault.Errorf(fault.Unsupported, "%s: extrapolating strings", k.name)
		}
		// Gather source positions, then copy each string into the
		// output's own buffer: an output never shares an input's memory.
		src, at := ScratchSlice[int64](sc, x.Len()), ScratchSlice[int64](sc, y.Len())
		for i := range src {
			src[i] = int64(i)
		}
		resizeGather(p, src, at, 0)
		for i, j := range at {
			y.Strings[i] = append(y.Strings[i][:0], x.Strings[j]...)
		}
	default:
		return fault.Errorf(fault.Unsupported, "%s of %s", k.name, x.DType.ONNXName())
	}
	return nil
}

func spatialBoolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// resizeGather copies, for each output element, the input element the
// per-axis nearest tables name, or extrap where tf_crop_and_resize samples
// outside the input.
func resizeGather[T any](p *resizePlan, x, y []T, extrap T) {
	last := p.rank - 1
	nLast := p.out[last]
	idxLast, exLast := p.nearestIdx[last], p.extrap[last]
	rows := p.outSize / nLast
	var o [tensor.MaxRank]int
	for row := range rows {
		base, outside := 0, false
		for j := range last {
			base += int(p.nearestIdx[j][o[j]]) * p.inStride[j]
			outside = outside || (p.extrap[j] != nil && p.extrap[j][o[j]])
		}
		d := y[row*nLast : (row+1)*nLast]
		if outside {
			fill(d, extrap)
		} else {
			src := x[base : base+p.in[last]]
			for i, ix := range idxLast {
				d[i] = src[ix]
			}
			if exLast != nil {
				for i, e := range exLast {
					if e {
						d[i] = extrap
					}
				}
			}
		}
		for j := last - 1; j >= 0; j-- {
			if o[j]++; o[j] < p.out[j] {
				break
			}
			o[j] = 0
		}
	}
}

// runInterpolate resizes one axis at a time in float64, as the reference
// computes, then rounds once into the output type. Axes that shrink go
// first so no intermediate is larger than the input or the output; axes
// whose tables are the identity are skipped.
func (k resize) runInterpolate(sc *Scratch, p *resizePlan, x, y *tensor.Tensor) error {
	var order [tensor.MaxRank]int
	n := 0
	for a := range p.rank {
		if !p.identity(a) {
			order[n] = a
			n++
		}
	}
	slices.SortStableFunc(order[:n], func(a, b int) int {
		return spatialCmpBool(p.out[a] < p.in[a], p.out[b] < p.in[b])
	})
	bufSize := max(x.Len(), p.outSize)
	cur := ScratchSlice[float64](sc, bufSize)
	if err := spatialToFloat64(cur, x); err != nil {
		return fmt.Errorf("%s: %w", k.name, err)
	}
	var next []float64
	if n > 0 {
		next = ScratchSlice[float64](sc, bufSize)
	}
	var dims [tensor.MaxRank]int
	copy(dims[:], p.in[:p.rank])
	for _, a := range order[:n] {
		resizeAxis(cur, next, dims[:p.rank], a, p.out[a], p.taps[a], p.tapIdx[a], p.tapW[a])
		dims[a] = p.out[a]
		cur, next = next, cur
	}
	if p.anyExtrap {
		resizeFillExtrap(p, cur[:p.outSize], k.extrapolation)
	}
	spatialFromFloat64(y, cur[:p.outSize])
	return nil
}

// spatialCmpBool orders true before false.
func spatialCmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// identity reports whether axis a's tables copy the input unchanged.
func (p *resizePlan) identity(a int) bool {
	if p.out[a] != p.in[a] {
		return false
	}
	n := p.taps[a]
	for x := range p.out[a] {
		if p.extrap[a] != nil && p.extrap[a][x] {
			return false
		}
		for t := range n {
			w, i := p.tapW[a][x*n+t], p.tapIdx[a][x*n+t]
			if w != 0 && (w != 1 || int(i) != x) {
				return false
			}
		}
	}
	return true
}

// resizeAxis interpolates src, of shape dims, along axis a into dst, whose
// axis a has size out. Zero weights are skipped, so an infinity beside a
// sample that lands exactly on an input element does not leak into it.
func resizeAxis(src, dst []float64, dims []int, a, out, n int, idx []int64, w []float64) {
	outer, inner := prod(dims[:a]), prod(dims[a+1:])
	in := dims[a]
	for o := range outer {
		s := src[o*in*inner : (o+1)*in*inner]
		for x := range out {
			d := dst[(o*out+x)*inner : (o*out+x+1)*inner]
			clear(d)
			for t := range n {
				wt := w[x*n+t]
				if wt == 0 {
					continue
				}
				row := s[int(idx[x*n+t])*inner:]
				row = row[:inner]
				for i, v := range row {
					d[i] += wt * v
				}
			}
		}
	}
}

// resizeFillExtrap sets every output element that some axis samples
// outside the input to the extrapolation value.
func resizeFillExtrap(p *resizePlan, y []float64, v float64) {
	last := p.rank - 1
	nLast := p.out[last]
	var o [tensor.MaxRank]int
	for row := range p.outSize / nLast {
		outside := false
		for j := range last {
			outside = outside || (p.extrap[j] != nil && p.extrap[j][o[j]])
		}
		d := y[row*nLast : (row+1)*nLast]
		for i := range d {
			if outside || (p.extrap[last] != nil && p.extrap[last][i]) {
				d[i] = v
			}
		}
		for j := last - 1; j >= 0; j-- {
			if o[j]++; o[j] < p.out[j] {
				break
			}
			o[j] = 0
		}
	}
}

// spatialToFloat64 widens a numeric tensor into dst.
func spatialToFloat64(dst []float64, t *tensor.Tensor) error {
	switch t.DType {
	case tensor.Float32:
		spatialWiden(dst, tensor.Values[float32](t))
	case tensor.Float64:
		copy(dst, tensor.Values[float64](t))
	case tensor.Int8:
		spatialWiden(dst, tensor.Values[int8](t))
	case tensor.Int16:
		spatialWiden(dst, tensor.Values[int16](t))
	case tensor.Int32:
		spatialWiden(dst, tensor.Values[int32](t))
	case tensor.Int64:
		spatialWiden(dst, tensor.Values[int64](t))
	case tensor.Uint8:
		spatialWiden(dst, tensor.Values[uint8](t))
	case tensor.Uint16:
		spatialWiden(dst, tensor.Values[uint16](t))
	case tensor.Uint32:
		spatialWiden(dst, tensor.Values[uint32](t))
	case tensor.Uint64:
		spatialWiden(dst, tensor.Values[uint64](t))
	case tensor.Float16:
		for i, v := range tensor.Values[tensor.F16](t) {
			dst[i] = float64(v.Float32())
		}
	case tensor.BFloat16:
		for i, v := range tensor.Values[tensor.BF16](t) {
			dst[i] = float64(v.Float32())
		}
	default:
		return fault.Errorf(fault.Unsupported, "arithmetic on %s", t.DType.ONNXName())
	}
	return nil
}

func spatialWiden[T spatialNum](dst []float64, src []T) {
	for i, v := range src {
		dst[i] = float64(v)
	}
}

// spatialFromFloat64 rounds src into a numeric tensor: floats to nearest,
// integers toward zero (numpy's astype) after clamping to the type's range.
func spatialFromFloat64(t *tensor.Tensor, src []float64) {
	switch t.DType {
	case tensor.Float32:
		d := tensor.Values[float32](t)
		for i, v := range src[:len(d)] {
			d[i] = float32(v)
		}
	case tensor.Float64:
		copy(tensor.Values[float64](t), src)
	case tensor.Int8:
		spatialNarrowInt(tensor.Values[int8](t), src)
	case tensor.Int16:
		spatialNarrowInt(tensor.Values[int16](t), src)
	case tensor.Int32:
		spatialNarrowInt(tensor.Values[int32](t), src)
	case tensor.Int64:
		spatialNarrowInt(tensor.Values[int64](t), src)
	case tensor.Uint8:
		spatialNarrowInt(tensor.Values[uint8](t), src)
	case tensor.Uint16:
		spatialNarrowInt(tensor.Values[uint16](t), src)
	case tensor.Uint32:
		spatialNarrowInt(tensor.Values[uint32](t), src)
	case tensor.Uint64:
		spatialNarrowInt(tensor.Values[uint64](t), src)
	case tensor.Float16:
		d := tensor.Values[tensor.F16](t)
		for i, v := range src[:len(d)] {
			d[i] = tensor.F16From(float32(v))
		}
	case tensor.BFloat16:
		d := tensor.Values[tensor.BF16](t)
		for i, v := range src[:len(d)] {
			d[i] = tensor.BF16From(float32(v))
		}
	}
}

type spatialInt interface {
	int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64
}

func spatialNarrowInt[T spatialInt](dst []T, src []float64) {
	for i, v := range src[:len(dst)] {
		dst[i] = spatialToInt[T](v)
	}
}

// spatialToInt truncates v toward zero into T, saturating at T's range;
// NaN becomes 0.
func spatialToInt[T spatialInt](v float64) T {
	var z T
	bits := 8 * spatialSizeOf(z)
	lo, hi := 0.0, math.Ldexp(1, bits) // hi: the first value past the range
	if ^z < 0 {                        // signed: ^0 is -1
		lo, hi = -math.Ldexp(1, bits-1), math.Ldexp(1, bits-1)
	}
	switch {
	case v != v:
		return 0
	case v <= lo:
		return T(lo)
	case v >= hi:
		if ^z < 0 {
			return ^(T(1) << (bits - 1))
		}
		return ^z
	}
	return T(v)
}

func spatialSizeOf[T spatialInt](z T) int {
	switch any(z).(type) {
	case int8, uint8:
		return 1
	case int16, uint16:
		return 2
	case int32, uint32:
		return 4
	}
	return 8
}
