package main

import (
	"bytes"
	"unicode/utf8"

	"github.com/wasmgate/wasmgate/guest/sdk"
	"github.com/wasmgate/wasmgate/guest/tokenize"
	"github.com/wasmgate/wasmgate/guest/tokenize/bertvocab"
	"github.com/wasmgate/wasmgate/guest/tokenize/tokconfig"
)

const (
	defaultMaxLength = 128
	maxMaxLength     = 8192
)

// The tokenizers: uncased is made when the module is instantiated, cased
// on the first call that asks for it.
var uncased, cased *tokenize.Bert

func main() {}

func init() {
	var err error
	if uncased, err = bertvocab.NewUncased(); err != nil {
		panic(err)
	}
	seq := []int64{1, -1}
	sdk.Register(sdk.Stage{
		Name: "bert-pre",
		Inputs: []sdk.Spec{
			{Name: "text", DType: sdk.Bytes, Shape: []int64{1}},
			{Name: "text_pair", DType: sdk.Bytes, Shape: []int64{1}, Optional: true},
		},
		Outputs: []sdk.Spec{
			{Name: "input_ids", DType: sdk.Int64, Shape: seq},
			{Name: "attention_mask", DType: sdk.Int64, Shape: seq},
			{Name: "token_type_ids", DType: sdk.Int64, Shape: seq},
		},
		Run: run,
	})
}

// settings is the parsed configuration, kept while the configuration's
// bytes stay the same (they do for every call of an instance's pool).
type settings struct {
	maxLength int
	cased     bool
}

var (
	lastConfig   []byte
	lastSettings settings
)

func config() (settings, error) {
	raw, err := sdk.Config()
	if err != nil {
		return settings{}, err
	}
	if lastConfig != nil && bytes.Equal(raw, lastConfig) {
		return lastSettings, nil
	}
	c, err := tokconfig.Parse(raw, "max_length", "cased")
	if err != nil {
		return settings{}, err
	}
	var s settings
	if s.maxLength, err = c.Int("max_length", defaultMaxLength, 3, maxMaxLength); err != nil {
		return settings{}, err
	}
	if s.cased, err = c.Bool("cased", false); err != nil {
		return settings{}, err
	}
	lastConfig, lastSettings = raw, s
	return s, nil
}

func tokenizer(s settings) (*tokenize.Bert, error) {
	if !s.cased {
		return uncased, nil
	}
	if cased == nil {
		var err error
		if cased, err = bertvocab.NewCased(); err != nil {
			return nil, err
		}
	}
	return cased, nil
}

// text returns the string of a BYTES [1] input, which must be UTF-8.
func text(t sdk.Tensor) (string, error) {
	t, err := t.Load() // a text over the inline limit arrives host-held
	if err != nil {
		return "", err
	}
	b := t.Strings[0]
	if !utf8.Valid(b) {
		return "", sdk.Invalid("%s: not valid UTF-8", t.Name)
	}
	return string(b), nil
}

func run(in []sdk.Tensor) ([]sdk.Tensor, error) {
	s, err := config()
	if err != nil {
		return nil, err // the manifest's fault: status 2
	}
	tok, err := tokenizer(s)
	if err != nil {
		return nil, err
	}
	a, err := text(in[0])
	if err != nil {
		return nil, err
	}
	var ids, types []int32
	if in[1].Present() {
		b, err := text(in[1])
		if err != nil {
			return nil, err
		}
		ids, types = tok.EncodePair(a, b, s.maxLength)
	} else {
		ids = tok.Encode(a, s.maxLength)
	}
	n := len(ids)
	out := make([]int64, 3*n)
	inputIDs, mask, typeIDs := out[:n], out[n:2*n], out[2*n:]
	for i, id := range ids {
		inputIDs[i] = int64(id)
		mask[i] = 1
	}
	for i, ty := range types {
		typeIDs[i] = int64(ty)
	}
	shape := []int64{1, int64(n)}
	return []sdk.Tensor{
		sdk.NewInt64("input_ids", shape, inputIDs),
		sdk.NewInt64("attention_mask", shape, mask),
		sdk.NewInt64("token_type_ids", shape, typeIDs),
	}, nil
}
