package tokenize

import (
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The rune-by-rune way for Latin words gives what NFD of the whole word
// gives: every pair of runes below latinEnd, and words with marks.
func TestLatinLowerStrip(t *testing.T) {
	slow := func(w string) string {
		var out []byte
		for _, c := range norm.NFD.String(w) {
			if !unicode.Is(unicode.Mn, c) {
				out = utf8.AppendRune(out, unicode.ToLower(c))
			}
		}
		return string(out)
	}
	var run bertRun
	check := func(w string) {
		if got, want := string(run.lowerStrip([]byte(w))), slow(w); got != want {
			t.Fatalf("%q: %q, want %q", w, got, want)
		}
	}
	for a := rune(0x20); a < latinEnd; a++ {
		for _, b := range []rune{'a', 'Z', 0xC9, 0x130, 0x1C4, 0x24F, 0x301, 0x3A3, 0x1E9E} {
			check(string([]rune{a, b}))
			check(string([]rune{b, a}))
		}
	}
	for _, w := range []string{"Crème Brûlée", "ǅemal", "İstanbul", "e\u0301", "ÅNGSTRÖM", "ŉ", "ǰ", "Ǆ"} {
		check(w)
	}
}
