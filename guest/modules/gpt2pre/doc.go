// Command gpt2pre is wasmgate's GPT-2 text pre-processing module: it turns a
// text into GPT-2's token ids, with GPT-2's byte-level BPE tokenizer
// (package guest/tokenize) and vocabulary embedded in the module.
//
// Input "text" (BYTES [1]): UTF-8 text, not empty; anything else is status 1.
// "<|endoftext|>" in the text is the special token 50256, as in Hugging Face
// tokenizers.
//
// Output "input_ids" (INT64 [1,n]): the token ids, at most max_length.
//
// Configuration (the manifest's "config" for this stage):
//   - "max_length" (integer, 1 to 1048576, default 1024, GPT-2's context):
//     the most ids; a longer text is truncated.
//   - "truncation_side" ("right", the default, or "left"): keep the first
//     max_length tokens, or the last (for generation, which continues the
//     end of the text). Truncating on the right tokenizes only what is kept.
//
// The vocabulary is read when the module is instantiated.
package main
