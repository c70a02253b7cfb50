package v2json

import (
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

// maxDepth bounds the nesting of arrays and objects in a body, counted from
// the top-level object, so hostile nesting cannot exhaust the stack.
const maxDepth = 64

// decoder is a cursor over one request body. The body has been checked to be
// valid UTF-8 before scanning starts, so string scanning only has to find
// quotes, escapes and control characters.
type decoder struct {
	buf     []byte
	pos     int
	depth   int
	scratch []byte        // decoded keys and strings that are looked at, not kept
	lim     int           // max elements per tensor
	path    [maxDepth]int // index at each nesting level of the data being read, for error paths
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (d *decoder) skipWS() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it, or 0 at the
// end of the body (a raw 0 byte is never valid there either).
func (d *decoder) peek() byte {
	d.skipWS()
	if d.pos < len(d.buf) {
		return d.buf[d.pos]
	}
	return 0
}

// syntaxErr reports malformed JSON at the cursor; want says what would have
// been valid there.
func (d *decoder) syntaxErr(want string) error {
	if d.pos >= len(d.buf) {
		return fault.Errorf(fault.Invalid, "invalid JSON: unexpected end of body, expected %s", want)
	}
	r, _ := utf8.DecodeRune(d.buf[d.pos:])
	return fault.Errorf(fault.Invalid, "invalid JSON at byte %d: unexpected %q, expected %s", d.pos, r, want)
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > maxDepth {
		return fault.Errorf(fault.Invalid, "invalid JSON at byte %d: nested deeper than %d levels", d.pos, maxDepth)
	}
	return nil
}

// begin consumes the opening byte of an array or object.
func (d *decoder) begin(open byte) error {
	if d.peek() != open {
		return d.syntaxErr(strconv.QuoteRune(rune(open)))
	}
	d.pos++
	return d.enter()
}

// more reports whether another element or member follows in the array or
// object being read, consuming the separator or the closing byte. first must
// be true before the first call of each array or object.
func (d *decoder) more(close byte, first *bool) (bool, error) {
	c := d.peek()
	if c == close {
		d.pos++
		d.depth--
		if *first {
			*first = false
		}
		return false, nil
	}
	if *first {
		*first = false
		return true, nil
	}
	if c == ',' {
		d.pos++
		return true, nil
	}
	return false, d.syntaxErr("',' or " + strconv.QuoteRune(rune(close)))
}

// key reads an object key and its colon. The result is valid until the next
// call of str or key.
func (d *decoder) key() ([]byte, error) {
	if d.peek() != '"' {
		return nil, d.syntaxErr("a string key")
	}
	k, err := d.str()
	if err != nil {
		return nil, err
	}
	if d.peek() != ':' {
		return nil, d.syntaxErr("':'")
	}
	d.pos++
	return k, nil
}

// str reads the JSON string at the cursor. The result aliases the body when
// the string has no escapes (almost always: keys, names, base64), else
// d.scratch, and is only valid until the next call.
func (d *decoder) str() ([]byte, error) {
	start := d.pos + 1
	for i := start; i < len(d.buf); i++ {
		switch c := d.buf[i]; {
		case c == '"':
			d.pos = i + 1
			return d.buf[start:i], nil
		case c == '\\':
			s, err := d.appendEscaped(append(d.scratch[:0], d.buf[start:i]...), i)
			d.scratch = s
			return s, err
		case c < 0x20:
			d.pos = i
			return nil, d.syntaxErr("a string without raw control characters (escape them)")
		}
	}
	d.pos = len(d.buf)
	return nil, d.syntaxErr(`'"' to end the string`)
}

// appendString appends the decoded contents of the JSON string at the cursor
// to dst. Lone surrogates in \u escapes become U+FFFD, as in encoding/json.
func (d *decoder) appendString(dst []byte) ([]byte, error) {
	d.pos++ // opening quote
	start := d.pos
	for i := start; i < len(d.buf); i++ {
		switch c := d.buf[i]; {
		case c == '"':
			d.pos = i + 1
			return append(dst, d.buf[start:i]...), nil
		case c == '\\':
			return d.appendEscaped(append(dst, d.buf[start:i]...), i)
		case c < 0x20:
			d.pos = i
			return dst, d.syntaxErr("a string without raw control characters (escape them)")
		}
	}
	d.pos = len(d.buf)
	return dst, d.syntaxErr(`'"' to end the string`)
}

// appendEscaped continues appendString from the first backslash at i.
func (d *decoder) appendEscaped(dst []byte, i int) ([]byte, error) {
	b := d.buf
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return dst, nil
		case c < 0x20:
			d.pos = i
			return dst, d.syntaxErr("a string without raw control characters (escape them)")
		case c != '\\':
			// Copy the run up to the next quote, backslash or control byte.
			j := i + 1
			for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] >= 0x20 {
				j++
			}
			dst = append(dst, b[i:j]...)
			i = j
			continue
		}
		if i+1 >= len(b) {
			d.pos = len(b)
			return dst, d.syntaxErr("an escape sequence")
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(b, i+2)
			if !ok {
				d.pos = i
				return dst, d.syntaxErr(`\u followed by 4 hex digits`)
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(-1), false
				if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
					r2, ok2 = hex4(b, i+2)
				}
				if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			d.pos = i
			return dst, d.syntaxErr(`a valid escape (\" \\ \/ \b \f \n \r \t \uXXXX)`)
		}
		i += 2
	}
	d.pos = len(b)
	return dst, d.syntaxErr(`'"' to end the string`)
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// skipString validates and skips the string at the cursor.
func (d *decoder) skipString() error {
	b := d.buf
	for i := d.pos + 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			d.pos = i + 1
			return nil
		case c < 0x20:
			d.pos = i
			return d.syntaxErr("a string without raw control characters (escape them)")
		case c == '\\':
			if i+1 >= len(b) {
				d.pos = len(b)
				return d.syntaxErr("an escape sequence")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if _, ok := hex4(b, i+2); !ok {
					d.pos = i
					return d.syntaxErr(`\u followed by 4 hex digits`)
				}
				i += 5
			default:
				d.pos = i
				return d.syntaxErr(`a valid escape (\" \\ \/ \b \f \n \r \t \uXXXX)`)
			}
		}
	}
	d.pos = len(b)
	return d.syntaxErr(`'"' to end the string`)
}

