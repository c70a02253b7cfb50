package tokenize

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// EndOfText is GPT-2's special token.
const EndOfText = "<|endoftext|>"

// GPT2 is GPT-2's byte-level BPE tokenizer: the text is split by GPT-2's
// pre-tokenizer pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// (implemented by hand: Go's regexp has no lookahead), each piece's UTF-8
// bytes become one symbol each, and the merges are applied by rank. "<|endoftext|>"
// in the text is the special token, as in Hugging Face tokenizers.
//
// Internally every token is the raw bytes it stands for, not the printable
// byte-to-unicode form of the vocabulary files; Token gives that form.
//
// A GPT2 is safe for concurrent use.
type GPT2 struct {
	vocab    vocabTable // tokens as raw bytes
	merges   mergeTable
	bytes    [256]int32 // the id of each single byte
	specials []special
	eot      int32 // -1 if the vocabulary has no <|endoftext|>

	mu    sync.Mutex
	cache map[string][]int32 // piece → ids
}

// maxCache bounds the BPE cache of one GPT2 (pieces, each at most
// maxCachedPiece bytes); it is emptied when full.
const (
	maxCache       = 1 << 14
	maxCachedPiece = 64
)

const gpt2Magic = "WGGPT2B1"

// NewGPT2 reads GPT-2's vocabulary: encoder.json (a JSON object from token,
// in the byte-to-unicode form, to id) and merges.txt (an optional "#version"
// line, then one merge "left right" per line, by rank).
func NewGPT2(encoderJSON, merges string) (*GPT2, error) {
	blob, err := CompileGPT2(encoderJSON, merges)
	if err != nil {
		return nil, err
	}
	return LoadGPT2(string(blob))
}

// CompileGPT2 compiles encoder.json and merges.txt into the form LoadGPT2
// reads.
func CompileGPT2(encoderJSON, merges string) ([]byte, error) {
	tokens, err := readEncoder(encoderJSON)
	if err != nil {
		return nil, err
	}
	triples, err := readMerges(merges, tokens)
	if err != nil {
		return nil, err
	}
	v, err := compileVocab(tokens)
	if err != nil {
		return nil, err
	}
	blob := append([]byte(gpt2Magic), v...)
	return append(blob, compileMerges(triples)...), nil
}

// LoadGPT2 makes a tokenizer of a vocabulary compiled by CompileGPT2. It
// reads blob in place, keeping it; nothing is copied or built, so loading
// takes microseconds even in a WebAssembly guest.
func LoadGPT2(blob string) (*GPT2, error) {
	if !strings.HasPrefix(blob, gpt2Magic) {
		return nil, errors.New("tokenize: not a compiled GPT-2 vocabulary")
	}
	g := &GPT2{eot: -1, cache: map[string][]int32{}}
	var err error
	rest := blob[len(gpt2Magic):]
	if g.vocab, rest, err = loadVocab(rest); err != nil {
		return nil, err
	}
	if g.merges, rest, err = loadMerges(rest); err != nil {
		return nil, err
	}
	if rest != "" {
		return nil, errors.New("tokenize: trailing bytes after the compiled GPT-2 vocabulary")
	}
	for i := range g.bytes {
		id, ok := lookup(&g.vocab, "", []byte{byte(i)})
		if !ok {
			return nil, fmt.Errorf("tokenize: the vocabulary lacks byte %#02x", i)
		}
		g.bytes[i] = id
	}
	if id, ok := lookup(&g.vocab, "", EndOfText); ok {
		g.eot = id
		g.specials = []special{{EndOfText, id}}
	}
	return g, nil
}

// byteToRune is GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for
// themselves, the others for U+0100 onwards, in order. runeToByte is its
// inverse, -1 for a rune that stands for no byte.
var byteToRune, runeToByte = func() (b2r [256]rune, r2b [0x144]int16) {
	for i := range r2b {
		r2b[i] = -1
	}
	n := rune(0)
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE {
			b2r[b] = rune(b)
		} else {
			b2r[b] = 256 + n
			n++
		}
		r2b[b2r[b]] = int16(b)
	}
	return b2r, r2b
}()

// ByteLevel is the printable form of raw bytes that GPT-2's vocabulary files
// use ("Ġ" for a space, ...).
func ByteLevel(raw string) string {
	var sb strings.Builder
	for i := 0; i < len(raw); i++ {
		sb.WriteRune(byteToRune[raw[i]])
	}
	return sb.String()
}

