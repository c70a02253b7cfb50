// Package tokenize holds the text tokenizers of wasmgate's text modules:
// BERT's WordPiece (Bert) and GPT-2's byte-level BPE (GPT2), encoding and
// decoding, in pure Go with no build tags, so the same code runs natively
// in tests and in a WebAssembly guest.
//
// They reproduce Hugging Face's tokenizers (tokenizers / transformers /
// transformers.js) exactly on every reference case the project holds for
// their vocabularies (testdata/reference_cases.json, from transformers.js's
// test tables): tokens, ids and decoded text.
//
// Vocabularies are compiled ahead of time into lookup tables that are read
// in place (table.go), so a guest loads one in microseconds instead of
// parsing text in its _initialize. The shipped vocabularies, their sources,
// licenses and compiled tables are in bertvocab and gpt2vocab; regenerate
// the tables after changing a vocabulary with
//
//	go generate ./guest/tokenize
package tokenize

//go:generate go run ./internal/genvocab
