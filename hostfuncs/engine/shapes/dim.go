package shapes

import (
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// Dim is one dimension of an inferred shape: a coefficient times a product
// of symbols (none for a fixed size). Dims are comparable with ==; two equal
// Dims are the same size whatever the symbols stand for.
type Dim struct {
	k int64
	// syms holds the symbols, sorted, each followed by symEnd, so that a
	// product's canonical form is a plain string; "" for a fixed size.
	syms string
}

const symEnd = "\x00"

// Fixed is a dimension of exactly n.
func Fixed(n int64) Dim { return Dim{k: n} }

// Symbol is a dimension whose size is the value of the named symbol.
func Symbol(name string) Dim { return Dim{k: 1, syms: name + symEnd} }

// Value returns the size of a fixed dimension, and false for a symbolic one.
func (d Dim) Value() (int64, bool) { return d.k, d.syms == "" }

// Coefficient is the fixed factor of the dimension.
func (d Dim) Coefficient() int64 { return d.k }

// Symbols lists the symbols whose product the dimension is a multiple of,
// a symbol appearing once per power.
func (d Dim) Symbols() []string {
	if d.syms == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(d.syms, symEnd), symEnd)
}

// String spells the dimension as "128", "batch_size" or
// "4*batch_size*sequence_length".
func (d Dim) String() string {
	syms := d.Symbols()
	if len(syms) == 0 {
		return strconv.FormatInt(d.k, 10)
	}
	s := strings.Join(syms, "*")
	if d.k != 1 {
		s = strconv.FormatInt(d.k, 10) + "*" + s
	}
	return s
}

// Eval is the dimension's size once its symbols have values, or false if
// bind does not know one of them or the size overflows.
func (d Dim) Eval(bind func(symbol string) (int64, bool)) (int64, bool) {
	n := d.k
	for _, s := range d.Symbols() {
		v, ok := bind(s)
		if !ok {
			return 0, false
		}
		if n, ok = mulChecked(n, v); !ok {
			return 0, false
		}
	}
	return n, true
}

func mulChecked(a, b int64) (int64, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > 1<<62 {
		return 0, false
	}
	return int64(lo), true
}

// mul is a·b, or false when the coefficient overflows.
func mul(a, b Dim) (Dim, bool) {
	k, ok := mulChecked(a.k, b.k)
	if !ok {
		return Dim{}, false
	}
	if a.syms == "" || b.syms == "" || k == 0 {
		if k == 0 {
			return Fixed(0), true
		}
		return Dim{k: k, syms: a.syms + b.syms}, true
	}
	syms := append(a.Symbols(), b.Symbols()...)
	slices.Sort(syms)
	return Dim{k: k, syms: strings.Join(syms, symEnd) + symEnd}, true
}

// div is a/b when it is exact: b's symbols are among a's and its
// coefficient divides a's.
func div(a, b Dim) (Dim, bool) {
	if b.k == 0 || a.k%b.k != 0 {
		return Dim{}, false
	}
	if b.syms == "" {
		return Dim{k: a.k / b.k, syms: a.syms}, true
	}
	rest := a.Symbols()
	for _, s := range b.Symbols() {
		i := slices.Index(rest, s)
		if i < 0 {
			return Dim{}, false
		}
		rest = slices.Delete(rest, i, i+1)
	}
	d := Dim{k: a.k / b.k}
	if len(rest) > 0 {
		d.syms = strings.Join(rest, symEnd) + symEnd
	}
	return d, true
}

// add is a+b when both are multiples of the same product of symbols.
func add(a, b Dim) (Dim, bool) {
	switch {
	case a.k == 0 && a.syms == "":
		return b, true
	case b.k == 0 && b.syms == "":
		return a, true
	case a.syms != b.syms:
		return Dim{}, false
	}
	return Dim{k: a.k + b.k, syms: a.syms}, true
}

// sub is a-b when both are multiples of the same product of symbols and
// the result is not negative.
func sub(a, b Dim) (Dim, bool) {
	if b.k == 0 && b.syms == "" {
		return a, true
	}
	if a.syms != b.syms || a.k < b.k {
		return Dim{}, false
	}
	if a.k == b.k {
		return Fixed(0), true
	}
	return Dim{k: a.k - b.k, syms: a.syms}, true
}

// Shape is an inferred shape, a Dim per axis.
type Shape []Dim

// String spells the shape as "[batch_size,128,256]".
func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Elements is the shape's element count as one Dim, or false when it
// overflows.
func (s Shape) Elements() (Dim, bool) {
	n := Fixed(1)
	for _, d := range s {
		var ok bool
		if n, ok = mul(n, d); !ok {
			return Dim{}, false
		}
	}
	return n, true
}
