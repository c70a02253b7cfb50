// Package bertvocab ships BERT's WordPiece vocabularies, bert-base-uncased
// and bert-base-cased: the vocab.txt files (README.md says where they come
// from, LICENSE.daulet-tokenizers is their license) and their compiled
// tables (*.wgvocab, made from them by go generate ./guest/tokenize), which
// are what the tokenizers embed.
//
// Each table is a string in the binary's read-only data: a module that uses
// only one of them links only that one.
package bertvocab

import (
	_ "embed"

	"github.com/wasmgate/wasmgate/guest/tokenize"
)

// Uncased is bert-base-uncased's vocabulary (30,522 tokens), compiled.
//
//go:embed bert-base-uncased.wgvocab
var Uncased string

// Cased is bert-base-cased's vocabulary (28,996 tokens), compiled.
//
//go:embed bert-base-cased.wgvocab
var Cased string

// NewUncased is the bert-base-uncased tokenizer (lowercasing, accents
// stripped).
func NewUncased() (*tokenize.Bert, error) {
	return tokenize.LoadBert(Uncased, tokenize.BertOptions{Lowercase: true})
}

// NewCased is the bert-base-cased tokenizer.
func NewCased() (*tokenize.Bert, error) {
	return tokenize.LoadBert(Cased, tokenize.BertOptions{})
}
