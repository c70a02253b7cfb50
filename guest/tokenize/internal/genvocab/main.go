// Command genvocab compiles the shipped vocabularies into the lookup tables
// the tokenizers read in place (see tokenize.CompileBert and
// tokenize.CompileGPT2). Run it from guest/tokenize after changing a
// vocabulary:
//
//	go generate ./guest/tokenize
//
// A test compiles them again and fails if a committed table is stale.
package main

import (
	"fmt"
	"os"

	"github.com/wasmgate/wasmgate/guest/tokenize"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "genvocab:", err)
		os.Exit(1)
	}
}

func run() error {
	for _, v := range [][2]string{
		{"bertvocab/bert-base-uncased.vocab.txt", "bertvocab/bert-base-uncased.wgvocab"},
		{"bertvocab/bert-base-cased.vocab.txt", "bertvocab/bert-base-cased.wgvocab"},
	} {
		text, err := os.ReadFile(v[0])
		if err != nil {
			return err
		}
		blob, err := tokenize.CompileBert(string(text))
		if err != nil {
			return fmt.Errorf("%s: %w", v[0], err)
		}
		if err := write(v[1], blob); err != nil {
			return err
		}
	}
	enc, err := os.ReadFile("gpt2vocab/gpt2.encoder.json")
	if err != nil {
		return err
	}
	merges, err := os.ReadFile("gpt2vocab/gpt2.merges.txt")
	if err != nil {
		return err
	}
	blob, err := tokenize.CompileGPT2(string(enc), string(merges))
	if err != nil {
		return err
	}
	return write("gpt2vocab/gpt2.wgbpe", blob)
}

func write(path string, b []byte) error {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	fmt.Printf("%s\t%d bytes\n", path, len(b))
	return nil
}
