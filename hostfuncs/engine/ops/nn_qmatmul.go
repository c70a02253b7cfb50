package ops

import (
	"context"
	"fmt"
	"math"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

func matMulIntegerSchemas() []Schema {
	i8 := []tensor.DType{tensor.Int8, tensor.Uint8}
	return []Schema{{
		Since: 10, Inputs: params("A:T1", "B:T2", "a_zero_point:T1?", "b_zero_point:T2?"), Outputs: params("Y:T3"),
		Types: map[string][]tensor.DType{"T1": i8, "T2": i8, "T3": {tensor.Int32}},
		Build: func(*graph.Node, int64) (Kernel, error) { return KernelFunc(matMulInteger), nil },
	}}
}

func qlinearMatMulSchemas() []Schema {
	i8 := []tensor.DType{tensor.Int8, tensor.Uint8}
	v := func(since int64, ts []tensor.DType) Schema {
		return Schema{
			Since: since,
			Inputs: params("a:T1", "a_scale:TS", "a_zero_point:T1", "b:T2", "b_scale:TS", "b_zero_point:T2",
				"y_scale:TS", "y_zero_point:T3"),
			Outputs: params("y:T3"),
			Types:   map[string][]tensor.DType{"T1": i8, "T2": i8, "T3": i8, "TS": ts},
			Build:   func(*graph.Node, int64) (Kernel, error) { return KernelFunc(qlinearMatMul), nil },
		}
	}
	return []Schema{v(10, []tensor.DType{tensor.Float32}), v(21, []tensor.DType{tensor.Float32, tensor.Float16, tensor.BFloat16})}
}

// qmmParam is a quantization parameter (zero point or scale) of a
// MatMulInteger or QLinearMatMul operand, per tensor, per row of A / column
// of B, or per row / column of each matrix of the batch.
type qmmParam struct {
	vals    []float64
	perLine bool // one value per row of A (column of B)
	batched bool // one set of lines per matrix of the operand's batch
}

// at is the value for line j of the operand's matrix number mat.
func (p *qmmParam) at(mat, lines, j int) float64 {
	switch {
	case p.vals == nil:
		return 0
	case p.batched:
		return p.vals[mat*lines+j]
	case p.perLine:
		return p.vals[j]
	}
	return p.vals[0]
}

// readQmmParam validates a parameter of an operand with the given shape;
// row says whether it runs along rows (A) or columns (B).
func readQmmParam(sc *Scratch, op, what string, t *tensor.Tensor, operand tensor.Shape, row bool) (qmmParam, error) {
	var p qmmParam
	if t == nil {
		return p, nil
	}
	p.vals = ScratchSlice[float64](sc, t.Len())
	nnConvert(p.vals, t)
	if t.Len() == 1 {
		return p, nil
	}
	r := len(operand)
	lines, lineAxis, other := 0, 0, 0
	switch {
	case r == 1 && row:
		lines = 1 // a vector A is one row
	case r == 1:
		lines = operand[0]
	case row:
		lines, lineAxis, other = operand[r-2], r-2, r-1
	default:
		lines, lineAxis, other = operand[r-1], r-1, r-2
	}
	s := t.Shape
	if len(s) == 1 && s[0] == lines {
		p.perLine = true
		return p, nil
	}
	if r >= 2 && len(s) == r && s[other] == 1 && s[lineAxis] == lines && tensor.Shape(s[:r-2]).Equal(operand[:r-2]) {
		p.perLine, p.batched = true, true
		return p, nil
	}
	line := "column"
	if row {
		line = "row"
	}
	return p, fault.Errorf(fault.Invalid, "%s: %s %v fits neither per-tensor nor per-%s quantization of %v",
		op, what, []int(s), line, []int(operand))
}

// qmmRun computes the integer products Σ (a - za)(b - zb) of every matrix
// of the broadcast batch into acc (int32, wrapping as the spec allows) and
// calls done for each batch entry with its A and B matrix numbers.
func qmmRun(ctx context.Context, op string, s *mmShape, sc *Scratch, a, b *tensor.Tensor, za, zb *qmmParam, acc []int32, done func(ai, bi, ci int)) error {
	m, n, k := s.m, s.n, s.k
	ad := ScratchSlice[int32](sc, m*k)
	bd := ScratchSlice[int32](sc, k*n)
	inner := s.bc.Inner()
	sa, sb := s.bc.Steps()
	for r := s.bc.Runs(); r.Next(); {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		for i := range inner {
			ai, bi, ci := r.A+i*sa, r.B+i*sb, r.Out+i
			qmmLoad(ad, a, ai*m*k, m, k, za, ai, true)
			qmmLoad(bd, b, bi*k*n, k, n, zb, bi, false)
			c := acc[ci*m*n : (ci+1)*m*n]
			clear(c)
			for row := range m {
				cr := c[row*n : (row+1)*n]
				for q, av := range ad[row*k : (row+1)*k] {
					if av == 0 {
						continue
					}
					for j, bv := range bd[q*n : (q+1)*n] {
						cr[j] += av * bv
					}
				}
			}
			if done != nil {
				done(ai, bi, ci)
			}
		}
	}
	return nil
}

// qmmLoad copies one rows×cols matrix of an 8-bit tensor from off into dst
// as int32 with its zero point subtracted, per row (A) or column (B).
func qmmLoad(dst []int32, t *tensor.Tensor, off, rows, cols int, z *qmmParam, mat int, perRow bool) {
	lines := cols
	if perRow {
		lines = rows
	}
	for r := range rows {
		d := dst[r*cols : (r+1)*cols]
		o := off + r*cols
		switch t.DType {
		case tensor.Uint8:
			for j, v := range t.Data[o : o+cols] {
				d[j] = int32(v)
			}
		case tensor.Int8:
			for j, v := range t.Data[o : o+cols] {
				d[j] = int32(int8(v))
			}
		}
		if z.vals == nil {
			continue
		}
		if perRow {
			zv := int32(z.at(mat, lines, r))
			for j := range d {
				d[j] -= zv
			}
		} else {
			for j := range d {
				d[j] -= int32(z.at(mat, lines, j))
			}
		}
	}
}

func matMulInteger(ctx context.Context, in, out []*tensor.Tensor) error {
	const op = "MatMulInteger"
	a, b := in[0], in[1]
	opt := func(i int) *tensor.Tensor {
		if len(in) > i {
			return in[i]
		}
		return nil
	}
	var batchBuf, outBuf [tensor.MaxRank]int
	s, err := matmulShape(a.Shape, b.Shape, batchBuf[:0], outBuf[:0])
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	sc := ScratchFrom(ctx)
	za, err := readQmmParam(sc, op, "a_zero_point", opt(2), a.Shape, true)
	if err != nil {
		return err
	}
	zb, err := readQmmParam(sc, op, "b_zero_point", opt(3), b.Shape, false)
	if err != nil {
		return err
	}
	y, err := Output(ctx, out[0], tensor.Int32, s.out)
	if err != nil {
		return err
	}
	out[0] = y
	return qmmRun(ctx, op, &s, sc, a, b, &za, &zb, tensor.Values[int32](y), nil)
}

func qlinearMatMul(ctx context.Context, in, out []*tensor.Tensor) error {
	const op = "QLinearMatMul"
	a, b := in[0], in[3]
	if in[2].DType != a.DType || in[5].DType != b.DType {
		return fault.Errorf(fault.Invalid, "%s: a zero point must have its operand's dtype", op)
	}
	var batchBuf, outBuf [tensor.MaxRank]int
	s, err := matmulShape(a.Shape, b.Shape, batchBuf[:0], outBuf[:0])
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	sc := ScratchFrom(ctx)
	var ps [4]qmmParam
	for i, p := range []struct {
		idx     int
		operand tensor.Shape
		row     bool
	}{{1, a.Shape, true}, {2, a.Shape, true}, {4, b.Shape, false}, {5, b.Shape, false}} {
		if ps[i], err = readQmmParam(sc, op, "scale or zero point", in[p.idx], p.operand, p.row); err != nil {
			return err
		}
	}
	sa, za, sb, zb := &ps[0], &ps[1], &ps[2], &ps[3]
	if in[1].Len() != in[2].Len() || in[4].Len() != in[5].Len() {
		return fault.Errorf(fault.Invalid, "%s: each scale must have its zero point's shape", op)
	}
	sy, err := nnScalarFloat(in[6], op+": y_scale")
	if err != nil {
		return err
	}
	zy, err := nnScalarFloat(in[7], op+": y_zero_point")
	if err != nil {
		return err
	}
	dt := in[7].DType
	lo, hi, _ := quantRange(dt)
	y, err := Output(ctx, out[0], dt, s.out)
	if err != nil {
		return err
	}
	out[0] = y
	round := qScaleRounder(in[1].DType)
	m, n := s.m, s.n
	acc := ScratchSlice[int32](sc, y.Len())
	q := ScratchSlice[float64](sc, y.Len())
	// Requantize as the reference does: the combined scale a·b/y is formed
	// in the scales' precision, the product with the integer sum in double.
	err = qmmRun(ctx, op, &s, sc, a, b, za, zb, acc, func(ai, bi, ci int) {
		for i := range m {
			as := sa.at(ai, m, i)
			for j := range n {
				mult := round(round(as*sb.at(bi, n, j)) / sy)
				v := math.RoundToEven(float64(acc[ci*m*n+i*n+j])*mult + zy)
				q[ci*m*n+i*n+j] = min(hi, max(lo, v))
			}
		}
	})
	if err != nil {
		return err
	}
	quantStore(y, q)
	return nil
}

// qScaleRounder rounds a value to the precision of a scale dtype.
func qScaleRounder(dt tensor.DType) func(float64) float64 {
	switch dt {
	case tensor.Float16:
		return func(v float64) float64 { return float64(tensor.F16From(float32(v)).Float32()) }
	case tensor.BFloat16:
		return func(v float64) float64 { return float64(tensor.BF16From(float32(v)).Float32()) }
	}
	return func(v float64) float64 { return float64(float32(v)) }
}
