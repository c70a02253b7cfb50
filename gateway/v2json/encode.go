package v2json

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"runtime"
	"slices"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// AppendInferResponse appends r as a KServe V2 $inference_response JSON
// object to dst. Output data is written flat. It fails (fault.Internal, since
// the response is the server's own) on an invalid output tensor or a
// parameter value of an unsupported type; dst is then returned unchanged.
func AppendInferResponse(dst []byte, r *InferResponse) ([]byte, error) {
	orig := len(dst)
	size := 64 + len(r.ModelName) + len(r.ModelVersion) + len(r.ID)
	for i, o := range r.Outputs {
		if o.Tensor == nil {
			return dst, fault.Errorf(fault.Internal, "output %d (%q): nil tensor", i, o.Name)
		}
		if err := o.Validate(); err != nil {
			return dst, fault.Errorf(fault.Internal, "output %d (%q): %w", i, o.Name, err)
		}
		size += estimate(o)
	}
	// One growth up front: the data dominates, and appending it piecemeal
	// would copy the buffer log(n) times. Not slices.Grow: it clears the
	// new room in one memclr that cannot be preempted, which for a tensor
	// of millions of elements (tens of MiB of room) held off the garbage
	// collector's stop-the-world phase, and every other request, for over
	// 10 ms; make zeroes a large buffer in preemptible pieces.
	if cap(dst)-len(dst) < size {
		grown := make([]byte, len(dst), len(dst)+size)
		copy(grown, dst)
		dst = grown
	}
	dst = append(dst, `{"model_name":`...)
	dst = appendQuoted(dst, r.ModelName)
	if r.ModelVersion != "" {
		dst = append(dst, `,"model_version":`...)
		dst = appendQuoted(dst, r.ModelVersion)
	}
	if r.ID != "" {
		dst = append(dst, `,"id":`...)
		dst = appendQuoted(dst, r.ID)
	}
	if len(r.Parameters) > 0 {
		var err error
		dst = append(dst, `,"parameters":`...)
		if dst, err = appendParams(dst, r.Parameters); err != nil {
			return dst[:orig], err
		}
	}
	dst = append(dst, `,"outputs":[`...)
	for i, o := range r.Outputs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendOutput(dst, o)
	}
	return append(dst, "]}"...), nil
}

// AppendError appends the V2 error object {"error": msg}.
func AppendError(dst []byte, msg string) []byte {
	dst = append(dst, `{"error":`...)
	dst = appendQuoted(dst, msg)
	return append(dst, '}')
}

// estimate guesses the encoded size of an output, erring high for typical
// values (a float32 in shortest form is at most 15 characters).
func estimate(o tensor.Named) int {
	n := 64 + len(o.Name) + 21*len(o.Shape)
	per := 0
	switch o.DType {
	case tensor.Bytes:
		for _, s := range o.Strings {
			n += len(s)*4/3 + 8
		}
	case tensor.Bool:
		per = 6
	case tensor.Uint8, tensor.Int8:
		per = 5
	case tensor.Uint16, tensor.Int16, tensor.Float16, tensor.BFloat16:
		per = 14
	case tensor.Float32:
		per = 16
	case tensor.Uint32, tensor.Int32:
		per = 12
	default: // 64-bit
		per = 25
	}
	return n + per*o.Len()
}

func appendOutput(dst []byte, o tensor.Named) []byte {
	t := o.Tensor
	dst = append(dst, `{"name":`...)
	dst = appendQuoted(dst, o.Name)
	dst = append(dst, `,"datatype":"`...)
	dst = append(dst, t.DType.String()...)
	dst = append(dst, `","shape":[`...)
	for i, n := range t.Shape {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendInt(dst, int64(n), 10)
	}
	dst = append(dst, ']')
	b64 := false
	if t.DType == tensor.Bytes {
		for _, s := range t.Strings {
			if !utf8.Valid(s) {
				b64 = true
				break
			}
		}
	}
	if b64 {
		// JSON strings cannot carry arbitrary bytes, and switching encoding
		// per element would leave a client guessing which is which.
		dst = append(dst, `,"parameters":{"content_type":"base64"}`...)
	}
	dst = append(dst, `,"data":[`...)
	dst = appendData(dst, t, b64)
	return append(dst, "]}"...)
}

