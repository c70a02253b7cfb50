package tokenize

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// gpt2Pattern is GPT-2's pre-tokenizer pattern, run by a backtracking
// engine with lookahead as the reference for the hand-written preTokenLen.
var gpt2Pattern = regexp2.MustCompile(`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, regexp2.None)

func regexPieces(t testing.TB, s string) []string {
	t.Helper()
	idx, err := gpt2Pattern.FindAllStringIndex(s, -1)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range idx {
		out = append(out, s[m[0]:m[1]])
	}
	return out
}

func handPieces(s string) []string {
	var out []string
	for s != "" {
		n := preTokenLen(s)
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func checkPieces(t *testing.T, s string) {
	t.Helper()
	want, got := regexPieces(t, s), handPieces(s)
	if !slices.Equal(got, want) {
		t.Fatalf("%q:\n pieces %q\n regex  %q", s, got, want)
	}
}

func TestPreTokenizerMatchesPattern(t *testing.T) {
	for _, s := range []string{
		"", "a", " ", "  ", "   leading", "trailing   ", "Hi  Hello", "a\n\nb", " \n a", "\n a", "a \n", "a\t \tb",
		"'s", "'S", "'sup", "''s", " 's", "it's", "they're we've I'm you'll he'd don't", "'re'", "'r", "'l", "'ll'", "'",
		"?'d''d", "A\n'll !!to?'d''d of, can't.", "$1.00", " 123abc", "abc123", "x²³", "Ⅻ century", "३४ and ৩",
		"you…\u00a0\u00a0", "you…\u00a0\u00a0you…\u00a0\u00a0", "\u3000x", "x\u3000", "a\u2028b", "a\u0085b",
		"e\u0301t\u0301", "\u0301", " \u0301", "👍🏽 ok", "生活的真谛是", "<|endoftext|>", " \x1c x",
	} {
		checkPieces(t, s)
	}
	alphabet := []rune("aZé sS'lLrRvVdDmMtT019²Ⅻ\n\t\r\u00a0\u3000\u2028\u0085.,!?-_$€\u0301👍生\x00\x1c")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var sb strings.Builder
		for range rng.IntN(12) {
			sb.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		checkPieces(t, sb.String())
	}
}

func FuzzPreTokenizer(f *testing.F) {
	for _, s := range []string{"Hello  world 's", "a\n\n b", "x\u00a0 y", "''ll'd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // the regex engine reads runes; invalid bytes are not comparable
		}
		checkPieces(t, s)
	})
}

func TestMaximalSubpart(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"abc", "abc"},
		{"\xe2\x82", "\uFFFD"},
		{"\xe2\x82a", "\uFFFDa"},
		{"\xe2\x82\xac", "€"},
		{"\xff\xfe", "\uFFFD\uFFFD"},
		{"\xf0\x9f\x98", "\uFFFD"},
		{"\xf0\x9f\x98\x82", "😂"},
		{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"}, // a surrogate: ED takes only 80..9F
		{"\xe0\x80\x80", "\uFFFD\uFFFD\uFFFD"}, // overlong
		{"\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{"\xc3", "\uFFFD"},
		{"\x80", "\uFFFD"},
		{"\xf1\x80\x80", "\uFFFD"},
		{"\xf1\x80\x80\xf1", "\uFFFD\uFFFD"},
	} {
		if got := string(appendUTF8(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLongestFirst(t *testing.T) {
	for _, tc := range []struct{ l1, l2, limit, n1, n2 int }{
		{3, 4, 10, 3, 4},
		{10, 3, 5, 3, 2}, // only the longer is cut, down to what the shorter leaves, then both halve
		{3, 10, 5, 2, 3},
		{2, 10, 6, 2, 4},
		{10, 2, 6, 4, 2},
		{10, 10, 5, 2, 3},
		{11, 10, 5, 3, 2},
		{10, 11, 5, 2, 3},
		{100, 0, 5, 5, 0},
		{0, 100, 5, 0, 5},
		{7, 7, 0, 0, 0},
	} {
		n1, n2 := longestFirst(tc.l1, tc.l2, tc.limit)
		if n1 != tc.n1 || n2 != tc.n2 {
			t.Errorf("longestFirst(%d, %d, %d) = %d, %d; want %d, %d", tc.l1, tc.l2, tc.limit, n1, n2, tc.n1, tc.n2)
		}
	}
}
