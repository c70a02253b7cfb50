package ops

import (
	"context"
	"fmt"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func roiAlignSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("X:T1", "rois:T1", "batch_indices:T2"), Outputs: params("Y:T1"),
			Types: map[string][]tensor.DType{"T1": ts, "T2": {tensor.Int64}},
			Attrs: append([]string{"mode", "output_height", "output_width", "sampling_ratio", "spatial_scale"}, attrs...),
			Build: buildRoiAlign,
		}
	}
	return []Schema{
		v(10, floats()),
		v(16, floats(), "coordinate_transformation_mode"),
		v(22, floatsBF16(), "coordinate_transformation_mode"),
	}
}

func maxRoiPoolSchemas() []Schema {
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since, Inputs: params("X:T", "rois:T"), Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": ts},
			Attrs: []string{"pooled_shape", "spatial_scale"},
			Build: buildMaxRoiPool,
		}
	}
	return []Schema{v(1, floats()), v(22, floatsBF16())}
}

// roiMaxSamples bounds the bilinear samples one RoiAlign output bin takes
// when sampling_ratio is adaptive, so a huge region cannot stall a run.
const roiMaxSamples = 1 << 24

type roiAlign struct {
	max                  bool
	halfPixel            bool
	outH, outW, sampling int
	spatialScale         float64
}

func buildRoiAlign(n *graph.Node, opset int64) (Kernel, error) {
	k := roiAlign{}
	m, err := n.AttrString("mode", "avg")
	if err != nil {
		return nil, err
	}
	switch m {
	case "avg":
	case "max":
		k.max = true
	default:
		return nil, fault.Errorf(fault.Invalid, "mode %q is not one of avg, max", m)
	}
	// Before opset 16 coordinates were not shifted by half a pixel.
	def := "output_half_pixel"
	if opset >= 16 {
		def = "half_pixel"
	}
	ct, err := n.AttrString("coordinate_transformation_mode", def)
	if err != nil {
		return nil, err
	}
	switch ct {
	case "half_pixel":
		k.halfPixel = true
	case "output_half_pixel":
	default:
		return nil, fault.Errorf(fault.Invalid, "coordinate_transformation_mode %q is not one of half_pixel, output_half_pixel", ct)
	}
	for _, a := range []struct {
		name string
		def  int64
		lo   int64
		dst  *int
	}{{"output_height", 1, 1, &k.outH}, {"output_width", 1, 1, &k.outW}, {"sampling_ratio", 0, 0, &k.sampling}} {
		v, err := n.AttrInt(a.name, a.def)
		if err != nil {
			return nil, err
		}
		if v < a.lo || v > tensor.MaxElements {
			return nil, fault.Errorf(fault.Invalid, "%s must be at least %d, got %d", a.name, a.lo, v)
		}
		*a.dst = int(v)
	}
	if k.sampling > 1<<12 {
		return nil, fault.Errorf(fault.Invalid, "sampling_ratio %d is too large", k.sampling)
	}
	s, err := n.AttrFloat("spatial_scale", 1)
	if err != nil {
		return nil, err
	}
	k.spatialScale = float64(s)
	return k, nil
}

