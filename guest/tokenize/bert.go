package tokenize

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxWordChars is the longest word, in characters, that WordPiece splits:
// a longer one is [UNK] (max_input_chars_per_word).
const MaxWordChars = 100

// Bert is BERT's tokenizer: the BasicTokenizer (clean-up of control
// characters and whitespace, a space around every CJK ideograph, for
// uncased vocabularies lowercasing and accent stripping, a split at
// whitespace and around every punctuation character) followed by WordPiece
// (greedy longest match, continuations prefixed "##", [UNK] for a word that
// does not split into vocabulary pieces or is longer than MaxWordChars).
// Special tokens written in the text ("[MASK]", "[SEP]", ...) are matched
// before anything else, as in Hugging Face tokenizers.
//
// It gives the same tokens as Hugging Face's BertTokenizer(Fast) with the
// vocabulary's usual settings (do_lower_case for an uncased vocabulary,
// tokenize_chinese_chars, strip_accents following do_lower_case).
//
// A Bert is read-only once made and safe for concurrent use.
type Bert struct {
	vocab    vocabTable
	lower    bool
	specials []special

	unk, cls, sep, pad, mask int32 // -1 where the vocabulary has none
}

// BertOptions are a vocabulary's settings.
type BertOptions struct {
	// Lowercase lowercases the text and strips its accents (NFD, then
	// nonspacing marks removed), for an uncased vocabulary.
	Lowercase bool
}

// NewBert reads a WordPiece vocabulary in BERT's vocab.txt format: one token
// per line, the line number (from 0) is its id; a token given twice is
// found under its last id, as Hugging Face's loaders do. The vocabulary
// must have [UNK], [CLS] and [SEP].
func NewBert(vocab string, opt BertOptions) (*Bert, error) {
	blob, err := CompileBert(vocab)
	if err != nil {
		return nil, err
	}
	return LoadBert(string(blob), opt)
}

// CompileBert compiles a vocab.txt into the form LoadBert reads.
func CompileBert(vocab string) ([]byte, error) {
	var tokens []string
	for rest := vocab; rest != ""; {
		line, after, _ := strings.Cut(rest, "\n")
		rest = after
		tokens = append(tokens, strings.TrimSuffix(line, "\r"))
	}
	if len(tokens) == 0 {
		return nil, errors.New("tokenize: empty vocabulary")
	}
	return compileVocab(tokens)
}

// LoadBert makes a tokenizer of a vocabulary compiled by CompileBert. It
// reads blob in place, keeping it; nothing is copied or built, so loading
// takes microseconds even in a WebAssembly guest.
func LoadBert(blob string, opt BertOptions) (*Bert, error) {
	v, rest, err := loadVocab(blob)
	if err != nil {
		return nil, err
	}
	if rest != "" {
		return nil, errors.New("tokenize: trailing bytes after the compiled vocabulary")
	}
	b := &Bert{vocab: v, lower: opt.Lowercase, unk: -1, cls: -1, sep: -1, pad: -1, mask: -1}
	for _, s := range []struct {
		name string
		id   *int32
	}{{"[UNK]", &b.unk}, {"[CLS]", &b.cls}, {"[SEP]", &b.sep}, {"[PAD]", &b.pad}, {"[MASK]", &b.mask}} {
		if id, ok := lookup(&b.vocab, "", s.name); ok {
			*s.id = id
			b.specials = append(b.specials, special{s.name, id})
		}
	}
	if b.unk < 0 || b.cls < 0 || b.sep < 0 {
		return nil, errors.New("tokenize: the vocabulary lacks [UNK], [CLS] or [SEP]")
	}
	return b, nil
}

// VocabSize is the number of tokens.
func (b *Bert) VocabSize() int { return b.vocab.size() }

// Token is the token with id, or "" if there is none.
func (b *Bert) Token(id int32) string {
	if id < 0 || int(id) >= b.vocab.size() {
		return ""
	}
	return b.vocab.token(id)
}

// ID is the id of token (a continuation written with its "##").
func (b *Bert) ID(token string) (int32, bool) { return lookup(&b.vocab, "", token) }

