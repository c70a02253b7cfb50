package ops

import (
	"context"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/engine/kernels"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func gemmSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, cOptional bool, attrs ...string) Schema {
		c := "C:T"
		if cOptional {
			c = "C:T?"
		}
		return Schema{
			Since: since, Inputs: params("A:T", "B:T", c), Outputs: params("Y:T"),
			Types: map[string][]tensor.DType{"T": ts},
			Attrs: append([]string{"alpha", "beta", "transA", "transB"}, attrs...), Build: buildGemm,
		}
	}
	v9 := cat(floats(), wideInts())
	return []Schema{
		v(1, floats(), false, "broadcast"),
		v(6, floats(), false, "broadcast"),
		v(7, floats(), false),
		v(9, v9, false),
		v(11, v9, true),
		v(13, cat(v9, []tensor.DType{tensor.BFloat16}), true),
	}
}

// gemm computes Y = alpha·A'·B' + beta·C. Before opset 7, C had to be
// exactly M×N unless the broadcast attribute allowed a smaller C; from 7 on
// C broadcasts unidirectionally.
type gemm struct {
	alpha, beta    float32
	transA, transB bool
	exactC         bool
}

func buildGemm(n *graph.Node, opset int64) (Kernel, error) {
	var k gemm
	var err error
	if k.alpha, err = n.AttrFloat("alpha", 1); err != nil {
		return nil, err
	}
	if k.beta, err = n.AttrFloat("beta", 1); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		dst  *bool
	}{{"transA", &k.transA}, {"transB", &k.transB}} {
		v, err := n.AttrInt(f.name, 0)
		if err != nil {
			return nil, err
		}
		*f.dst = v != 0
	}
	if opset < 7 {
		b, err := n.AttrInt("broadcast", 0)
		if err != nil {
			return nil, err
		}
		k.exactC = b == 0
	}
	return k, nil
}

func (k gemm) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	a, b := in[0], in[1]
	var c *tensor.Tensor
	if len(in) > 2 {
		c = in[2]
	}
	if len(a.Shape) != 2 || len(b.Shape) != 2 {
		return fault.Errorf(fault.Invalid, "Gemm: A %v and B %v must be matrices", []int(a.Shape), []int(b.Shape))
	}
	if b.DType != a.DType || (c != nil && c.DType != a.DType) {
		return fault.Errorf(fault.Invalid, "Gemm: A, B and C must share a dtype")
	}
	m, ka := a.Shape[0], a.Shape[1]
	if k.transA {
		m, ka = ka, m
	}
	kb, n := b.Shape[0], b.Shape[1]
	if k.transB {
		kb, n = n, kb
	}
	if ka != kb {
		return fault.Errorf(fault.Invalid, "Gemm: A' is %d×%d but B' is %d×%d", m, ka, kb, n)
	}
	var cm, cn int // C's extent along M and N: 1 or the full size
	if c != nil {
		var err error
		if cm, cn, err = k.cShape(c.Shape, m, n); err != nil {
			return err
		}
	}
	y, err := Output(ctx, out[0], a.DType, []int{m, n})
	if err != nil {
		return err
	}
	out[0] = y
	p := gemmProblem{m: m, n: n, k: ka, lda: a.Shape[1], ldb: b.Shape[1], cm: cm, cn: cn, hasC: c != nil}
	switch a.DType {
	case tensor.Float32:
		gemmFloat(ComputeFrom(ctx), stopOf(ctx), &k, &p, tensor.Values[float32](a), tensor.Values[float32](b), values[float32](c), tensor.Values[float32](y))
	case tensor.Float64:
		gemmFloat(nil, kernels.Stop{}, &k, &p, tensor.Values[float64](a), tensor.Values[float64](b), values[float64](c), tensor.Values[float64](y))
	case tensor.Float16, tensor.BFloat16:
		sc := ScratchFrom(ctx)
		af, bf, yf := nnFloats[float32](sc, a), nnFloats[float32](sc, b), ScratchSlice[float32](sc, y.Len())
		var cf []float32
		if c != nil {
			cf = nnFloats[float32](sc, c)
		}
		gemmFloat(ComputeFrom(ctx), stopOf(ctx), &k, &p, af, bf, cf, yf)
		nnStore(y, yf)
	case tensor.Int32:
		gemmInt(&k, &p, tensor.Values[int32](a), tensor.Values[int32](b), values[int32](c), tensor.Values[int32](y))
	case tensor.Int64:
		gemmInt(&k, &p, tensor.Values[int64](a), tensor.Values[int64](b), values[int64](c), tensor.Values[int64](y))
	case tensor.Uint32:
		gemmInt(&k, &p, tensor.Values[uint32](a), tensor.Values[uint32](b), values[uint32](c), tensor.Values[uint32](y))
	case tensor.Uint64:
		gemmInt(&k, &p, tensor.Values[uint64](a), tensor.Values[uint64](b), values[uint64](c), tensor.Values[uint64](y))
	default:
		return fault.Errorf(fault.Unsupported, "Gemm of %s", a.DType.ONNXName())
	}
	return ctx.Err() // a stopped GEMM left y unfinished
}

