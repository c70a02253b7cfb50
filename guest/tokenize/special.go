package tokenize

import (
	"strings"
	"unicode/utf8"
)

// special is an added token matched in the raw text before normalisation,
// as the Hugging Face tokenizers' added vocabulary does for special tokens
// (normalized false, no lstrip/rstrip, not single-word).
type special struct {
	text string
	id   int32
}

// nextSpecial finds the leftmost special token in s (the longest one where
// two start at the same place): s[:i] comes before it and s[i+len(sp.text):]
// after. ok is false if there is none.
func nextSpecial(s string, specials []special) (i int, sp special, ok bool) {
	i = len(s)
	for _, c := range specials {
		j := strings.Index(s[:min(len(s), i+len(c.text))], c.text)
		if j < 0 {
			continue
		}
		if j < i || j == i && len(c.text) > len(sp.text) {
			i, sp, ok = j, c, true
		}
	}
	return i, sp, ok
}

// cleanUp is the clean-up of tokenization spaces that Hugging Face
// tokenizers apply to decoded text by default (clean_up_tokenization): the
// replacements are applied one after another, over the whole string, in this
// order.
func cleanUp(s string) string {
	for _, r := range cleanUpReplacements {
		if strings.Contains(s, r[0]) {
			s = strings.ReplaceAll(s, r[0], r[1])
		}
	}
	return s
}

var cleanUpReplacements = [...][2]string{
	{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
	{" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
}

// appendUTF8 appends b to dst as UTF-8, each ill-formed sequence replaced by
// U+FFFD by the "maximal subpart" practice of Unicode §3.9 (what Python's
// errors="replace" and the WHATWG TextDecoder do): an incomplete sequence
// of several bytes becomes one U+FFFD, a stray byte one each.
func appendUTF8(dst []byte, b []byte) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r != utf8.RuneError || n > 1 {
			dst = append(dst, b[:n]...)
			b = b[n:]
			continue
		}
		dst = append(dst, "\uFFFD"...)
		b = b[maximalSubpart(b):]
	}
	return dst
}

// maximalSubpart is the length of the ill-formed sequence at the start of b
// that one U+FFFD replaces: the lead byte and the continuation bytes that
// could still begin a well-formed sequence (Unicode Table 3-7).
func maximalSubpart(b []byte) int {
	lo, hi, need := byte(0x80), byte(0xBF), 0
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		lo, need = 0xA0, 2
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		hi, need = 0x9F, 2
	case c == 0xF0:
		lo, need = 0x90, 3
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		hi, need = 0x8F, 3
	default:
		return 1
	}
	n := 1
	for ; n <= need && n < len(b); n++ {
		if b[n] < lo || b[n] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return n
}
