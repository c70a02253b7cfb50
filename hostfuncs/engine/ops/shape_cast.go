package ops

import (
	"bytes"
	"context"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/wasmgate/wasmgate/hostfuncs/engine/graph"
	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// Cast and CastLike. Numbers convert by the spec's rules: floats round to
// nearest even into narrower floats (once, however wide the source),
// truncate toward zero into integers (out of range, which the spec leaves
// undefined, saturates to int64 before wrapping; NaN gives 0), and
// integers wrap into narrower integers. Strings parse as decimal or
// scientific numbers with "INF", "-INF" and "NaN" in any case, and numbers
// print in the shortest form that reads back as the same value, positional
// for magnitudes in [1e-4, 1e16) as numpy prints them. float8, 4-bit and
// 2-bit types are not held by the tensor package, so a cast to or from them
// is refused; saturate and round_mode concern only those types.

func shapeCastSchemas() []Schema {
	v := func(since int64, ts []tensor.DType, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("input:T1"), Outputs: params("output:T2"),
			Types: map[string][]tensor.DType{"T1": ts, "T2": ts}, Attrs: attrs,
			Build: func(n *graph.Node, opset int64) (Kernel, error) { return buildShapeCast(n, opset, ts) },
		}
	}
	v1 := append(shapeNumericNoBF16(), tensor.Bool)
	v9 := append(v1, tensor.Bytes)
	all := allTypes()
	return []Schema{
		v(1, v1, "to"), v(6, v1, "to"), v(9, v9, "to"), v(13, all, "to"),
		v(19, all, "to", "saturate"), v(21, all, "to", "saturate"), v(23, all, "to", "saturate"),
		v(24, all, "to", "saturate", "round_mode"), v(25, all, "to", "saturate", "round_mode"),
	}
}

func shapeCastLikeSchemas() []Schema {
	v := func(since int64, attrs ...string) Schema {
		return Schema{
			Since: since, Inputs: params("input:T1", "target_type:T2"), Outputs: params("output:T2"),
			Types: map[string][]tensor.DType{"T1": allTypes(), "T2": allTypes()}, Attrs: attrs,
			Build: buildShapeCastLike,
		}
	}
	return []Schema{
		v(15), v(19, "saturate"), v(21, "saturate"), v(23, "saturate"),
		v(24, "saturate", "round_mode"), v(25, "saturate", "round_mode"),
	}
}

type shapeCast struct{ to tensor.DType } // Invalid: CastLike's second input's

// shapeCastAttrs checks the attributes that only matter for types the
// engine does not hold.
func shapeCastAttrs(n *graph.Node) error {
	if _, err := shapeBoolAttr(n, "saturate", true); err != nil {
		return err
	}
	mode, err := n.AttrString("round_mode", "up")
	if err != nil {
		return err
	}
	if mode != "up" && mode != "down" && mode != "nearest" {
		return fault.Errorf(fault.Invalid, "round_mode must be up, down or nearest, got %q", mode)
	}
	return nil
}

func buildShapeCast(n *graph.Node, opset int64, allowed []tensor.DType) (Kernel, error) {
	if err := shapeCastAttrs(n); err != nil {
		return nil, err
	}
	a, ok := n.Attrs["to"]
	if !ok {
		return nil, fault.Errorf(fault.Invalid, "Cast: attribute to is required")
	}
	var to tensor.DType
	switch a.Type {
	case graph.AttrString: // opset 1 names the type
		name := strings.ToUpper(a.String)
		for code := int64(1); code <= 26; code++ {
			dt, ok := tensor.FromONNX(int32(code))
			if ok && dt.ONNXName() == name {
				to = dt
				break
			}
			if !ok && shapeUnheldType(code) == name {
				return nil, fault.Errorf(fault.Unsupported, "Cast: data type %s is not supported by the engine", name)
			}
		}
		if to == tensor.Invalid {
			return nil, fault.Errorf(fault.Invalid, "Cast: %q is not an ONNX data type", a.String)
		}
	default:
		code, err := n.AttrInt("to", 0)
		if err != nil {
			return nil, err
		}
		if to, err = shapeDTypeCode("Cast", code); err != nil {
			return nil, err
		}
	}
	if !shapeContains(allowed, to) {
		return nil, fault.Errorf(fault.Unsupported, "Cast: a cast to %s is not defined in opset %d", to.ONNXName(), opset)
	}
	return shapeCast{to}, nil
}

