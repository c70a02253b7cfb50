package v2json

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

// filler carries one tensor's data decoding.
type filler struct {
	t     *tensor.Tensor
	w     where // at .data
	want  int   // elements the shape needs
	n     int   // elements seen so far
	b64   bool
	rng   intRange
	arena []byte // BYTES elements, sliced into t.Strings
}

// data decodes the "data" array at the cursor into a new tensor. end bounds
// the bytes the data can occupy (its span when known, else the body's end).
//
// Any nesting is accepted, not only the flat form and the one matching the
// shape: the elements are taken in document order, which is row-major for
// both forms the spec allows, and only their total count must match.
func (d *decoder) data(w where, dt tensor.DType, shape tensor.Shape, n int, b64 bool, end int) (*tensor.Tensor, error) {
	if d.peek() != '[' {
		return nil, w.errorf(fault.Invalid, "must be an array of %v elements, got %s", dt, d.describe())
	}
	// Every element takes at least one byte of body and a separator (a
	// string at least two more), so a count the body cannot hold is refused
	// before allocating n elements on a sender's word.
	per := int64(2)
	if dt == tensor.Bytes {
		per = 3
	}
	if avail := int64(end - d.pos); per*int64(n) > avail {
		return nil, w.errorf(fault.Invalid, "shape %s needs %d elements but the data takes only %d bytes of the body, too few to hold them", fmtShape(shape), n, avail)
	}
	t := &tensor.Tensor{DType: dt, Shape: shape}
	f := filler{t: t, w: w, want: n, b64: b64}
	if dt == tensor.Bytes {
		t.Strings = make([][]byte, n)
		// The decoded strings never take more bytes than the span they come
		// from (escapes and base64 only shrink), so one buffer holds them all.
		f.arena = make([]byte, 0, end-d.pos)
	} else {
		t.Data = make([]byte, n*dt.Size())
		f.rng = rangeOf(dt)
	}
	if err := d.fill(&f, 0); err != nil {
		return nil, err
	}
	if f.n != n {
		return nil, w.errorf(fault.Invalid, "shape %s needs %d elements, data has %d", fmtShape(shape), n, f.n)
	}
	return t, nil
}

// fill reads the array at the cursor (nesting level `level` of the data).
func (d *decoder) fill(f *filler, level int) error {
	if err := d.begin('['); err != nil {
		return d.elemErr(f, level-1, false, "%w", err)
	}
	for first, i := true, 0; ; i++ {
		ok, err := d.more(']', &first)
		if err != nil {
			return d.elemErr(f, level-1, false, "%w", err)
		}
		if !ok {
			return nil
		}
		d.path[level] = i
		if d.peek() == '[' {
			if err := d.fill(f, level+1); err != nil {
				return err
			}
			continue
		}
		if err := d.elem(f, level); err != nil {
			return err
		}
	}
}

// elemErr reports an error at the element at d.path[:level+1]; withIndex adds
// the flat element index, which differs from the path for nested data.
func (d *decoder) elemErr(f *filler, level int, withIndex bool, format string, args ...any) error {
	w := f.w
	b := []byte(w.field)
	for _, i := range d.path[:level+1] {
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ']')
	}
	if withIndex && level > 0 {
		b = append(b, " (element "...)
		b = strconv.AppendInt(b, int64(f.n-1), 10)
		b = append(b, ')')
	}
	w.field = string(b)
	return w.errorf(fault.Invalid, format, args...)
}