// The special tokens' ids; PAD and MASK are -1 if the vocabulary has none.
func (b *Bert) UNK() int32  { return b.unk }
func (b *Bert) CLS() int32  { return b.cls }
func (b *Bert) SEP() int32  { return b.sep }
func (b *Bert) PAD() int32  { return b.pad }
func (b *Bert) MASK() int32 { return b.mask }

// IsSpecial reports whether id is one of [UNK], [CLS], [SEP], [PAD] and
// [MASK].
func (b *Bert) IsSpecial(id int32) bool {
	return id >= 0 && (id == b.unk || id == b.cls || id == b.sep || id == b.pad || id == b.mask)
}

// Tokenize returns the ids of text's tokens, without [CLS] and [SEP].
func (b *Bert) Tokenize(text string) []int32 { return b.AppendTokens(nil, text, -1) }

// AppendTokens appends the ids of text's tokens to dst, without [CLS] and
// [SEP], and stops once it has appended limit of them (limit < 0: no
// limit). Work stops there too, so the cost of truncated text is bounded by
// limit rather than by the length of text.
func (b *Bert) AppendTokens(dst []int32, text string, limit int) []int32 {
	t := runs.Get().(*bertRun)
	defer runs.Put(t)
	t.b, t.dst, t.end = b, dst, len(dst)+limit
	if limit < 0 {
		t.end = -1
	}
	for text != "" && !t.full() {
		i, sp, ok := nextSpecial(text, b.specials)
		t.plain(text[:i])
		if !ok || t.full() {
			break
		}
		t.dst = append(t.dst, sp.id)
		text = text[i+len(sp.text):]
	}
	if t.end >= 0 && len(t.dst) > t.end {
		t.dst = t.dst[:t.end]
	}
	dst, t.b, t.dst = t.dst, nil, nil
	return dst
}

// runs keeps bertRuns' scratch space between calls.
var runs = sync.Pool{New: func() any { return new(bertRun) }}

// Encode returns [CLS] text [SEP] as ids, text's tokens truncated so that
// there are at most maxLen ids in all (maxLen <= 0: no limit; a maxLen
// under 2 still gives [CLS] and [SEP]).
func (b *Bert) Encode(text string, maxLen int) []int32 {
	limit := -1
	if maxLen > 0 {
		limit = max(maxLen-2, 0)
	}
	ids := make([]int32, 1, min(max(maxLen, 16), 1024))
	ids[0] = b.cls
	ids = b.AppendTokens(ids, text, limit)
	return append(ids, b.sep)
}

// EncodePair returns [CLS] a [SEP] b [SEP] as ids, with token type ids 0
// for [CLS], a and the first [SEP] and 1 for the rest. With maxLen > 0 the
// two texts are truncated as Hugging Face's "longest_first" strategy does,
// so that there are at most maxLen ids in all (a maxLen under 3 still gives
// the three special tokens).
func (b *Bert) EncodePair(a, bText string, maxLen int) (ids, typeIDs []int32) {
	ta, tb := b.Tokenize(a), b.Tokenize(bText)
	if maxLen > 0 {
		n1, n2 := longestFirst(len(ta), len(tb), max(maxLen-3, 0))
		ta, tb = ta[:n1], tb[:n2]
	}
	ids = make([]int32, 0, len(ta)+len(tb)+3)
	ids = append(ids, b.cls)
	ids = append(ids, ta...)
	ids = append(ids, b.sep)
	ids = append(ids, tb...)
	ids = append(ids, b.sep)
	typeIDs = make([]int32, len(ids))
	for i := len(ta) + 2; i < len(ids); i++ {
		typeIDs[i] = 1
	}
	return ids, typeIDs
}

// longestFirst is the Hugging Face tokenizers' "longest_first" truncation
// of a pair of lengths to at most limit tokens in all: the lengths to keep.
func longestFirst(l1, l2, limit int) (int, int) {
	if l1+l2 <= limit {
		return l1, l2
	}
	n1, n2, swap := l1, l2, false
	if n1 > n2 {
		n1, n2, swap = n2, n1, true
	}
	if n1 > limit {
		n2 = n1
	} else {
		n2 = max(n1, limit-n1)
	}
	if n1+n2 > limit {
		n1 = limit / 2
		n2 = n1 + limit%2
	}
	if swap {
		n1, n2 = n2, n1
	}
	return min(n1, l1), min(n2, l2)
}

