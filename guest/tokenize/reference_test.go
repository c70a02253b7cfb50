package tokenize_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/wasmgate/wasmgate/guest/tokenize"
	"github.com/wasmgate/wasmgate/guest/tokenize/bertvocab"
	"github.com/wasmgate/wasmgate/guest/tokenize/gpt2vocab"
)

// refCase is one reference tokenization from the transformers.js test
// tables: tokens without the special tokens the post-processor adds, ids
// with them, and decode(ids) with special tokens kept.
type refCase struct {
	Text     string   `json:"text"`
	TextPair *string  `json:"text_pair"`
	Tokens   []string `json:"tokens"`
	IDs      []int32  `json:"ids"`
	Decoded  string   `json:"decoded"`
}

// refGroups are the tokenizers of testdata/reference_cases.json (the BERT
// and GPT-2 groups of the shared corpus's reference_cases.transformers.js.json)
// and the vocabulary each uses. The DistilBERT checkpoints use BERT's
// vocabularies unchanged.
var refGroups = []struct {
	name, vocab string
}{
	{"Xenova/bert-base-uncased", "bert-uncased"},
	{"Xenova/distilbert-base-uncased-finetuned-sst-2-english", "bert-uncased"},
	{"Xenova/bert-base-cased", "bert-cased"},
	{"google-bert/bert-base-cased", "bert-cased"},
	{"Xenova/distilbert-base-cased-distilled-squad", "bert-cased"},
	{"Xenova/gpt2", "gpt2"},
	{"openai-community/gpt2", "gpt2"},
}

// corpusDir is the shared corpus beside the checkout.
const corpusDir = "../../../shared/corpus/tokenizers"

func readRefCases(t testing.TB, path string) map[string]map[string]refCase {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]map[string]refCase
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

var tok struct {
	once             sync.Once
	uncased, cased   *tokenize.Bert
	gpt2             *tokenize.GPT2
	err1, err2, err3 error
}

func tokenizers(t testing.TB) (uncased, cased *tokenize.Bert, gpt2 *tokenize.GPT2) {
	t.Helper()
	tok.once.Do(func() {
		tok.uncased, tok.err1 = bertvocab.NewUncased()
		tok.cased, tok.err2 = bertvocab.NewCased()
		tok.gpt2, tok.err3 = gpt2vocab.New()
	})
	for _, err := range []error{tok.err1, tok.err2, tok.err3} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return tok.uncased, tok.cased, tok.gpt2
}

// TestReferenceCases holds the tokenizers to every reference case of the
// vocabularies they ship with: 76 BERT cases and 52 GPT-2 cases, tokens,
// ids and decoded text exactly.
func TestReferenceCases(t *testing.T) {
	uncased, cased, gpt2 := tokenizers(t)
	ref := readRefCases(t, "testdata/reference_cases.json")
	passed := map[string]int{}
	total := map[string]int{}
	for _, g := range refGroups {
		cases, ok := ref[g.name]
		if !ok {
			t.Fatalf("testdata has no group %s", g.name)
		}
		for name, c := range cases {
			family := "bert"
			if g.vocab == "gpt2" {
				family = "gpt2"
			}
			total[family]++
			ok := t.Run(g.name+"/"+name, func(t *testing.T) {
				var tokens []string
				var ids []int32
				var decoded string
				var err error
				switch g.vocab {
				case "gpt2":
					ids = gpt2.Tokenize(c.Text)
					for _, id := range ids {
						tokens = append(tokens, gpt2.Token(id))
					}
					decoded, err = gpt2.Decode(ids, false, true)
				default:
					b := uncased
					if g.vocab == "bert-cased" {
						b = cased
					}
					toks := b.Tokenize(c.Text)
					if c.TextPair != nil {
						toks = append(toks, b.Tokenize(*c.TextPair)...)
						ids, _ = b.EncodePair(c.Text, *c.TextPair, 0)
					} else {
						ids = b.Encode(c.Text, 0)
					}
					for _, id := range toks {
						tokens = append(tokens, b.Token(id))
					}
					decoded, err = b.Decode(ids, false)
				}
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(tokens, c.Tokens) {
					t.Errorf("text %q:\ntokens %q\nwant   %q", c.Text, tokens, c.Tokens)
				}
				if !slices.Equal(ids, c.IDs) {
					t.Errorf("text %q:\nids  %v\nwant %v", c.Text, ids, c.IDs)
				}
				if decoded != c.Decoded {
					t.Errorf("text %q:\ndecoded %q\nwant    %q", c.Text, decoded, c.Decoded)
				}
			})
			if ok {
				passed[family]++
			}
		}
	}
	t.Logf("BERT: %d of %d reference cases; GPT-2: %d of %d", passed["bert"], total["bert"], passed["gpt2"], total["gpt2"])
	if total["bert"] != 76 || total["gpt2"] != 52 {
		t.Errorf("testdata holds %d BERT and %d GPT-2 cases, want 76 and 52", total["bert"], total["gpt2"])
	}
}

// The shipped copies are the shared corpus's files: the vocabularies byte
// for byte, and testdata's cases exactly the corpus's cases of those
// groups.
func TestCopiesMatchCorpus(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("no shared corpus at %s: %v", corpusDir, err)
	}
	for _, f := range []struct{ shipped, corpus string }{
		{"bertvocab/bert-base-uncased.vocab.txt", "bert-base-uncased.vocab.txt"},
		{"bertvocab/bert-base-cased.vocab.txt", "bert-base-cased.vocab.txt"},
		{"bertvocab/LICENSE.daulet-tokenizers", "LICENSE.daulet-tokenizers"},
		{"gpt2vocab/gpt2.encoder.json", "gpt2.encoder.json"},
		{"gpt2vocab/gpt2.merges.txt", "gpt2.merges.txt"},
		{"gpt2vocab/LICENSE.onnxruntime-extensions", "LICENSE.onnxruntime-extensions"},
		{"testdata/LICENSE.transformers.js", "LICENSE.transformers.js"},
	} {
		a, err := os.ReadFile(f.shipped)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(corpusDir, f.corpus))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from the corpus's %s", f.shipped, f.corpus)
		}
	}
	corpus := readRefCases(t, filepath.Join(corpusDir, "reference_cases.transformers.js.json"))
	shipped := readRefCases(t, "testdata/reference_cases.json")
	if len(shipped) != len(refGroups) {
		t.Errorf("testdata holds %d groups, want %d", len(shipped), len(refGroups))
	}
	for _, g := range refGroups {
		if !reflect.DeepEqual(shipped[g.name], corpus[g.name]) {
			t.Errorf("testdata's %s cases differ from the corpus's", g.name)
		}
	}
}

// The compiled tables the tokenizers embed are those of the shipped
// vocabulary files (regenerate with go generate ./guest/tokenize).
func TestCompiledTablesFresh(t *testing.T) {
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, v := range []struct {
		text, embedded string
	}{
		{"bertvocab/bert-base-uncased.vocab.txt", bertvocab.Uncased},
		{"bertvocab/bert-base-cased.vocab.txt", bertvocab.Cased},
	} {
		blob, err := tokenize.CompileBert(read(v.text))
		if err != nil {
			t.Fatal(err)
		}
		if string(blob) != v.embedded {
			t.Errorf("the compiled table of %s is stale: run go generate ./guest/tokenize", v.text)
		}
	}
	blob, err := tokenize.CompileGPT2(read("gpt2vocab/gpt2.encoder.json"), read("gpt2vocab/gpt2.merges.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if string(blob) != gpt2vocab.Compiled {
		t.Error("the compiled GPT-2 table is stale: run go generate ./guest/tokenize")
	}
}
