package tokenize_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/guest/tokenize"
	"github.com/wasmgate/wasmgate/guest/tokenize/bertvocab"
	"github.com/wasmgate/wasmgate/guest/tokenize/gpt2vocab"
)

func bertTokens(b *tokenize.Bert, ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = b.Token(id)
	}
	return out
}

// sample is English prose of 128 BERT (uncased) tokens, and some more.
const sample = "The quick brown fox jumps over the lazy dog, while the five boxing wizards jump quickly. " +
	"In 2016, the company was founded in San Francisco; it now employs over 3,000 people worldwide! " +
	"Tokenization splits text into word-pieces: \"unbelievable\" becomes un ##bel ##ie ##va ##ble, perhaps. " +
	"Café owners in Zürich serve crème brûlée and naïve jalapeño dishes. " +
	"What's the weather like today? I'd say it's sunny, but they're not sure. " +
	"Numbers like 3.14159 and 2.71828 appear often in mathematics and physics."

var texts = []string{
	sample, "", " ", "hello", "Hello, World!", "UNwantéd,running", "生活的真谛是", "x\u0000y\ufffdz\u200b", "a\u00a0b\u3000c",
	"hello [MASK] world", "[CLS][SEP]", "you…\u00a0\u00a0", "İstanbul ΟΔΟΣ", "한국어 텍스트", strings.Repeat("word ", 300),
}

// Truncation keeps the first tokens, and the limit stops tokenizing there.
func TestBertTruncation(t *testing.T) {
	uncased, cased, _ := tokenizers(t)
	for _, b := range []*tokenize.Bert{uncased, cased} {
		for _, text := range texts {
			full := b.Tokenize(text)
			for n := 0; n <= len(full)+3; n++ {
				got := b.AppendTokens([]int32{7}, text, n)
				want := append([]int32{7}, full[:min(n, len(full))]...)
				if !slices.Equal(got, want) {
					t.Fatalf("%q limit %d: %v, want %v", text, n, got, want)
				}
				if n < 2 {
					continue
				}
				enc := b.Encode(text, n)
				want = slices.Concat([]int32{b.CLS()}, full[:min(n-2, len(full))], []int32{b.SEP()})
				if !slices.Equal(enc, want) {
					t.Fatalf("%q max length %d: %v, want %v", text, n, enc, want)
				}
			}
			if got := b.Encode(text, 1); !slices.Equal(got, []int32{b.CLS(), b.SEP()}) {
				t.Errorf("max length 1 gives %v", got)
			}
		}
	}
	if n := len(uncased.Tokenize(sample)); n < 128 {
		t.Fatalf("the sample has %d tokens, want at least 128", n)
	}
}

func TestBertPairs(t *testing.T) {
	uncased, _, _ := tokenizers(t)
	ids, types := uncased.EncodePair("How are you?", "I am fine, thanks.", 0)
	if got := bertTokens(uncased, ids); !slices.Equal(got, strings.Fields("[CLS] how are you ? [SEP] i am fine , thanks . [SEP]")) {
		t.Errorf("tokens %q", got)
	}
	if !slices.Equal(types, []int32{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1}) {
		t.Errorf("token types %v", types)
	}
	// 4 + 7 tokens into 8 - 3: the longer is cut to 3... then both to 2 and 3.
	ids, types = uncased.EncodePair("how are you ?", "i am fine , thanks . ok", 8)
	if got := bertTokens(uncased, ids); !slices.Equal(got, strings.Fields("[CLS] how are [SEP] i am fine [SEP]")) {
		t.Errorf("truncated: tokens %q", got)
	}
	if !slices.Equal(types, []int32{0, 0, 0, 0, 1, 1, 1, 1}) {
		t.Errorf("truncated: token types %v", types)
	}
	if d, _ := uncased.Decode(ids, true); d != "how are i am fine" {
		t.Errorf("decoded without specials: %q", d)
	}
}