// Decode turns ids back into text as Hugging Face's decode does: the
// tokens joined by spaces, "##" continuations glued to what precedes them,
// and the clean-up of tokenization spaces applied (" ." → ".", " ' " → "'",
// ...). skipSpecial leaves out [CLS], [SEP], [PAD], [MASK] and [UNK]. An id
// outside the vocabulary is an error.
func (b *Bert) Decode(ids []int32, skipSpecial bool) (string, error) {
	var sb strings.Builder
	first := true
	for _, id := range ids {
		if id < 0 || int(id) >= b.vocab.size() {
			return "", fmt.Errorf("tokenize: id %d is outside the vocabulary of %d", id, b.vocab.size())
		}
		if skipSpecial && b.IsSpecial(id) {
			continue
		}
		tok := b.vocab.token(id)
		if c, ok := strings.CutPrefix(tok, "##"); ok && !first {
			sb.WriteString(c)
		} else {
			if !first {
				sb.WriteByte(' ')
			}
			sb.WriteString(tok)
		}
		first = false
	}
	return cleanUp(sb.String()), nil
}

// bertRun is one AppendTokens: the word being gathered and its
// normalisation scratch space.
type bertRun struct {
	b     *Bert
	dst   []int32
	end   int // len(dst) to stop at; -1 for none
	word  []byte
	ascii bool // word is ASCII, lowercased if the vocabulary is, with no punctuation
	nfd   []byte
	norm  []byte
	hash  []uint32
}

func (t *bertRun) full() bool { return t.end >= 0 && len(t.dst) >= t.end }

// ASCII classes for plain's fast path.
const (
	asciiWord = iota
	asciiDrop
	asciiSpace
	asciiPunct
)

var asciiClass = func() (c [utf8.RuneSelf]uint8) {
	for r := range rune(utf8.RuneSelf) {
		switch {
		case r == 0 || isBertControl(r):
			c[r] = asciiDrop
		case isBertSpace(r):
			c[r] = asciiSpace
		case isBertPunct(r):
			c[r] = asciiPunct
		}
	}
	return c
}()

// asciiBytes holds every ASCII byte, so a one-byte word is a slice of it.
var asciiBytes = func() (b [utf8.RuneSelf]byte) {
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// plain tokenizes text that holds no special token. The clean-up of the
// normaliser (control characters dropped, whitespace a separator) and the
// CJK split happen here, on the raw text, in the order BERT's normaliser
// applies them; lowercasing, accent stripping and the punctuation split
// happen per word, in flush. ASCII takes a shorter way with the same
// result: lowercasing and the punctuation split as each byte is read.
func (t *bertRun) plain(s string) {
	t.word, t.ascii = t.word[:0], true
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			i++
			switch asciiClass[c] {
			case asciiWord:
				if t.b.lower && 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				t.word = append(t.word, c)
				continue
			case asciiDrop:
				continue
			case asciiSpace:
				t.flush()
			case asciiPunct:
				t.flush()
				t.wordPiece(asciiBytes[c : c+1])
			}
			if t.full() {
				return
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == utf8.RuneError || isBertControl(r):
			// dropped (as is an invalid byte): the characters either side join
		case isBertSpace(r):
			t.flush()
		case isCJK(r):
			t.flush()
			t.word = utf8.AppendRune(t.word, r)
			t.ascii = false
			t.flush()
		default:
			t.word = utf8.AppendRune(t.word, r)
			t.ascii = false
		}
		if t.full() {
			return
		}
	}
	t.flush()
}

