package ops_test

import (
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/matryer/is"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/ops"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// einsumRef evaluates an equation by brute force: every assignment of the
// labels, the product of the operands' elements added into the output.
// Ellipsis dimensions become the labels '0', '1', ... aligned at the right.
func einsumRef(eq string, shapes [][]int, vals [][]float64) ([]int, []float64) {
	eq = strings.ReplaceAll(eq, " ", "")
	lhs, rhs, explicit := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	ell := 0
	for i, t := range terms {
		if strings.Contains(t, "...") {
			ell = max(ell, len(shapes[i])-(len(t)-3))
		}
	}
	ellLabels := func(n int) string {
		s := ""
		for e := ell - n; e < ell; e++ {
			s += string(rune('0' + e))
		}
		return s
	}
	for i, t := range terms {
		if strings.Contains(t, "...") {
			terms[i] = strings.Replace(t, "...", ellLabels(len(shapes[i])-(len(t)-3)), 1)
		}
	}
	size := map[rune]int{}
	count := map[rune]int{}
	for i, t := range terms {
		for d, c := range t {
			if s, ok := size[c]; !ok || s == 1 {
				size[c] = shapes[i][d]
			}
			count[c]++
		}
	}
	var out string
	if explicit {
		out = strings.Replace(rhs, "...", ellLabels(ell), 1)
	} else {
		var once []string
		for c, n := range count {
			if n == 1 && (c < '0' || c > '9') {
				once = append(once, string(c))
			}
		}
		sort.Strings(once)
		out = ellLabels(ell) + strings.Join(once, "")
	}
	var labels []rune
	for c := range size {
		labels = append(labels, c)
	}
	slices.Sort(labels)
	outShape := []int{}
	total := 1
	for _, c := range out {
		outShape = append(outShape, size[c])
		total *= size[c]
	}
	y := make([]float64, total)
	idx := map[rune]int{}
	var rec func(int)
	rec = func(l int) {
		if l == len(labels) {
			p := 1.0
			for i, t := range terms {
				off := 0
				for d, c := range t {
					x := idx[c]
					if shapes[i][d] == 1 {
						x = 0
					}
					off = off*shapes[i][d] + x
				}
				p *= vals[i][off]
			}
			o := 0
			for _, c := range out {
				o = o*size[c] + idx[c]
			}
			y[o] += p
			return
		}
		for v := range size[labels[l]] {
			idx[labels[l]] = v
			rec(l + 1)
		}
	}
	rec(0)
	return outShape, y
}

func TestEinsum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		eq     string
		shapes [][]int
		dt     tensor.DType
	}{
		{"ij,jk->ik", [][]int{{3, 5}, {5, 7}}, tensor.Float64},
		{"ij,jk->ik", [][]int{{3, 5}, {5, 7}}, tensor.Int32},
		{"ij,jk->ik", [][]int{{0, 3}, {3, 2}}, tensor.Float32},
		{"ij,jk->ik", [][]int{{2, 0}, {0, 3}}, tensor.Float32},
		{"bij,bjk->bik", [][]int{{2, 3, 4}, {2, 4, 5}}, tensor.Float64},
		{"bij,bjk->bik", [][]int{{2, 3, 4}, {2, 4, 5}}, tensor.Float16},
		{"ii->i", [][]int{{4, 4}}, tensor.Float64},
		{"ii->i", [][]int{{4, 4}}, tensor.Uint8},
		{"ii", [][]int{{5, 5}}, tensor.Float64},
		{"...ii ->...i", [][]int{{3, 5, 5}}, tensor.Float64},
		{"i,i", [][]int{{7}, {7}}, tensor.Float64},
		{"ij->", [][]int{{3, 4}}, tensor.Float64},
		{"ij->ji", [][]int{{3, 4}}, tensor.Int64},
		{"ij", [][]int{{3, 4}}, tensor.Float64},
		{"ji", [][]int{{3, 4}}, tensor.Float64},
		{"i,j->ij", [][]int{{3}, {4}}, tensor.Float64},
		{"abc,cd,de->abe", [][]int{{2, 3, 4}, {4, 5}, {5, 3}}, tensor.Float64},
		{"...ij,...jk->...ik", [][]int{{2, 1, 3, 4}, {5, 4, 2}}, tensor.Float64},
		{"iij->j", [][]int{{3, 3, 4}}, tensor.Float64},
		{"ba,ab->", [][]int{{3, 4}, {4, 3}}, tensor.Float64},
		{"ii,i->i", [][]int{{3, 3}, {3}}, tensor.Float64},
		{"...,...->...", [][]int{{2, 3}, {3}}, tensor.Float64},
		{"ij,ij->ij", [][]int{{3, 4}, {3, 4}}, tensor.Int16},
		{"bhqd,bhkd->bhqk", [][]int{{2, 3, 4, 5}, {2, 3, 6, 5}}, tensor.Float32},
		{"a,b,c->abc", [][]int{{2}, {3}, {4}}, tensor.Float64},
		{"i,->i", [][]int{{3}, {}}, tensor.Float64},
		{"Ab,bC->AC", [][]int{{2, 3}, {3, 4}}, tensor.Float64},
		{"ij,jk", [][]int{{2, 3}, {3, 4}}, tensor.Float64},
		{"ijk,kji->", [][]int{{2, 3, 5}, {5, 3, 2}}, tensor.Float64},
		{"b...,b...->b", [][]int{{2, 3, 1}, {2, 1, 4}}, tensor.Float64},
		{"ij->i", [][]int{{7, 11}}, tensor.Uint64},
	}
	for _, tc := range cases {
		t.Run(tc.eq+"_"+tc.dt.String(), func(t *testing.T) {
			ints := tc.dt != tensor.Float32 && tc.dt != tensor.Float64 && tc.dt != tensor.Float16
			var ins []*tensor.Tensor
			var vals [][]float64
			for _, s := range tc.shapes {
				lo := -2.0
				if tc.dt == tensor.Uint8 || tc.dt == tensor.Uint64 {
					lo = 0
				}
				v := nnRound(tc.dt, nnRandom(rng, nnProd(s), lo, 3, ints))
				vals = append(vals, v)
				ins = append(ins, nnT(tc.dt, s, v))
			}
			shape, want := einsumRef(tc.eq, tc.shapes, vals)
			got, err := runOp(t, "Einsum", 12, 1, nnAttrs(graph.StringAttr("equation", tc.eq)), ins...)
			if err != nil {
				t.Fatal(err)
			}
			nnCheck(t, got[0], tc.dt, shape, want)
		})
	}
}

