//go:build !wasip1

package guest_test

// The text modules (bertpre, gpt2pre, meanpool) built as .wasm, run in
// wazero with the real host functions.

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
	"github.com/tetratelabs/wazero"

	"github.com/wasmgate/wasmgate/hostfuncs"
	"github.com/wasmgate/wasmgate/hostfuncs/abi"
	"github.com/wasmgate/wasmgate/hostfuncs/tensor"
)

type textCase struct {
	Text     string  `json:"text"`
	TextPair *string `json:"text_pair"`
	IDs      []int64 `json:"ids"`
}

func textCases(t *testing.T) map[string]map[string]textCase {
	t.Helper()
	b, err := os.ReadFile("tokenize/testdata/reference_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref map[string]map[string]textCase
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

func textTensor(s string) *tensor.Tensor {
	return &tensor.Tensor{DType: tensor.Bytes, Shape: tensor.Shape{1}, Strings: [][]byte{[]byte(s)}}
}

// The built modules reproduce every reference case of their vocabularies:
// 76 BERT cases (bertpre, cased or uncased by configuration) and 52 GPT-2
// cases (gpt2pre), each instance serving all its cases in turn.
func TestTextReferenceCases(t *testing.T) {
	ref := textCases(t)
	bert, gpt2 := newInstance(t, "bertpre"), newInstance(t, "gpt2pre")
	uncased := hostfuncs.Caller{Config: []byte(`{"max_length": 512}`)}
	cased := hostfuncs.Caller{Config: []byte(`{"max_length": 512, "cased": true}`)}
	var nBERT, nGPT2 int
	for group, cases := range ref {
		for name, c := range cases {
			in := []tensor.Named{named("text", textTensor(c.Text))}
			var g *instance
			caller := hostfuncs.Caller{}
			switch {
			case strings.Contains(group, "gpt2"):
				g = gpt2
				nGPT2++
			case strings.Contains(group, "uncased"):
				g, caller = bert, uncased
				nBERT++
			default:
				g, caller = bert, cased
				nBERT++
			}
			if c.TextPair != nil {
				in = append(in, named("text_pair", textTensor(*c.TextPair)))
			}
			status, msg, out := g.run(t, caller, inlineBytes, in...)
			if status != abi.StatusOK {
				t.Errorf("%s/%s: status %d: %s", group, name, status, msg)
				continue
			}
			if ids := tensor.Values[int64](out[0].Tensor); !slices.Equal(ids, c.IDs) {
				t.Errorf("%s/%s: ids %v, want %v", group, name, ids, c.IDs)
			}
			if g == bert {
				n := len(c.IDs)
				mask, types := tensor.Values[int64](out[1].Tensor), tensor.Values[int64](out[2].Tensor)
				if len(mask) != n || slices.ContainsFunc(mask, func(v int64) bool { return v != 1 }) || len(types) != n {
					t.Errorf("%s/%s: attention_mask %v, token_type_ids %v", group, name, mask, types)
				}
			}
		}
	}
	if nBERT != 76 || nGPT2 != 52 {
		t.Errorf("%d BERT and %d GPT-2 cases, want 76 and 52", nBERT, nGPT2)
	}
}

func TestTextDescriptions(t *testing.T) {
	is := is.New(t)
	seq := []int64{1, -1}
	d := newInstance(t, "bertpre").describe(t)
	is.Equal(d.Name, "bert-pre")
	is.Equal(len(d.Inputs), 2)
	is.Equal(len(d.Outputs), 3)
	for i, name := range []string{"input_ids", "attention_mask", "token_type_ids"} {
		is.Equal(d.Outputs[i].Name, name)
		is.Equal(d.Outputs[i].DType, tensor.Int64)
		is.Equal([]int64(d.Outputs[i].Shape), seq)
	}
	d = newInstance(t, "gpt2pre").describe(t)
	is.Equal(d.Name, "gpt2-pre")
	is.Equal(d.Outputs[0].Name, "input_ids")
	d = newInstance(t, "meanpool").describe(t)
	is.Equal(d.Name, "mean-pool")
	is.Equal(d.Inputs[0].Name, "last_hidden_state")
	is.Equal([]int64(d.Inputs[0].Shape), []int64{1, -1, -1})
	is.Equal(d.Outputs[0].Name, "embedding")
	is.Equal([]int64(d.Outputs[0].Shape), seq)
}

// Truncation, configuration and refusals, in the built module; and the
// instance keeps serving after each refusal.
func TestTextModuleBehaviour(t *testing.T) {
	is := is.New(t)
	bert := newInstance(t, "bertpre")
	long := named("text", textTensor(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 400)))
	for _, inline := range []int{inlineBytes, 64} { // inline, and host-held
		status, msg, out := bert.run(t, hostfuncs.Caller{}, inline, long)
		is.Equal(msg, "")
		is.Equal(status, uint32(abi.StatusOK))
		is.True(out[0].Shape.Equal(tensor.Shape{1, 128}))
		ids := tensor.Values[int64](out[0].Tensor)
		is.Equal(ids[:4], []int64{101, 1996, 4248, 2829}) // [CLS] the quick brown
		is.Equal(ids[127], int64(102))
	}
	status, msg, _ := bert.run(t, hostfuncs.Caller{Config: []byte(`{"max_length": 1}`)}, inlineBytes, long)
	is.Equal(status, uint32(abi.StatusFailed))
	is.True(strings.Contains(msg, `"max_length" must be an integer from 3 to 8192`))
	bert = newInstance(t, "bertpre") // status 2 discards an instance
	status, msg, _ = bert.run(t, hostfuncs.Caller{}, inlineBytes, named("text", textTensor("\xff")))
	is.Equal(status, uint32(abi.StatusInvalid))
	is.Equal(msg, "text: not valid UTF-8")

	gpt2 := newInstance(t, "gpt2pre")
	status, msg, out := gpt2.run(t, hostfuncs.Caller{Config: []byte(`{"max_length": 2, "truncation_side": "left"}`)}, inlineBytes,
		named("text", textTensor("Hello World, again")))
	is.Equal(msg, "")
	is.Equal(status, uint32(abi.StatusOK))
	is.Equal(tensor.Values[int64](out[0].Tensor), []int64{11, 757}) // ", again"
	status, msg, _ = gpt2.run(t, hostfuncs.Caller{}, inlineBytes, named("text", textTensor("")))
	is.Equal(status, uint32(abi.StatusInvalid))
	is.True(strings.Contains(msg, "empty"))
}

// meanpool gives sentence-transformers' pooling: the mean over tokens,
// L2-normalised; an input over the inline limit arrives host-held and is
// pooled without entering guest memory.
func TestMeanPoolModule(t *testing.T) {
	g := newInstance(t, "meanpool")
	rng := rand.New(rand.NewPCG(7, 8))
	for _, sz := range []struct{ tokens, hidden int }{{1, 3}, {9, 384}, {128, 768}, {512, 768}} {
		x := make([]float32, sz.tokens*sz.hidden)
		for i := range x {
			x[i] = float32(rng.NormFloat64()) + 0.1
		}
		status, msg, out := g.run(t, hostfuncs.Caller{}, inlineBytes, named("last_hidden_state", tensor.MustFrom(tensor.Shape{1, sz.tokens, sz.hidden}, x)))
		if status != abi.StatusOK {
			t.Fatalf("%v: status %d: %s", sz, status, msg)
		}
		got := tensor.Values[float32](out[0].Tensor)
		mean := make([]float64, sz.hidden)
		for i, v := range x {
			mean[i%sz.hidden] += float64(v) / float64(sz.tokens)
		}
		var ss float64
		for _, v := range mean {
			ss += v * v
		}
		for j, v := range mean {
			if w := v / math.Sqrt(ss); math.Abs(float64(got[j])-w) > 1e-6 {
				t.Fatalf("%v: feature %d is %v, want %v", sz, j, got[j], w)
			}
		}
	}
}

// Memory stays bounded over many calls of a pooled instance: the heap
// settles within the first few thousand calls, then does not grow
// (gpt2pre's BPE cache is bounded too, and these calls all hit it).
func TestTextModulesMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("many calls")
	}
	in := named("text", textTensor("Tokenization splits text into word-pieces, and BERT embeds them. "+
		"Café owners in Zürich serve crème brûlée; 生活的真谛是 "))
	const calls = 10000
	for _, name := range []string{"bertpre", "gpt2pre"} {
		g := newInstance(t, name)
		pages := func() uint32 { return g.mod.Memory().Size() / 65536 }
		start := pages()
		var mid uint32
		for i := range calls {
			if s, msg, _ := g.run(t, hostfuncs.Caller{}, inlineBytes, in); s != abi.StatusOK {
				t.Fatalf("%s call %d: status %d: %s", name, i, s, msg)
			}
			if i == calls/2-1 {
				mid = pages()
			}
		}
		end := pages()
		t.Logf("%s: linear memory %d pages after instantiation, %d after %d calls, %d after %d", name, start, mid, calls/2, end, calls)
		// The GC's goal moves a little with the live heap; a leak of even
		// 100 bytes a call would add 8 pages here.
		if end > mid+4 || end > 512 {
			t.Errorf("%s: memory grew from %d to %d pages", name, mid, end)
		}
	}
}