// flush normalises the gathered word, splits it at punctuation and appends
// the WordPiece tokens of each part.
func (t *bertRun) flush() {
	w, ascii := t.word, t.ascii
	t.word, t.ascii = t.word[:0], true
	if len(w) == 0 || t.full() {
		return
	}
	if ascii {
		t.wordPiece(w)
		return
	}
	if t.b.lower {
		w = t.lowerStrip(w)
	}
	start := 0
	for i := 0; i < len(w); {
		r, n := rune(w[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(w[i:])
		}
		if isBertPunct(r) || isBertSpace(r) {
			t.wordPiece(w[start:i])
			if !isBertSpace(r) {
				t.wordPiece(w[i : i+n])
			}
			start = i + n
		}
		i += n
	}
	t.wordPiece(w[start:])
}

// latinEnd bounds the runes of latinLowerStrip: Latin-1 Supplement and
// Latin Extended-A and -B.
const latinEnd = 0x250

// latinLowerStrip is lowerStrip of each rune from 0x80 to latinEnd, made on
// first use. A word whose runes are all below latinEnd (accented Latin
// letters, no separate combining marks) normalises rune by rune with it:
// NFD only decomposes such runes, each on its own, and the marks it
// produces are all nonspacing, so the order it would give them does not
// matter once they are removed. The general way costs tens of
// microseconds a word inside a WebAssembly guest.
var latinLowerStrip = sync.OnceValue(func() (tab [latinEnd]string) {
	for r := rune(utf8.RuneSelf); r < latinEnd; r++ {
		var out []byte
		for _, c := range norm.NFD.String(string(r)) {
			if !unicode.Is(unicode.Mn, c) {
				out = utf8.AppendRune(out, unicode.ToLower(c))
			}
		}
		tab[r] = string(out)
	}
	return tab
})

// lowerStrip is the uncased normalisation: NFD, nonspacing marks (Mn)
// removed, then lowercase, as the Hugging Face BertNormalizer does.
func (t *bertRun) lowerStrip(w []byte) []byte {
	latin := true
	for i := 0; i < len(w) && latin; {
		r, n := utf8.DecodeRune(w[i:])
		latin = r < latinEnd
		i += n
	}
	if latin {
		tab := latinLowerStrip()
		out := t.norm[:0]
		for i := 0; i < len(w); {
			if c := w[i]; c < utf8.RuneSelf {
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				out = append(out, c)
				i++
				continue
			}
			r, n := utf8.DecodeRune(w[i:])
			out = append(out, tab[r]...)
			i += n
		}
		t.norm = out
		return out
	}
	d := norm.NFD.Append(t.nfd[:0], w...)
	t.nfd = d
	out := t.norm[:0]
	for i := 0; i < len(d); {
		if c := d[i]; c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(d[i:])
		i += n
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		out = utf8.AppendRune(out, unicode.ToLower(r))
	}
	t.norm = out
	return out
}

// wordPiece appends the WordPiece tokens of one word: from each start, the
// longest vocabulary token ("##" after the first) that the rest begins
// with. The hashes of all the candidates from one start come from one pass
// over the word.
func (t *bertRun) wordPiece(w []byte) {
	if len(w) == 0 || t.full() {
		return
	}
	b := t.b
	if len(w) > MaxWordChars && utf8.RuneCount(w) > MaxWordChars {
		t.dst = append(t.dst, b.unk)
		return
	}
	start := len(t.dst)
	for s := 0; s < len(w); {
		prefix := ""
		if s > 0 {
			prefix = "##"
		}
		// hash[k] is the hash of prefix + w[s:s+k+1].
		h := fnv1a(prefix, "")
		t.hash = t.hash[:0]
		for _, c := range w[s:] {
			h = (h ^ uint32(c)) * 16777619
			t.hash = append(t.hash, h)
		}
		e := len(w)
		id := int32(-1)
		for e > s {
			if v, ok := lookupHashed(&b.vocab, t.hash[e-s-1], prefix, w[s:e]); ok {
				id = v
				break
			}
			e--
			for e > s && !utf8.RuneStart(w[e]) {
				e--
			}
		}
		if id < 0 {
			t.dst = append(t.dst[:start], b.unk)
			return
		}
		t.dst = append(t.dst, id)
		s = e
	}
}