// appendByte appends the byte that rune r of a token in the printable form
// stands for.
func appendByte(dst []byte, r rune) ([]byte, bool) {
	if r < 0 || r >= rune(len(runeToByte)) || runeToByte[r] < 0 {
		return dst, false
	}
	return append(dst, byte(runeToByte[r])), true
}

// fromByteLevel appends the raw bytes of a token in the printable form.
func fromByteLevel(dst []byte, s string) ([]byte, error) {
	for _, r := range s {
		var ok bool
		if dst, ok = appendByte(dst, r); !ok {
			return nil, fmt.Errorf("tokenize: %q is not a byte-level token", s)
		}
	}
	return dst, nil
}

// readEncoder parses encoder.json into the tokens, as raw bytes, by id. It
// is a flat object of string keys and integer values, read here by hand:
// the tokens' bytes share one string.
func readEncoder(s string) ([]string, error) {
	p := jsonScanner{s: s}
	if !p.consume('{') {
		return nil, p.err("an object")
	}
	type entry struct{ off, end, id int32 }
	entries := make([]entry, 0, 1<<16)
	arena := make([]byte, 0, len(s)/3)
	for first := true; ; first = false {
		if p.consume('}') {
			break
		}
		if !first && !p.consume(',') {
			return nil, p.err("',' or '}'")
		}
		off := len(arena)
		var err error
		if arena, err = p.tokenKey(arena); err != nil {
			return nil, err
		}
		if !p.consume(':') {
			return nil, p.err("':'")
		}
		id, err := p.int()
		if err != nil {
			return nil, err
		}
		entries = append(entries, entry{int32(off), int32(len(arena)), id})
	}
	if p.skipSpace(); p.i != len(p.s) {
		return nil, p.err("the end")
	}
	if len(entries) == 0 {
		return nil, errors.New("tokenize: encoder.json is empty")
	}
	all := string(arena)
	tokens := make([]string, len(entries))
	seen := make([]bool, len(entries))
	for _, e := range entries {
		if e.id < 0 || int(e.id) >= len(entries) {
			return nil, fmt.Errorf("tokenize: encoder.json ids are not 0 to %d", len(entries)-1)
		}
		if seen[e.id] {
			return nil, fmt.Errorf("tokenize: encoder.json gives id %d twice", e.id)
		}
		seen[e.id] = true
		tokens[e.id] = all[e.off:e.end]
	}
	return tokens, nil
}

// readMerges parses merges.txt into (left, right, merged) ids by rank.
func readMerges(s string, tokens []string) ([][3]int32, error) {
	ids := make(map[string]int32, len(tokens))
	for id, tok := range tokens {
		ids[tok] = int32(id)
	}
	merges := make([][3]int32, 0, strings.Count(s, "\n")+1)
	var buf []byte
	for n := 1; s != ""; n++ {
		line, rest, _ := strings.Cut(s, "\n")
		s = rest
		line = strings.TrimSuffix(line, "\r")
		if line == "" || n == 1 && strings.HasPrefix(line, "#version") {
			continue
		}
		l, r, ok := strings.Cut(line, " ")
		if !ok || l == "" || r == "" || strings.Contains(r, " ") {
			return nil, fmt.Errorf("tokenize: merges.txt line %d is not two tokens: %q", n, line)
		}
		var err error
		if buf, err = fromByteLevel(buf[:0], l); err != nil {
			return nil, fmt.Errorf("tokenize: merges.txt line %d: %w", n, err)
		}
		nl := len(buf)
		if buf, err = fromByteLevel(buf, r); err != nil {
			return nil, fmt.Errorf("tokenize: merges.txt line %d: %w", n, err)
		}
		var m [3]int32
		for i, part := range [3][]byte{buf[:nl], buf[nl:], buf} {
			id, ok := ids[string(part)]
			if !ok {
				return nil, fmt.Errorf("tokenize: merges.txt line %d: %q is not in the vocabulary", n, ByteLevel(string(part)))
			}
			m[i] = id
		}
		merges = append(merges, m)
	}
	return merges, nil
}

// VocabSize is the number of tokens.
func (g *GPT2) VocabSize() int { return g.vocab.size() }

// EOT is the id of <|endoftext|>, or -1.
func (g *GPT2) EOT() int32 { return g.eot }