func TestBertDetails(t *testing.T) {
	uncased, cased, _ := tokenizers(t)
	for _, tc := range []struct {
		b    *tokenize.Bert
		text string
		want string
	}{
		// Special tokens in the text are matched before normalisation.
		{uncased, "Paris is the [MASK] of France.", "paris is the [MASK] of france ."},
		{uncased, "a[SEP]b", "a [SEP] b"},
		{uncased, "[mask]", "[ mask ]"},
		{cased, "The [MASK] sat.", "The [MASK] sat ."},
		// A word of more than 100 characters is [UNK]; 100 is split.
		{uncased, strings.Repeat("a", 101) + " b", "[UNK] b"},
		// Control and format characters vanish, joining their neighbours.
		{uncased, "foo\u200bbar\u0007baz", "foo ##bar ##ba ##z"},
		{uncased, "x\u00adx", "xx"},
		// Every CJK ideograph is a word; kana and hangul are not split.
		{uncased, "中文abc", "中 文 abc"},
		// Accents go in uncased vocabularies, after NFD; cased keeps them.
		{uncased, "Crème Brûlée", "cr ##eme br ##ule ##e"},
		{cased, "Crème", "C ##r ##ème"},
		// Punctuation of any script splits; symbols do not.
		{uncased, "a¿b", "a ¿ b"},
		{uncased, "a+b=c", "a + b = c"},
	} {
		if got := strings.Join(bertTokens(tc.b, tc.b.Tokenize(tc.text)), " "); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.text, got, tc.want)
		}
	}
	if got := uncased.Tokenize(strings.Repeat("a", 100)); slices.Contains(got, uncased.UNK()) {
		t.Errorf("a 100-character word is [UNK]")
	}
	// Decoding: continuations glue, the clean-up applies, specials can go.
	ids := uncased.Encode("Don't stop-believing, OK?", 0)
	for _, tc := range []struct {
		skip bool
		want string
	}{{false, "[CLS] don't stop - believing, ok? [SEP]"}, {true, "don't stop - believing, ok?"}} {
		if got, err := uncased.Decode(ids, tc.skip); err != nil || got != tc.want {
			t.Errorf("decode %v: %q, %v; want %q", tc.skip, got, err, tc.want)
		}
	}
	if _, err := uncased.Decode([]int32{1, 1 << 20}, false); err == nil {
		t.Error("an id outside the vocabulary decodes")
	}
	if id, ok := uncased.ID("##ing"); !ok || uncased.Token(id) != "##ing" {
		t.Errorf("ID(##ing) = %d, %v", id, ok)
	}
	if uncased.VocabSize() != 30522 || cased.VocabSize() != 28996 || uncased.PAD() != 0 || uncased.MASK() != 103 {
		t.Errorf("vocabulary sizes %d, %d; [PAD] %d, [MASK] %d", uncased.VocabSize(), cased.VocabSize(), uncased.PAD(), uncased.MASK())
	}
}

func TestBertVocabErrors(t *testing.T) {
	if _, err := tokenize.NewBert("", tokenize.BertOptions{}); err == nil {
		t.Error("an empty vocabulary loads")
	}
	if _, err := tokenize.NewBert("[PAD]\n[UNK]\nhello\n", tokenize.BertOptions{}); err == nil {
		t.Error("a vocabulary without [CLS] and [SEP] loads")
	}
	b, err := tokenize.NewBert("[UNK]\r\n[CLS]\r\n[SEP]\r\nhel\r\n##lo", tokenize.BertOptions{Lowercase: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Encode("Hello HELP", 0); !slices.Equal(got, []int32{1, 3, 4, 0, 2}) {
		t.Errorf("tiny vocabulary: %v", got)
	}
}

func TestGPT2Details(t *testing.T) {
	_, _, g := tokenizers(t)
	if g.VocabSize() != 50257 || g.EOT() != 50256 {
		t.Fatalf("vocabulary of %d, <|endoftext|> %d", g.VocabSize(), g.EOT())
	}
	ids := g.Tokenize("Hello<|endoftext|> world")
	if !slices.Equal(ids, []int32{15496, 50256, 995}) {
		t.Errorf("special token: %v", ids)
	}
	for _, tc := range []struct {
		skip, clean bool
		want        string
	}{{false, true, "Hello<|endoftext|> world"}, {true, true, "Hello world"}} {
		if got, err := g.Decode(ids, tc.skip, tc.clean); err != nil || got != tc.want {
			t.Errorf("decode: %q, %v; want %q", got, err, tc.want)
		}
	}
	if got, _ := g.Decode(g.Tokenize("Hi , there ."), false, false); got != "Hi , there ." {
		t.Errorf("decode without clean-up: %q", got)
	}
	// Bytes that are not UTF-8 are encoded as they are, and decode to U+FFFD.
	ids = g.Tokenize("a\xffb")
	if got := []string{g.Token(ids[0]), g.Token(ids[1]), g.Token(ids[2])}; len(ids) != 3 || !slices.Equal(got, []string{"a", "ÿ", "b"}) {
		t.Errorf("invalid UTF-8: %q", got)
	}
	if got, _ := g.Decode(ids, false, true); got != "a\uFFFDb" {
		t.Errorf("invalid UTF-8 decodes to %q", got)
	}
	// A token cut in the middle of a character decodes to one U+FFFD.
	ids = g.Tokenize("谛")
	if got, _ := g.Decode(ids[:len(ids)-1], false, false); got != "\uFFFD" {
		t.Errorf("half a character: %q", got)
	}
	// Limits, and the cache giving the same answer twice.
	for _, text := range texts {
		full := g.Tokenize(text)
		if again := g.Tokenize(text); !slices.Equal(again, full) {
			t.Fatalf("%q: %v, then %v", text, full, again)
		}
		for n := 0; n <= len(full)+1; n++ {
			if got := g.AppendTokens(nil, text, n); !slices.Equal(got, full[:min(n, len(full))]) {
				t.Fatalf("%q limit %d: %v", text, n, got)
			}
		}
		if d, _ := g.Decode(full, false, false); d != strings.ToValidUTF8(text, "\uFFFD") {
			t.Errorf("%q round-trips to %q", text, d)
		}
	}
	if _, err := g.Decode([]int32{-1}, false, false); err == nil {
		t.Error("id -1 decodes")
	}
}

func TestGPT2VocabErrors(t *testing.T) {
	var enc strings.Builder
	enc.WriteString("{")
	for i := range 256 {
		if i > 0 {
			enc.WriteString(", ")
		}
		enc.WriteString(`"` + jsonEscape(tokenize.ByteLevel(string([]byte{byte(i)}))) + `": ` + itoa(i))
	}
	base := enc.String()
	for _, tc := range []struct{ enc, merges, msg string }{
		{`[]`, "", "want an object"},
		{`{"a": 0}`, "", "lacks byte"},
		{base + `, "ab": 256}`, "#version: 0.2\na b\n", ""},
		{base + `, "ab": 256}`, "a\n", "not two tokens"},
		{base + `, "ab": 256}`, "a c\n", `"ac" is not in the vocabulary`},
		{base + `, "ab": 300}`, "", "ids are not 0 to"},
		{base + `, "ab": 5}`, "", "id 5 twice"},
		{base + `, "\u2603": 256}`, "", "not a byte-level token"},
		{base + `, "ab": 256} x`, "", "want the end"},
		{base + `, "ab" 256}`, "", "want ':'"},
	} {
		_, err := tokenize.NewGPT2(tc.enc, tc.merges)
		switch {
		case tc.msg == "" && err != nil:
			t.Errorf("%.40q: %v", tc.enc, err)
		case tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)):
			t.Errorf("%.40q / %q: error %v, want %q", tc.enc, tc.merges, err, tc.msg)
		}
	}
}