func buildShapeCastLike(n *graph.Node, _ int64) (Kernel, error) {
	if err := shapeCastAttrs(n); err != nil {
		return nil, err
	}
	return shapeCast{}, nil
}

func (k shapeCast) Run(ctx context.Context, in, out []*tensor.Tensor) error {
	x := in[0]
	to := k.to
	if to == tensor.Invalid {
		to = in[1].DType
	}
	y, err := Output(ctx, out[0], to, x.Shape)
	if err != nil {
		return err
	}
	out[0] = y
	return shapeConvert(ScratchFrom(ctx), y, x)
}

// shapeConvert writes x's values, converted, into y of the same size.
func shapeConvert(sc *Scratch, y, x *tensor.Tensor) error {
	switch {
	case x.DType == y.DType:
		if x.DType == tensor.Bytes {
			copy(y.Strings, x.Strings)
			shapeOwnStrings(y)
		} else {
			copy(y.Data, x.Data)
		}
		return nil
	case y.DType == tensor.Bytes:
		return shapeFormatAll(sc, y, x)
	case x.DType == tensor.Bytes:
		return shapeParseAll(y, x)
	}
	// Numbers convert through a lane of int64 (integer and boolean
	// sources: wrapping into integers is exact) or float64 (float sources:
	// every float widens exactly), a chunk at a time.
	const chunk = 256
	var ilane [chunk]int64
	var flane [chunk]float64
	floatSrc := x.DType.IsFloat()
	unsigned := x.DType == tensor.Uint64
	n := x.Len()
	for off := 0; off < n; off += chunk {
		m := min(chunk, n-off)
		if floatSrc {
			shapeDecodeFloats(flane[:m], x, off)
			if err := shapeEncodeFloats(y, off, flane[:m]); err != nil {
				return err
			}
		} else {
			shapeDecodeInts(ilane[:m], x, off)
			if err := shapeEncodeInts(y, off, ilane[:m], unsigned); err != nil {
				return err
			}
		}
	}
	return nil
}

func shapeDecodeInts(lane []int64, x *tensor.Tensor, off int) {
	n := len(lane)
	switch x.DType {
	case tensor.Int8:
		decodeIntsOf(lane, tensor.Values[int8](x)[off:off+n])
	case tensor.Int16:
		decodeIntsOf(lane, tensor.Values[int16](x)[off:off+n])
	case tensor.Int32:
		decodeIntsOf(lane, tensor.Values[int32](x)[off:off+n])
	case tensor.Int64:
		copy(lane, tensor.Values[int64](x)[off:off+n])
	case tensor.Uint8, tensor.Bool:
		decodeIntsOf(lane, x.Data[off:off+n])
	case tensor.Uint16:
		decodeIntsOf(lane, tensor.Values[uint16](x)[off:off+n])
	case tensor.Uint32:
		decodeIntsOf(lane, tensor.Values[uint32](x)[off:off+n])
	case tensor.Uint64:
		decodeIntsOf(lane, tensor.Values[uint64](x)[off:off+n]) // as bits
	}
}

func decodeIntsOf[S int8 | int16 | int32 | uint8 | uint16 | uint32 | uint64](lane []int64, s []S) {
	for i, v := range s {
		lane[i] = int64(v)
	}
}