// elem decodes one scalar element at the cursor.
func (d *decoder) elem(f *filler, level int) error {
	k := f.n
	f.n++
	pace(f.n)
	store := k < f.want
	t := f.t
	c := d.peek() // 0 at the end of the body, which every case rejects
	switch dt := t.DType; dt {
	case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
		var v float64
		if c == '"' {
			var err error
			if v, err = d.special(f, level); err != nil {
				return err
			}
		} else {
			if c != '-' && !isDigit(c) {
				return d.elemErr(f, level, true, "expected a number for %v, got %s", dt, d.describe())
			}
			n, err := d.number()
			if err != nil {
				return d.elemErr(f, level, true, "%w", err)
			}
			if dt == tensor.Float32 {
				// Rounded to float32 directly: via float64 it would round twice.
				v32, ok := n.float32()
				if !ok {
					return d.elemErr(f, level, true, "%s is out of range for %v", short(n.tok), dt)
				}
				if store {
					binary.LittleEndian.PutUint32(t.Data[4*k:], math.Float32bits(v32))
				}
				return nil
			}
			var ok bool
			if v, ok = n.float64(); !ok || (dt != tensor.Float64 && math.IsInf(narrow(dt, v), 0)) {
				return d.elemErr(f, level, true, "%s is out of range for %v", short(n.tok), dt)
			}
		}
		if !store {
			return nil
		}
		switch dt {
		case tensor.Float32:
			binary.LittleEndian.PutUint32(t.Data[4*k:], math.Float32bits(float32(v)))
		case tensor.Float64:
			binary.LittleEndian.PutUint64(t.Data[8*k:], math.Float64bits(v))
		case tensor.Float16:
			binary.LittleEndian.PutUint16(t.Data[2*k:], uint16(tensor.F16From(roundOdd(v))))
		case tensor.BFloat16:
			binary.LittleEndian.PutUint16(t.Data[2*k:], uint16(tensor.BF16From(roundOdd(v))))
		}
	case tensor.Bool:
		var b byte
		switch c {
		case 't':
			b = 1
			if err := d.literal("true"); err != nil {
				return d.elemErr(f, level, true, "%w", err)
			}
		case 'f':
			if err := d.literal("false"); err != nil {
				return d.elemErr(f, level, true, "%w", err)
			}
		default:
			return d.elemErr(f, level, true, "expected true or false for BOOL, got %s", d.describe())
		}
		if store {
			t.Data[k] = b
		}
	case tensor.Bytes:
		if c != '"' {
			return d.elemErr(f, level, true, "expected a string for BYTES, got %s", d.describe())
		}
		if !store {
			if err := d.skipString(); err != nil {
				return d.elemErr(f, level, true, "%w", err)
			}
			return nil
		}
		return d.bytesElem(f, level, k)
	default: // integers
		if c != '-' && !isDigit(c) {
			return d.elemErr(f, level, true, "expected an integer for %v, got %s", dt, d.describe())
		}
		n, err := d.number()
		if err != nil {
			return d.elemErr(f, level, true, "%w", err)
		}
		tok := n.tok
		mag, neg, st := n.mant, n.neg, intOK
		if !n.integer || !n.exact {
			mag, neg, st = parseInt(tok)
		}
		if st == intFraction {
			return d.elemErr(f, level, true, "%s is not an integer, as %v needs", short(tok), dt)
		}
		if st == intOverflow || !f.rng.fits(mag, neg) {
			return d.elemErr(f, level, true, "%s is out of range for %v (%v)", short(tok), dt, f.rng)
		}
		if !store {
			return nil
		}
		v := uint64(toInt64(mag, neg)) // two's complement, truncated below
		switch dt.Size() {
		case 1:
			t.Data[k] = byte(v)
		case 2:
			binary.LittleEndian.PutUint16(t.Data[2*k:], uint16(v))
		case 4:
			binary.LittleEndian.PutUint32(t.Data[4*k:], uint32(v))
		case 8:
			binary.LittleEndian.PutUint64(t.Data[8*k:], v)
		}
	}
	return nil
}

// narrow rounds v to FP16 or BF16 and back, for the range check.
func narrow(dt tensor.DType, v float64) float64 {
	if dt == tensor.Float16 {
		return float64(tensor.F16From(roundOdd(v)).Float32())
	}
	return float64(tensor.BF16From(roundOdd(v)).Float32())
}

// special decodes the strings that stand for the floats JSON numbers cannot
// express; the encoder writes them (the proto3 JSON mapping's spelling).
func (d *decoder) special(f *filler, level int) (float64, error) {
	s, err := d.str()
	if err != nil {
		return 0, d.elemErr(f, level, true, "%w", err)
	}
	switch string(s) {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	return 0, d.elemErr(f, level, true, `expected a number for %v, got the string %s (only "NaN", "Infinity" and "-Infinity" are accepted as strings)`, f.t.DType, quoteShort(string(s)))
}

// bytesElem decodes BYTES element k into the arena.
func (d *decoder) bytesElem(f *filler, level, k int) error {
	start := len(f.arena)
	if !f.b64 {
		a, err := d.appendString(f.arena)
		if err != nil {
			return d.elemErr(f, level, true, "%w", err)
		}
		f.arena = a
		f.t.Strings[k] = a[start:len(a):len(a)]
		return nil
	}
	s, err := d.str()
	if err != nil {
		return d.elemErr(f, level, true, "%w", err)
	}
	// Accept padded and unpadded standard base64 alike: drop the padding
	// (and the line breaks MIME encoders put around it) and decode raw.
	for len(s) > 0 && (s[len(s)-1] == '=' || s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	enc := base64.RawStdEncoding
	a := f.arena
	if need := enc.DecodedLen(len(s)); cap(a)-len(a) < need {
		// Cannot happen given the arena's size, but a fresh buffer keeps the
		// earlier elements intact if it ever did.
		a = make([]byte, 0, need)
		start = 0
	}
	n, err := enc.Decode(a[len(a):cap(a)], s)
	if err != nil {
		return d.elemErr(f, level, true, `invalid base64 (the input's parameters say "content_type": "base64"): %w`, err)
	}
	a = a[:len(a)+n]
	f.arena = a
	f.t.Strings[k] = a[start:len(a):len(a)]
	return nil
}
