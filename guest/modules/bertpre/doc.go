// Command bertpre is wasmgate's BERT text pre-processing module: it turns a
// text (or a pair of texts) into the inputs of a BERT-style encoder, with
// BERT's WordPiece tokenizer (package guest/tokenize) and the
// bert-base-uncased or bert-base-cased vocabulary embedded in the module.
//
// Inputs:
//   - "text" (BYTES [1]): UTF-8 text; anything else is status 1.
//   - "text_pair" (BYTES [1], optional): a second text, for cross-encoders
//     and question answering: [CLS] text [SEP] text_pair [SEP].
//
// Outputs, in the order Hugging Face exports BERT's graph inputs, so they
// bind by position to such an encoder:
//   - "input_ids" (INT64 [1,n]): [CLS] tokens [SEP], at most max_length.
//   - "attention_mask" (INT64 [1,n]): all 1. The module never pads: each
//     request is one sequence of its own length, so every position is a real
//     token. Post-processing that pools over tokens (meanpool) relies on
//     this, since it sees only the encoder's output, not this mask.
//   - "token_type_ids" (INT64 [1,n]): 0, and 1 for text_pair and its [SEP].
//
// Configuration (the manifest's "config" for this stage):
//   - "max_length" (integer, 3 to 8192, default 128): the most ids, special
//     tokens included; longer texts are truncated (a pair by Hugging Face's
//     "longest_first" rule). Only the tokens kept are computed, so a long
//     text costs little more than a short one. BERT-base encoders take at
//     most 512.
//   - "cased" (boolean, default false): the bert-base-cased vocabulary
//     (no lowercasing, accents kept) instead of bert-base-uncased.
//
// Special tokens written in the text ("[MASK]", "[SEP]", ...) are the
// special tokens, as in Hugging Face tokenizers. The uncased vocabulary is
// read when the module is instantiated, the cased one on first use.
package main