func appendData(dst []byte, t *tensor.Tensor, b64 bool) []byte {
	switch t.DType {
	case tensor.Float32:
		for i, v := range tensor.Values[float32](t) {
			pace(i)
			dst = appendFloat(sep(dst, i), float64(v), 32)
		}
	case tensor.Float64:
		for i, v := range tensor.Values[float64](t) {
			pace(i)
			dst = appendFloat(sep(dst, i), v, 64)
		}
	case tensor.Float16:
		// Printed as the float32 of the same value; its shortest form parses
		// back to exactly that value, hence to the same FP16.
		for i, v := range tensor.Values[tensor.F16](t) {
			pace(i)
			dst = appendFloat(sep(dst, i), float64(v.Float32()), 32)
		}
	case tensor.BFloat16:
		for i, v := range tensor.Values[tensor.BF16](t) {
			pace(i)
			dst = appendFloat(sep(dst, i), float64(v.Float32()), 32)
		}
	case tensor.Bool:
		for i, v := range t.Data {
			pace(i)
			if v != 0 {
				dst = append(sep(dst, i), "true"...)
			} else {
				dst = append(sep(dst, i), "false"...)
			}
		}
	case tensor.Uint8:
		for i, v := range t.Data {
			pace(i)
			dst = strconv.AppendUint(sep(dst, i), uint64(v), 10)
		}
	case tensor.Int8:
		for i, v := range tensor.Values[int8](t) {
			pace(i)
			dst = strconv.AppendInt(sep(dst, i), int64(v), 10)
		}
	case tensor.Uint16:
		for i, v := range tensor.Values[uint16](t) {
			pace(i)
			dst = strconv.AppendUint(sep(dst, i), uint64(v), 10)
		}
	case tensor.Int16:
		for i, v := range tensor.Values[int16](t) {
			pace(i)
			dst = strconv.AppendInt(sep(dst, i), int64(v), 10)
		}
	case tensor.Uint32:
		for i, v := range tensor.Values[uint32](t) {
			pace(i)
			dst = strconv.AppendUint(sep(dst, i), uint64(v), 10)
		}
	case tensor.Int32:
		for i, v := range tensor.Values[int32](t) {
			pace(i)
			dst = strconv.AppendInt(sep(dst, i), int64(v), 10)
		}
	case tensor.Uint64:
		for i, v := range tensor.Values[uint64](t) {
			pace(i)
			dst = strconv.AppendUint(sep(dst, i), v, 10)
		}
	case tensor.Int64:
		for i, v := range tensor.Values[int64](t) {
			pace(i)
			dst = strconv.AppendInt(sep(dst, i), v, 10)
		}
	case tensor.Bytes:
		for i, s := range t.Strings {
			dst = sep(dst, i)
			if b64 {
				dst = append(dst, '"')
				dst = base64.StdEncoding.AppendEncode(dst, s)
				dst = append(dst, '"')
			} else {
				dst = appendQuoted(dst, unsafe.String(unsafe.SliceData(s), len(s)))
			}
		}
	}
	return dst
}

func sep(dst []byte, i int) []byte {
	if i > 0 {
		return append(dst, ',')
	}
	return dst
}

// appendFloat writes v in the shortest form that parses back to the same
// float of the given size. NaN and ±Inf have no JSON number form; they are
// written as the strings "NaN", "Infinity" and "-Infinity" (as in the proto3
// JSON mapping), which the decoder accepts back. null was the alternative,
// but it would lose the sign of an infinity and tell NaN from neither.
func appendFloat(dst []byte, v float64, bits int) []byte {
	switch {
	case v != v:
		return append(dst, `"NaN"`...)
	case v > math.MaxFloat64:
		return append(dst, `"Infinity"`...)
	case v < -math.MaxFloat64:
		return append(dst, `"-Infinity"`...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, bits)
}

const hexDigits = "0123456789abcdef"

// appendQuoted writes s as a JSON string. Invalid UTF-8 becomes U+FFFD so the
// output is always valid JSON text.
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendParams writes a $parameters object with its keys sorted, so equal
// parameters always encode to equal bytes.
func appendParams(dst []byte, p Parameters) ([]byte, error) {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendQuoted(dst, k)
		dst = append(dst, ':')
		var err error
		if dst, err = appendParam(dst, k, p[k]); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func appendParam(dst []byte, k string, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return appendQuoted(dst, v), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), nil
	case float32:
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return dst, fault.Errorf(fault.Internal, "parameter %q: %v has no JSON form", k, v)
		}
		return strconv.AppendFloat(dst, float64(v), 'g', -1, 32), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return dst, fault.Errorf(fault.Internal, "parameter %q: %v has no JSON form", k, v)
		}
		return strconv.AppendFloat(dst, v, 'g', -1, 64), nil
	case json.Number:
		d := decoder{buf: []byte(v)}
		if _, err := d.number(); err != nil || d.pos != len(v) {
			return dst, fault.Errorf(fault.Internal, "parameter %q: %q is not a JSON number", k, string(v))
		}
		return append(dst, v...), nil
	}
	return dst, fault.Errorf(fault.Internal, "parameter %q: unsupported value type %T (want string, bool, an integer or a float)", k, v)
}

// paceEvery is how many elements a codec loop handles between yields: a
// few hundred microseconds of work.
const paceEvery = 1 << 15

// pace yields the processor every paceEvery elements, so that encoding or
// decoding a tensor of millions of elements does not keep other requests'
// goroutines waiting for the processor for whole scheduler time slices
// (10 ms each) on a machine with few cores.
func pace(i int) {
	if i&(paceEvery-1) == paceEvery-1 {
		runtime.Gosched()
	}
}
