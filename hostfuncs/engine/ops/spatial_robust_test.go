package ops_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// TestSpatialNoPanics feeds every operator of the family random attributes
// and random inputs of small, often mismatched shapes: each must build and
// run or return an error, never panic.
func TestSpatialNoPanics(t *testing.T) {
	r := rand.New(rand.NewPCG(99, 1))
	opsets := map[string][]int64{
		"AffineGrid": {20}, "AveragePool": {1, 7, 10, 19, 22}, "Col2Im": {18}, "ConvTranspose": {1, 11, 22},
		"DeformConv": {19, 22}, "GlobalAveragePool": {1, 22}, "GlobalMaxPool": {1, 22}, "GridSample": {16, 20, 22},
		"LRN": {1, 13}, "LpPool": {1, 2, 18, 22}, "MaxRoiPool": {1, 22}, "MaxUnpool": {9, 11, 22},
		"Resize": {10, 11, 13, 18, 19}, "RoiAlign": {10, 16, 22}, "Upsample": {7, 9},
	}
	strs := []string{"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", "nearest", "linear", "cubic", "bilinear", "bicubic",
		"half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize", "pytorch_half_pixel", "half_pixel_symmetric",
		"zeros", "border", "reflection", "avg", "max", "output_half_pixel", "not_larger", "not_smaller", "floor", "ceil"}
	intAttrs := map[string]bool{"count_include_pad": true, "ceil_mode": true, "group": true, "offset_group": true, "size": true,
		"exclude_outside": true, "antialias": true, "align_corners": true, "output_height": true, "output_width": true, "sampling_ratio": true}
	floatAttrs := map[string]bool{"alpha": true, "beta": true, "bias": true, "cubic_coeff_a": true, "extrapolation_value": true, "spatial_scale": true}
	stringAttrs := map[string]bool{"auto_pad": true, "mode": true, "coordinate_transformation_mode": true, "nearest_mode": true,
		"keep_aspect_ratio_policy": true, "padding_mode": true}
	valid := map[string][]string{
		"auto_pad": {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"}, "mode": {"nearest", "linear", "cubic", "avg", "max", "bilinear", "bicubic"},
		"coordinate_transformation_mode": {"half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize", "pytorch_half_pixel", "half_pixel_symmetric", "output_half_pixel"},
		"nearest_mode":                   {"floor", "ceil", "round_prefer_floor"}, "keep_aspect_ratio_policy": {"stretch", "not_larger", "not_smaller"},
		"padding_mode": {"zeros", "border", "reflection"},
	}
	randFloat := func() float64 {
		switch r.IntN(8) {
		case 0:
			return math.NaN()
		case 1:
			return math.Inf(1 - 2*r.IntN(2))
		case 2:
			return 0
		}
		return r.Float64()*6 - 2
	}
	for it := range 4000 {
		names := []string{}
		for name := range opsets {
			names = append(names, name)
		}
		op := names[it%len(names)]
		vs := opsets[op]
		opset := vs[r.IntN(len(vs))]
		nd := 1 + r.IntN(3)
		s, err := ops.Default().Lookup("", op, opset)
		if err != nil {
			t.Fatal(err)
		}
		var attrs []*graph.Attr
		for _, a := range s.Attrs {
			if r.IntN(2) == 0 {
				continue
			}
			switch {
			case intAttrs[a] || (a == "p" && opset >= 2):
				v := int64(r.IntN(2))
				if a != "ceil_mode" && a != "count_include_pad" && a != "exclude_outside" && a != "antialias" && a != "align_corners" && a != "sampling_ratio" {
					v++
				}
				if r.IntN(10) == 0 {
					v = int64(r.IntN(7) - 2)
				}
				attrs = append(attrs, graph.IntAttr(a, v))
			case floatAttrs[a] || a == "p":
				attrs = append(attrs, graph.FloatAttr(a, float32(randFloat())))
			case stringAttrs[a]:
				v := strs[r.IntN(len(strs))]
				if good := valid[a]; r.IntN(10) != 0 {
					v = good[r.IntN(len(good))]
				}
				attrs = append(attrs, graph.StringAttr(a, v))
			case a == "scales":
				fs := make([]float32, r.IntN(5))
				for i := range fs {
					fs[i] = float32(randFloat())
				}
				attrs = append(attrs, graph.FloatsAttr(a, fs...))
			default: // lists of ints, mostly of a plausible length
				l, lo := nd, int64(1)
				switch a {
				case "pads":
					l, lo = 2*nd, 0
				case "output_padding":
					lo = 0
				case "pooled_shape":
					l = 2
				case "axes":
					l, lo = 1+r.IntN(nd+2), -int64(nd)-2
				}
				if r.IntN(8) == 0 {
					l, lo = r.IntN(7), -1
				}
				is := make([]int64, l)
				for i := range is {
					is[i] = lo + int64(r.IntN(3))
				}
				attrs = append(attrs, graph.IntsAttr(a, is...))
			}
		}
		n := &graph.Node{Name: "n", OpType: op, Attrs: graph.Attrs(attrs...), Outputs: []string{"y"}}
		var in []*tensor.Tensor
		for i, p := range s.Inputs {
			if p.Optional && r.IntN(2) == 0 {
				n.Inputs = append(n.Inputs, "")
				in = append(in, nil)
				continue
			}
			n.Inputs = append(n.Inputs, fmt.Sprint("i", i))
			dt := s.Types[p.Type][r.IntN(len(s.Types[p.Type]))]
			if r.IntN(8) == 0 {
				dt = tensor.Float32
			}
			rank := 2 + nd
			if r.IntN(6) == 0 {
				rank = r.IntN(6)
			}
			if dt == tensor.Int64 {
				rank = 1
			}
			shape := make([]int, rank)
			for j := range shape {
				shape[j] = 1 + r.IntN(4)
				if r.IntN(10) == 0 {
					shape[j] = 0
				}
			}
			if dt == tensor.Int64 && r.IntN(4) != 0 {
				shape[0] = []int{nd, nd + 2, 2 * nd, 2}[r.IntN(4)]
			}
			tt, err := tensor.New(dt, shape)
			if err != nil {
				t.Fatal(err)
			}
			for j := range tt.Len() {
				switch dt {
				case tensor.Float32:
					tensor.Values[float32](tt)[j] = float32(randFloat())
				case tensor.Int64:
					tensor.Values[int64](tt)[j] = int64(r.IntN(7))
					if r.IntN(10) == 0 {
						tensor.Values[int64](tt)[j] = int64(r.IntN(9) - 5)
					}
				}
			}
			in = append(in, tt)
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("%s-%d %v on %v: panic %v", op, opset, n.Attrs, in, p)
				}
			}()
			k, _, err := ops.Default().Build(n, map[string]int64{"": opset})
			if err != nil {
				return
			}
			out := make([]*tensor.Tensor, 1)
			_ = k.Run(context.Background(), in, out)
		}()
	}
}
