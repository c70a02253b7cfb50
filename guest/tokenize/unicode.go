package tokenize

import (
	"unicode"
	"unicode/utf8"
)

// Character classes of BERT's BasicTokenizer, as the Hugging Face
// tokenizers library (bert.rs) defines them.

// isBertSpace is whitespace: the Unicode White_Space property, which counts
// \t, \n and \r too.
func isBertSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
	}
	return unicode.IsSpace(r)
}

// isBertControl is a character the normaliser drops: every "other"
// character (general category Cc, Cf, Co, Cs or unassigned) except \t, \n
// and \r, which count as whitespace.
func isBertControl(r rune) bool {
	if r < utf8.RuneSelf {
		return (r < 0x20 || r == 0x7f) && r != '\t' && r != '\n' && r != '\r'
	}
	if unicode.Is(unicode.C, r) {
		return true
	}
	return !assigned(r)
}

// assigned reports whether r has a general category other than Cn.
func assigned(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.C)
}

// isBertPunct is a character BERT splits off as a token of its own: ASCII
// punctuation (which includes $, +, <, =, >, ^, `, | and ~, symbols in
// Unicode) or anything in a Unicode punctuation category (P*).
func isBertPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 33 && r <= 47 || r >= 58 && r <= 64 || r >= 91 && r <= 96 || r >= 123 && r <= 126
	}
	return unicode.IsPunct(r)
}

// isCJK is a CJK Unified Ideograph (the blocks BERT puts spaces around, so
// that each ideograph is a word); not Hangul, Hiragana or Katakana.
func isCJK(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF ||
		r >= 0x3400 && r <= 0x4DBF ||
		r >= 0x20000 && r <= 0x2A6DF ||
		r >= 0x2A700 && r <= 0x2B73F ||
		r >= 0x2B740 && r <= 0x2B81F ||
		r >= 0x2B820 && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF ||
		r >= 0x2F800 && r <= 0x2FA1F
}