// num is a scanned JSON number.
type num struct {
	tok     []byte // its text
	integer bool   // no fraction, no exponent
	// When exact is set, the value is ±mant × 10^exp: at most 19
	// significant digits and a small exponent, which covers what clients
	// send; it lets floats skip strconv's second pass over the digits.
	exact bool
	neg   bool
	mant  uint64
	exp   int
}

// number scans and validates the JSON number at the cursor.
func (d *decoder) number() (num, error) {
	b := d.buf
	start, i := d.pos, d.pos
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	var (
		mant  uint64
		nd    int // significant digits taken into mant
		exp   int
		exact = true
	)
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for ; i < len(b) && isDigit(b[i]); i++ {
			if nd < 19 {
				mant = mant*10 + uint64(b[i]-'0')
				nd++
			} else {
				exact = false
			}
		}
	default:
		d.pos = i
		return num{}, d.syntaxErr("a digit")
	}
	integer := true
	if i < len(b) && b[i] == '.' {
		integer = false
		i++
		if i >= len(b) || !isDigit(b[i]) {
			d.pos = i
			return num{}, d.syntaxErr("a digit after the decimal point")
		}
		for ; i < len(b) && isDigit(b[i]); i++ {
			switch {
			case nd == 0 && b[i] == '0':
				exp-- // a leading zero: not significant
			case nd < 19:
				mant = mant*10 + uint64(b[i]-'0')
				nd++
				exp--
			default:
				exact = false
			}
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			d.pos = i
			return num{}, d.syntaxErr("a digit in the exponent")
		}
		e := 0
		for ; i < len(b) && isDigit(b[i]); i++ {
			if e < 10000 {
				e = e*10 + int(b[i]-'0')
			}
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	d.pos = i
	return num{tok: b[start:i], integer: integer, exact: exact && exp >= -400 && exp <= 400, neg: neg, mant: mant, exp: exp}, nil
}

var pow10f32 = [...]float32{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10}

var pow10f64 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// float32 converts n correctly rounded. When mant and 10^|exp| are both
// exact float32s, one IEEE multiply or divide rounds correctly (Clinger's
// fast path); otherwise strconv does the full job.
func (n num) float32() (float32, bool) {
	if n.exact && n.mant < 1<<24 && n.exp >= -10 && n.exp <= 10 {
		f := float32(n.mant)
		if n.exp < 0 {
			f /= pow10f32[-n.exp]
		} else {
			f *= pow10f32[n.exp]
		}
		if n.neg {
			f = -f
		}
		return f, true
	}
	v, _ := strconv.ParseFloat(tokString(n.tok), 32)
	// The token is valid, so the only error left is ErrRange: ±Inf on
	// overflow (reported), a rounded value on underflow (fine).
	return float32(v), !math.IsInf(v, 0)
}

// float64 is float32's counterpart for float64.
func (n num) float64() (float64, bool) {
	if n.exact && n.mant < 1<<53 && n.exp >= -22 && n.exp <= 22 {
		f := float64(n.mant)
		if n.exp < 0 {
			f /= pow10f64[-n.exp]
		} else {
			f *= pow10f64[n.exp]
		}
		if n.neg {
			f = -f
		}
		return f, true
	}
	v, _ := strconv.ParseFloat(tokString(n.tok), 64)
	return v, !math.IsInf(v, 0)
}

// literal consumes true, false or null (named by lit) at the cursor.
func (d *decoder) literal(lit string) error {
	if len(d.buf)-d.pos < len(lit) || string(d.buf[d.pos:d.pos+len(lit)]) != lit {
		return d.syntaxErr("a JSON value")
	}
	d.pos += len(lit)
	return nil
}

// null consumes a null if one is next.
func (d *decoder) null() bool {
	if d.peek() == 'n' && d.literal("null") == nil {
		return true
	}
	return false
}

// skipValue validates and skips any JSON value.
func (d *decoder) skipValue() error {
	switch c := d.peek(); c {
	case '"':
		return d.skipString()
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	case '[':
		if err := d.begin('['); err != nil {
			return err
		}
		for first := true; ; {
			ok, err := d.more(']', &first)
			if err != nil || !ok {
				return err
			}
			if err := d.skipValue(); err != nil {
				return err
			}
		}
	case '{':
		if err := d.begin('{'); err != nil {
			return err
		}
		for first := true; ; {
			ok, err := d.more('}', &first)
			if err != nil || !ok {
				return err
			}
			if _, err := d.key(); err != nil {
				return err
			}
			if err := d.skipValue(); err != nil {
				return err
			}
		}
	default:
		if c == '-' || isDigit(c) {
			_, err := d.number()
			return err
		}
		return d.syntaxErr("a JSON value")
	}
}

// describe names the JSON value at the cursor for type errors ("a string",
// "true", "an object").
func (d *decoder) describe() string {
	c := d.peek()
	if d.pos >= len(d.buf) {
		return "the end of the body"
	}
	switch c {
	case '"':
		return "a string"
	case 't':
		return "true"
	case 'f':
		return "false"
	case 'n':
		return "null"
	case '[':
		return "an array"
	case '{':
		return "an object"
	default:
		if c == '-' || isDigit(c) {
			return "a number"
		}
		r, _ := utf8.DecodeRune(d.buf[d.pos:])
		return strconv.QuoteRune(r)
	}
}