func jsonEscape(s string) string {
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			sb.WriteString(`\` + string(r))
		case r > 0x7e:
			sb.WriteString(`\u` + strings.ToUpper(string("0123456789abcdef"[r>>12&15])+string("0123456789abcdef"[r>>8&15])+string("0123456789abcdef"[r>>4&15])+string("0123456789abcdef"[r&15])))
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// Tokenising a sentence of 128 tokens takes microseconds.
func BenchmarkBertEncode128(b *testing.B) {
	uncased, _, _ := tokenizers(b)
	b.SetBytes(int64(len(sample)))
	var n int
	for b.Loop() {
		n = len(uncased.Encode(sample, 128))
	}
	if n != 128 {
		b.Fatalf("%d ids", n)
	}
}

func BenchmarkBertEncodeFull(b *testing.B) {
	uncased, _, _ := tokenizers(b)
	b.SetBytes(int64(len(sample)))
	for b.Loop() {
		uncased.Encode(sample, 0)
	}
}

// GPT-2 over the same text (about 150 tokens), with the piece cache warm as
// in a server, and cold (a text whose pieces are all new).
func BenchmarkGPT2Encode(b *testing.B) {
	_, _, g := tokenizers(b)
	b.SetBytes(int64(len(sample)))
	for b.Loop() {
		g.Tokenize(sample)
	}
	b.ReportMetric(float64(len(g.Tokenize(sample))), "tokens")
}

func BenchmarkGPT2EncodeUncached(b *testing.B) {
	_, _, g := tokenizers(b)
	// Each round asks for pieces the cache has most likely not seen: 40
	// random lowercase words.
	rng := rand.New(rand.NewPCG(3, 4))
	words := func() string {
		var sb strings.Builder
		for range 40 {
			sb.WriteByte(' ')
			for range 3 + rng.IntN(6) {
				sb.WriteByte(byte('a' + rng.IntN(26)))
			}
		}
		return sb.String()
	}
	n := 0
	for b.Loop() {
		b.StopTimer()
		text := words()
		b.StartTimer()
		n += len(g.Tokenize(text))
	}
	b.ReportMetric(float64(n)/float64(b.N), "tokens")
}

func BenchmarkNewBertUncased(b *testing.B) {
	for b.Loop() {
		if _, err := bertvocab.NewUncased(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewGPT2(b *testing.B) {
	for b.Loop() {
		if _, err := gpt2vocab.New(); err != nil {
			b.Fatal(err)
		}
	}
}
