// Package gpt2vocab ships GPT-2's byte-level BPE vocabulary: encoder.json
// and merges.txt (README.md says where they come from,
// LICENSE.onnxruntime-extensions is their license) and their compiled table
// (gpt2.wgbpe, made from them by go generate ./guest/tokenize), which is
// what the tokenizer embeds.
package gpt2vocab

import (
	_ "embed"

	"github.com/wasmgate/wasmgate/guest/tokenize"
)

// Compiled is GPT-2's vocabulary (50,257 tokens, 50,000 merges), compiled.
//
//go:embed gpt2.wgbpe
var Compiled string

// New is the GPT-2 tokenizer.
func New() (*tokenize.GPT2, error) { return tokenize.LoadGPT2(Compiled) }