func (k roiAlign) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, rois, bi := in[0], in[1], in[2]
	if len(x.Shape) != 4 {
		return fault.Errorf(fault.Invalid, "RoiAlign: X %v must have rank 4", []int(x.Shape))
	}
	if rois.DType != x.DType {
		return fault.Errorf(fault.Invalid, "RoiAlign: rois is %s, X is %s", rois.DType.ONNXName(), x.DType.ONNXName())
	}
	if bi.DType != tensor.Int64 || len(rois.Shape) != 2 || rois.Shape[1] != 4 || len(bi.Shape) != 1 || bi.Shape[0] != rois.Shape[0] {
		return fault.Errorf(fault.Invalid, "RoiAlign: rois %v must be (num_rois, 4) and batch_indices %v (num_rois)", []int(rois.Shape), []int(bi.Shape))
	}
	nr, c := rois.Shape[0], x.Shape[1]
	bidx := tensor.Values[int64](bi)
	for i, b := range bidx {
		if b < 0 || b >= int64(x.Shape[0]) {
			return fault.Errorf(fault.Invalid, "RoiAlign: batch_indices[%d] is %d, outside the batch of %d", i, b, x.Shape[0])
		}
	}
	y, err := Output(ctx, out[0], x.DType, []int{nr, c, k.outH, k.outW})
	if err != nil {
		return err
	}
	out[0] = y
	if y.Len() == 0 {
		return nil
	}
	sc := ScratchFrom(ctx)
	xf, rf, yf := ScratchSlice[float64](sc, x.Len()), ScratchSlice[float64](sc, rois.Len()), ScratchSlice[float64](sc, y.Len())
	if err := spatialToFloat64(xf, x); err != nil {
		return fmt.Errorf("RoiAlign: %w", err)
	}
	if err := spatialToFloat64(rf, rois); err != nil {
		return fmt.Errorf("RoiAlign: %w", err)
	}
	if err := k.compute(sc, xf, rf, bidx, yf, c, x.Shape[2], x.Shape[3]); err != nil {
		return fmt.Errorf("RoiAlign: %w", err)
	}
	spatialFromFloat64(y, yf)
	return nil
}

// compute follows the spec's reference: each bin averages (or, in max
// mode, takes the largest of) bilinear samples on a regular grid; a sample
// more than one pixel outside the map counts as zero. In max mode a
// sample's value is the largest of its four weighted corners.
func (k roiAlign) compute(sc *Scratch, x, rois []float64, bidx []int64, y []float64, c, h, w int) error {
	plane, bins := h*w, k.outH*k.outW
	if plane == 0 { // nothing to sample: every bin is empty
		clear(y)
		return nil
	}
	// Sample positions and weights are shared by every channel; one
	// buffer, sized for the region with the most samples, serves all.
	most := 0
	for r := range len(bidx) {
		g, err := k.region(rois[r*4 : r*4+4])
		if err != nil {
			return fmt.Errorf("region %d: %w", r, err)
		}
		most = max(most, g.gridH*g.gridW)
	}
	if most > 0 && bins > tensor.MaxElements/4/most {
		return fault.Errorf(fault.TooLarge, "the regions need too many samples")
	}
	posBuf, wtsBuf := ScratchSlice[int64](sc, 4*bins*most), ScratchSlice[float64](sc, 4*bins*most)
	for r := range len(bidx) {
		g, _ := k.region(rois[r*4 : r*4+4])
		startW, startH, binW, binH, gridH, gridW := g.startW, g.startH, g.binW, g.binH, g.gridH, g.gridW
		per := gridH * gridW
		count := float64(max(per, 1))
		pos, wts := posBuf[:4*bins*per], wtsBuf[:4*bins*per]
		i := 0
		for ph := range k.outH {
			for pw := range k.outW {
				for iy := range gridH {
					yy := startH + float64(ph)*binH + (float64(iy)+0.5)*binH/float64(gridH)
					for ix := range gridW {
						xx := startW + float64(pw)*binW + (float64(ix)+0.5)*binW/float64(gridW)
						roiBilinear(yy, xx, h, w, pos[4*i:4*i+4], wts[4*i:4*i+4])
						i++
					}
				}
			}
		}
		for ch := range c {
			xc := x[(int(bidx[r])*c+ch)*plane : (int(bidx[r])*c+ch+1)*plane]
			yc := y[(r*c+ch)*bins : (r*c+ch+1)*bins]
			for b := range bins {
				v := 0.0
				for si := range per {
					q := 4 * (b*per + si)
					p, wt := pos[q:q+4], wts[q:q+4]
					if !k.max {
						v += wt[0]*xc[p[0]] + wt[1]*xc[p[1]] + wt[2]*xc[p[2]] + wt[3]*xc[p[3]]
						continue
					}
					m := max(wt[0]*xc[p[0]], wt[1]*xc[p[1]], wt[2]*xc[p[2]], wt[3]*xc[p[3]])
					if si == 0 {
						v = m
					} else {
						v = max(v, m)
					}
				}
				if !k.max {
					v /= count
				}
				yc[b] = v
			}
		}
	}
	return nil
}

