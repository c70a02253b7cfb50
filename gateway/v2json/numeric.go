package v2json

import (
	"math"
	"strconv"
	"unsafe"

	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

type intStatus uint8

const (
	intOK intStatus = iota
	intFraction
	intOverflow // magnitude does not fit in uint64
)

// parseInt reads a JSON number token (already validated by decoder.number)
// as an exact integer. Integral values written with a fraction or exponent
// ("3.0", "1e3") are accepted because numpy-based clients often send
// float-typed data for integer inputs; "1.5" is not.
func parseInt(tok []byte) (mag uint64, neg bool, st intStatus) {
	i := 0
	if tok[0] == '-' {
		neg, i = true, 1
	}
	intStart := i
	for i < len(tok) && isDigit(tok[i]) {
		i++
	}
	intEnd := i
	if i == len(tok) && intEnd-intStart <= 19 { // common case: plain, fits
		for _, c := range tok[intStart:intEnd] {
			mag = mag*10 + uint64(c-'0')
		}
		return mag, neg, intOK
	}
	fracStart, fracEnd := i, i
	if i < len(tok) && tok[i] == '.' {
		i++
		fracStart = i
		for i < len(tok) && isDigit(tok[i]) {
			i++
		}
		fracEnd = i
	}
	exp := 0
	if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
		i++
		eneg := false
		if tok[i] == '+' || tok[i] == '-' {
			eneg = tok[i] == '-'
			i++
		}
		for ; i < len(tok); i++ {
			if exp < 1e7 { // saturate: anything this large over- or underflows anyway
				exp = exp*10 + int(tok[i]-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	// The significant digits are the integer digits followed by the
	// fraction digits; the value is digits × 10^(exp - len(fraction)).
	nInt := intEnd - intStart
	n := nInt + fracEnd - fracStart
	digit := func(j int) byte {
		if j < nInt {
			return tok[intStart+j]
		}
		return tok[fracStart+j-nInt]
	}
	lo := 0
	for lo < n && digit(lo) == '0' {
		lo++
	}
	if lo == n {
		return 0, neg, intOK
	}
	hi := n
	for digit(hi-1) == '0' {
		hi--
	}
	e := exp - (fracEnd - fracStart) + (n - hi)
	if e < 0 {
		return 0, neg, intFraction
	}
	if hi-lo+e > 20 {
		return 0, neg, intOverflow
	}
	for j := lo; j < hi; j++ {
		c := uint64(digit(j) - '0')
		if mag > math.MaxUint64/10 || mag*10 > math.MaxUint64-c {
			return 0, neg, intOverflow
		}
		mag = mag*10 + c
	}
	for ; e > 0; e-- {
		if mag > math.MaxUint64/10 {
			return 0, neg, intOverflow
		}
		mag *= 10
	}
	return mag, neg, intOK
}

// intRange is the closed range of an integer dtype, as magnitudes.
type intRange struct {
	maxPos uint64 // largest positive value
	maxNeg uint64 // magnitude of the most negative value; 0 for unsigned
}

func rangeOf(dt tensor.DType) intRange {
	switch dt {
	case tensor.Uint8:
		return intRange{math.MaxUint8, 0}
	case tensor.Uint16:
		return intRange{math.MaxUint16, 0}
	case tensor.Uint32:
		return intRange{math.MaxUint32, 0}
	case tensor.Uint64:
		return intRange{math.MaxUint64, 0}
	case tensor.Int8:
		return intRange{math.MaxInt8, 1 << 7}
	case tensor.Int16:
		return intRange{math.MaxInt16, 1 << 15}
	case tensor.Int32:
		return intRange{math.MaxInt32, 1 << 31}
	case tensor.Int64:
		return intRange{math.MaxInt64, 1 << 63}
	}
	return intRange{}
}

func (r intRange) fits(mag uint64, neg bool) bool {
	if neg {
		return mag <= r.maxNeg
	}
	return mag <= r.maxPos
}

func (r intRange) String() string {
	lo := "0"
	if r.maxNeg != 0 {
		lo = "-" + strconv.FormatUint(r.maxNeg, 10)
	}
	return lo + " to " + strconv.FormatUint(r.maxPos, 10)
}

// toInt64 applies the sign; callers have checked the range.
func toInt64(mag uint64, neg bool) int64 {
	if neg {
		return int64(-mag) // two's complement; exact for mag == 1<<63 too
	}
	return int64(mag)
}

// tokString views a number token as a string for strconv without copying:
// the body is not modified while the string is in use and strconv keeps no
// reference to it (its errors copy their input).
func tokString(tok []byte) string { return unsafe.String(unsafe.SliceData(tok), len(tok)) }

// roundOdd narrows f to float32 rounding to odd: truncate toward zero, then
// set the last bit if anything was lost. Rounding that result to nearest even
// at a precision at least two bits shorter (FP16's 11 bits, BF16's 8) gives
// what rounding f directly would; float32(f) followed by F16From would round
// twice and could be off by one unit in halfway cases.
func roundOdd(f float64) float32 {
	r := float32(f)
	if float64(r) == f || r != r {
		return r
	}
	b := math.Float32bits(r)
	if math.Abs(float64(r)) > math.Abs(f) {
		b-- // rounded away from zero (Inf included): step back to the truncation
	}
	return math.Float32frombits(b | 1)
}