func shapeDecodeFloats(lane []float64, x *tensor.Tensor, off int) {
	n := len(lane)
	switch x.DType {
	case tensor.Float32:
		for i, v := range tensor.Values[float32](x)[off : off+n] {
			lane[i] = float64(v)
		}
	case tensor.Float64:
		copy(lane, tensor.Values[float64](x)[off:off+n])
	case tensor.Float16:
		for i, v := range tensor.Values[tensor.F16](x)[off : off+n] {
			lane[i] = float64(v.Float32())
		}
	case tensor.BFloat16:
		for i, v := range tensor.Values[tensor.BF16](x)[off : off+n] {
			lane[i] = float64(v.Float32())
		}
	}
}

// shapeEncodeInts writes integer values (uint64 ones held as their bits
// when unsigned) into y from off.
func shapeEncodeInts(y *tensor.Tensor, off int, lane []int64, unsigned bool) error {
	n := len(lane)
	switch y.DType {
	case tensor.Int8:
		encodeIntsOf(tensor.Values[int8](y)[off:off+n], lane)
	case tensor.Int16:
		encodeIntsOf(tensor.Values[int16](y)[off:off+n], lane)
	case tensor.Int32:
		encodeIntsOf(tensor.Values[int32](y)[off:off+n], lane)
	case tensor.Int64:
		copy(tensor.Values[int64](y)[off:off+n], lane)
	case tensor.Uint8:
		encodeIntsOf(y.Data[off:off+n], lane)
	case tensor.Uint16:
		encodeIntsOf(tensor.Values[uint16](y)[off:off+n], lane)
	case tensor.Uint32:
		encodeIntsOf(tensor.Values[uint32](y)[off:off+n], lane)
	case tensor.Uint64:
		encodeIntsOf(tensor.Values[uint64](y)[off:off+n], lane)
	case tensor.Bool:
		for i, v := range lane {
			y.Data[off+i] = shapeB2U(v != 0)
		}
	case tensor.Float32:
		d := tensor.Values[float32](y)[off : off+n]
		for i, v := range lane {
			if unsigned {
				d[i] = float32(uint64(v))
			} else {
				d[i] = float32(v)
			}
		}
	case tensor.Float64:
		d := tensor.Values[float64](y)[off : off+n]
		for i, v := range lane {
			if unsigned {
				d[i] = float64(uint64(v))
			} else {
				d[i] = float64(v)
			}
		}
	case tensor.Float16, tensor.BFloat16:
		var f [256]float64
		for i, v := range lane {
			if unsigned {
				f[i] = float64(uint64(v))
			} else {
				f[i] = float64(v)
			}
		}
		return shapeEncodeFloats(y, off, f[:n])
	default:
		return fault.Errorf(fault.Unsupported, "Cast to %s", y.DType.ONNXName())
	}
	return nil
}

func encodeIntsOf[D int8 | int16 | int32 | uint8 | uint16 | uint32 | uint64](d []D, lane []int64) {
	for i, v := range lane {
		d[i] = D(v)
	}
}

func shapeEncodeFloats(y *tensor.Tensor, off int, lane []float64) error {
	n := len(lane)
	switch y.DType {
	case tensor.Float32:
		d := tensor.Values[float32](y)[off : off+n]
		for i, v := range lane {
			d[i] = float32(v)
		}
	case tensor.Float64:
		copy(tensor.Values[float64](y)[off:off+n], lane)
	case tensor.Float16:
		d := tensor.Values[tensor.F16](y)[off : off+n]
		for i, v := range lane {
			d[i] = shapeF64ToF16(v)
		}
	case tensor.BFloat16:
		d := tensor.Values[tensor.BF16](y)[off : off+n]
		for i, v := range lane {
			d[i] = shapeF64ToBF16(v)
		}
	case tensor.Bool:
		for i, v := range lane {
			y.Data[off+i] = shapeB2U(v != 0) // NaN is true
		}
	case tensor.Uint64:
		d := tensor.Values[uint64](y)[off : off+n]
		for i, v := range lane {
			if v >= 1<<63 {
				d[i] = shapeBigFloatToUint64(v)
			} else {
				d[i] = uint64(shapeFloatToInt64(v))
			}
		}
	default:
		var ilane [256]int64
		for i, v := range lane {
			ilane[i] = shapeFloatToInt64(v)
		}
		return shapeEncodeInts(y, off, ilane[:n], false)
	}
	return nil
}