// roiRegion is one region's sampling: its start, bin size and samples per
// bin along each axis.
type roiRegion struct {
	startW, startH, binW, binH float64
	gridH, gridW               int
}

func (k roiAlign) region(roi []float64) (roiRegion, error) {
	var g roiRegion
	offset := 0.0
	if k.halfPixel {
		offset = 0.5
	}
	g.startW, g.startH = roi[0]*k.spatialScale-offset, roi[1]*k.spatialScale-offset
	endW, endH := roi[2]*k.spatialScale-offset, roi[3]*k.spatialScale-offset
	roiW, roiH := endW-g.startW, endH-g.startH
	if !k.halfPixel { // malformed regions become 1×1
		roiW, roiH = max(roiW, 1), max(roiH, 1)
	}
	g.binH, g.binW = roiH/float64(k.outH), roiW/float64(k.outW)
	g.gridH, g.gridW = k.sampling, k.sampling
	if k.sampling == 0 {
		// A NaN or negative extent samples nothing.
		gh, gw := max(0, math.Ceil(g.binH)), max(0, math.Ceil(g.binW))
		if gh != gh || gw != gw {
			gh, gw = 0, 0
		}
		if gh > roiMaxSamples || gw > roiMaxSamples || gh*gw > roiMaxSamples {
			return g, fault.Errorf(fault.TooLarge, "a region of size %v×%v needs too many samples", roiH, roiW)
		}
		g.gridH, g.gridW = int(gh), int(gw)
	}
	return g, nil
}

// roiBilinear writes the four corners and weights of the bilinear sample
// at (y, x) of an h×w map; all zero when it lies more than a pixel outside.
func roiBilinear(y, x float64, h, w int, pos []int64, wts []float64) {
	if y < -1 || y > float64(h) || x < -1 || x > float64(w) || y != y || x != x {
		clear(pos)
		clear(wts)
		return
	}
	y, x = max(y, 0), max(x, 0)
	yl, xl := int(y), int(x)
	var yh, xh int
	if yl >= h-1 {
		yl, yh = h-1, h-1
		y = float64(yl)
	} else {
		yh = yl + 1
	}
	if xl >= w-1 {
		xl, xh = w-1, w-1
		x = float64(xl)
	} else {
		xh = xl + 1
	}
	ly, lx := y-float64(yl), x-float64(xl)
	hy, hx := 1-ly, 1-lx
	pos[0], pos[1], pos[2], pos[3] = int64(yl*w+xl), int64(yl*w+xh), int64(yh*w+xl), int64(yh*w+xh)
	wts[0], wts[1], wts[2], wts[3] = hy*hx, hy*lx, ly*hx, ly*lx
}

type maxRoiPool struct {
	ph, pw       int
	spatialScale float32
}

func buildMaxRoiPool(n *graph.Node, _ int64) (Kernel, error) {
	ps, err := n.AttrInts("pooled_shape", nil)
	if err != nil {
		return nil, err
	}
	if len(ps) != 2 || ps[0] < 1 || ps[1] < 1 || ps[0] > tensor.MaxElements || ps[1] > tensor.MaxElements {
		return nil, fault.Errorf(fault.Invalid, "pooled_shape must be two positive sizes, got %v", ps)
	}
	s, err := n.AttrFloat("spatial_scale", 1)
	if err != nil {
		return nil, err
	}
	return maxRoiPool{ph: int(ps[0]), pw: int(ps[1]), spatialScale: s}, nil
}

