package v2json

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// DecodeInferRequest decodes a KServe V2 $inference_request JSON body.
//
// Every error is a fault.Invalid (fault.TooLarge for a tensor over lim or
// over tensor's limits) whose message names the input and the JSON path, so
// it can be returned to the client as is. The result does not alias body.
func DecodeInferRequest(body []byte, lim Limits) (*InferRequest, error) {
	d := decoder{buf: body, lim: lim.maxElements()}
	if d.peek() == 0 && d.pos == len(body) {
		return nil, fault.Errorf(fault.Invalid, "empty body: expected a JSON inference request object")
	}
	if !utf8.Valid(body) {
		return nil, fault.Errorf(fault.Invalid, "invalid JSON: body is not valid UTF-8 (first bad byte at offset %d)", firstInvalidUTF8(body))
	}
	req, err := d.request()
	if err != nil {
		return nil, err
	}
	if d.peek() != 0 || d.pos != len(body) {
		return nil, fault.Errorf(fault.Invalid, "invalid JSON at byte %d: unexpected data after the request object", d.pos)
	}
	return req, nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// where locates an error in the request for its message, e.g.
// `input "pixels": inputs[0].data[3]: ...`.
type where struct {
	list  string // "inputs", "outputs", or "" for the request object
	idx   int
	name  string // the tensor's name once known
	field string // path below the list element (".shape") or below the request ("parameters")
}

func (w where) errorf(k fault.Kind, format string, args ...any) error {
	var b strings.Builder
	if w.name != "" {
		b.WriteString(strings.TrimSuffix(w.list, "s"))
		b.WriteByte(' ')
		b.WriteString(quoteShort(w.name))
		b.WriteString(": ")
	}
	if w.list != "" {
		fmt.Fprintf(&b, "%s[%d]", w.list, w.idx)
	}
	b.WriteString(w.field)
	return fault.Errorf(k, "%s: %w", b.String(), fmt.Errorf(format, args...))
}

// quoteShort quotes s for a message, cut short so that a hostile name cannot
// blow up logs.
func quoteShort(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

func fmtShape(s tensor.Shape) string {
	b := []byte{'['}
	for i, n := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return string(append(b, ']'))
}

// dupKey tracks which known keys of one object were seen. Duplicates are an
// error rather than last-wins: a proxy or validator in front of the gateway
// that reads the first occurrence must not see a different request than we do.
type dupKey uint8

func (s *dupKey) see(bit dupKey) bool {
	dup := *s&bit != 0
	*s |= bit
	return dup
}

func (d *decoder) request() (*InferRequest, error) {
	if d.peek() != '{' {
		return nil, fault.Errorf(fault.Invalid, "the body must be a JSON object (an inference request), got %s", d.describe())
	}
	if err := d.begin('{'); err != nil {
		return nil, err
	}
	req := &InferRequest{}
	const (
		kID dupKey = 1 << iota
		kParams
		kInputs
		kOutputs
	)
	var seen dupKey
	for first := true; ; {
		ok, err := d.more('}', &first)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		k, err := d.key()
		if err != nil {
			return nil, err
		}
		var bit dupKey
		switch string(k) {
		case "id":
			bit = kID
		case "parameters":
			bit = kParams
		case "inputs":
			bit = kInputs
		case "outputs":
			bit = kOutputs
		default:
			if err := d.skipValue(); err != nil {
				return nil, err
			}
			continue
		}
		if seen.see(bit) {
			return nil, fault.Errorf(fault.Invalid, "duplicate key %q in the request object", string(k))
		}
		switch bit {
		case kID:
			if d.null() {
				continue
			}
			if d.peek() != '"' {
				return nil, fault.Errorf(fault.Invalid, "id: must be a string, got %s", d.describe())
			}
			s, err := d.str()
			if err != nil {
				return nil, err
			}
			req.ID = string(s)
		case kParams:
			req.Parameters, err = d.params(where{field: "parameters"})
		case kInputs:
			err = d.inputs(req)
		case kOutputs:
			err = d.outputs(req)
		}
		if err != nil {
			return nil, err
		}
	}
	if seen&kInputs == 0 {
		return nil, fault.Errorf(fault.Invalid, `missing "inputs": a request needs at least one input`)
	}
	return req, nil
}

// params decodes a $parameters object; null means none.
func (d *decoder) params(w where) (Parameters, error) {
	if d.null() {
		return nil, nil
	}
	if d.peek() != '{' {
		return nil, w.errorf(fault.Invalid, "must be an object, got %s", d.describe())
	}
	if err := d.begin('{'); err != nil {
		return nil, w.errorf(fault.Invalid, "%w", err)
	}
	p := Parameters{}
	for first := true; ; {
		ok, err := d.more('}', &first)
		if err != nil {
			return nil, w.errorf(fault.Invalid, "%w", err)
		}
		if !ok {
			return p, nil
		}
		k, err := d.key()
		if err != nil {
			return nil, w.errorf(fault.Invalid, "%w", err)
		}
		key := string(k)
		if _, dup := p[key]; dup {
			return nil, w.errorf(fault.Invalid, "duplicate parameter %q", key)
		}
		switch c := d.peek(); {
		case c == '"':
			s, err := d.str()
			if err != nil {
				return nil, w.errorf(fault.Invalid, "%w", err)
			}
			p[key] = string(s)
		case c == 't':
			err = d.literal("true")
			p[key] = true
		case c == 'f':
			err = d.literal("false")
			p[key] = false
		case c == 'n':
			err = d.literal("null")
		case c == '-' || isDigit(c):
			var n num
			if n, err = d.number(); err != nil {
				break
			}
			if n.integer {
				if mag, neg, st := parseInt(n.tok); st == intOK && rangeOf(tensor.Int64).fits(mag, neg) {
					p[key] = toInt64(mag, neg)
					break
				}
			}
			f, ok := n.float64()
			if !ok {
				return nil, w.errorf(fault.Invalid, "parameter %q: %s is out of range for a 64-bit float", key, short(n.tok))
			}
			p[key] = f
		default:
			return nil, w.errorf(fault.Invalid, "parameter %q: must be a string, number or boolean, got %s", key, d.describe())
		}
		if err != nil {
			return nil, w.errorf(fault.Invalid, "%w", err)
		}
	}
}

// short cuts a token for an error message.
func short(tok []byte) string {
	if len(tok) > 40 {
		return string(tok[:40]) + "..."
	}
	return string(tok)
}

func (d *decoder) inputs(req *InferRequest) error {
	w := where{field: "inputs"}
	if d.peek() != '[' {
		return w.errorf(fault.Invalid, "must be a non-empty array of input objects, got %s", d.describe())
	}
	if err := d.begin('['); err != nil {
		return w.errorf(fault.Invalid, "%w", err)
	}
	var names map[string]int // built once there are too many inputs to compare pairwise
	for first, i := true, 0; ; i++ {
		ok, err := d.more(']', &first)
		if err != nil {
			return w.errorf(fault.Invalid, "%w", err)
		}
		if !ok {
			break
		}
		in, err := d.input(i)
		if err != nil {
			return err
		}
		prev := -1
		if names == nil && i < 16 {
			for j := range req.Inputs {
				if req.Inputs[j].Name == in.Name {
					prev = j
				}
			}
		} else {
			if names == nil {
				names = make(map[string]int, 2*len(req.Inputs))
				for j, x := range req.Inputs {
					names[x.Name] = j
				}
			}
			if j, dup := names[in.Name]; dup {
				prev = j
			}
			names[in.Name] = i
		}
		if prev >= 0 {
			return where{list: "inputs", idx: i, name: in.Name}.errorf(fault.Invalid, "duplicate input name (also inputs[%d])", prev)
		}
		req.Inputs = append(req.Inputs, in)
	}
	if len(req.Inputs) == 0 {
		return w.errorf(fault.Invalid, "must not be empty: a request needs at least one input")
	}
	return nil
}

// input decodes one $request_input. Members may come in any order; the data
// is parsed in place when name, datatype and shape came before it (the usual
// order), otherwise skipped and parsed from its recorded span at the end.
// BYTES data is always deferred, since "parameters" may say it is base64 and
// knowing its span lets the strings share one exactly sized buffer.
func (d *decoder) input(i int) (Input, error) {
	w := where{list: "inputs", idx: i}
	var in Input
	if d.peek() != '{' {
		return in, w.errorf(fault.Invalid, "must be an object, got %s", d.describe())
	}
	if err := d.begin('{'); err != nil {
		return in, w.errorf(fault.Invalid, "%w", err)
	}
	const (
		kName dupKey = 1 << iota
		kType
		kShape
		kParams
		kData
	)
	var (
		seen      dupKey
		dt        tensor.DType
		shape     tensor.Shape
		count     int
		t         *tensor.Tensor
		dataStart = -1
		dataEnd   int
		dataDepth int
	)
	for first := true; ; {
		ok, err := d.more('}', &first)
		if err != nil {
			return in, w.errorf(fault.Invalid, "%w", err)
		}
		if !ok {
			break
		}
		k, err := d.key()
		if err != nil {
			return in, w.errorf(fault.Invalid, "%w", err)
		}
		var bit dupKey
		switch string(k) {
		case "name":
			bit = kName
		case "datatype":
			bit = kType
		case "shape":
			bit = kShape
		case "parameters":
			bit = kParams
		case "data":
			bit = kData
		default:
			if err := d.skipValue(); err != nil {
				return in, w.errorf(fault.Invalid, "%w", err)
			}
			continue
		}
		if seen.see(bit) {
			return in, w.errorf(fault.Invalid, "duplicate key %q", string(k))
		}
		switch bit {
		case kName:
			w.field = ".name"
			if d.peek() != '"' {
				return in, w.errorf(fault.Invalid, "must be a string, got %s", d.describe())
			}
			s, err := d.str()
			if err != nil {
				return in, w.errorf(fault.Invalid, "%w", err)
			}
			if len(s) == 0 {
				return in, w.errorf(fault.Invalid, "must not be empty")
			}
			in.Name = string(s)
			w.name = in.Name
		case kType:
			w.field = ".datatype"
			if d.peek() != '"' {
				return in, w.errorf(fault.Invalid, "must be a string, got %s", d.describe())
			}
			s, err := d.str()
			if err != nil {
				return in, w.errorf(fault.Invalid, "%w", err)
			}
			var ok bool
			if dt, ok = tensor.ParseV2(string(s)); !ok {
				return in, w.errorf(fault.Invalid, "unknown datatype %s (want one of %s)", quoteShort(string(s)), v2Names)
			}
		case kShape:
			w.field = ".shape"
			if shape, count, err = d.shape(w); err != nil {
				return in, err
			}
		case kParams:
			w.field = ".parameters"
			if in.Parameters, err = d.params(w); err != nil {
				return in, err
			}
		case kData:
			w.field = ".data"
			if seen&(kName|kType|kShape) == kName|kType|kShape && dt != tensor.Bytes {
				if t, err = d.data(w, dt, shape, count, base64Param(in.Parameters), len(d.buf)); err != nil {
					return in, err
				}
				break
			}
			dataStart, dataDepth = d.pos, d.depth
			if err := d.skipValue(); err != nil {
				return in, w.errorf(fault.Invalid, "%w", err)
			}
			dataEnd = d.pos
		}
		w.field = ""
	}
	for _, m := range [...]struct {
		bit  dupKey
		name string
	}{{kName, "name"}, {kType, "datatype"}, {kShape, "shape"}, {kData, "data"}} {
		if seen&m.bit == 0 {
			return in, w.errorf(fault.Invalid, "missing %q", m.name)
		}
	}
	if t == nil {
		pos, depth := d.pos, d.depth
		d.pos, d.depth = dataStart, dataDepth
		w.field = ".data"
		var err error
		if t, err = d.data(w, dt, shape, count, base64Param(in.Parameters), dataEnd); err != nil {
			return in, err
		}
		d.pos, d.depth = pos, depth
	}
	in.Tensor = t
	return in, nil
}

// v2Names lists the datatypes for the unknown-datatype message.
var v2Names = func() string {
	var names []string
	for dt := range 256 {
		if d := tensor.DType(dt); d.Valid() {
			names = append(names, d.String())
		}
	}
	return strings.Join(names, ", ")
}()

// base64Param reports whether an input's parameters mark its BYTES data as
// base64 (the MLServer convention).
func base64Param(p Parameters) bool {
	s, _ := p["content_type"].(string)
	return s == "base64"
}

// shape decodes a shape and checks its element count against the limits.
func (d *decoder) shape(w where) (tensor.Shape, int, error) {
	if d.peek() != '[' {
		return nil, 0, w.errorf(fault.Invalid, "must be an array of non-negative integers, got %s", d.describe())
	}
	if err := d.begin('['); err != nil {
		return nil, 0, w.errorf(fault.Invalid, "%w", err)
	}
	var dims [tensor.MaxRank]int
	rank := 0
	for first := true; ; {
		ok, err := d.more(']', &first)
		if err != nil {
			return nil, 0, w.errorf(fault.Invalid, "%w", err)
		}
		if !ok {
			break
		}
		if rank == tensor.MaxRank {
			return nil, 0, w.errorf(fault.TooLarge, "more than %d dimensions", tensor.MaxRank)
		}
		if c := d.peek(); c != '-' && !isDigit(c) {
			return nil, 0, w.errorf(fault.Invalid, "[%d]: must be a non-negative integer, got %s", rank, d.describe())
		}
		n, err := d.number()
		if err != nil {
			return nil, 0, w.errorf(fault.Invalid, "%w", err)
		}
		tok := n.tok
		mag, neg, st := parseInt(tok)
		switch {
		case st == intFraction:
			return nil, 0, w.errorf(fault.Invalid, "[%d]: %s is not an integer", rank, short(tok))
		case neg && (mag != 0 || st == intOverflow):
			return nil, 0, w.errorf(fault.Invalid, "[%d]: %s is negative; dimensions must be non-negative (variable dimensions, -1, are for metadata, not requests)", rank, short(tok))
		case st == intOverflow:
			return nil, 0, w.errorf(fault.Invalid, "[%d]: %s does not fit in an unsigned 64-bit integer", rank, short(tok))
		case mag > math.MaxInt:
			return nil, 0, w.errorf(fault.TooLarge, "[%d]: %s is larger than this server supports", rank, short(tok))
		}
		dims[rank] = int(mag)
		rank++
	}
	s := make(tensor.Shape, rank)
	copy(s, dims[:rank])
	n, err := s.NumElements()
	if err != nil {
		return nil, 0, w.errorf(fault.TooLarge, "%w", err)
	}
	if n > d.lim {
		return nil, 0, w.errorf(fault.TooLarge, "shape %s has %d elements, over the limit of %d per input", fmtShape(s), n, d.lim)
	}
	return s, n, nil
}

func (d *decoder) outputs(req *InferRequest) error {
	w := where{field: "outputs"}
	if d.null() {
		return nil
	}
	if d.peek() != '[' {
		return w.errorf(fault.Invalid, "must be an array of output objects, got %s", d.describe())
	}
	if err := d.begin('['); err != nil {
		return w.errorf(fault.Invalid, "%w", err)
	}
	var out []RequestedOutput
	names := map[string]int{}
	for first, i := true, 0; ; i++ {
		ok, err := d.more(']', &first)
		if err != nil {
			return w.errorf(fault.Invalid, "%w", err)
		}
		if !ok {
			break
		}
		o, err := d.output(i)
		if err != nil {
			return err
		}
		if j, dup := names[o.Name]; dup {
			return where{list: "outputs", idx: i, name: o.Name}.errorf(fault.Invalid, "duplicate output name (also outputs[%d])", j)
		}
		names[o.Name] = i
		out = append(out, o)
	}
	req.Outputs = out // nil when empty: no outputs named means all of them
	return nil
}

func (d *decoder) output(i int) (RequestedOutput, error) {
	w := where{list: "outputs", idx: i}
	var o RequestedOutput
	if d.peek() != '{' {
		return o, w.errorf(fault.Invalid, "must be an object, got %s", d.describe())
	}
	if err := d.begin('{'); err != nil {
		return o, w.errorf(fault.Invalid, "%w", err)
	}
	const (
		kName dupKey = 1 << iota
		kParams
	)
	var seen dupKey
	for first := true; ; {
		ok, err := d.more('}', &first)
		if err != nil {
			return o, w.errorf(fault.Invalid, "%w", err)
		}
		if !ok {
			break
		}
		k, err := d.key()
		if err != nil {
			return o, w.errorf(fault.Invalid, "%w", err)
		}
		switch string(k) {
		case "name":
			if seen.see(kName) {
				return o, w.errorf(fault.Invalid, `duplicate key "name"`)
			}
			w.field = ".name"
			if d.peek() != '"' {
				return o, w.errorf(fault.Invalid, "must be a string, got %s", d.describe())
			}
			s, err := d.str()
			if err != nil {
				return o, w.errorf(fault.Invalid, "%w", err)
			}
			if len(s) == 0 {
				return o, w.errorf(fault.Invalid, "must not be empty")
			}
			o.Name = string(s)
			w.name = o.Name
		case "parameters":
			if seen.see(kParams) {
				return o, w.errorf(fault.Invalid, `duplicate key "parameters"`)
			}
			w.field = ".parameters"
			if o.Parameters, err = d.params(w); err != nil {
				return o, err
			}
		default:
			if err := d.skipValue(); err != nil {
				return o, w.errorf(fault.Invalid, "%w", err)
			}
		}
		w.field = ""
	}
	if seen&kName == 0 {
		return o, w.errorf(fault.Invalid, `missing "name"`)
	}
	return o, nil
}