func TestEinsumErrors(t *testing.T) {
	is := is.New(t)
	build := func(eq string, nIn int) error {
		n := &graph.Node{OpType: "Einsum", Attrs: graph.Attrs(graph.StringAttr("equation", eq)), Outputs: []string{"y"}}
		for i := range nIn {
			n.Inputs = append(n.Inputs, string(rune('a'+i)))
		}
		_, _, err := ops.Default().Build(n, map[string]int64{"": 12})
		return err
	}
	for _, eq := range []string{"ij,jk->ik", "i1->i", "ij->k", "ij->ii", "i..->i", "......->", "i->i->i"} {
		err := build(eq, 1)
		is.True(err != nil)
		is.Equal(fault.KindOf(err), fault.Invalid)
	}
	is.NoErr(build("ij,jk", 2))
	a := nnT(tensor.Float32, tensor.Shape{3, 4}, make([]float64, 12))
	b := nnT(tensor.Float32, tensor.Shape{5, 6}, make([]float64, 30))
	for _, tc := range []struct {
		eq string
		in []*tensor.Tensor
	}{
		{"ij,jk->ik", []*tensor.Tensor{a, b}},
		{"ijk->i", []*tensor.Tensor{a}},
		{"ii->i", []*tensor.Tensor{a}},
		{"ij,jk->ik", []*tensor.Tensor{a, nnT(tensor.Float64, tensor.Shape{4, 2}, make([]float64, 8))}},
	} {
		_, err := runOp(t, "Einsum", 12, 1, nnAttrs(graph.StringAttr("equation", tc.eq)), tc.in...)
		is.Equal(fault.KindOf(err), fault.Invalid)
	}
	// Contracting left to right, the outer product of a and b is needed
	// before the later operands reduce it: 2^32 elements.
	big := nnT(tensor.Float32, tensor.Shape{1 << 16}, make([]float64, 1<<16))
	_, err := runOp(t, "Einsum", 12, 1, nnAttrs(graph.StringAttr("equation", "a,b,a,b->")), big, big, big, big)
	is.Equal(fault.KindOf(err), fault.TooLarge)
}