// cShape checks that C broadcasts to m×n and returns its extents.
func (k gemm) cShape(s tensor.Shape, m, n int) (cm, cn int, err error) {
	if len(s) > 2 {
		return 0, 0, fault.Errorf(fault.Invalid, "Gemm: C %v has rank above 2", []int(s))
	}
	cm, cn = 1, 1
	if len(s) == 2 {
		cm, cn = s[0], s[1]
	} else if len(s) == 1 {
		cn = s[0]
	}
	if k.exactC && (len(s) != 2 || cm != m || cn != n) {
		return 0, 0, fault.Errorf(fault.Invalid, "Gemm: C %v must be %d×%d when broadcast is not set", []int(s), m, n)
	}
	if (cm != m && cm != 1) || (cn != n && cn != 1) {
		return 0, 0, fault.Errorf(fault.Invalid, "Gemm: C %v does not broadcast to %d×%d", []int(s), m, n)
	}
	return cm, cn, nil
}

type gemmProblem struct {
	m, n, k, lda, ldb int
	cm, cn            int
	hasC              bool
}

// cAt is C's element for output (i, j) under broadcasting.
func (p *gemmProblem) cIndex(i, j int) int {
	if p.cm == 1 {
		i = 0
	}
	if p.cn == 1 {
		j = 0
	}
	return i*p.cn + j
}

// gemmFloat is the float GEMM of the Gemm operator; float32 products split
// over cmp's pool when cores are free and the product is large enough.
func gemmFloat[T kernels.Float](cmp *kernels.Compute, stop kernels.Stop, k *gemm, p *gemmProblem, a, b, c, y []T) {
	beta := T(0)
	if p.hasC && k.beta != 0 {
		// Seed Y with beta·C so the GEMM accumulates onto it; a zero beta
		// leaves C out altogether, as the reference does (so Inf·0 in C
		// cannot turn into NaN).
		bt := T(k.beta)
		for i := range p.m {
			row := y[i*p.n : (i+1)*p.n]
			for j := range row {
				row[j] = bt * c[p.cIndex(i, j)]
			}
		}
		beta = 1
	}
	if y32, ok := any(y).([]float32); ok {
		kernels.SgemmParallelStop(cmp.Pool(), cmp.Threads(), stop, k.transA, k.transB, p.m, p.n, p.k, k.alpha, any(a).([]float32), p.lda, any(b).([]float32), p.ldb, float32(beta), y32, p.n)
		return
	}
	kernels.Gemm(k.transA, k.transB, p.m, p.n, p.k, T(k.alpha), a, p.lda, b, p.ldb, beta, y, p.n)
}

type nnInt interface {
	int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64
}

// gemmInt multiplies integer matrices exactly (wrapping on overflow); a
// non-unit alpha or beta scales in float64 and truncates back, since the
// attributes are floats.
func gemmInt[T nnInt](k *gemm, p *gemmProblem, a, b, c, y []T) {
	clear(y[:p.m*p.n])
	for i := range p.m {
		row := y[i*p.n : (i+1)*p.n]
		for q := range p.k {
			var av T
			if k.transA {
				av = a[q*p.lda+i]
			} else {
				av = a[i*p.lda+q]
			}
			if av == 0 {
				continue
			}
			if k.transB {
				for j := range row {
					row[j] += av * b[j*p.ldb+q]
				}
			} else {
				for j, bv := range b[q*p.ldb : q*p.ldb+p.n] {
					row[j] += av * bv
				}
			}
		}
	}
	useC := p.hasC && k.beta != 0
	if k.alpha == 1 && (!useC || k.beta == 1) {
		if useC {
			for i := range p.m {
				for j := range p.n {
					y[i*p.n+j] += c[p.cIndex(i, j)]
				}
			}
		}
		return
	}
	alpha, beta := float64(k.alpha), float64(k.beta)
	for i := range p.m {
		for j := range p.n {
			v := alpha * float64(y[i*p.n+j])
			if useC {
				v += beta * float64(c[p.cIndex(i, j)])
			}
			y[i*p.n+j] = T(v)
		}
	}
}
