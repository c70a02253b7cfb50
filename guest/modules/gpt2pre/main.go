package main

import (
	"bytes"
	"unicode/utf8"

	"github.com/wasmgate/wasmgate/guest/sdk"
	"github.com/wasmgate/wasmgate/guest/tokenize"
	"github.com/wasmgate/wasmgate/guest/tokenize/gpt2vocab"
	"github.com/wasmgate/wasmgate/guest/tokenize/tokconfig"
)

const (
	defaultMaxLength = 1024
	maxMaxLength     = 1 << 20
)

var gpt2 *tokenize.GPT2

func main() {}

func init() {
	var err error
	if gpt2, err = gpt2vocab.New(); err != nil {
		panic(err)
	}
	sdk.Register(sdk.Stage{
		Name:    "gpt2-pre",
		Inputs:  []sdk.Spec{{Name: "text", DType: sdk.Bytes, Shape: []int64{1}}},
		Outputs: []sdk.Spec{{Name: "input_ids", DType: sdk.Int64, Shape: []int64{1, -1}}},
		Run:     run,
	})
}

type settings struct {
	maxLength int
	left      bool
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
	c, err := tokconfig.Parse(raw, "max_length", "truncation_side")
	if err != nil {
		return settings{}, err
	}
	var s settings
	if s.maxLength, err = c.Int("max_length", defaultMaxLength, 1, maxMaxLength); err != nil {
		return settings{}, err
	}
	side, err := c.String("truncation_side", "right", "right", "left")
	if err != nil {
		return settings{}, err
	}
	s.left = side == "left"
	lastConfig, lastSettings = raw, s
	return s, nil
}

func run(in []sdk.Tensor) ([]sdk.Tensor, error) {
	s, err := config()
	if err != nil {
		return nil, err // the manifest's fault: status 2
	}
	t, err := in[0].Load() // a text over the inline limit arrives host-held
	if err != nil {
		return nil, err
	}
	b := t.Strings[0]
	if !utf8.Valid(b) {
		return nil, sdk.Invalid("text: not valid UTF-8")
	}
	if len(b) == 0 {
		return nil, sdk.Invalid("text: empty; GPT-2 needs at least one token")
	}
	var ids []int32
	if s.left {
		ids = gpt2.Tokenize(string(b))
		ids = ids[max(0, len(ids)-s.maxLength):]
	} else {
		ids = gpt2.AppendTokens(nil, string(b), s.maxLength)
	}
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return []sdk.Tensor{sdk.NewInt64("input_ids", []int64{1, int64(len(out))}, out)}, nil
}