// Token is the token with id in the printable form of the vocabulary files,
// or "" if there is none.
func (g *GPT2) Token(id int32) string {
	if id < 0 || int(id) >= g.vocab.size() {
		return ""
	}
	if id == g.eot {
		return EndOfText
	}
	return ByteLevel(g.vocab.token(id))
}

// Tokenize returns the ids of text's tokens.
func (g *GPT2) Tokenize(text string) []int32 { return g.AppendTokens(nil, text, -1) }

// AppendTokens appends the ids of text's tokens to dst and stops once it
// has appended limit of them (limit < 0: no limit), leaving the rest of the
// text unread. Bytes that are not UTF-8 are taken as they are, each a piece
// of its own.
func (g *GPT2) AppendTokens(dst []int32, text string, limit int) []int32 {
	end := len(dst) + limit
	if limit < 0 {
		end = -1
	}
	full := func() bool { return end >= 0 && len(dst) >= end }
	for text != "" && !full() {
		i, sp, ok := nextSpecial(text, g.specials)
		for s := text[:i]; s != "" && !full(); {
			n := preTokenLen(s)
			dst = g.bpe(dst, s[:n])
			s = s[n:]
		}
		if !ok || full() {
			break
		}
		dst = append(dst, sp.id)
		text = text[i+len(sp.text):]
	}
	if end >= 0 && len(dst) > end {
		dst = dst[:end]
	}
	return dst
}

// Character classes of the pre-tokenizer pattern.
const (
	clSpace  = iota // \s
	clLetter        // \p{L}
	clNumber        // \p{N}
	clOther         // [^\s\p{L}\p{N}]
)

func classOf(r rune) int {
	if r < utf8.RuneSelf {
		switch {
		case 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z':
			return clLetter
		case '0' <= r && r <= '9':
			return clNumber
		case r == ' ' || '\t' <= r && r <= '\r':
			return clSpace
		}
		return clOther
	}
	switch {
	case unicode.IsLetter(r):
		return clLetter
	case unicode.IsNumber(r):
		return clNumber
	case unicode.IsSpace(r):
		return clSpace
	}
	return clOther
}

func decodeRune(s string) (rune, int) {
	if s[0] < utf8.RuneSelf {
		return rune(s[0]), 1
	}
	return utf8.DecodeRuneInString(s)
}

// preTokenLen is the length of the first match of GPT-2's pre-tokenizer
// pattern in s (not empty), alternatives tried in the pattern's order.
func preTokenLen(s string) int {
	r, n := decodeRune(s)
	// 's|'t|'re|'ve|'m|'ll|'d
	if r == '\'' && len(s) > 1 {
		switch s[1] {
		case 's', 't', 'm', 'd':
			return 2
		case 'r', 'v':
			if len(s) > 2 && s[2] == 'e' {
				return 3
			}
		case 'l':
			if len(s) > 2 && s[2] == 'l' {
				return 3
			}
		}
	}
	cl, i := classOf(r), n
	if r == ' ' && n < len(s) {
		// ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+` take one leading space.
		r2, n2 := decodeRune(s[n:])
		if c2 := classOf(r2); c2 != clSpace {
			cl, i = c2, n+n2
		}
	}
	if cl != clSpace {
		for i < len(s) {
			r, n := decodeRune(s[i:])
			if classOf(r) != cl {
				break
			}
			i += n
		}
		return i
	}
	// \s+(?!\S): the whole run of whitespace at the end of the text, else
	// all of it but its last character; \s+: a single one before \S.
	last := 0
	for i = 0; i < len(s); {
		r, n := decodeRune(s[i:])
		if classOf(r) != clSpace {
			break
		}
		last = i
		i += n
	}
	if i == len(s) || last == 0 {
		return i
	}
	return last
}