// Instantiating a text module, _initialize (which reads the vocabulary)
// included, stays far within the 10 s init limit; the figures are logged.
func TestTextModulesInstantiate(t *testing.T) {
	for _, name := range []string{"bertpre", "gpt2pre", "meanpool"} {
		c := compiled(t, name)
		var times []time.Duration
		for range 5 {
			start := time.Now()
			mod, err := runtime(t).InstantiateModule(context.Background(), c,
				wazero.NewModuleConfig().WithName("").WithStartFunctions(abi.ExportInitialize))
			if err != nil {
				t.Fatal(err)
			}
			times = append(times, time.Since(start))
			pages := mod.Memory().Size() / 65536
			mod.Close(context.Background())
			if len(times) == 5 {
				sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
				t.Logf("%s: instantiate + _initialize median %v (min %v), memory %d pages", name, times[2], times[0], pages)
			}
		}
		if times[2] > 5*time.Second {
			t.Errorf("%s takes %v to instantiate, half the init limit", name, times[2])
		}
	}
}

func BenchmarkTextModuleCall(b *testing.B) {
	in := named("text", textTensor("The quick brown fox jumps over the lazy dog, while the five boxing wizards jump quickly. "+
		"In 2016, the company was founded in San Francisco; it now employs over 3,000 people worldwide! "+
		"Tokenization splits text into word-pieces: \"unbelievable\" becomes un ##bel ##ie ##va ##ble, perhaps. "+
		"Café owners in Zürich serve crème brûlée and naïve jalapeño dishes. "+
		"What's the weather like today? I'd say it's sunny, but they're not sure. "))
	for _, name := range []string{"bertpre", "gpt2pre"} {
		b.Run(name, func(b *testing.B) {
			g := newInstance(b, name)
			_, _, out := g.run(b, hostfuncs.Caller{}, inlineBytes, in)
			for b.Loop() {
				g.run(b, hostfuncs.Caller{}, inlineBytes, in)
			}
			b.ReportMetric(float64(out[0].Shape[1]), "tokens")
		})
	}
}

func BenchmarkTextModuleInstantiate(b *testing.B) {
	for _, name := range []string{"bertpre", "gpt2pre", "meanpool"} {
		b.Run(name, func(b *testing.B) {
			c := compiled(b, name)
			for b.Loop() {
				mod, err := runtime(b).InstantiateModule(context.Background(), c,
					wazero.NewModuleConfig().WithName("").WithStartFunctions(abi.ExportInitialize))
				if err != nil {
					b.Fatal(err)
				}
				mod.Close(context.Background())
			}
		})
	}
}