// shapeBigFloatToUint64 converts v ≥ 2^63, saturating from 2^64 on.
func shapeBigFloatToUint64(v float64) uint64 {
	if v >= 1<<64 {
		return math.MaxUint64
	}
	return uint64(v)
}

// shapeF32Odd rounds f to float32 toward zero and sets the last bit when
// that dropped anything ("round to odd"). A second rounding of the result
// to a type at least two bits narrower is then correctly rounded, as if
// from f directly: float64 → float16 and → bfloat16 without double
// rounding errors.
func shapeF32Odd(f float64) float32 {
	r := float32(f)
	if float64(r) == f || f != f {
		return r
	}
	if math.IsInf(float64(r), 0) || math.Abs(float64(r)) > math.Abs(f) {
		r = math.Nextafter32(r, 0)
	}
	return math.Float32frombits(math.Float32bits(r) | 1)
}

func shapeF64ToF16(f float64) tensor.F16   { return tensor.F16From(shapeF32Odd(f)) }
func shapeF64ToBF16(f float64) tensor.BF16 { return tensor.BF16From(shapeF32Odd(f)) }

// shapeParseAll converts each BYTES element of x into y's type.
func shapeParseAll(y, x *tensor.Tensor) error {
	n := x.Len()
	for i := 0; i < n; i++ {
		s := bytes.TrimSpace(x.Strings[i])
		var err error
		switch y.DType {
		case tensor.Float32:
			var v float64
			if v, err = shapeParseFloat(s, 32); err == nil {
				tensor.Values[float32](y)[i] = float32(v)
			}
		case tensor.Float64, tensor.Float16, tensor.BFloat16:
			var v float64
			if v, err = shapeParseFloat(s, 64); err == nil {
				err = shapeEncodeFloats(y, i, []float64{v})
			}
		case tensor.Bool:
			var v bool
			if v, err = shapeParseBool(s); err == nil {
				y.Data[i] = shapeB2U(v)
			}
		default:
			var v int64
			if v, err = shapeParseInt(s, y.DType == tensor.Uint64); err == nil {
				err = shapeEncodeInts(y, i, []int64{v}, false)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// shapeStr views b as a string for the strconv parsers, which copy any
// input they keep (into their errors).
func shapeStr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func shapeParseError(s []byte, to string) error {
	if len(s) > 64 {
		s = append(s[:61:61], "..."...)
	}
	return fault.Errorf(fault.Invalid, "Cast: %q is not a valid %s", s, to)
}

func shapeParseFloat(s []byte, bits int) (float64, error) {
	v, err := strconv.ParseFloat(shapeStr(s), bits)
	if err == nil || errorsIsRange(err) {
		return v, nil // out of range parses as ±Inf or 0
	}
	// "-NaN" and "+NaN", which strconv does not take.
	if len(s) == 4 && (s[0] == '-' || s[0] == '+') && strings.EqualFold(shapeStr(s[1:]), "nan") {
		return math.NaN(), nil
	}
	return 0, shapeParseError(s, "number")
}

func errorsIsRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// shapeParseInt reads an integer; a decimal or scientific form truncates
// toward zero ("100.5" gives 100, as the spec allows). uint64 targets take
// values past the int64 range, held as their bits.
func shapeParseInt(s []byte, unsigned bool) (int64, error) {
	str := shapeStr(s)
	if v, err := strconv.ParseInt(str, 10, 64); err == nil {
		return v, nil
	}
	if unsigned {
		if v, err := strconv.ParseUint(strings.TrimPrefix(str, "+"), 10, 64); err == nil {
			return int64(v), nil
		}
	}
	f, err := shapeParseFloat(s, 64)
	if err != nil {
		return 0, shapeParseError(s, "integer")
	}
	if unsigned && f >= 1<<63 {
		return int64(shapeBigFloatToUint64(f)), nil
	}
	return shapeFloatToInt64(f), nil
}

func shapeParseBool(s []byte) (bool, error) {
	switch {
	case strings.EqualFold(shapeStr(s), "true"):
		return true, nil
	case strings.EqualFold(shapeStr(s), "false"):
		return false, nil
	}
	f, err := shapeParseFloat(s, 64)
	if err != nil {
		return false, shapeParseError(s, "boolean")
	}
	return f != 0, nil
}

// shapeFormatAll writes each element of x as text into y. The text of all
// elements goes into one buffer, then each element takes its piece.
func shapeFormatAll(sc *Scratch, y, x *tensor.Tensor) error {
	n := x.Len()
	ends := ScratchSlice[int64](sc, n)
	var text []byte
	for i := range n {
		switch x.DType {
		case tensor.Bool:
			if x.Data[i] != 0 {
				text = append(text, "True"...)
			} else {
				text = append(text, "False"...)
			}
		case tensor.Int8, tensor.Int16, tensor.Int32, tensor.Int64, tensor.Uint8, tensor.Uint16, tensor.Uint32:
			text = strconv.AppendInt(text, int64(x.Float64At(i)), 10)
		case tensor.Uint64:
			text = strconv.AppendUint(text, tensor.Values[uint64](x)[i], 10)
		case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
			text = shapeFormatFloat(text, x.Float64At(i), x.DType)
		default:
			return fault.Errorf(fault.Unsupported, "Cast from %s to STRING", x.DType.ONNXName())
		}
		ends[i] = int64(len(text))
	}
	start := 0
	for i, e := range ends {
		y.Strings[i] = text[start:e:e]
		start = int(e)
	}
	return nil
}

// shapeFormatFloat appends v, a value of type dt, in the shortest decimal
// form that converts back to the same dt value: positional when the
// decimal exponent is in [-4, 16), scientific otherwise (numpy's choice),
// with "NaN", "INF" and "-INF" for the special values.
func shapeFormatFloat(dst []byte, v float64, dt tensor.DType) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	case math.IsInf(v, 1):
		return append(dst, "INF"...)
	case math.IsInf(v, -1):
		return append(dst, "-INF"...)
	}
	var buf [40]byte
	var e []byte
	switch dt {
	case tensor.Float32:
		e = strconv.AppendFloat(buf[:0], v, 'e', -1, 32)
	case tensor.Float16, tensor.BFloat16:
		// strconv has no 16-bit shortest form: take the fewest digits
		// that round back to the same half value.
		for p := 0; p < 17; p++ {
			e = strconv.AppendFloat(buf[:0], v, 'e', p, 64)
			back, _ := strconv.ParseFloat(shapeStr(e), 64)
			if (dt == tensor.Float16 && shapeF64ToF16(back) == shapeF64ToF16(v)) ||
				(dt == tensor.BFloat16 && shapeF64ToBF16(back) == shapeF64ToBF16(v)) {
				break
			}
		}
	default:
		e = strconv.AppendFloat(buf[:0], v, 'e', -1, 64)
	}
	// e is [-]d[.ddd]e±XX.
	mark := bytes.IndexByte(e, 'e')
	exp, _ := strconv.Atoi(shapeStr(e[mark+1:]))
	if exp < -4 || exp >= 16 {
		return append(dst, e...)
	}
	mant := e[:mark]
	if mant[0] == '-' {
		dst = append(dst, '-')
		mant = mant[1:]
	}
	var digits [24]byte
	d := digits[:0]
	for _, c := range mant {
		if c != '.' {
			d = append(d, c)
		}
	}
	if exp < 0 {
		dst = append(dst, "0."...)
		for range -exp - 1 {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	}
	for i := 0; i <= exp; i++ {
		if i < len(d) {
			dst = append(dst, d[i])
		} else {
			dst = append(dst, '0')
		}
	}
	dst = append(dst, '.')
	if len(d) > exp+1 {
		return append(dst, d[exp+1:]...)
	}
	return append(dst, '0')
}