// bpe appends the ids of one piece.
func (g *GPT2) bpe(dst []int32, piece string) []int32 {
	if len(piece) == 1 {
		return append(dst, g.bytes[piece[0]])
	}
	cacheable := len(piece) <= maxCachedPiece
	if cacheable {
		g.mu.Lock()
		ids, ok := g.cache[piece]
		g.mu.Unlock()
		if ok {
			return append(dst, ids...)
		}
	}
	var small [32]int32
	syms := small[:0]
	for i := 0; i < len(piece); i++ {
		syms = append(syms, g.bytes[piece[i]])
	}
	for len(syms) > 1 {
		best, bestRank := -1, int32(-1)
		var into int32
		for i := 0; i+1 < len(syms); i++ {
			rank, id, ok := g.merges.lookup(syms[i], syms[i+1])
			if ok && (best < 0 || rank < bestRank) {
				best, bestRank, into = i, rank, id
			}
		}
		if best < 0 {
			break
		}
		l, r := syms[best], syms[best+1]
		w := best
		for i := best; i < len(syms); w++ {
			if i+1 < len(syms) && syms[i] == l && syms[i+1] == r {
				syms[w] = into
				i += 2
			} else {
				syms[w] = syms[i]
				i++
			}
		}
		syms = syms[:w]
	}
	if cacheable {
		g.mu.Lock()
		if len(g.cache) >= maxCache {
			clear(g.cache)
		}
		g.cache[strings.Clone(piece)] = append([]int32(nil), syms...)
		g.mu.Unlock()
	}
	return append(dst, syms...)
}

// Decode turns ids back into text: the tokens' bytes, as UTF-8 (ill-formed
// sequences replaced by U+FFFD), then, with cleanUp, Hugging Face's
// clean-up of tokenization spaces (" ." → ".", ...), which GPT-2's tokenizer
// applies by default. skipSpecial leaves out <|endoftext|>. An id outside the
// vocabulary is an error.
func (g *GPT2) Decode(ids []int32, skipSpecial, cleanUpSpaces bool) (string, error) {
	var raw []byte
	for _, id := range ids {
		if id < 0 || int(id) >= g.vocab.size() {
			return "", fmt.Errorf("tokenize: id %d is outside the vocabulary of %d", id, g.vocab.size())
		}
		if skipSpecial && id == g.eot {
			continue
		}
		raw = append(raw, g.vocab.token(id)...)
	}
	s := string(appendUTF8(nil, raw))
	if cleanUpSpaces {
		s = cleanUp(s)
	}
	return s, nil
}

// jsonScanner reads the little JSON encoder.json needs.
type jsonScanner struct {
	s string
	i int
}

func (p *jsonScanner) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\n' || p.s[p.i] == '\r' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *jsonScanner) consume(c byte) bool {
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *jsonScanner) err(want string) error {
	return fmt.Errorf("tokenize: encoder.json: want %s at offset %d", want, p.i)
}

func (p *jsonScanner) int() (int32, error) {
	p.skipSpace()
	j := p.i
	for j < len(p.s) && (p.s[j] >= '0' && p.s[j] <= '9' || j == p.i && p.s[j] == '-') {
		j++
	}
	v, err := strconv.ParseInt(p.s[p.i:j], 10, 32)
	if err != nil {
		return 0, p.err("an integer id")
	}
	p.i = j
	return int32(v), nil
}

// tokenKey reads a JSON string holding a token in the printable form and
// appends the raw bytes it stands for.
func (p *jsonScanner) tokenKey(dst []byte) ([]byte, error) {
	if !p.consume('"') {
		return nil, p.err("a string")
	}
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		var r rune
		switch {
		case c == '"':
			p.i++
			return dst, nil
		case c < 0x20:
			return nil, p.err("no control character in a string")
		case c == '\\':
			var ok bool
			if r, ok = p.escape(); !ok {
				return nil, p.err("a valid escape")
			}
		case c < utf8.RuneSelf:
			r = rune(c)
			p.i++
		default:
			var n int
			r, n = utf8.DecodeRuneInString(p.s[p.i:])
			p.i += n
		}
		var ok bool
		if dst, ok = appendByte(dst, r); !ok {
			return nil, fmt.Errorf("tokenize: encoder.json: the key at offset %d is not a byte-level token", start)
		}
	}
	return nil, errors.New("tokenize: encoder.json: a string does not end")
}

// escape reads the escape sequence at p.i.
func (p *jsonScanner) escape() (rune, bool) {
	if p.i+1 >= len(p.s) {
		return 0, false
	}
	e := p.s[p.i+1]
	p.i += 2
	switch e {
	case '"', '\\', '/':
		return rune(e), true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	case 'u':
		r, ok := p.hex4()
		if ok && utf16.IsSurrogate(r) && strings.HasPrefix(p.s[p.i:], `\u`) {
			p.i += 2
			var r2 rune
			if r2, ok = p.hex4(); ok {
				r = utf16.DecodeRune(r, r2)
			}
		}
		return r, ok
	}
	return 0, false
}

func (p *jsonScanner) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	v, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 16)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}