func (k maxRoiPool) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x, rois := in[0], in[1]
	if len(x.Shape) != 4 {
		return fault.Errorf(fault.Invalid, "MaxRoiPool: X %v must have rank 4", []int(x.Shape))
	}
	if rois.DType != x.DType || len(rois.Shape) != 2 || rois.Shape[1] != 5 {
		return fault.Errorf(fault.Invalid, "MaxRoiPool: rois %v must be (num_rois, 5) of X's type", []int(rois.Shape))
	}
	y, err := Output(ctx, out[0], x.DType, []int{rois.Shape[0], x.Shape[1], k.ph, k.pw})
	if err != nil {
		return err
	}
	out[0] = y
	if y.Len() == 0 {
		return nil
	}
	sc := ScratchFrom(ctx)
	xf, rf, yf := ScratchSlice[float64](sc, x.Len()), ScratchSlice[float64](sc, rois.Len()), ScratchSlice[float64](sc, y.Len())
	if err := spatialToFloat64(xf, x); err != nil {
		return fmt.Errorf("MaxRoiPool: %w", err)
	}
	if err := spatialToFloat64(rf, rois); err != nil {
		return fmt.Errorf("MaxRoiPool: %w", err)
	}
	var err2 error
	if x.DType == tensor.Float64 {
		err2 = maxRoiPoolTyped[float64](&k, xf, rf, yf, x.Shape)
	} else {
		err2 = maxRoiPoolTyped[float32](&k, xf, rf, yf, x.Shape)
	}
	if err2 != nil {
		return fmt.Errorf("MaxRoiPool: %w", err2)
	}
	spatialFromFloat64(y, yf)
	return nil
}

// maxRoiPoolTyped computes the bin bounds in F, the reference's calculation
// type (float32 unless X is double), so rounding of the region and the bin
// edges matches it. Region corners round half away from zero; an empty bin
// gives 0.
func maxRoiPoolTyped[F float32 | float64](k *maxRoiPool, x, rois, y []float64, shape tensor.Shape) error {
	n, c, h, w := shape[0], shape[1], shape[2], shape[3]
	plane, bins := h*w, k.ph*k.pw
	scale := F(k.spatialScale)
	round := func(v F) float64 { return math.Round(gridClampFinite(float64(v))) }
	for r := range len(rois) / 5 {
		roi := rois[r*5 : r*5+5]
		b := F(roi[0])
		if !(b >= 0 && b < F(n)) {
			return fault.Errorf(fault.Invalid, "region %d has batch index %v outside the batch of %d", r, roi[0], n)
		}
		bi := int(b)
		sw, sh := round(F(roi[1])*scale), round(F(roi[2])*scale)
		ew, eh := round(F(roi[3])*scale), round(F(roi[4])*scale)
		rw, rh := max(ew-sw+1, 1), max(eh-sh+1, 1)
		binH, binW := F(rh)/F(k.ph), F(rw)/F(k.pw)
		edge := func(i int, bin F, start float64, size int, up bool) int {
			var v float64
			if up {
				v = float64(math.Ceil(float64(F(i) * bin)))
			} else {
				v = float64(math.Floor(float64(F(i) * bin)))
			}
			return int(min(max(v+start, 0), float64(size)))
		}
		for ch := range c {
			xc := x[(bi*c+ch)*plane : (bi*c+ch+1)*plane]
			yc := y[(r*c+ch)*bins : (r*c+ch+1)*bins]
			for ph := range k.ph {
				hs, he := edge(ph, binH, sh, h, false), edge(ph+1, binH, sh, h, true)
				for pw := range k.pw {
					ws, we := edge(pw, binW, sw, w, false), edge(pw+1, binW, sw, w, true)
					if he <= hs || we <= ws {
						yc[ph*k.pw+pw] = 0
						continue
					}
					m := math.Inf(-1)
					for i := hs; i < he; i++ {
						for _, v := range xc[i*w+ws : i*w+we] {
							if v > m || v != v {
								m = v
							}
						}
					}
					yc[ph*k.pw+pw] = m
				}
			}
		}
	}
	return nil
}
